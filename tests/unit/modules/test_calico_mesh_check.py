"""calico_mesh_check run as Ansible runs it, on input built like the verify play builds it."""

import pytest

from tests.conftest import run_module
from tests.unit.module_utils.mesh_cluster import Cluster


@pytest.mark.parametrize("check", [False, True])
def test_healthy_cluster_passes_with_no_findings(check):
    cluster = Cluster(3)
    result = run_module("calico_mesh_check", cluster.check_input(probe=cluster.probe_matrix()), check=check)
    assert result.get("failed") is not True, result.get("msg")
    assert (result["changed"], result["healthy"], result["findings"]) == (False, True, [])
    assert result["matrix"]["node2"] == {"node1": "Established", "node3": "Established"}
    assert result["expected_peers"]["node1"] == ["10.0.1.202", "10.0.1.203"]
    heading = "Calico BGP mesh: 3 hosts, 6/6 expected sessions Established, 0 finding(s)"
    assert result["table"].splitlines()[0] == heading


def test_failure_message_names_node_peer_state_cause_and_fix():
    cluster = Cluster(3)
    cluster.session("node1", cluster.ip("node3"), "start", "Connect       BGP Error: Hold timer expired")
    cluster.session("node3", cluster.ip("node1"), "start", "Passive")
    result = run_module("calico_mesh_check", cluster.check_input(), check=True)
    assert result["failed"] is True and result["changed"] is False and result["healthy"] is False
    msg = result["msg"]
    for part in (
        "Calico mesh is unhealthy (1 problem(s))",
        "tcp179_blocked on node1, node3",
        "node node1",
        "peer 10.0.1.203",
        "Hold timer expired",
        "Likely cause: TCP 179 (BGP) is blocked between node1 and node3 only",
        "Fix: allow TCP 179",
        "ansible-playbook calico_fleet.fleet.scale_out --tags network",
    ):
        assert part in msg, part
    assert [f["kind"] for f in result["findings"]] == ["tcp179_blocked"]
    assert "Connect" in result["table"]


def test_report_only_when_told_not_to_fail():
    cluster = Cluster(3)
    cluster.fail_host("node2")
    args = dict(cluster.check_input(), fail_on_findings=False)
    result = run_module("calico_mesh_check", args)
    assert result.get("failed") is not True
    assert result["healthy"] is False
    assert [(f["kind"], f["hosts"]) for f in result["findings"]] == [("bird_down", ["node2"])]
    assert "no answer" in result["table"]


def test_warnings_alone_do_not_fail():
    cluster = Cluster(2)
    cluster.hosts["node1"]["nodename"] = "renamed"
    cluster.nodes[0]["name"] = "renamed"
    result = run_module("calico_mesh_check", cluster.check_input())
    assert result.get("failed") is not True
    assert result["healthy"] is True
    assert [(f["kind"], f["severity"]) for f in result["findings"]] == [("nodename_mismatch", "warning")]


def test_ipip_fix_follows_the_cloud():
    cluster = Cluster(3)
    blocked = {(a, b) for a in cluster.hosts for b in cluster.hosts}
    result = run_module("calico_mesh_check", cluster.check_input(cluster.probe_matrix(blocked), cloud="aws"))
    assert result["failed"] is True
    assert "ipip_blocked" in result["msg"] and "security group rule {proto: '4'" in result["msg"]


def test_bad_input_names_what_to_change():
    cluster = Cluster(2)
    args = cluster.check_input()
    args["hosts"]["node1"]["ip"] = "node1.example"
    result = run_module("calico_mesh_check", args)
    assert result["failed"] is True
    assert "hosts.node1.ip must be the node's IPv4 address, got 'node1.example'" in result["msg"]


def test_route_reflector_cluster_expects_the_bgp_peers_topology():
    cluster = Cluster(5, reflectors=("node1", "node2"), mesh_enabled=False)
    result = run_module("calico_mesh_check", cluster.check_input())
    assert result.get("failed") is not True, result.get("msg")
    assert result["healthy"] is True and result["findings"] == []
    assert result["expected_peers"]["node4"] == ["10.0.1.201", "10.0.1.202"]
    assert result["expected_peers"]["node1"] == ["10.0.1.202", "10.0.1.203", "10.0.1.204", "10.0.1.205"]


def test_route_reflector_cluster_without_bgp_peers_is_refused():
    cluster = Cluster(3, reflectors=("node1",), mesh_enabled=False)
    args = cluster.check_input()
    del args["bgp_peers"]
    result = run_module("calico_mesh_check", args)
    assert result["failed"] is True
    assert "nodes node1 carry a route-reflector cluster ID" in result["msg"] and "pass bgp_peers" in result["msg"]
