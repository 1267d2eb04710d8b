"""calico_network owns only what the inventory declares: an existing cluster keeps the rest as found."""

import json

from tests.integration.datastore.conftest import CALICO
from tests.integration.datastore.test_calico_network_role import play  # noqa: F401  (the fixture)

BGP_KEY = f"{CALICO}bgpconfigurations/default"
FELIX_KEY = f"{CALICO}felixconfigurations/default"
POOL_KEY = f"{CALICO}ippools/default-ipv4-ippool"


def resource(kind, name, spec):
    return {"kind": kind, "apiVersion": "projectcalico.org/v3", "metadata": {"name": name}, "spec": spec}


def seed_route_reflector_cluster(etcd):
    """Mesh off, one route reflector, one global BGPPeer, a CrossSubnet pool, ipipMTU 8981: a cluster as found."""
    etcd.put_json(BGP_KEY, resource("BGPConfiguration", "default", {"nodeToNodeMeshEnabled": False,
                                                                    "asNumber": 65010}))
    etcd.put_json(f"{CALICO}nodes/rr-1", resource("Node", "rr-1", {"bgp": {
        "ipv4Address": "10.0.1.10/24", "routeReflectorClusterID": "224.0.0.1"}}))
    etcd.put_json(f"{CALICO}nodes/node-1", resource("Node", "node-1", {"bgp": {"ipv4Address": "10.0.1.11/24"}}))
    etcd.put_json(f"{CALICO}bgppeers/peer-with-rr", resource("BGPPeer", "peer-with-rr", {
        "nodeSelector": "!has(route-reflector)", "peerSelector": "has(route-reflector)"}))
    etcd.put_json(POOL_KEY, resource("IPPool", "default-ipv4-ippool", {
        "cidr": "172.20.0.0/16", "ipipMode": "CrossSubnet", "vxlanMode": "Never", "natOutgoing": True,
        "blockSize": 26, "nodeSelector": "all()"}))
    etcd.put_json(FELIX_KEY, resource("FelixConfiguration", "default", {"ipipMTU": 8981}))
    return etcd.values()


def test_nothing_declared_nothing_written_and_reported_not_managed(etcd, play):  # noqa: F811
    before = seed_route_reflector_cluster(etcd)
    start = etcd.revision()
    dry = play({}, check=True)
    assert dry["rc"] == 0 and dry["changed"] == 0, dry["out"]
    for line in ("IP pools: not managed", "nodeToNodeMeshEnabled: not managed", "asNumber: not managed",
                 "ipipMTU: not managed"):
        assert line in dry["out"]
    real = play({})
    assert real["rc"] == 0 and real["changed"] == 0, real["out"]
    assert etcd.revision() == start and etcd.values() == before


def test_mesh_disabled_route_reflector_cluster_keeps_the_mesh_disabled(etcd, play):  # noqa: F811
    seed_route_reflector_cluster(etcd)
    run = play({"calico_network_as_number": 65010})
    assert run["rc"] == 0 and run["changed"] == 0, run["out"]
    assert json.loads(etcd.values()[BGP_KEY])["spec"]["nodeToNodeMeshEnabled"] is False


def test_turning_the_mesh_back_on_is_refused_with_the_reason(etcd, play):  # noqa: F811
    seed_route_reflector_cluster(etcd)
    start = etcd.revision()
    for check in (True, False):
        run = play({"calico_network_mesh_enabled": True}, check=check)
        assert run["rc"] != 0 and run["failed"] == 1
        assert "refusing to turn the node-to-node mesh back on" in run["out"]
        assert "route reflectors: rr-1" in run["out"] and "BGPPeers: peer-with-rr" in run["out"]
    assert etcd.revision() == start


def test_a_pool_declared_crosssubnet_stays_crosssubnet(etcd, play):  # noqa: F811
    seed_route_reflector_cluster(etcd)
    pools = {"calico_network_ippools": [{"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16",
                                         "ipip_mode": "CrossSubnet", "nat_outgoing": True}]}
    start = etcd.revision()
    run = play(pools)
    assert run["rc"] == 0 and run["changed"] == 0, run["out"]
    assert etcd.revision() == start
    assert json.loads(etcd.values()[POOL_KEY])["spec"]["ipipMode"] == "CrossSubnet"


def test_undeclared_mtu_is_left_as_found_and_a_declared_one_follows_the_underlay(etcd, play):  # noqa: F811
    seed_route_reflector_cluster(etcd)
    assert play({})["changed"] == 0
    assert json.loads(etcd.values()[FELIX_KEY])["spec"] == {"ipipMTU": 8981}
    # AWS: 9001 inside the VPC gives 8981, already in place.
    assert play({"calico_network_underlay_mtu": 9001})["changed"] == 0
    run = play({"calico_network_underlay_mtu": 1500})
    assert run["changed"] == 1
    assert json.loads(etcd.values()[FELIX_KEY])["spec"] == {"ipipMTU": 1480}
