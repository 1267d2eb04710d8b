"""calico_ippool against a real etcd: lifecycle, Calico's exact JSON, validation, immutability."""

import json
import re

import pytest

from tests.conftest import run_module
from tests.integration.datastore.conftest import CALICO

POOL = "default-ipv4-ippool"
KEY = f"{CALICO}ippools/{POOL}"
UID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def run(ds_args, check=False, **args):
    return run_module("calico_ippool", {**ds_args, "name": POOL, **args}, check=check, diff=True)


def converge(etcd, ds_args, expect_changed, **args):
    """Check mode (writes nothing), then for real (writes iff changed), then again (a no-op)."""
    start = etcd.revision()
    dry = run(ds_args, check=True, **args)
    assert not dry.get("failed"), dry
    assert dry["changed"] is expect_changed
    assert etcd.revision() == start, "check mode wrote to etcd"
    real = run(ds_args, **args)
    assert real["changed"] is expect_changed
    assert (etcd.revision() > start) is expect_changed
    assert dry["diff"] == real["diff"], "check-mode diff differs from the real diff"
    moved = etcd.revision()
    again = run(ds_args, **args)
    assert again["changed"] is False and again["findings"] == []
    assert etcd.revision() == moved
    return real


def stored(etcd):
    raw = etcd.values().get(KEY)
    return raw, (json.loads(raw) if raw else None)


def calico_text(meta, spec):
    """The value exactly as Calico's Go code marshals it: compact, struct field order."""
    obj = {"kind": "IPPool", "apiVersion": "projectcalico.org/v3",
           "metadata": {"name": POOL, "uid": meta["uid"], "creationTimestamp": meta["creationTimestamp"]},
           "spec": spec}
    return json.dumps(obj, separators=(",", ":"))


def test_lifecycle_create_noop_update_disable_delete(etcd, ds_args):
    real = converge(etcd, ds_args, True, cidr="172.20.0.0/16", ipip_mode="Always", nat_outgoing=True)
    assert real["diff"]["before"] == {}
    assert [f["cause"] for f in real["findings"]] == ["IPPool 'default-ipv4-ippool' does not exist"]
    assert real["diff"]["after"]["spec"]["ipipMode"] == "Always"
    raw, obj = stored(etcd)
    meta = obj["metadata"]
    assert UID_RE.match(meta["uid"]) and TS_RE.match(meta["creationTimestamp"])
    assert "resourceVersion" not in raw
    assert raw == calico_text(meta, {
        "cidr": "172.20.0.0/16", "vxlanMode": "Never", "ipipMode": "Always", "natOutgoing": True,
        "blockSize": 26, "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"]})

    real = converge(etcd, ds_args, True, cidr="172.20.0.0/16", ipip_mode="CrossSubnet", nat_outgoing=False)
    assert {f["field"]: (f["actual"], f["expected"]) for f in real["findings"]} == {
        "ipipMode": ("Always", "CrossSubnet"), "natOutgoing": (True, False)}
    assert "ipipMode is 'Always', expected 'CrossSubnet'" in [f["cause"] for f in real["findings"]]
    raw, obj = stored(etcd)
    assert obj["metadata"] == meta, "uid/creationTimestamp must survive an update"
    assert raw == calico_text(meta, {
        "cidr": "172.20.0.0/16", "vxlanMode": "Never", "ipipMode": "CrossSubnet",
        "blockSize": 26, "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"]})

    converge(etcd, ds_args, True, disabled=True)
    raw, _ = stored(etcd)
    assert raw == calico_text(meta, {
        "cidr": "172.20.0.0/16", "vxlanMode": "Never", "ipipMode": "CrossSubnet", "disabled": True,
        "blockSize": 26, "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"]})

    real = converge(etcd, ds_args, True, state="absent")
    assert real["diff"]["after"] == {}
    assert stored(etcd) == (None, None)


def test_pool_written_by_calicoctl_is_not_changed(etcd, ds_args):
    """Calico spells out every default and adds metadata and fields we do not manage."""
    written = {"kind": "IPPool", "apiVersion": "projectcalico.org/v3",
               "metadata": {"name": POOL, "uid": "5b9c2c1e-1f47-4a63-9c1a-0d1e2f3a4b5c",
                            "creationTimestamp": "2024-05-01T10:00:00Z"},
               "spec": {"cidr": "172.20.0.0/16", "vxlanMode": "Never", "ipipMode": "Always",
                        "natOutgoing": True, "blockSize": 26, "nodeSelector": "all()",
                        "allowedUses": ["Workload", "Tunnel"], "assignmentMode": "Automatic"}}
    etcd.put_json(KEY, written)
    converge(etcd, ds_args, False, cidr="172.20.0.0/16", ipip_mode="Always", nat_outgoing=True,
             block_size=26, node_selector="all()")
    converge(etcd, ds_args, True, ipip_mode="CrossSubnet")
    _, obj = stored(etcd)
    assert obj["metadata"] == written["metadata"]
    assert obj["spec"]["assignmentMode"] == "Automatic", "a field we do not manage was dropped"


def test_pool_switched_to_vxlan_by_hand_is_drift_and_set_back(etcd, ds_args):
    """vxlan_mode is not declared, yet a declared IPIP pool has VXLAN off: a hand-made switch to VXLAN
    is drift on that field (check mode and diff show it) and the run sets it back, once."""
    written = {"kind": "IPPool", "apiVersion": "projectcalico.org/v3",
               "metadata": {"name": POOL, "uid": "5b9c2c1e-1f47-4a63-9c1a-0d1e2f3a4b5c",
                            "creationTimestamp": "2024-05-01T10:00:00Z"},
               "spec": {"cidr": "172.20.0.0/16", "vxlanMode": "Always", "ipipMode": "Never",
                        "natOutgoing": True, "blockSize": 26, "nodeSelector": "all()",
                        "allowedUses": ["Workload", "Tunnel"]}}
    etcd.put_json(KEY, written)
    real = converge(etcd, ds_args, True, cidr="172.20.0.0/16", ipip_mode="Always", nat_outgoing=True)
    assert [(f["resource"], f["field"], f["expected"], f["actual"]) for f in real["findings"]] == [
        (f"IPPool/{POOL}", "ipipMode", "Always", "Never"), (f"IPPool/{POOL}", "vxlanMode", "Never", "Always")]
    assert "declared with ipipMode Always" in real["findings"][1]["cause"]
    assert (real["diff"]["before"]["spec"]["vxlanMode"], real["diff"]["after"]["spec"]["vxlanMode"]) == (
        "Always", "Never")
    _, obj = stored(etcd)
    assert (obj["spec"]["ipipMode"], obj["spec"]["vxlanMode"]) == ("Always", "Never")
    assert obj["metadata"] == written["metadata"]
    # Only VXLAN switched on by hand (IPIP left on): the one field is the drift.
    etcd.put_json(KEY, {**written, "spec": {**written["spec"], "ipipMode": "Always", "vxlanMode": "CrossSubnet"}})
    dry = run(ds_args, check=True, cidr="172.20.0.0/16", ipip_mode="Always")
    assert dry["changed"] is True and not dry.get("failed"), dry
    assert [(f["field"], f["expected"], f["actual"]) for f in dry["findings"]] == [
        ("vxlanMode", "Never", "CrossSubnet")]


INVALID = [
    ({"cidr": "172.20.0.1/16"}, "has host bits set; use the masked network 172.20.0.0/16"),
    ({"cidr": "172.20.0.0/33"}, "is not a valid network"),
    ({"cidr": "pods"}, "is not a valid network"),
    ({"cidr": "172.20.0.0/16", "block_size": 19}, "block_size 19 is out of range for an IPv4 pool: use 20..32"),
    ({"cidr": "fd00:10::/64", "block_size": 26}, "out of range for an IPv6 pool: use 116..128"),
    ({"cidr": "172.20.0.0/28", "block_size": 26}, "is larger than the pool 172.20.0.0/28"),
    ({"cidr": "fd00:10::/64", "ipip_mode": "Always"}, "IPIP carries IPv4 only"),
    ({"cidr": "172.20.0.0/16", "ipip_mode": "Always", "vxlan_mode": "CrossSubnet"}, "cannot both be on"),
    ({"cidr": "172.20.0.0/16", "service_cidr": "172.20.64.0/18"}, "overlaps the Service CIDR 172.20.64.0/18"),
    ({"cidr": "10.0.0.0/8", "node_cidr": "10.0.1.0/24"}, "overlaps the node (VPC) range 10.0.1.0/24"),
    ({"cidr": "169.254.0.0/16"}, "link-local"),
    ({"cidr": "172.21.0.0/16", "allowed_uses": ["LoadBalancer", "Workload"]}, "LoadBalancer cannot be combined"),
    ({"cidr": "172.21.0.0/16", "name": "Pods"}, "is not a valid resource name"),
]


@pytest.mark.parametrize("check", [True, False], ids=["check", "real"])
@pytest.mark.parametrize(("args", "message"), INVALID, ids=[m.split(" ")[0] + str(i) for i, (_, m) in
                                                            enumerate(INVALID)])
def test_invalid_input_is_refused_with_nothing_written(etcd, ds_args, args, message, check):
    start = etcd.revision()
    result = run(ds_args, check=check, **args)
    assert result.get("failed") is True
    assert message in result["msg"]
    assert etcd.revision() == start
    assert etcd.values() == {}


def test_overlap_with_another_pool_is_refused(etcd, ds_args):
    other = {"kind": "IPPool", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "legacy"},
             "spec": {"cidr": "172.20.128.0/17", "ipipMode": "Always"}}
    etcd.put_json(f"{CALICO}ippools/legacy", other)
    start = etcd.revision()
    result = run(ds_args, cidr="172.20.0.0/16", ipip_mode="Always")
    assert result["failed"] is True
    assert "overlaps IPPool 'legacy' (172.20.128.0/17)" in result["msg"]
    assert etcd.revision() == start
    assert f"{CALICO}ippools/{POOL}" not in etcd.values()


@pytest.mark.parametrize(("change", "named"), [({"cidr": "172.30.0.0/16"}, "cidr (stored 172.20.0.0/16"),
                                               ({"block_size": 24}, "block_size (stored 26, asked 24)")])
@pytest.mark.parametrize("check", [True, False], ids=["check", "real"])
def test_immutable_change_is_refused_with_the_migration(etcd, ds_args, change, named, check):
    converge(etcd, ds_args, True, cidr="172.20.0.0/16", ipip_mode="Always")
    before = etcd.values()
    start = etcd.revision()
    result = run(ds_args, check=check, **{"cidr": "172.20.0.0/16", **change})
    assert result["failed"] is True
    assert named in result["msg"]
    for step in ("create a new pool", "set disabled: true on 'default-ipv4-ippool'", "move the workloads"):
        assert step in result["msg"]
    assert etcd.revision() == start and etcd.values() == before


def test_create_needs_a_cidr(etcd, ds_args):
    result = run(ds_args, ipip_mode="Always")
    assert result["failed"] is True and "give its cidr" in result["msg"]


def test_unreachable_etcd_names_the_endpoint(etcd):
    args = {"etcd_endpoints": ["http://127.0.0.1:9"], "timeout": 2}
    result = run(args, cidr="172.20.0.0/16")
    assert result["failed"] is True
    assert "http://127.0.0.1:9" in result["msg"]
