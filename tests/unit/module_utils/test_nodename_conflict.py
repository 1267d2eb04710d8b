"""The node-name remediation plan: who is renamed, what is deleted, what is never deleted."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.nodename_conflict import (
    RemediationPlanError,
    findings_left_after_fix,
    registrations_missing,
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
    assert fix["delete"] == []
    assert fix["reclaim"] == [{"name": "aws-na-k8s-temp1", "ipv4_address": "172.31.7.227", "host": "old",
                               "host_ip": "172.31.3.33", "reason": fix["reclaim"][0]["reason"]}]
    assert fix["keeper"]["host"] == "old" and "created first" in fix["keeper"]["reason"]
    assert [f["kind"] for f in plan["findings"]] == ["duplicate_nodename"] and plan["ambiguous"] == []
    assert "new (172.31.7.227): rename aws-na-k8s-temp1 -> ip-172-31-7-227" in plan["report"][1]
    assert "restart calico-node on old so that aws-na-k8s-temp1 is registered with 172.31.3.33" in plan["report"][1]


def test_which_host_wrote_the_node_last_does_not_decide():
    nodes = [reg("aws-na-k8s-temp1", "172.31.3.33"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    fix = fixes(remediation_plan(INCIDENT_AGED, nodes))
    assert list(fix) == ["new"] and fix["new"]["reclaim"] == [] and fix["new"]["delete"] == []
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


def test_registration_of_the_renamed_host_under_a_name_nobody_keeps_is_decommissioned():
    nodes = [reg("aws-na-k8s-temp1", "172.31.3.33"), reg("aws-na-k8s-temp2", "172.31.8.108"),
             reg("stale-name-of-new", "172.31.7.227")]
    fix = fixes(remediation_plan(INCIDENT_AGED, nodes))
    assert list(fix) == ["new"]
    assert fix["new"]["delete"] == [{"name": "stale-name-of-new", "ipv4_address": "172.31.7.227", "force": True,
                                     "reason": "registered with this host's IP 172.31.7.227 under a name no host "
                                               "keeps; calico-node refuses a second name for one IP"}]


def test_the_established_name_at_a_dead_address_is_reclaimed_not_deleted():
    nodes = [reg("aws-na-k8s-temp1", "172.31.9.9"), reg("aws-na-k8s-temp2", "172.31.8.108")]
    fix = fixes(remediation_plan(INCIDENT_AGED, nodes))
    assert list(fix) == ["new"] and fix["new"]["delete"] == []
    assert [(r["name"], r["host"]) for r in fix["new"]["reclaim"]] == [("aws-na-k8s-temp1", "old")]


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
