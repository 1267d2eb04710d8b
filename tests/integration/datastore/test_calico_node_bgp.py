"""calico_node_bgp against a real etcd: cluster ID and labels set, kept, changed, removed."""

import json

from tests.conftest import run_module
from tests.integration.datastore.conftest import CALICO
from tests.integration.datastore.conftest import converge as converge_module

KEY = f"{CALICO}nodes/node-c"
NODE = {"kind": "Node", "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "node-c", "uid": "u-3", "creationTimestamp": "2024-05-01T10:00:00Z",
                     "labels": {"kubernetes.io/hostname": "node-c"}},
        "spec": {"bgp": {"ipv4Address": "198.18.0.13/24", "ipv4IPIPTunnelAddr": "172.20.3.0"},
                 "orchRefs": [{"nodeName": "node-c", "orchestrator": "k8s"}]}}
REFLECTOR = {"node": "node-c", "route_reflector_cluster_id": "244.0.0.1", "labels": {"route-reflector": "true"}}



def converge(etcd, args, expect_changed):
    return converge_module(etcd, "calico_node_bgp", args, expect_changed)


def test_reflector_on_and_off_keeps_everything_else(etcd, ds_args):
    etcd.put_json(KEY, NODE)
    real = converge(etcd, {**ds_args, **REFLECTOR}, True)
    assert real["diff"] == {
        "before": {"labels": {"kubernetes.io/hostname": "node-c"}, "route_reflector_cluster_id": ""},
        "after": {"labels": {"kubernetes.io/hostname": "node-c", "route-reflector": "true"},
                  "route_reflector_cluster_id": "244.0.0.1"}}
    obj = json.loads(etcd.values()[KEY])
    assert obj["spec"] == {"bgp": {"ipv4Address": "198.18.0.13/24", "ipv4IPIPTunnelAddr": "172.20.3.0",
                                   "routeReflectorClusterID": "244.0.0.1"},
                           "orchRefs": [{"nodeName": "node-c", "orchestrator": "k8s"}]}
    assert obj["metadata"]["uid"] == "u-3" and "resourceVersion" not in obj["metadata"]

    # Update: another cluster ID only; the labels are not managed in this call.
    converge(etcd, {**ds_args, "node": "node-c", "route_reflector_cluster_id": "244.0.0.2"}, True)
    assert json.loads(etcd.values()[KEY])["spec"]["bgp"]["routeReflectorClusterID"] == "244.0.0.2"

    # Remove both ("" and a null label value).
    converge(etcd, {**ds_args, "node": "node-c", "route_reflector_cluster_id": "",
                    "labels": {"route-reflector": None}}, True)
    obj = json.loads(etcd.values()[KEY])
    assert obj["spec"] == NODE["spec"] and obj["metadata"]["labels"] == NODE["metadata"]["labels"]


def test_unknown_node_and_bad_cluster_id_fail_without_writing(etcd, ds_args):
    etcd.put_json(KEY, NODE)
    start = etcd.revision()
    out = run_module("calico_node_bgp", {**ds_args, **REFLECTOR, "node": "node-x"})
    assert out.get("failed") and "not registered" in out["msg"] and out["field"] == "node"
    out = run_module("calico_node_bgp", {**ds_args, **REFLECTOR, "route_reflector_cluster_id": "300.0.0.1"})
    assert out.get("failed") and out["field"] == "route_reflector_cluster_id"
    assert etcd.revision() == start


def test_mesh_back_on_with_reflectors_needs_the_explicit_option(etcd, ds_args):
    etcd.put_json(KEY, NODE)
    run_module("calico_node_bgp", {**ds_args, **REFLECTOR})
    assert run_module("calico_bgp_configuration", {**ds_args, "mesh_enabled": False})["changed"]
    refused = run_module("calico_bgp_configuration", {**ds_args, "mesh_enabled": True})
    assert refused.get("failed") and "node-c" in refused["msg"]
    allowed = run_module("calico_bgp_configuration", {**ds_args, "mesh_enabled": True,
                                                      "allow_route_reflectors": True})
    assert allowed["changed"] and allowed["after"]["mesh_enabled"] is True
