"""calico_bgp_peer against a real etcd: create / no-op / update / delete, check mode and for real."""

import json

from tests.conftest import run_module
from tests.integration.datastore.conftest import CALICO
from tests.integration.datastore.conftest import converge as converge_module

KEY = f"{CALICO}bgppeers/peer-with-route-reflectors"
TO_REFLECTORS = {"name": "peer-with-route-reflectors", "node_selector": "all()",
                 "peer_selector": "route-reflector == 'true'"}



def converge(etcd, args, expect_changed):
    return converge_module(etcd, "calico_bgp_peer", args, expect_changed)


def test_create_noop_update_delete(etcd, ds_args):
    real = converge(etcd, {**ds_args, **TO_REFLECTORS}, True)
    assert real["diff"]["before"] == {}
    assert real["diff"]["after"]["spec"] == {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'"}
    obj = json.loads(etcd.values()[KEY])
    assert list(obj) == ["kind", "apiVersion", "metadata", "spec"]
    assert obj["kind"] == "BGPPeer" and obj["apiVersion"] == "projectcalico.org/v3"
    assert list(obj["spec"]) == ["nodeSelector", "peerSelector"] and "resourceVersion" not in obj["metadata"]
    uid = obj["metadata"]["uid"]

    # Update: from a selector to one node and an external router; the selector fields go.
    real = converge(etcd, {**ds_args, "name": "peer-with-route-reflectors", "node": "node-a",
                           "peer_ip": "198.18.0.254", "as_number": 65010}, True)
    assert {f["field"] for f in real["findings"]} == {"asNumber", "node", "nodeSelector", "peerIP", "peerSelector"}
    obj = json.loads(etcd.values()[KEY])
    assert obj["spec"] == {"node": "node-a", "peerIP": "198.18.0.254", "asNumber": 65010}
    assert obj["metadata"]["uid"] == uid

    real = converge(etcd, {**ds_args, "name": "peer-with-route-reflectors", "state": "absent"}, True)
    assert real["diff"]["after"] == {} and real["bgp_peer"] is None
    assert KEY not in etcd.values()
    converge(etcd, {**ds_args, "name": "peer-with-route-reflectors", "state": "absent"}, False)


def test_keeps_fields_it_does_not_manage(etcd, ds_args):
    etcd.put_json(KEY, {"kind": "BGPPeer", "apiVersion": "projectcalico.org/v3",
                        "metadata": {"name": "peer-with-route-reflectors", "uid": "u-1",
                                     "creationTimestamp": "2024-05-01T10:00:00Z"},
                        "spec": {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'",
                                 "keepOriginalNextHop": True}})
    converge(etcd, {**ds_args, **TO_REFLECTORS}, False)
    converge(etcd, {**ds_args, **TO_REFLECTORS, "peer_selector": "has(route-reflector)"}, True)
    obj = json.loads(etcd.values()[KEY])
    assert obj["metadata"] == {"name": "peer-with-route-reflectors", "uid": "u-1",
                               "creationTimestamp": "2024-05-01T10:00:00Z"}
    assert obj["spec"] == {"nodeSelector": "all()", "peerSelector": "has(route-reflector)",
                           "keepOriginalNextHop": True}


def test_invalid_requests_fail_before_any_write(etcd, ds_args):
    start = etcd.revision()
    for args, field in (({"peer_selector": "all()", "peer_ip": "198.18.0.1"}, "peer_ip"),
                        ({"node_selector": "all()"}, "peer_ip"),
                        ({"peer_selector": "all()", "as_number": 65001}, "as_number"),
                        ({"node": "a", "node_selector": "all()", "peer_ip": "198.18.0.1"}, "node_selector"),
                        ({"peer_ip": "not-an-ip"}, "peer_ip"),
                        ({"peer_ip": "198.18.0.1", "as_number": 0}, "as_number")):
        out = run_module("calico_bgp_peer", {**ds_args, "name": "p", **args})
        assert out.get("failed") and out["field"] == field, (args, out)
    assert etcd.revision() == start and etcd.values() == {}
