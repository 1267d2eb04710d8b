"""The calico-node stand-in renders BIRD's mesh with confd's rules."""

import pytest

from lab import bird_conf


def node(ip, rr=None):
    bgp = {"ipv4Address": f"{ip}/32"}
    if rr:
        bgp["routeReflectorClusterID"] = rr
    return {"spec": {"bgp": bgp}}


NODES = {
    "a": node("198.18.0.11"),
    "b": node("198.18.0.12"),
    "c": node("198.18.0.9"),
    "rr": node("198.18.0.20", "1.0.0.1"),
}


def test_one_mesh_peer_per_other_node_self_skipped_by_ip_rr_skipped():
    assert bird_conf.mesh_peers("198.18.0.11", NODES, None) == ["198.18.0.12", "198.18.0.9"]


def test_self_is_skipped_by_ip_even_under_another_name():
    nodes = dict(NODES, dup=node("198.18.0.11"))
    assert "198.18.0.11" not in bird_conf.mesh_peers("198.18.0.11", nodes, None)


def test_passive_when_peer_ip_string_is_greater():
    cfg = bird_conf.render("198.18.0.11", NODES, None)
    block_12 = cfg.split("protocol bgp Mesh_198_18_0_12")[1].split("}")[0]
    block_9 = cfg.split("protocol bgp Mesh_198_18_0_9")[1].split("}")[0]
    assert "passive on" in block_12  # "198.18.0.12" > "198.18.0.11"
    assert "passive on" in block_9  # "198.18.0.9" > "198.18.0.11" as strings, not as numbers


def test_mesh_disabled_and_as_number_from_bgp_configuration():
    off = {"spec": {"nodeToNodeMeshEnabled": False}}
    assert bird_conf.mesh_peers("198.18.0.11", NODES, off) == []
    cfg = bird_conf.render("198.18.0.11", NODES, {"spec": {"asNumber": 65001}})
    assert "local as 65001;" in cfg and "neighbor 198.18.0.12 as 65001;" in cfg
    assert "local as 64512;" in bird_conf.render("198.18.0.11", NODES, None)


# --- route reflectors and BGPPeers, as Calico's confd renders them ----------

def rr_nodes():
    def node(name, ip, cid="", rr=False):
        n = {"metadata": {"name": name, "labels": {"route-reflector": "true"} if rr else {}},
             "spec": {"bgp": {"ipv4Address": f"{ip}/32"}}}
        if cid:
            n["spec"]["bgp"]["routeReflectorClusterID"] = cid
        return n
    return {"rr-1": node("rr-1", "198.18.0.11", "244.0.0.1", True),
            "rr-2": node("rr-2", "198.18.0.12", "244.0.0.1", True),
            "c-1": node("c-1", "198.18.0.13"), "c-2": node("c-2", "198.18.0.14")}


TO_REFLECTORS = {"peer-with-route-reflectors": {"spec": {
    "nodeSelector": "all()", "peerSelector": "route-reflector == 'true'"}}}


def test_reflector_renders_no_mesh_and_rr_client_for_clients_only():
    cfg = bird_conf.render("198.18.0.11", rr_nodes(), None, TO_REFLECTORS, "rr-1")
    assert "Mesh_" not in cfg
    # The other reflector (same cluster ID) is a plain peer; the clients come from the reverse
    # peering confd adds for symmetry (the reflector is selected by the BGPPeer's peerSelector).
    assert "protocol bgp Node_198_18_0_12 from bgp_template {\n  neighbor 198.18.0.12 as 64512;\n" \
           "  source address 198.18.0.11;\n}" in cfg
    assert "protocol bgp Node_198_18_0_13 from bgp_template {\n  neighbor 198.18.0.13 as 64512;\n" \
           "  source address 198.18.0.11;\n  rr client;\n  rr cluster id 244.0.0.1;\n}" in cfg
    assert "protocol bgp Node_198_18_0_14 " in cfg and "Node_198_18_0_11" not in cfg


def test_client_meshes_with_clients_and_peers_with_reflectors():
    cfg = bird_conf.render("198.18.0.13", rr_nodes(), None, TO_REFLECTORS, "c-1")
    assert "protocol bgp Mesh_198_18_0_14 " in cfg and "Mesh_198_18_0_11" not in cfg
    assert "protocol bgp Node_198_18_0_11 " in cfg and "protocol bgp Node_198_18_0_12 " in cfg
    assert "rr client" not in cfg
    off = {"spec": {"nodeToNodeMeshEnabled": False}}
    assert "Mesh_" not in bird_conf.render("198.18.0.13", rr_nodes(), off, TO_REFLECTORS, "c-1")


def test_reflector_marks_its_clients_from_a_global_peer():
    peers = {"all-clients": {"spec": {"nodeSelector": "route-reflector == 'true'", "peerSelector": "!has(x)"}}}
    with pytest.raises(ValueError):
        bird_conf.render("198.18.0.11", rr_nodes(), None, peers, "rr-1")
    peers = {"c1": {"spec": {"node": "rr-1", "peerIP": "198.18.0.13"}},
             "global": {"spec": {"peerIP": "198.18.0.14"}}}
    cfg = bird_conf.render("198.18.0.11", rr_nodes(), None, peers, "rr-1")
    assert "protocol bgp Node_198_18_0_13 from bgp_template {\n  neighbor 198.18.0.13 as 64512;\n" \
           "  source address 198.18.0.11;\n  rr client;\n  rr cluster id 244.0.0.1;\n}" in cfg
    assert "protocol bgp Global_198_18_0_14 " in cfg
