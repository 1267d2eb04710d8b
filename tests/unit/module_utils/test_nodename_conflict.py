"""The node-name remediation plan: who is renamed, what is deleted, what is never deleted."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.nodename_conflict import (
    RemediationPlanError,
    remediation_plan,
)


def host(ip, hostname, nodename=None):
    return {"ip": ip, "hostname": hostname, "nodename": hostname if nodename is None else nodename}


def reg(name, ip):
    return {"name": name, "ipv4_address": ip, "ipv4_network": f"{ip}/20" if ip else None}


# FIELD-NOTES section 3: a new machine got the existing name aws-na-k8s-temp1 and wrote the Node last.
INCIDENT_HOSTS = {
    "old": host("172.31.3.33", "aws-na-k8s-temp1"),
    "new": host("172.31.7.227", "aws-na-k8s-temp1"),
    "temp2": host("172.31.8.108", "aws-na-k8s-temp2"),
}
INCIDENT_NODES = [reg("aws-na-k8s-temp1", "172.31.7.227"), reg("aws-na-k8s-temp2", "172.31.8.108")]


def fixes(plan):
    return {f["host"]: f for f in plan["fixes"]}


def test_incident_renames_the_host_that_lost_and_keeps_the_winner_registration():
    plan = remediation_plan(INCIDENT_HOSTS, INCIDENT_NODES)
    assert list(fixes(plan)) == ["old"]
    fix = fixes(plan)["old"]
    assert fix["new_name"] == "ip-172-31-3-33" and fix["old_name"] == "aws-na-k8s-temp1" and fix["rename"]
    assert fix["delete"] == []
    assert fix["keep"] == [{"name": "aws-na-k8s-temp1", "ipv4_address": "172.31.7.227", "owner": "new",
                            "reason": "held by new, a live host: never deleted"}]
    assert [f["kind"] for f in plan["findings"]] == ["duplicate_nodename"]
    assert "old (172.31.3.33): rename aws-na-k8s-temp1 -> ip-172-31-3-33" in plan["report"][1]


def test_upper_case_hostname_collides_with_the_lower_case_one():
    hosts = dict(INCIDENT_HOSTS, new=host("172.31.7.227", "AWS-na-k8s-temp1", "aws-na-k8s-temp1"))
    assert list(fixes(remediation_plan(hosts, INCIDENT_NODES))) == ["old"]


def test_registration_of_the_renamed_host_itself_is_deleted_with_its_ip_as_guard():
    # The loser wrote last: the Node points at it, so the other host is renamed and its own Node goes.
    nodes = [reg("aws-na-k8s-temp1", "172.31.3.33"), reg("aws-na-k8s-temp2", "172.31.8.108"),
             reg("stale-name-of-new", "172.31.7.227")]
    fix = fixes(remediation_plan(INCIDENT_HOSTS, nodes))
    assert list(fix) == ["new"]
    assert fix["new"]["delete"] == [{"name": "stale-name-of-new", "ipv4_address": "172.31.7.227",
                                     "reason": "registered with this host's IP 172.31.7.227; calico-node "
                                               "refuses a second name for one IP"}]
    assert fix["new"]["keep"][0]["owner"] == "old"


def test_no_live_holder_renames_both_and_deletes_the_stale_registration_once():
    nodes = [reg("aws-na-k8s-temp1", "172.31.9.9"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    fix = fixes(remediation_plan(INCIDENT_HOSTS, nodes))
    assert sorted(fix) == ["new", "old"]
    deletes = [d for f in fix.values() for d in f["delete"]]
    assert [(d["name"], d["ipv4_address"]) for d in deletes] == [("aws-na-k8s-temp1", "172.31.9.9")]
    assert {f["new_name"] for f in fix.values()} == {"ip-172-31-3-33", "ip-172-31-7-227"}


def test_nodename_file_with_a_newline_gets_the_plan_name_and_its_old_node_goes():
    hosts = {"a": host("10.0.1.202", "node-a", "node-a\n"), "b": host("10.0.1.203", "node-b")}
    nodes = [reg("node-a", "10.0.1.202"), reg("node-b", "10.0.1.203")]
    fix = fixes(remediation_plan(hosts, nodes))
    assert list(fix) == ["a"] and fix["a"]["new_name"] == "ip-10-0-1-202"
    assert [d["name"] for d in fix["a"]["delete"]] == ["node-a"]


def test_unregistered_host_with_a_unique_valid_name_keeps_it():
    # A rerun after calico-node was not restarted: the host already carries its new name.
    hosts = {"a": host("10.0.1.202", "ip-10-0-1-202"), "b": host("10.0.1.203", "node-b")}
    fix = fixes(remediation_plan(hosts, [reg("node-b", "10.0.1.203")]))
    assert fix["a"]["new_name"] == "ip-10-0-1-202" and not fix["a"]["rename"] and fix["a"]["delete"] == []


def test_healthy_cluster_has_nothing_to_fix():
    hosts = {"a": host("10.0.1.202", "node-a"), "b": host("10.0.1.203", "node-b")}
    plan = remediation_plan(hosts, [reg("node-a", "10.0.1.202"), reg("node-b", "10.0.1.203")])
    assert plan["healthy"] and plan["fixes"] == [] and plan["findings"] == []


def test_stale_registration_is_reported_not_fixed():
    hosts = {"a": host("10.0.1.202", "node-a")}
    plan = remediation_plan(hosts, [reg("node-a", "10.0.1.202"), reg("gone", "10.0.1.250")])
    assert plan["fixes"] == [] and [f["kind"] for f in plan["unhandled"]] == ["stale_node"]
    assert plan["report"][1].startswith("not fixed here: [error] stale_node")


def test_prefix_scheme_gives_each_renamed_host_its_own_index():
    nodes = [reg("aws-na-k8s-temp1", "172.31.9.9"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    plan = remediation_plan(INCIDENT_HOSTS, nodes, {"scheme": "prefix", "prefix": "aws-na-k8s-temp",
                                                    "separator": ""})
    assert sorted(f["new_name"] for f in plan["fixes"]) == ["aws-na-k8s-temp3", "aws-na-k8s-temp4"]


def test_a_host_without_an_ip_is_refused():
    with pytest.raises(RemediationPlanError, match="host b has no valid IPv4 address"):
        remediation_plan({"a": host("10.0.1.202", "node-a"), "b": host("", "node-b")}, [])
