"""The node-name remediation plan: who is renamed, whose file is only written back, what is refused."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.nodename_conflict import (
    RemediationPlanError,
    findings_left_after_fix,
    registrations_missing,
    remediation_plan,
)


def host(ip, hostname, nodename=None):
    return {"ip": ip, "hostname": hostname, "nodename": hostname if nodename is None else nodename}


def reg(name, ip, k8s=None):
    return {"name": name, "ipv4_address": ip, "ipv4_network": f"{ip}/20" if ip else None, "k8s_node_name": k8s}


# FIELD-NOTES section 3: a new machine got the existing name aws-na-k8s-temp1 and wrote the Node last.
INCIDENT_HOSTS = {
    "old": host("172.31.3.33", "aws-na-k8s-temp1"),
    "new": host("172.31.7.227", "aws-na-k8s-temp1"),
    "temp2": host("172.31.8.108", "aws-na-k8s-temp2"),
}
INCIDENT_NODES = [reg("aws-na-k8s-temp1", "172.31.7.227"), reg("aws-na-k8s-temp2", "172.31.8.108")]


def fixes(plan):
    return {f["host"]: f for f in plan["fixes"]}


def aged(hosts, **created):
    return {inv: dict(h, created=created.get(inv)) for inv, h in hosts.items()}


# The cloud inventory's creation times: "old" booted a year before "new".
INCIDENT_AGED = aged(INCIDENT_HOSTS, old="2024-05-01T10:00:00.000-07:00", new="2025-06-02T08:00:00Z",
                     temp2="2024-05-01T10:00:00Z")


def test_incident_renames_the_newcomer_and_the_established_host_reclaims_the_name():
    plan = remediation_plan(INCIDENT_AGED, INCIDENT_NODES)
    assert list(fixes(plan)) == ["new"]
    fix = fixes(plan)["new"]
    assert fix["new_name"] == "ip-172-31-7-227" and fix["old_name"] == "aws-na-k8s-temp1" and fix["rename"]
    # The established host's name (with its addresses and endpoints) is never decommissioned:
    # its calico-node writes it back with its own IP.
    assert "delete" not in fix and fix["drain"] and not fix["write_back"]
    assert fix["reclaim"] == [{"name": "aws-na-k8s-temp1", "ipv4_address": "172.31.7.227", "host": "old",
                               "host_ip": "172.31.3.33", "reason": fix["reclaim"][0]["reason"]}]
    assert fix["keeper"]["host"] == "old" and "created first" in fix["keeper"]["reason"]
    assert [f["kind"] for f in plan["findings"]] == ["duplicate_nodename"] and plan["ambiguous"] == []
    assert "new (172.31.7.227): rename aws-na-k8s-temp1 -> ip-172-31-7-227" in plan["report"][1]
    assert "restart calico-node on old so that aws-na-k8s-temp1 is registered with 172.31.3.33" in plan["report"][1]


def test_which_host_wrote_the_node_last_does_not_decide():
    nodes = [reg("aws-na-k8s-temp1", "172.31.3.33"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    fix = fixes(remediation_plan(INCIDENT_AGED, nodes))
    assert list(fix) == ["new"] and fix["new"]["reclaim"] == []
    assert fix["new"]["keep"][0]["owner"] == "old"


def test_bgp_history_decides_without_creation_times():
    hosts = {inv: dict(h, established_since=t) for (inv, h), t in
             zip(INCIDENT_HOSTS.items(), (1700000000, 1750000000, 1700000000), strict=True)}
    assert list(fixes(remediation_plan(hosts, INCIDENT_NODES))) == ["new"]


def test_ambiguous_evidence_stops_with_the_plan_and_keep_decides():
    for hosts in (INCIDENT_HOSTS, aged(INCIDENT_HOSTS, old="2024-05-01T10:00:00Z", new="2024-05-01T10:00:00Z")):
        plan = remediation_plan(hosts, INCIDENT_NODES)
        assert plan["fixes"] == [] and plan["ambiguous"][0]["hosts"] == ["new", "old"]
        assert "run again with -e keep=<host>" in plan["report"][1]
    plan = remediation_plan(INCIDENT_HOSTS, INCIDENT_NODES, keep="new")
    assert list(fixes(plan)) == ["old"] and fixes(plan)["old"]["keeper"]["reason"] == "new named by keep"
    with pytest.raises(RemediationPlanError, match="keep=nope is not one of the hosts"):
        remediation_plan(INCIDENT_HOSTS, INCIDENT_NODES, keep="nope")


def test_upper_case_hostname_collides_with_the_lower_case_one():
    hosts = dict(INCIDENT_AGED, new=dict(INCIDENT_AGED["new"], hostname="AWS-na-k8s-temp1"))
    assert list(fixes(remediation_plan(hosts, INCIDENT_NODES))) == ["new"]


def test_a_rename_that_needs_a_live_hosts_registration_deleted_is_refused_with_what_to_do():
    # The newcomer is also registered under a name nobody keeps, with its own IP: calico-node would refuse
    # the new name for that IP, and deleting the Node would decommission a live host.
    nodes = [reg("aws-na-k8s-temp1", "172.31.3.33"), reg("aws-na-k8s-temp2", "172.31.8.108"),
             reg("stale-name-of-new", "172.31.7.227")]
    plan = remediation_plan(INCIDENT_AGED, nodes)
    assert plan["fixes"] == []
    [refused] = plan["refused"]
    assert refused["host"] == "new" and refused["new_name"] == "ip-172-31-7-227"
    assert "Calico Node stale-name-of-new is registered with new's IP 172.31.7.227" in refused["reasons"][0]
    assert "node.stale-name-of-new configurations, HostEndpoints, BGPPeers" in refused["reasons"][0]
    assert "calicoctl delete node stale-name-of-new" in refused["reasons"][0]
    assert any(line.startswith("refused: new (172.31.7.227) rename aws-na-k8s-temp1 -> ip-172-31-7-227")
               for line in plan["report"])


def test_the_established_name_at_a_dead_address_is_reclaimed_not_deleted():
    nodes = [reg("aws-na-k8s-temp1", "172.31.9.9"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    fix = fixes(remediation_plan(INCIDENT_AGED, nodes))
    assert list(fix) == ["new"]
    assert [(r["name"], r["host"]) for r in fix["new"]["reclaim"]] == [("aws-na-k8s-temp1", "old")]


def test_nodename_file_with_a_newline_is_written_back_with_the_name_everything_else_agrees_on():
    hosts = {"a": host("10.0.1.202", "node-a", "node-a\n"), "b": host("10.0.1.203", "node-b")}
    nodes = [reg("node-a", "10.0.1.202", "10.0.1.202"), reg("node-b", "10.0.1.203", "10.0.1.203")]
    plan = remediation_plan(hosts, nodes)
    fix = fixes(plan)
    assert list(fix) == ["a"] and fix["a"]["new_name"] == "node-a"
    assert fix["a"]["write_back"] and not fix["a"]["rename"] and not fix["a"]["drain"]
    assert fix["a"]["kinds"] == ["nodename_invalid"]
    assert "a (10.0.1.202): write node-a back into the nodename file" in plan["report"][1]


# The trial of issue 19: a stray value in node-3's nodename file; hostname, Calico Node and the
# Kubernetes node (kubeadm: named like the host) still agree.
STRAY_HOSTS = {f"node-{i}": dict(host(f"10.0.1.{10 + i}", f"node-{i}"), kubernetes_node_name=f"node-{i}",
                                 created=f"2024-05-0{i}T10:00:00Z") for i in (1, 2, 3)}
STRAY_NODES = [reg(f"node-{i}", f"10.0.1.{10 + i}", f"node-{i}") for i in (1, 2, 3)]


@pytest.mark.parametrize("stray", ["garbage", "node-x\n", "Node-3", "", "node-3.example.internal"])
def test_a_stray_nodename_file_is_only_written_back(stray):
    hosts = dict(STRAY_HOSTS, **{"node-3": dict(STRAY_HOSTS["node-3"], nodename=stray)})
    plan = remediation_plan(hosts, STRAY_NODES)
    assert list(fixes(plan)) == ["node-3"] and plan["refused"] == [] and plan["ambiguous"] == []
    fix = fixes(plan)["node-3"]
    assert (fix["new_name"], fix["write_back"], fix["rename"], fix["drain"]) == ("node-3", True, False, False)
    assert fix["keep"] == [] and fix["reclaim"] == [] and "delete" not in fix
    assert "no drain, no rename, nothing deleted" in fix["summary"]
    # The finding's printed fix says the same.
    [finding] = [f for f in plan["findings"] if f["hosts"] == ["node-3"]]
    assert finding["fix"]["text"].startswith("printf '%s' node-3 > /var/lib/calico/nodename on node-3: its hostname, "
                                     "Calico Node node-3 and Kubernetes node agree")


def test_a_stray_value_naming_another_host_is_written_back_and_the_other_host_is_left_alone():
    # node-3's file names node-2, which is newer by creation time: before, node-2 would have been renamed.
    hosts = dict(STRAY_HOSTS, **{"node-3": dict(STRAY_HOSTS["node-3"], nodename="node-2")})
    plan = remediation_plan(hosts, STRAY_NODES)
    assert [f["kind"] for f in plan["findings"]] == ["duplicate_nodename"]
    assert list(fixes(plan)) == ["node-3"] and fixes(plan)["node-3"]["write_back"]
    assert "printf '%s' node-3 > /var/lib/calico/nodename on node-3" in plan["findings"][0]["fix"]["text"]


def test_kubeasz_nodes_named_by_ip_agree_too():
    hosts = {"a": dict(host("10.0.1.202", "node-a", "stray"), kubernetes_node_name="10.0.1.202"),
             "b": host("10.0.1.203", "node-b")}
    nodes = [reg("node-a", "10.0.1.202", "10.0.1.202"), reg("node-b", "10.0.1.203", "10.0.1.203")]
    assert fixes(remediation_plan(hosts, nodes))["a"]["write_back"]


def test_no_write_back_when_the_kubernetes_node_is_another_or_the_node_is_at_another_ip():
    hosts = dict(STRAY_HOSTS, **{"node-3": dict(STRAY_HOSTS["node-3"], nodename="garbage")})
    other_k8s = [*STRAY_NODES[:2], reg("node-3", "10.0.1.13", "worker-9")]
    other_ip = [*STRAY_NODES[:2], reg("node-3", "10.0.1.99", "node-3")]
    for nodes in (other_k8s, other_ip):
        fix = fixes(remediation_plan(hosts, nodes)).get("node-3")
        assert fix is None or not fix["write_back"]


def test_no_write_back_when_another_host_has_the_same_hostname():
    hosts = dict(INCIDENT_AGED, old=dict(INCIDENT_AGED["old"], nodename="stray"))
    nodes = [reg("aws-na-k8s-temp1", "172.31.3.33"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    assert not any(f["write_back"] for f in remediation_plan(hosts, nodes)["fixes"])


def test_a_rename_that_would_part_the_kubernetes_node_from_orchrefs_is_refused():
    # kubeadm joined the newcomer under its hostname: its Kubernetes node is named after the host.
    nodes = [reg("aws-na-k8s-temp1", "172.31.7.227", "aws-na-k8s-temp1"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    hosts = {inv: dict(h, kubernetes_node_name=h["hostname"]) for inv, h in INCIDENT_AGED.items()}
    plan = remediation_plan(hosts, nodes)
    assert plan["fixes"] == []
    [refused] = plan["refused"]
    assert refused["host"] == "new"
    assert ("new's Kubernetes node aws-na-k8s-temp1 is named after the host (Calico's orchRefs name it): renaming "
            "the host and its Calico Node to ip-172-31-7-227 would part them") in refused["reasons"][0]
    assert "kubeadm reset on new" in refused["reasons"][0]


def test_a_rename_whose_drain_target_is_not_the_kubernetes_node_calico_records_is_refused():
    # kubeasz joined the newcomer (Kubernetes node = its IP), the inventory says kubeadm (its inventory name).
    nodes = [reg("aws-na-k8s-temp1", "172.31.7.227", "172.31.7.227"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    hosts = {inv: dict(h, kubernetes_node_name=inv) for inv, h in INCIDENT_AGED.items()}
    [refused] = remediation_plan(hosts, nodes)["refused"]
    assert ("Calico's orchRefs say new's Kubernetes node is 172.31.7.227, but this run would drain new: set "
            "nodename_conflict_kubernetes_node_name_hostvar") in refused["reasons"][0]
    # Told right (kubeasz: by IP), the rename goes ahead.
    hosts = {inv: dict(h, kubernetes_node_name=h["ip"]) for inv, h in INCIDENT_AGED.items()}
    plan = remediation_plan(hosts, nodes)
    assert plan["refused"] == [] and list(fixes(plan)) == ["new"]


def test_a_node_at_an_ip_no_live_host_has_is_reported_never_deleted():
    # The renamed host's old name is registered at a dead machine's IP: a stale Node, not fixed here.
    hosts = {"a": host("10.0.1.202", "node-a", "node-a\n"), "b": host("10.0.1.203", "node-b")}
    nodes = [reg("node-a", "10.0.1.250"), reg("node-b", "10.0.1.203")]
    plan = remediation_plan(hosts, nodes)
    assert "delete" not in fixes(plan)["a"] and "stale_node" in [f["kind"] for f in plan["unhandled"]]
    assert "no Calico Node is deleted" in plan["report"][0]


def test_unregistered_host_with_a_unique_valid_name_keeps_it():
    # A rerun after calico-node was not restarted: the host already carries its new name.
    hosts = {"a": host("10.0.1.202", "ip-10-0-1-202"), "b": host("10.0.1.203", "node-b")}
    fix = fixes(remediation_plan(hosts, [reg("node-b", "10.0.1.203")]))
    assert fix["a"]["new_name"] == "ip-10-0-1-202" and not fix["a"]["rename"] and not fix["a"]["write_back"]


def test_healthy_cluster_has_nothing_to_fix():
    hosts = {"a": host("10.0.1.202", "node-a"), "b": host("10.0.1.203", "node-b")}
    plan = remediation_plan(hosts, [reg("node-a", "10.0.1.202"), reg("node-b", "10.0.1.203")])
    assert plan["healthy"] and plan["fixes"] == [] and plan["findings"] == []


def test_stale_registration_is_reported_not_fixed():
    hosts = {"a": host("10.0.1.202", "node-a")}
    plan = remediation_plan(hosts, [reg("node-a", "10.0.1.202"), reg("gone", "10.0.1.250")])
    assert plan["fixes"] == [] and [f["kind"] for f in plan["unhandled"]] == ["stale_node"]
    assert plan["report"][1].startswith("not fixed here: [error] stale_node")


def test_prefix_scheme_gives_the_renamed_host_the_next_index():
    plan = remediation_plan(INCIDENT_AGED, INCIDENT_NODES, {"scheme": "prefix", "prefix": "aws-na-k8s-temp",
                                                            "separator": ""})
    assert [f["new_name"] for f in plan["fixes"]] == ["aws-na-k8s-temp3"]


def test_a_host_without_an_ip_is_refused():
    with pytest.raises(RemediationPlanError, match="host b has no valid IPv4 address"):
        remediation_plan({"a": host("10.0.1.202", "node-a"), "b": host("", "node-b")}, [])


# -- after a host's fix: what is still awaited, what still counts against it ---

def test_the_fix_waits_for_the_new_name_and_the_reclaimed_one_with_the_right_ips():
    fix = fixes(remediation_plan(INCIDENT_AGED, INCIDENT_NODES))["new"]
    # Right after the rename: the old registration still points at the newcomer's IP.
    assert registrations_missing(fix, INCIDENT_NODES) == ["aws-na-k8s-temp1@172.31.3.33",
                                                          "ip-172-31-7-227@172.31.7.227"]
    halfway = [reg("ip-172-31-7-227", "172.31.7.227"), *INCIDENT_NODES]
    assert registrations_missing(fix, halfway) == ["aws-na-k8s-temp1@172.31.3.33"]
    done = [reg("ip-172-31-7-227", "172.31.7.227"), reg("aws-na-k8s-temp1", "172.31.3.33"),
            reg("aws-na-k8s-temp2", "172.31.8.108")]
    assert registrations_missing(fix, done) == []


def finding(kind, hosts=(), peer=None, severity="error"):
    return {"kind": kind, "hosts": list(hosts), "peer": peer, "severity": severity}


def test_only_errors_about_the_fixed_host_or_the_host_it_let_register_again_count():
    fix = fixes(remediation_plan(INCIDENT_AGED, INCIDENT_NODES))["new"]
    live = ["172.31.3.33", "172.31.7.227", "172.31.8.108"]
    found = [
        finding("missing_peer", ["temp2"], peer="172.31.7.227"),  # a peer of the fixed host: counts
        finding("bird_down", ["old"]),  # the keeper, whose name was registered again: counts
        finding("bird_down", ["temp2"]),  # another host: not this fix's business
        finding("unexpected_peer", ["new"], severity="warning"),  # a warning: does not stop
        finding("stale_node", ["new"]),  # a kind the plan does not fix here
        finding("missing_peer", ["new"], peer="172.31.99.9"),  # the address of no live host
    ]
    left = findings_left_after_fix(found, "new", fix, [{"kind": "stale_node"}], live)
    assert left == found[:2]
