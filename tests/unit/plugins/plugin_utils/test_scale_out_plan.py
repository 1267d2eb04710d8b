"""scale_out_plan: the plan a check run saves, how a later plan is compared with it, what it would fix.

Inputs are registered results shaped as the modules return them in check mode with diff.
"""

import json

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Finding, Fix
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.scale_out_plan import (
    PlanError,
    build_plan,
    findings_would_fix,
    plan_differences,
    plan_summary,
    would_fix_report,
)

NAMES = [
    {"name": "k8s-node-4", "hostname": "k8s-node-4.z.c.p.internal", "ip": None, "reused": True},
    {"name": "k8s-node-5", "hostname": "k8s-node-5.z.c.p.internal", "ip": None, "reused": False},
]
IPIP_AFTER = {"name": "calico-ipip", "network": "default", "allowed": [{"protocol": "ipip", "ports": []}],
              "source_ranges": ["10.128.0.0/9"], "priority": 1000}
BGP_BEFORE = {"name": "calico-bgp", "network": "default", "allowed": [{"protocol": "tcp", "ports": ["179"]}],
              "source_ranges": ["10.0.0.0/8"], "priority": 1000}
BGP_AFTER = {**BGP_BEFORE, "source_ranges": ["10.128.0.0/9"]}
IPIP_CREATE = {"changed": True, "action": "create", "rule": IPIP_AFTER, "diff": {"before": {}, "after": IPIP_AFTER}}
BGP_PATCH = {"changed": True, "action": "patch", "rule": BGP_AFTER, "diff": {"before": BGP_BEFORE, "after": BGP_AFTER}}
BGP_NONE = {"changed": False, "action": "none", "rule": BGP_BEFORE, "diff": {"before": BGP_BEFORE, "after": BGP_BEFORE}}
POOL_UPDATE = {"results": [{
    "changed": True, "item": {"name": "default-ipv4-ippool"},
    "findings": [{"resource": "IPPool/default-ipv4-ippool", "field": "ipipMode", "expected": "Always",
                  "actual": "Never", "reason": "..."}]}]}
FELIX = {"changed": True, "findings": [{"resource": "FelixConfiguration/default", "field": "ipipMTU",
                                        "expected": 1440, "actual": None, "reason": "..."}]}
SKIPPED = {"skipped": True, "changed": False}


def gcp_plan(**overrides):
    values = {"naming_plan": NAMES, "gcp_rules": [IPIP_CREATE, BGP_NONE], "ippools": POOL_UPDATE,
              "bgp_configuration": SKIPPED, "felix_configuration": FELIX}
    values.update(overrides)
    return build_plan("gcp", "b-1", **values)


def test_gcp_plan_lists_names_machines_rule_changes_and_calico_keys():
    plan = gcp_plan()
    assert plan["names"] == [{"name": "k8s-node-4", "hostname": "k8s-node-4.z.c.p.internal", "reused": True},
                             {"name": "k8s-node-5", "hostname": "k8s-node-5.z.c.p.internal", "reused": False}]
    assert plan["instances_to_create"] == [{"name": "k8s-node-5", "hostname": "k8s-node-5.z.c.p.internal"}]
    assert plan["network"] == [{"resource": "gcp_firewall_rule", "name": "calico-ipip", "action": "create",
                                "before": {}, "after": IPIP_AFTER}]
    assert plan["calico"] == [
        {"kind": "IPPool", "name": "default-ipv4-ippool", "action": "update",
         "key": "/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool",
         "changes": [{"field": "ipipMode", "from": "Never", "to": "Always"}]},
        {"kind": "FelixConfiguration", "name": "default", "action": "update",
         "key": "/calico/resources/v3/projectcalico.org/felixconfigurations/default",
         "changes": [{"field": "ipipMTU", "from": None, "to": 1440}]},
    ]
    assert plan["fixes"] == [{"kinds": ["ipip_blocked"], "by": "create firewall rule calico-ipip"}]
    json.dumps(plan)  # saved as JSON as it is


def test_a_new_pool_is_planned_as_created_with_its_resource_and_kubernetes_names_the_crd():
    new_pool = {"results": [{"changed": True, "item": {"name": "p2"}, "findings": [
        {"resource": "IPPool/p2", "field": None, "expected": {"cidr": "172.21.0.0/16"}, "actual": None}]}]}
    plan = gcp_plan(ippools=new_pool, felix_configuration=SKIPPED, datastore="kubernetes")
    assert plan["calico"] == [{"kind": "IPPool", "name": "p2", "action": "create",
                               "key": "ippools.crd.projectcalico.org/p2", "resource": {"cidr": "172.21.0.0/16"}}]


def test_a_patched_bgp_rule_fixes_tcp179_and_unchanged_rules_are_not_listed():
    plan = gcp_plan(gcp_rules=[{"changed": False, "action": "none", "rule": IPIP_AFTER}, BGP_PATCH])
    assert [(e["name"], e["action"]) for e in plan["network"]] == [("calico-bgp", "patch")]
    assert plan["fixes"] == [{"kinds": ["tcp179_blocked"], "by": "patch firewall rule calico-bgp"}]


def test_sections_that_did_not_run_are_not_planned_rather_than_empty():
    plan = build_plan("gcp", "b-1", naming_plan=None, gcp_rules=[SKIPPED, SKIPPED], ippools=SKIPPED,
                      bgp_configuration=SKIPPED, felix_configuration=SKIPPED)
    assert plan["names"] is None and plan["instances_to_create"] is None
    assert plan["network"] is None and plan["calico"] is None
    assert "names: not planned (skipped by tags)" in plan_summary(plan)
    # Ran and found nothing to do: empty, not None.
    quiet = gcp_plan(gcp_rules=[BGP_NONE], ippools={"results": []}, felix_configuration=SKIPPED)
    assert quiet["network"] == [] and quiet["calico"] == []


def test_aws_plan_on_a_new_vpc_creates_the_group_and_adds_it_to_the_existing_nodes():
    after = {"group_name": "calico-nodes", "group_id": None, "ip_permissions": [
        {"ip_protocol": "4", "from_port": None, "to_port": None, "ip_ranges": [{"cidr_ip": "10.0.0.0/16"}]},
        {"ip_protocol": "tcp", "from_port": "179", "to_port": "179", "user_id_group_pairs": [{}]}]}
    group = {"changed": True, "diff": {"before": {}, "after": after}}
    members = {"changed": True, "added_to": ["i-2", "i-1"], "invocation": {"module_args": {"group": "calico-nodes"}}}
    plan = build_plan("aws", "b-1", naming_plan=NAMES[1:], aws_group=group, aws_members=members)
    assert [(e["resource"], e["name"], e["action"]) for e in plan["network"]] == [
        ("ec2_security_group", "calico-nodes", "create"), ("ec2_security_group_members", "calico-nodes", "add")]
    assert plan["network"][1]["instances"] == ["i-1", "i-2"]
    assert plan["fixes"][0] == {"kinds": ["ipip_blocked", "tcp179_blocked"], "by": "create security group calico-nodes"}
    assert plan["calico"] is None


def test_identical_plans_have_no_difference_whatever_the_key_order():
    saved = json.loads(json.dumps(gcp_plan(), sort_keys=True))
    assert plan_differences(saved, gcp_plan()) == []


def test_each_difference_names_its_place_and_both_values():
    saved = gcp_plan()
    more = NAMES + [{"name": "k8s-node-6", "hostname": "k8s-node-6.z.c.p.internal", "reused": False}]
    bgp = gcp_plan(naming_plan=more, gcp_rules=[IPIP_CREATE, BGP_PATCH], felix_configuration=SKIPPED)
    diffs = plan_differences(saved, bgp)
    assert "instances_to_create[k8s-node-6]: in this run's plan, not in the saved one" in diffs
    assert "network[gcp_firewall_rule calico-bgp]: in this run's plan, not in the saved one" in diffs
    assert "calico[FelixConfiguration default]: in the saved plan, not in this run's" in diffs
    changed_rule = dict(IPIP_CREATE, diff={"before": {}, "after": {**IPIP_AFTER, "priority": 900}})
    [line] = plan_differences(saved, gcp_plan(gcp_rules=[changed_rule, BGP_NONE]))
    assert line == "network[gcp_firewall_rule calico-ipip].after.priority: saved 1000, now 900"
    assert plan_differences(saved, build_plan("gcp", "b-2", **{k: v for k, v in [
        ("naming_plan", NAMES), ("gcp_rules", [IPIP_CREATE, BGP_NONE]), ("ippools", POOL_UPDATE),
        ("bgp_configuration", SKIPPED), ("felix_configuration", FELIX)]})) == ['batch: saved "b-1", now "b-2"']


@pytest.mark.parametrize("saved, words", [
    ({"nodes": []}, "not a scale-out plan"),
    ([], "not a scale-out plan"),
    ({"version": 0, "names": []}, "version 0"),
])
def test_a_saved_document_that_is_not_a_plan_is_refused(saved, words):
    with pytest.raises(PlanError, match=words):
        plan_differences(saved, gcp_plan())


def test_findings_are_marked_with_the_change_that_fixes_them():
    findings = [Finding("ipip_blocked", hosts=["node-1", "node-2"],
                        fix=Fix("add the rule", playbook="scale_out", tags=["network"])).to_dict(),
                Finding("bird_down", hosts=["node-3"],
                        fix=Fix("restart calico-node on node-3", playbook="fix_nodename_conflict",
                                limit=["node-3"])).to_dict()]
    marked = findings_would_fix(findings, gcp_plan()["fixes"])
    assert [f["would_fix"] for f in marked] == ["create firewall rule calico-ipip", None]
    assert "would_fix" not in findings[0]
    assert would_fix_report(marked, ["inventories/prod"]) == [
        "Check mode: the run would fix 1 of 2 finding(s); 1 would remain.",
        "ipip_blocked on node-1, node-2: the run would fix it (create firewall rule calico-ipip)",
        "bird_down on node-3: would remain; fix: restart calico-node on node-3. Run: ansible-playbook -i "
        "inventories/prod calico_fleet.fleet.fix_nodename_conflict --limit node-3",
    ]


def test_summary_says_what_would_be_created_changed_and_fixed():
    lines = plan_summary(gcp_plan())
    assert lines[0] == "instances to create: k8s-node-5 (already created in this batch: k8s-node-4)"
    assert "cloud network: create gcp_firewall_rule calico-ipip" in lines
    assert ("Calico datastore: update FelixConfiguration default "
            "(/calico/resources/v3/projectcalico.org/felixconfigurations/default): ipipMTU None -> 1440") in lines
    assert lines[-1] == "would fix ipip_blocked: create firewall rule calico-ipip"
