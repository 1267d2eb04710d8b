"""calico_node (state absent) against a real etcd: the IP guard, check mode, diff, idempotence.

These Nodes carry addresses of other networks, so the BGP liveness probe is
switched off (force: true); test_calico_node_delete.py covers the probe.
"""

from tests.conftest import run_module
from tests.integration.datastore.conftest import CALICO
from tests.integration.datastore.test_calico_nodes_info import node

KEY = f"{CALICO}nodes/aws-na-k8s-temp1"


def args(etcd, **extra):
    return dict(etcd_endpoints=[etcd.endpoint], name="aws-na-k8s-temp1", state="absent", force=True, **extra)


def seed(etcd):
    etcd.put_json(KEY, node("aws-na-k8s-temp1", "172.31.3.33/20"))
    etcd.put_json(f"{CALICO}nodes/aws-na-k8s-temp2", node("aws-na-k8s-temp2", "172.31.8.108/20"))


def test_delete_guarded_by_the_registered_ip_check_mode_then_for_real(etcd):
    seed(etcd)
    before = etcd.values()
    check = run_module("calico_node", args(etcd, expected_ipv4_address="172.31.3.33"), check=True, diff=True)
    assert check["changed"] and not check.get("failed"), check
    assert etcd.values() == before  # check mode wrote nothing
    real = run_module("calico_node", args(etcd, expected_ipv4_address="172.31.3.33"), diff=True)
    assert real["changed"] and real["diff"] == check["diff"]
    assert real["node"] == {"name": "aws-na-k8s-temp1", "ipv4_address": "172.31.3.33"}
    assert list(real["diff"]["before"]) == [KEY] and real["diff"]["after"] == {}
    assert sorted(etcd.values()) == [f"{CALICO}nodes/aws-na-k8s-temp2"]
    again = run_module("calico_node", args(etcd, expected_ipv4_address="172.31.3.33"))
    assert not again["changed"] and again["node"] is None


def test_refuses_a_registration_that_points_at_another_host(etcd):
    # Last writer wins: the name now belongs to the machine at 172.31.3.33, not to 172.31.7.227.
    seed(etcd)
    before = etcd.values()
    for check in (True, False):
        result = run_module("calico_node", args(etcd, expected_ipv4_address="172.31.7.227/20"), check=check)
        assert result.get("failed") and not result.get("changed"), result
        assert "registered with IPv4 172.31.3.33, not 172.31.7.227" in result["msg"]
        assert result["registered_ipv4_address"] == "172.31.3.33"
    assert etcd.values() == before


def test_without_a_guard_it_deletes_by_name(etcd):
    seed(etcd)
    result = run_module("calico_node", args(etcd))
    assert result["changed"]
    assert KEY not in etcd.values()


def test_bad_expected_address_fails_before_reading(etcd):
    seed(etcd)
    before = etcd.values()
    result = run_module("calico_node", args(etcd, expected_ipv4_address="node-1"))
    assert result.get("failed") and "expected_ipv4_address 'node-1' is not an IPv4 address" in result["msg"]
    assert etcd.values() == before
