"""calico_mesh_check run as Ansible runs it, on input built like the verify play builds it."""

import pytest

from tests.conftest import run_module
from tests.unit.plugins.module_utils.mesh.mesh_cluster import Cluster


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


def members(cluster, sources=("calico", "gcp", "kubernetes"), skip=(), kube=None):
    """The records the cluster_members filter builds from the calico_nodes plugin's host variables."""
    return [{"host": inv, "ip": h["ip"], "instance_id": str(100 + i), "instance_name": inv, "zone": "z",
             "kubernetes_node": (kube or {}).get(inv, inv), "calico_node": inv, "sources": list(sources)}
            for i, (inv, h) in enumerate(sorted(cluster.hosts.items())) if inv not in skip]


def test_membership_agreeing_adds_nothing():
    cluster = Cluster(3)
    result = run_module("calico_mesh_check", dict(cluster.check_input(), members=members(cluster)))
    assert result.get("failed") is not True and result["findings"] == []


def test_a_calico_node_without_a_machine_is_reported_once_with_how_to_tell():
    cluster = Cluster(3)
    cluster.nodes.append({"name": "gone", "ipv4_address": "10.0.1.250", "ipv4_network": "10.0.1.250/24",
                          "rr_cluster_id": ""})
    result = run_module("calico_mesh_check", dict(cluster.check_input(), members=members(cluster),
                                                  fail_on_findings=False))
    kinds = [(f["kind"], f["node"]) for f in result["findings"]]
    assert ("node_without_machine", "gone") in kinds and ("stale_node", "gone") not in kinds
    found = next(f for f in result["findings"] if f["kind"] == "node_without_machine")
    assert found["fix"]["commands"] == ["gcloud compute instances list --filter=networkInterfaces.networkIP=10.0.1.250"]
    assert "calicoctl delete node gone" in found["fix"]["text"]
    assert result["healthy"] is False


def test_without_the_cloud_source_the_stale_node_stays_stale_node():
    cluster = Cluster(2)
    cluster.nodes.append({"name": "gone", "ipv4_address": "10.0.1.250", "ipv4_network": "10.0.1.250/24",
                          "rr_cluster_id": ""})
    result = run_module("calico_mesh_check", dict(cluster.check_input(), fail_on_findings=False,
                                                  members=members(cluster, sources=("calico", "kubernetes"))))
    assert [f["kind"] for f in result["findings"]] == ["stale_node"]


def test_a_calico_node_without_a_kubernetes_node_and_the_reverse():
    cluster = Cluster(3)
    records = members(cluster)
    records[1]["kubernetes_node"] = None  # node2: Calico Node, no Kubernetes Node
    records.append({"host": "k8s-only", "ip": "10.0.1.240", "instance_id": "240", "instance_name": "k8s-only",
                    "zone": "z", "kubernetes_node": "k8s-only", "calico_node": None,
                    "sources": ["calico", "gcp", "kubernetes"]})
    result = run_module("calico_mesh_check", dict(cluster.check_input(), members=records, fail_on_findings=False))
    by_kind = {f["kind"]: f for f in result["findings"]}
    assert sorted(by_kind) == ["kubernetes_node_without_calico_node", "node_without_kubernetes_node"]
    assert by_kind["node_without_kubernetes_node"]["hosts"] == ["node2"]
    assert "scale_in_nodes: [node2]" in by_kind["node_without_kubernetes_node"]["fix"]["text"]
    orphan = by_kind["kubernetes_node_without_calico_node"]
    assert orphan["hosts"] == ["k8s-only"] and orphan["peer"] == "10.0.1.240"
    assert (orphan["fix"]["playbook"], orphan["fix"]["limit"]) == ("fix_nodename_conflict", ["k8s-only"])
    assert orphan["fix"]["commands"][0].startswith(
        "kubectl -n kube-system logs --tail 50 $(kubectl -n kube-system get pod")


def test_a_displaced_machine_is_named_once_by_the_identity_finding():
    # The seed incident: node4 booted with node1's hostname and took Calico Node node1.
    cluster = Cluster(3)
    args = cluster.check_input()
    args["hosts"]["node1-101"] = {"ip": "10.0.1.240", "hostname": "node1", "nodename": "node1",
                                  "status": args["hosts"]["node1"]["status"]}
    cluster.nodes[0]["ipv4_address"] = cluster.nodes[0]["ipv4_network"] = "10.0.1.240"
    records = members(cluster) + [{"host": "node1-101", "ip": "10.0.1.201", "instance_id": "101",
                                   "instance_name": "node1", "zone": "z", "kubernetes_node": "node1",
                                   "calico_node": None, "sources": ["calico", "gcp", "kubernetes"]}]
    records[0].update(ip="10.0.1.240", kubernetes_node="10.0.1.240", instance_name="node4")
    args["hosts"]["node1"]["ip"], args["hosts"]["node1-101"]["ip"] = "10.0.1.240", "10.0.1.201"
    result = run_module("calico_mesh_check", dict(args, members=records, fail_on_findings=False))
    kinds = [f["kind"] for f in result["findings"]]
    assert "duplicate_nodename" in kinds and "kubernetes_node_without_calico_node" not in kinds, kinds
    duplicate = next(f for f in result["findings"] if f["kind"] == "duplicate_nodename")
    assert duplicate["hosts"] == ["node1", "node1-101"]


def test_what_the_membership_check_did_not_compare_is_said():
    cluster = Cluster(2)
    alone = run_module("calico_mesh_check", dict(cluster.check_input(), fail_on_findings=False))
    assert alone["not_compared"] == ["cloud machines", "Kubernetes Nodes"]
    no_cloud = run_module("calico_mesh_check", dict(cluster.check_input(), fail_on_findings=False,
                                                    members=members(cluster, sources=("calico", "kubernetes"))))
    assert no_cloud["not_compared"] == ["cloud machines"]
    every = run_module("calico_mesh_check", dict(cluster.check_input(), fail_on_findings=False,
                                                 members=members(cluster)))
    assert every["not_compared"] == [] and every["healthy"] is True


def test_the_fixes_name_the_calico_namespace_and_the_vpc_range_given():
    cluster = Cluster(3)
    cluster.fail_host("node2")
    matrix = {h["ip"]: {o["ip"]: h["ip"] != "10.0.1.203" and o["ip"] != "10.0.1.203"
                        for o in cluster.hosts.values() if o is not h} for h in cluster.hosts.values()}
    result = run_module("calico_mesh_check", dict(cluster.check_input(), probe=matrix, cloud="aws",
                                                  calico_namespace="calico-system", vpc_range="10.0.0.0/16",
                                                  fail_on_findings=False))
    by_kind = {f["kind"]: f for f in result["findings"]}
    assert by_kind["bird_down"]["fix"]["commands"] == [
        "kubectl -n calico-system delete pod -l k8s-app=calico-node --field-selector spec.nodeName=node2"]
    assert "cidr_ip: 10.0.0.0/16" in by_kind["ipip_blocked"]["fix"]["text"]
    assert (by_kind["ipip_blocked"]["fix"]["playbook"], by_kind["ipip_blocked"]["fix"]["tags"]) == (
        "scale_out", ["network"])
