"""calico_nodes_info against a real etcd holding Node resources as calico-node writes them."""

from tests.conftest import run_module
from tests.integration.datastore.conftest import CALICO


def node(name, ipv4=None, tunnel=None, rr=None, ipv6=None, asn=None, labels=None):
    bgp = {k: v for k, v in (("ipv4Address", ipv4), ("ipv6Address", ipv6), ("asNumber", asn),
                             ("ipv4IPIPTunnelAddr", tunnel), ("routeReflectorClusterID", rr)) if v}
    spec = {"orchRefs": [{"nodeName": name, "orchestrator": "k8s"}]}
    if bgp:
        spec["bgp"] = bgp
    metadata = {"name": name, "uid": "0b7c0e4e-62a8-4a4b-9d7e-2c6f1f0d8a11",
                "creationTimestamp": "2024-05-01T10:00:00Z"}
    if labels:
        metadata["labels"] = labels
    return {"kind": "Node", "apiVersion": "projectcalico.org/v3", "metadata": metadata, "spec": spec, "status": {}}


def seed(etcd):
    etcd.put_json(f"{CALICO}nodes/ip-172-31-7-227", node("ip-172-31-7-227", "172.31.7.227/20", "172.20.84.128"))
    etcd.put_json(f"{CALICO}nodes/aws-na-k8s-temp2", node("aws-na-k8s-temp2", "172.31.8.108/20",
                                                          ipv6="fd00::8/64", asn=64513))
    etcd.put_json(f"{CALICO}nodes/rr-1", node("rr-1", "172.31.1.50/20", rr="224.0.0.1",
                                              labels={"route-reflector": "true", "kubernetes.io/hostname": "rr-1"}))
    etcd.put_json(f"{CALICO}nodes/no-bgp", node("no-bgp"))


EXPECTED = [
    {"name": "aws-na-k8s-temp2", "ipv4_address": "172.31.8.108", "ipv4_network": "172.31.8.108/20",
     "ipv6_address": "fd00::8", "rr_cluster_id": None, "ipip_tunnel_addr": None, "asn": 64513,
     "labels": {}, "k8s_node_name": "aws-na-k8s-temp2"},
    {"name": "ip-172-31-7-227", "ipv4_address": "172.31.7.227", "ipv4_network": "172.31.7.227/20",
     "ipv6_address": None, "rr_cluster_id": None, "ipip_tunnel_addr": "172.20.84.128", "asn": None,
     "labels": {}, "k8s_node_name": "ip-172-31-7-227"},
    {"name": "no-bgp", "ipv4_address": None, "ipv4_network": None, "ipv6_address": None,
     "rr_cluster_id": None, "ipip_tunnel_addr": None, "asn": None, "labels": {},
     "k8s_node_name": "no-bgp"},
    {"name": "rr-1", "ipv4_address": "172.31.1.50", "ipv4_network": "172.31.1.50/20", "ipv6_address": None,
     "rr_cluster_id": "224.0.0.1", "ipip_tunnel_addr": None, "asn": None,
     "labels": {"route-reflector": "true", "kubernetes.io/hostname": "rr-1"}, "k8s_node_name": "rr-1"},
]


def test_reads_nodes_and_default_bgp_settings(etcd, ds_args):
    seed(etcd)
    start = etcd.revision()
    result = run_module("calico_nodes_info", ds_args, check=True)
    assert result["changed"] is False
    assert result["nodes"] == EXPECTED
    assert result["bgp_configuration"] == {"exists": False, "mesh_enabled": True, "as_number": 64512}
    assert result["bgp_peers"] == []
    assert etcd.revision() == start


def test_reads_bgp_peers(etcd, ds_args):
    # As calicoctl / calico_bgp_peer store them: the role's peering to the reflectors, a router
    # for one node (peerIP with a port), and Calico's defaulted fields the rows leave out.
    etcd.put_json(f"{CALICO}bgppeers/peer-with-route-reflectors", {
        "kind": "BGPPeer", "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "peer-with-route-reflectors", "uid": "7d1c", "creationTimestamp": "2024-05-01T10:00:00Z"},
        "spec": {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'", "keepOriginalNextHop": False}})
    etcd.put_json(f"{CALICO}bgppeers/tor-rack-1", {
        "kind": "BGPPeer", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "tor-rack-1"},
        "spec": {"node": "ip-172-31-7-227", "peerIP": "172.31.0.1:179", "asNumber": 65001}})
    start = etcd.revision()
    result = run_module("calico_nodes_info", ds_args, check=True)
    assert result["bgp_peers"] == [
        {"name": "peer-with-route-reflectors", "node": None, "node_selector": "all()", "peer_ip": None,
         "peer_selector": "route-reflector == 'true'", "as_number": None},
        {"name": "tor-rack-1", "node": "ip-172-31-7-227", "node_selector": None, "peer_ip": "172.31.0.1:179",
         "peer_selector": None, "as_number": 65001},
    ]
    assert etcd.revision() == start


def test_reads_bgp_configuration(etcd, ds_args):
    etcd.put_json(f"{CALICO}bgpconfigurations/default", {
        "kind": "BGPConfiguration", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "default"},
        "spec": {"logSeverityScreen": "Info", "nodeToNodeMeshEnabled": False, "asNumber": 65001}})
    result = run_module("calico_nodes_info", ds_args)
    assert result["bgp_configuration"] == {"exists": True, "mesh_enabled": False, "as_number": 65001}
    assert result["nodes"] == []


def test_reads_over_tls_with_client_certificate(etcd_tls):
    etcd_tls.wipe()
    seed(etcd_tls)
    certs = etcd_tls.certs
    args = {"etcd_endpoints": [etcd_tls.endpoint], "etcd_ca_cert": certs["ca"], "etcd_cert": certs["client_cert"],
            "etcd_key": certs["client_key"], "timeout": 5}
    assert run_module("calico_nodes_info", args)["nodes"] == EXPECTED
    refused = run_module("calico_nodes_info", {**args, "etcd_cert": None, "etcd_key": None})
    assert refused["failed"] is True and etcd_tls.endpoint in refused["msg"]


def test_half_a_client_certificate_is_refused(etcd_tls):
    result = run_module("calico_nodes_info", {"etcd_endpoints": [etcd_tls.endpoint],
                                              "etcd_cert": etcd_tls.certs["client_cert"]})
    assert result["failed"] is True and "needs both etcd_cert and etcd_key" in result["msg"]
