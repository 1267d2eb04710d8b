"""calico_node state=absent as Calico's node delete, against a real etcd seeded in Calico's key layout.

Three nodes share a pod CIDR: node-1 (decommissioned), node-1-x (whose
workload endpoint names start with node-1's prefix ``node--1-``: only
``spec.node`` tells them apart) and node-2 (which borrowed an address from a
block affine to node-1). Node addresses are loopback addresses so that the
BGP liveness probe stays on this machine. Assertions read etcd with etcdctl.
"""

import json
import socket

import pytest

from tests.conftest import run_module
from tests.integration.datastore.conftest import CALICO

IPAM = "/calico/ipam/v2/"
NODE_IPS = {"node-1": "127.0.0.31", "node-1-x": "127.0.0.32", "node-2": "127.0.0.33"}


def calico(kind, name, spec, namespace=None):
    meta = {"name": name, "uid": f"uid-{name}", "creationTimestamp": "2024-05-01T10:00:00Z"}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": kind, "apiVersion": "projectcalico.org/v3", "metadata": meta, "spec": spec}


def node(name, tunnel):
    return calico("Node", name, {"bgp": {"ipv4Address": f"{NODE_IPS[name]}/32", "ipv4IPIPTunnelAddr": tunnel},
                                 "orchRefs": [{"nodeName": name, "orchestrator": "k8s"}]})


def wep(namespace, name, node_name, ips):
    return calico("WorkloadEndpoint", name, {"orchestrator": "k8s", "node": node_name, "endpoint": "eth0",
                                             "ipNetworks": ips, "interfaceName": "cali1342368ccea"}, namespace)


def attr(handle, **secondary):
    return {"handle_id": handle, "secondary": secondary}


def block(cidr, affinity, allocated, attributes, size=64):
    """A Calico AllocationBlock as Go's json.Marshal writes it; ``allocated``: {ordinal: attribute index}."""
    allocations = [allocated.get(i) for i in range(size)]
    return {"cidr": cidr, "affinity": affinity, "allocations": allocations,
            "unallocated": [i for i in range(size) if i not in allocated], "attributes": attributes,
            "sequenceNumber": 7, "sequenceNumberForAllocation": {str(i): 3 for i in allocated}, "deleted": False}


def pod(name, namespace, node_name):
    return {"namespace": namespace, "node": node_name, "pod": name, "timestamp": "2024-05-01 10:00:00 +0000 UTC"}


def tunnel(node_name):
    return {"node": node_name, "type": "ipipTunnelAddress"}


def block_key(cidr):
    return f"{IPAM}assignment/ipv4/block/{cidr.replace('/', '-')}"


def affinity_key(host, cidr):
    return f"{IPAM}host/{host}/ipv4/block/{cidr.replace('/', '-')}"


CONFIRMED = {"state": "confirmed", "deleted": False}

SEED = {
    # Nodes
    f"{CALICO}nodes/node-1": node("node-1", "172.20.139.64"),
    f"{CALICO}nodes/node-1-x": node("node-1-x", "172.20.247.0"),
    f"{CALICO}nodes/node-2": node("node-2", "172.20.84.128"),
    f"{CALICO}ippools/default-ipv4-ippool": calico("IPPool", "default-ipv4-ippool", {
        "cidr": "172.20.0.0/16", "blockSize": 26, "ipipMode": "Always", "natOutgoing": True,
        "nodeSelector": "all()"}),
    # Workload endpoints (names escape "-" in the node name as "--")
    f"{CALICO}workloadendpoints/default/node--1-k8s-nginx-eth0":
        wep("default", "node--1-k8s-nginx-eth0", "node-1", ["172.20.139.94/32"]),
    f"{CALICO}workloadendpoints/default/node--1-k8s-busybox-eth0":
        wep("default", "node--1-k8s-busybox-eth0", "node-1", ["172.20.139.95/32", "172.20.139.96/32"]),
    f"{CALICO}workloadendpoints/kube-system/node--1-k8s-redis-eth0":
        wep("kube-system", "node--1-k8s-redis-eth0", "node-1", ["172.20.5.3/32"]),
    f"{CALICO}workloadendpoints/default/node--1--x-k8s-web-eth0":
        wep("default", "node--1--x-k8s-web-eth0", "node-1-x", ["172.20.247.1/32"]),
    f"{CALICO}workloadendpoints/default/node--2-k8s-api-eth0":
        wep("default", "node--2-k8s-api-eth0", "node-2", ["172.20.84.130/32"]),
    f"{CALICO}workloadendpoints/default/node--2-k8s-borrow-eth0":
        wep("default", "node--2-k8s-borrow-eth0", "node-2", ["172.20.139.129/32"]),
    # IPAM blocks
    block_key("172.20.139.64/26"): block("172.20.139.64/26", "host:node-1", {0: 0, 30: 1, 31: 2, 32: 2}, [
        attr("ipip-tunnel-addr-node-1", **tunnel("node-1")),
        attr("k8s-pod-network.aaa", **pod("nginx", "default", "node-1")),
        attr("k8s-pod-network.bbb", **pod("busybox", "default", "node-1"))]),
    block_key("172.20.139.128/26"): block("172.20.139.128/26", "host:node-1", {1: 0}, [
        attr("k8s-pod-network.fff", **pod("borrow", "default", "node-2"))]),
    block_key("172.20.5.0/26"): block("172.20.5.0/26", None, {3: 0}, [
        attr("k8s-pod-network.ccc", **pod("redis", "kube-system", "node-1"))]),
    block_key("172.20.247.0/26"): block("172.20.247.0/26", "host:node-1-x", {0: 0, 1: 1}, [
        attr("ipip-tunnel-addr-node-1-x", **tunnel("node-1-x")),
        attr("k8s-pod-network.ddd", **pod("web", "default", "node-1-x"))]),
    block_key("172.20.84.128/26"): block("172.20.84.128/26", "host:node-2", {0: 0, 2: 1}, [
        attr("ipip-tunnel-addr-node-2", **tunnel("node-2")),
        attr("k8s-pod-network.eee", **pod("api", "default", "node-2"))]),
    # IPAM handles
    f"{IPAM}handle/ipip-tunnel-addr-node-1": {"block": {"172.20.139.64/26": 1}, "deleted": False},
    f"{IPAM}handle/k8s-pod-network.aaa": {"block": {"172.20.139.64/26": 1}, "deleted": False},
    f"{IPAM}handle/k8s-pod-network.bbb": {"block": {"172.20.139.64/26": 2}, "deleted": False},
    f"{IPAM}handle/k8s-pod-network.ccc": {"block": {"172.20.5.0/26": 1}, "deleted": False},
    f"{IPAM}handle/ipip-tunnel-addr-node-1-x": {"block": {"172.20.247.0/26": 1}, "deleted": False},
    f"{IPAM}handle/k8s-pod-network.ddd": {"block": {"172.20.247.0/26": 1}, "deleted": False},
    f"{IPAM}handle/ipip-tunnel-addr-node-2": {"block": {"172.20.84.128/26": 1}, "deleted": False},
    f"{IPAM}handle/k8s-pod-network.eee": {"block": {"172.20.84.128/26": 1}, "deleted": False},
    f"{IPAM}handle/k8s-pod-network.fff": {"block": {"172.20.139.128/26": 1}, "deleted": False},
    # Block affinities and the IPAM host key
    affinity_key("node-1", "172.20.139.64/26"): CONFIRMED,
    affinity_key("node-1", "172.20.139.128/26"): CONFIRMED,
    affinity_key("node-1-x", "172.20.247.0/26"): CONFIRMED,
    affinity_key("node-2", "172.20.84.128/26"): CONFIRMED,
    f"{IPAM}host/node-1": {},
    # Node-scoped BGP peers, per-node configurations, host endpoints
    f"{CALICO}bgppeers/node-1-tor": calico("BGPPeer", "node-1-tor", {"node": "node-1", "peerIP": "127.0.0.41",
                                                                      "asNumber": 64513}),
    f"{CALICO}bgppeers/node-2-tor": calico("BGPPeer", "node-2-tor", {"node": "node-2", "peerIP": "127.0.0.42",
                                                                      "asNumber": 64513}),
    f"{CALICO}bgppeers/global-rr": calico("BGPPeer", "global-rr", {"peerIP": "127.0.0.43", "asNumber": 64512}),
    f"{CALICO}felixconfigurations/default": calico("FelixConfiguration", "default", {"ipipMTU": 1440}),
    f"{CALICO}felixconfigurations/node.node-1": calico("FelixConfiguration", "node.node-1",
                                                        {"logSeverityScreen": "Debug"}),
    f"{CALICO}felixconfigurations/node.node-2": calico("FelixConfiguration", "node.node-2",
                                                        {"logSeverityScreen": "Info"}),
    f"{CALICO}bgpconfigurations/default": calico("BGPConfiguration", "default", {"nodeToNodeMeshEnabled": True,
                                                                                   "asNumber": 64512}),
    f"{CALICO}bgpconfigurations/node.node-1": calico("BGPConfiguration", "node.node-1", {"logSeverityScreen": "Info"}),
    f"{CALICO}hostendpoints/node-1-eth0": calico("HostEndpoint", "node-1-eth0", {"node": "node-1",
                                                                                  "interfaceName": "eth0"}),
    f"{CALICO}hostendpoints/node-2-eth0": calico("HostEndpoint", "node-2-eth0", {"node": "node-2",
                                                                                  "interfaceName": "eth0"}),
}

# Every key that is node-1's and goes, and the one that stays changed.
GONE = {
    f"{CALICO}nodes/node-1",
    f"{CALICO}workloadendpoints/default/node--1-k8s-nginx-eth0",
    f"{CALICO}workloadendpoints/default/node--1-k8s-busybox-eth0",
    f"{CALICO}workloadendpoints/kube-system/node--1-k8s-redis-eth0",
    block_key("172.20.139.64/26"), block_key("172.20.5.0/26"),
    f"{IPAM}handle/ipip-tunnel-addr-node-1", f"{IPAM}handle/k8s-pod-network.aaa",
    f"{IPAM}handle/k8s-pod-network.bbb", f"{IPAM}handle/k8s-pod-network.ccc",
    affinity_key("node-1", "172.20.139.64/26"), affinity_key("node-1", "172.20.139.128/26"), f"{IPAM}host/node-1",
    f"{CALICO}bgppeers/node-1-tor", f"{CALICO}felixconfigurations/node.node-1",
    f"{CALICO}bgpconfigurations/node.node-1", f"{CALICO}hostendpoints/node-1-eth0",
}
KEPT_CHANGED = block_key("172.20.139.128/26")


def seed(etcd):
    for key, value in SEED.items():
        etcd.put_json(key, value)


def args(etcd, **extra):
    return dict(etcd_endpoints=[etcd.endpoint], name="node-1", state="absent", **extra)


def test_check_mode_lists_everything_and_writes_nothing_then_the_real_run_matches(etcd):
    seed(etcd)
    before, revision = etcd.values("/calico/"), etcd.revision()
    check = run_module("calico_node", args(etcd, expected_ipv4_address="127.0.0.31"), check=True, diff=True)
    assert check["changed"] and not check.get("failed"), check
    assert etcd.revision() == revision and etcd.values("/calico/") == before  # nothing written
    assert set(check["removed"]) == GONE and check["updated"] == [KEPT_CHANGED]
    assert check["released_addresses"] == ["172.20.5.3", "172.20.139.64", "172.20.139.94", "172.20.139.95",
                                           "172.20.139.96"]
    assert set(check["diff"]["before"]) == GONE | {KEPT_CHANGED}
    assert check["diff"]["before"][f"{CALICO}nodes/node-1"] == SEED[f"{CALICO}nodes/node-1"]
    assert check["diff"]["after"] == {KEPT_CHANGED: dict(SEED[KEPT_CHANGED], affinity=None)}

    real = run_module("calico_node", args(etcd, expected_ipv4_address="127.0.0.31"), diff=True)
    assert real["changed"] and real["removed"] == check["removed"] and real["updated"] == check["updated"]
    assert real["diff"] == check["diff"]
    assert real["node"] == {"name": "node-1", "ipv4_address": "127.0.0.31"}

    after = etcd.values("/calico/")
    # The node's keys are gone; every other key is there, byte for byte, except the block it lost.
    assert set(after) == set(before) - GONE
    assert {k: v for k, v in after.items() if k != KEPT_CHANGED} == \
        {k: v for k, v in before.items() if k not in GONE and k != KEPT_CHANGED}
    # The non-empty block affine to node-1 lost its affinity and nothing else.
    kept = json.loads(after[KEPT_CHANGED])
    assert kept == dict(SEED[KEPT_CHANGED], affinity=None)
    assert after[KEPT_CHANGED] == json.dumps(kept, separators=(",", ":"))  # Go's compact JSON, field order kept

    again = run_module("calico_node", args(etcd, expected_ipv4_address="127.0.0.31"), diff=True)
    assert not again["changed"] and again["node"] is None and again["removed"] == [] == again["updated"]
    assert etcd.values("/calico/") == after


def test_release_order_follows_calico(etcd):
    seed(etcd)
    result = run_module("calico_node", args(etcd))
    order = result["removed"]
    pos = {key: order.index(key) for key in order}
    # Addresses are released (empty non-affine block, handles) before the endpoints go,
    # the endpoints before the affinities, the per-node resources after IPAM, the Node last.
    assert pos[block_key("172.20.5.0/26")] < pos[f"{CALICO}workloadendpoints/default/node--1-k8s-nginx-eth0"]
    assert pos[f"{IPAM}handle/k8s-pod-network.bbb"] < pos[f"{CALICO}workloadendpoints/default/node--1-k8s-nginx-eth0"]
    assert max(pos[k] for k in order if "/workloadendpoints/" in k) < pos[affinity_key("node-1", "172.20.139.64/26")]
    assert pos[f"{IPAM}host/node-1"] < pos[f"{CALICO}bgppeers/node-1-tor"] < \
        pos[f"{CALICO}felixconfigurations/node.node-1"] < pos[f"{CALICO}bgpconfigurations/node.node-1"] < \
        pos[f"{CALICO}hostendpoints/node-1-eth0"]
    assert order[-1] == f"{CALICO}nodes/node-1"


def test_partial_handle_is_decremented_not_deleted(etcd):
    seed(etcd)
    # One handle with addresses in two blocks: only node-1's block entry goes.
    etcd.put_json(f"{IPAM}handle/k8s-pod-network.aaa", {"block": {"172.20.139.64/26": 1, "172.20.84.128/26": 1},
                                                         "deleted": False})
    result = run_module("calico_node", args(etcd))
    assert f"{IPAM}handle/k8s-pod-network.aaa" in result["updated"]
    assert json.loads(etcd.values(f"{IPAM}handle/")[f"{IPAM}handle/k8s-pod-network.aaa"]) == \
        {"block": {"172.20.84.128/26": 1}, "deleted": False}


def test_refuses_a_live_host_unless_forced(etcd):
    seed(etcd)
    before = etcd.values("/calico/")
    with socket.socket() as bgp:  # node-1's BIRD: something answers on 127.0.0.31:179
        bgp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            bgp.bind(("127.0.0.31", 179))
        except OSError as exc:
            pytest.skip(f"cannot listen on 127.0.0.31:179 ({exc})")
        bgp.listen(4)
        for check in (True, False):
            result = run_module("calico_node", args(etcd, expected_ipv4_address="127.0.0.31"), check=check)
            assert result.get("failed") and "is in use: BGP answers at its address 127.0.0.31:179" in result["msg"]
        assert etcd.values("/calico/") == before
        forced = run_module("calico_node", args(etcd, expected_ipv4_address="127.0.0.31", force=True))
    assert forced["changed"] and f"{CALICO}nodes/node-1" not in etcd.values("/calico/")


def test_refuses_a_registration_that_points_at_another_host_even_forced(etcd):
    seed(etcd)
    before = etcd.values("/calico/")
    result = run_module("calico_node", args(etcd, expected_ipv4_address="127.0.0.33", force=True))
    assert result.get("failed") and "registered with IPv4 127.0.0.31, not 127.0.0.33" in result["msg"]
    assert etcd.values("/calico/") == before


def test_leftovers_of_a_node_already_deleted_by_name_are_cleaned(etcd):
    # A removal by hand deleted the Node only: a rerun of Calico's delete finds the rest by name.
    seed(etcd)
    etcd.ctl("del", f"{CALICO}nodes/node-1")
    result = run_module("calico_node", args(etcd, expected_ipv4_address="127.0.0.31"))
    assert result["changed"] and result["node"] is None
    # Without the Node its tunnel address is not known (as in Calico): its allocation and handle stay.
    assert set(result["removed"]) == GONE - {f"{CALICO}nodes/node-1", f"{IPAM}handle/ipip-tunnel-addr-node-1",
                                             block_key("172.20.139.64/26")}
    assert block_key("172.20.139.64/26") in result["updated"]
