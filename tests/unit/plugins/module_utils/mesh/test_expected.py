"""Expected peers by Calico's rules (mesh/expected.py), pinned against the BIRD configuration Calico renders."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh import expected

from lab import bird_conf
from tests.unit.plugins.module_utils.mesh.mesh_cluster import RR_PEER, bgp_peer, node

rr_label = {"route-reflector": "true"}


def test_full_mesh_skips_self_by_ip_and_nodes_without_an_address():
    nodes = [node("a", "10.0.0.1"), node("b", "10.0.0.2"), node("c", "10.0.0.3"), node("d", None)]
    nodes.append({"name": "e", "ipv4_address": None, "ipv4_network": "10.0.0.5/24", "rr_cluster_id": ""})
    assert expected.expected_peers_for(nodes, {}, "10.0.0.1") == ["10.0.0.2", "10.0.0.3", "10.0.0.5"]
    assert expected.expected_peers_by_ip(nodes, {"mesh_enabled": True})["10.0.0.5"] == {
        "10.0.0.1", "10.0.0.2", "10.0.0.3"}


def test_mesh_disabled_and_no_reflectors_expects_nothing():
    nodes = [node("a", "10.0.0.1"), node("b", "10.0.0.2")]
    assert expected.expected_peers_for(nodes, {"exists": True, "mesh_enabled": False}, "10.0.0.1") == []


def test_route_reflectors_peer_with_everyone_clients_only_with_reflectors():
    nodes = [node("rr1", "10.0.0.1", "224.0.0.1", rr_label), node("rr2", "10.0.0.2", "224.0.0.1", rr_label)]
    nodes += [node("c3", "10.0.0.3"), node("c4", "10.0.0.4")]
    off = {"mesh_enabled": False}
    assert expected.expected_peers_for(nodes, off, "10.0.0.1", [RR_PEER]) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert expected.expected_peers_for(nodes, off, "10.0.0.3", [RR_PEER]) == ["10.0.0.1", "10.0.0.2"]
    # mesh still on: clients also mesh among themselves, reflectors are skipped in the mesh
    assert expected.expected_peers_for(nodes, {}, "10.0.0.3", [RR_PEER]) == ["10.0.0.1", "10.0.0.2", "10.0.0.4"]
    # a node that joins later (scale-out) is selected by all() like the others
    assert expected.expected_peers_for(nodes + [node("c5", "10.0.0.5")], off, "10.0.0.5", [RR_PEER]) == [
        "10.0.0.1", "10.0.0.2"]


def test_cluster_ids_without_a_bgp_peer_expect_no_reflector_session():
    """Nothing is guessed: a cluster ID alone makes a node leave the mesh, it does not peer it."""
    nodes = [node("rr1", "10.0.0.1", "224.0.0.1", rr_label), node("c2", "10.0.0.2"), node("c3", "10.0.0.3")]
    assert expected.expected_peers_by_ip(nodes, {"mesh_enabled": False}, []) == {
        "10.0.0.1": set(), "10.0.0.2": set(), "10.0.0.3": set()}
    assert expected.expected_peers_by_ip(nodes, {}, []) == {
        "10.0.0.1": set(), "10.0.0.2": {"10.0.0.3"}, "10.0.0.3": {"10.0.0.2"}}


def test_node_specific_bgp_peer_to_a_router_is_for_that_node_only():
    nodes = [node("a", "10.0.0.1"), node("b", "10.0.0.2")]
    tor = bgp_peer("tor-a", node="a", peer_ip="10.0.9.1:179", as_number=65001)
    by_ip = expected.expected_peers_by_ip(nodes, {"mesh_enabled": False}, [tor])
    assert by_ip == {"10.0.0.1": {"10.0.9.1"}, "10.0.0.2": set()}


def test_global_bgp_peer_to_a_calico_node_adds_the_reverse_peering():
    nodes = [node("a", "10.0.0.1"), node("b", "10.0.0.2"), node("c", "10.0.0.3")]
    to_c = bgp_peer("to-c", peer_ip="10.0.0.3")
    by_ip = expected.expected_peers_by_ip(nodes, {"mesh_enabled": False}, [to_c])
    # a and b peer with c; c, whose IP the BGPPeer names, peers back with every node it is for
    assert by_ip == {"10.0.0.1": {"10.0.0.3"}, "10.0.0.2": {"10.0.0.3"}, "10.0.0.3": {"10.0.0.1", "10.0.0.2"}}


def test_selectors_pick_the_nodes_and_the_peers():
    nodes = [node("a", "10.0.0.1", labels={"rack": "r1"}), node("b", "10.0.0.2", labels={"rack": "r2"}),
             node("c", "10.0.0.3", labels={"rack": "r1", "edge": ""}), node("d", "10.0.0.4")]
    rack = bgp_peer("racks-to-edge", node_selector="has(rack) && rack != 'r2'", peer_selector="has(edge)")
    by_ip = expected.expected_peers_by_ip(nodes, {"mesh_enabled": False}, [rack])
    # a and c are for it, c is the peer: a -> c, c -> a (reverse); c -> c is skipped by IP
    assert by_ip == {"10.0.0.1": {"10.0.0.3"}, "10.0.0.2": set(), "10.0.0.3": {"10.0.0.1"}, "10.0.0.4": set()}


def test_unsupported_selector_is_left_out_of_the_expected_peers():
    nodes = [node("a", "10.0.0.1", labels={"rack": "r1"}), node("b", "10.0.0.2")]
    odd = bgp_peer("odd", node_selector="rack in {'r1', 'r2'}", peer_ip="10.0.9.1")
    assert expected.expected_peers_for(nodes, {"mesh_enabled": False}, "10.0.0.1", [odd]) == []


def test_unregistered_host_expects_the_mesh():
    nodes = [node("a", "10.0.0.1"), node("b", "10.0.0.2")]
    assert expected.expected_peers_for(nodes, {}, "10.0.0.9/24") == ["10.0.0.1", "10.0.0.2"]


def _lab_objects(nodes, peers):
    lab_nodes = {}
    for n in nodes:
        bgp = {"ipv4Address": f"{n['ipv4_address']}/24"}
        if n.get("rr_cluster_id"):
            bgp["routeReflectorClusterID"] = n["rr_cluster_id"]
        lab_nodes[n["name"]] = {"metadata": {"name": n["name"], "labels": n.get("labels") or {}}, "spec": {"bgp": bgp}}
    keys = {"node": "node", "node_selector": "nodeSelector", "peer_ip": "peerIP", "peer_selector": "peerSelector"}
    lab_peers = {p["name"]: {"spec": {keys[k]: v for k, v in p.items() if k in keys and v}} for p in peers}
    return lab_nodes, lab_peers


@pytest.mark.parametrize("mesh_on", [True, False])
def test_expected_peers_are_the_protocols_calico_renders(mesh_on):
    """The same resources through the lab's calico-node stand-in (its own implementation of confd's
    rules): every node's BGP protocols are exactly the product's expected peers."""
    nodes = [node("rr1", "10.0.0.1", "244.0.0.1", {"route-reflector": "true"}),
             node("rr2", "10.0.0.2", "244.0.0.1", {"route-reflector": "true", "zone": "b"}),
             node("n3", "10.0.0.3", labels={"zone": "a"}), node("n4", "10.0.0.4", labels={"zone": "b"}),
             node("n5", "10.0.0.5", labels={"zone": "a", "edge": "yes"}), node("n6", "10.0.0.6")]
    peers = [RR_PEER, bgp_peer("tor-n3", node="n3", peer_ip="10.0.9.1", as_number=65001),
             bgp_peer("zone-a-edge", node_selector="zone == 'a' && zone != 'b'", peer_selector="edge == 'yes'"),
             bgp_peer("everyone-to-n6", peer_ip="10.0.0.6"),
             bgp_peer("b-to-router", node_selector="has(zone) && zone != 'a'", peer_ip="10.0.9.2:1179")]
    bgp = {"mesh_enabled": mesh_on}
    lab_nodes, lab_peers = _lab_objects(nodes, peers)
    lab_bgp = {"spec": {"nodeToNodeMeshEnabled": mesh_on}}
    wanted = expected.expected_peers_by_ip(nodes, bgp, peers)
    for n in nodes:
        conf = bird_conf.render(n["ipv4_address"], lab_nodes, lab_bgp, lab_peers, n["name"])
        rendered = {line.split()[1] for line in conf.splitlines() if line.strip().startswith("neighbor ")}
        assert rendered == wanted[n["ipv4_address"]], n["name"]
