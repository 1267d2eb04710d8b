"""calico.apply, the idempotency core: create / no-op / update / delete, each in check mode and for real.

Runs against ``FakeDatastore``, a FAKE in-memory implementation of the ``Datastore`` interface
(no etcd, no API server) that counts its writes; tests/integration/datastore runs the modules
against a real etcd and a Kubernetes API stand-in.
"""

import copy

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.apply import (
    apply_bgp_configuration,
    apply_bgp_peer,
    apply_felix_configuration,
    apply_ippool,
    apply_node_bgp,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import (
    ResourceValidationError,
    bgp_peer_request,
    ippool_request,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.base import Datastore
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Finding


class FakeDatastore(Datastore):
    """A FAKE datastore: resources in a dict, a revision per write, every write counted."""

    datastore_type = "etcdv3"

    def __init__(self, *objects):
        self.objects, self.revision, self.writes = {}, 0, []
        for obj in objects:
            self.put(obj)
        self.writes = []

    def list(self, kind):
        return [copy.deepcopy(o) for (k, _unused), o in sorted(self.objects.items()) if k == kind]

    def get(self, kind, name):
        return copy.deepcopy(self.objects.get((kind, name)))

    def put(self, obj):
        obj = copy.deepcopy(obj)
        self.revision += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.revision)
        self.objects[(obj["kind"], obj["metadata"]["name"])] = obj
        self.writes.append(("put", obj["kind"], obj["metadata"]["name"]))
        return copy.deepcopy(obj)

    def delete(self, kind, name, resource_version=None):
        del self.objects[(kind, name)]
        self.writes.append(("delete", kind, name))


POOL = ippool_request("172.20.0.0/16", ipip_mode="Always", nat_outgoing=True)


def test_a_missing_pool_is_a_finding_in_check_mode_and_created_for_real():
    ds = FakeDatastore()
    checked = apply_ippool(ds, "pool", "present", POOL, check_mode=True)
    assert checked["changed"] and ds.writes == []
    finding = Finding.from_dict(checked["findings"][0])
    assert (finding.kind, finding.section, finding.resource) == ("ip_pool_missing", "calico_settings", "IPPool/pool")
    assert finding.fix.playbook == "scale_out" and finding.fix.tags == ["calico_network"]
    assert "ansible-playbook calico_fleet.fleet.scale_out --tags calico_network" in finding.to_line()
    real = apply_ippool(ds, "pool", "present", POOL)
    assert real["changed"] and ds.writes == [("put", "IPPool", "pool")]
    assert real["diff"] == checked["diff"]  # check mode shows what the real run does


def test_a_pool_in_line_is_a_no_op_in_check_mode_and_for_real():
    ds = FakeDatastore()
    apply_ippool(ds, "pool", "present", POOL)
    ds.writes = []
    for check_mode in (True, False):
        result = apply_ippool(ds, "pool", "present", POOL, check_mode=check_mode)
        assert not result["changed"] and result["findings"] == [] and ds.writes == []


def test_a_changed_field_is_one_finding_and_one_write():
    ds = FakeDatastore()
    apply_ippool(ds, "pool", "present", POOL)
    ds.writes = []
    wanted = ippool_request("172.20.0.0/16", ipip_mode="CrossSubnet", nat_outgoing=True)
    checked = apply_ippool(ds, "pool", "present", wanted, check_mode=True)
    assert checked["changed"] and ds.writes == []
    assert [(f["kind"], f["field"], f["actual"], f["expected"]) for f in checked["findings"]] == [
        ("ip_pool_changed", "ipipMode", "Always", "CrossSubnet")]
    assert apply_ippool(ds, "pool", "present", wanted)["changed"] and ds.writes == [("put", "IPPool", "pool")]
    assert ds.get("IPPool", "pool")["spec"]["ipipMode"] == "CrossSubnet"


def test_an_unwanted_pool_is_deleted_only_for_real():
    ds = FakeDatastore()
    apply_ippool(ds, "pool", "present", POOL)
    ds.writes = []
    checked = apply_ippool(ds, "pool", "absent", check_mode=True)
    assert checked["changed"] and ds.writes == [] and checked["findings"][0]["kind"] == "ip_pool_unexpected"
    assert apply_ippool(ds, "pool", "absent")["changed"] and ds.writes == [("delete", "IPPool", "pool")]
    assert not apply_ippool(ds, "pool", "absent")["changed"]


def test_an_immutable_change_is_refused_before_any_write():
    ds = FakeDatastore()
    apply_ippool(ds, "pool", "present", POOL)
    ds.writes = []
    with pytest.raises(ResourceValidationError):
        apply_ippool(ds, "pool", "present", ippool_request("172.21.0.0/16"))
    assert ds.writes == []


def test_settings_findings_carry_the_old_reason_as_cause():
    ds = FakeDatastore()
    felix = apply_felix_configuration(ds, underlay_mtu=1460, check_mode=True)
    assert ds.writes == [] and felix["changed"]
    assert felix["findings"][0]["kind"] == "felix_configuration_missing"
    assert "ipipMTU is not set" in felix["findings"][0]["cause"] and felix["findings"][0]["expected"] == 1440
    apply_felix_configuration(ds, underlay_mtu=1460)
    again = apply_felix_configuration(ds, underlay_mtu=1460)
    assert not again["changed"] and again["findings"] == [] and ds.writes == [("put", "FelixConfiguration", "default")]

    bgp = apply_bgp_configuration(ds, as_number=64513, check_mode=True)
    assert [f["kind"] for f in bgp["findings"]] == ["bgp_configuration_missing"] and bgp["changed"]
    apply_bgp_configuration(ds, as_number=64513)
    changed = apply_bgp_configuration(ds, as_number=64514, check_mode=True)
    assert [(f["kind"], f["field"]) for f in changed["findings"]] == [("bgp_configuration_changed", "asNumber")]


def test_bgp_peer_and_node_bgp_findings_point_at_the_route_reflectors_playbook():
    node = {"kind": "Node", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "node-c"},
            "spec": {"bgp": {"ipv4Address": "10.0.1.3/24"}}}
    ds = FakeDatastore(node)
    peer = apply_bgp_peer(ds, "rr", "present", bgp_peer_request(node_selector="all()",
                                                                 peer_selector="route-reflector == 'true'"),
                          check_mode=True)
    assert peer["findings"][0]["kind"] == "bgp_peer_missing" and ds.writes == []
    assert peer["findings"][0]["fix"]["playbook"] == "route_reflectors"
    reflector = apply_node_bgp(ds, "node-c", "244.0.0.1", {"route-reflector": "true"})
    assert reflector["changed"] and ds.writes == [("put", "Node", "node-c")]
    assert {f["kind"] for f in reflector["findings"]} == {"node_changed"}
    assert not apply_node_bgp(ds, "node-c", "244.0.0.1", {"route-reflector": "true"})["changed"]
