"""The drift report model (plugin_utils/drift_report/report.py) and its renderers, one per output."""

import json
from xml.etree import ElementTree

import jsonschema
import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Finding, Fix
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report import report as dr
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.console import to_text
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.files import write_all
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.junit import to_junit
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.markdown import to_markdown
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.prometheus import to_metrics
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT

SCHEMA = json.loads((ROOT / "docs" / "drift-report.schema.json").read_text())
CONTEXT = {"cluster": "prod-eu", "inventory": ["inventories/prod"], "calico_namespace": "calico-system",
           "started_at": "2025-01-01T02:15:00Z", "finished_at": "2025-01-01T02:16:00Z", "duration_seconds": 60}
RULE = {"name": "calico-ipip", "network": "default", "description": "Calico IPIP", "direction": "INGRESS",
        "priority": 1000, "disabled": False, "allowed": [{"protocol": "ipip", "ports": []}], "denied": [],
        "source_ranges": ["10.0.0.0/16"], "source_tags": [], "target_tags": []}
HEALTHY_MESH = {"findings": [], "matrix": {"n1": {"n2": "Established"}, "n2": {"n1": "Established"}},
                "expected_peers": {"n1": ["10.0.0.2"], "n2": ["10.0.0.1"]}, "probed": True}


def obs(sections, module, result, status="ok", args=None, host="localhost", task="t", run_once=True):
    return {"sections": sections, "module": f"calico_fleet.fleet.{module}", "host": host, "task": task,
            "status": status, "result": result, "args": args or {}, "run_once": run_once}


def firewall(before, after=RULE):
    return obs(["cloud_rules"], "gcp_firewall_rule", {"changed": before != after, "rule": after,
                                                      "diff": {"before": before, "after": after}},
               args={"name": after["name"]})


def calico(findings=(), module="calico_felix_configuration"):
    return obs(["calico_settings"], module, {"changed": bool(findings), "findings": list(findings)})


def calico_finding(resource, field, expected, actual, reason):
    """A finding as the Calico modules (calico_ippool, ...) return it."""
    kind = {"IPPool": "ip_pool", "FelixConfiguration": "felix_configuration"}[resource.split("/")[0]]
    return Finding(f"{kind}_{'missing' if field is None else 'changed'}", section="calico_settings",
                   resource=resource, field=field, expected=expected, actual=actual, cause=reason,
                   fix=Fix("apply the inventory's Calico settings", playbook="scale_out",
                           tags=["calico_network"])).to_dict()


def mesh(result=HEALTHY_MESH):
    return obs(["names", "bgp_mesh", "ipip_underlay"], "calico_mesh_check", result, host="n1")


def build(*observations):
    report = dr.build(list(observations), CONTEXT)
    jsonschema.validate(report, SCHEMA)
    return report


def healthy(**replace):
    parts = {"cloud": firewall(RULE), "calico": calico(), "mesh": mesh()}
    parts.update(replace)
    return [p for p in parts.values() if p is not None]


# -- field paths -------------------------------------------------------------

def test_field_diff_names_each_differing_field_path():
    after = {**RULE, "allowed": [{"protocol": "tcp", "ports": ["179"]}]}
    before = {**RULE, "description": "x", "allowed": [{"protocol": "tcp", "ports": ["180"]}],
              "source_ranges": ["10.0.0.0/24"]}
    assert dr.field_diff(before, after) == [
        ("allowed[0].ports", ["180"], ["179"]),
        ("description", "x", "Calico IPIP"),
        ("source_ranges", ["10.0.0.0/24"], ["10.0.0.0/16"]),
    ]
    assert dr.field_diff(RULE, dict(RULE)) == []
    # Lists of different length are one difference, not one per index.
    assert dr.field_diff({"a": [{"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]}) == [("a", [{"x": 1}], [{"x": 1}, {"x": 2}])]


# -- exit codes and sections ----------------------------------------------------

def test_clean_run_exits_0_with_every_section_ok():
    report = build(*healthy())
    assert (report["exit_code"], report["status"], report["drift"]) == (0, "clean", False)
    assert {s: v["status"] for s, v in report["sections"].items()} == dict.fromkeys(dr.SECTIONS, "ok")
    assert report["items"] == [] and report["not_checked"] == []
    assert (report["schema_version"], report["cluster"], report["inventory"]) == ("2.0", "prod-eu",
                                                                                  ["inventories/prod"])
    assert report["mesh"] == {"bgp_sessions": {"Established": 2}, "ipip_blocked_pairs": 0,
                              "membership_not_compared": []}


def test_description_only_difference_is_one_warning_naming_the_field():
    report = build(*healthy(cloud=firewall({**RULE, "description": "edited"})))
    assert report["exit_code"] == 2
    [item] = report["items"]
    assert (item["section"], item["resource"], item["kind"], item["field"], item["severity"]) == (
        "cloud_rules", "firewall/calico-ipip", "firewall_rule_changed", "description", "warning")
    assert (item["actual"], item["expected"]) == ("edited", "Calico IPIP")
    assert Fix.from_dict(item["fix"]).command(report["inventory"]) == (
        "ansible-playbook -i inventories/prod calico_fleet.fleet.scale_out --tags network")
    assert report["sections"]["cloud_rules"] == {**report["sections"]["cloud_rules"], "status": "drift",
                                                 "warnings": 1, "errors": 0}


def test_missing_rule_is_an_error_without_a_field():
    [item] = build(*healthy(cloud=firewall({})))["items"]
    assert (item["kind"], item["field"], item["severity"], item["expected"]["name"]) == (
        "firewall_rule_missing", None, "error", "calico-ipip")


def test_calico_findings_are_items_as_the_modules_made_them():
    finding = calico_finding("IPPool/default", "ipipMode", "Always", "Never", "ipipMode is 'Never', expected 'Always'")
    report = build(*healthy(calico=calico([finding], "calico_ippool")))
    [item] = report["items"]
    assert item == finding
    assert report["sections"]["calico_settings"]["status"] == "drift"
    assert any(line.startswith("[error] ip_pool_changed on IPPool/default ipipMode: 'Never', expected 'Always'")
               for line in to_text(report))


def test_mesh_findings_keep_warnings_and_go_to_their_sections():
    findings = [
        Finding("nodename_mismatch", "warning", hosts=["n2"], node="n2x", evidence=["e"], cause="renamed",
                fix=Fix("give n2 one name", playbook="fix_nodename_conflict", limit=["n2"])),
        Finding("mesh_too_large", "warning", evidence=["120 nodes"], cause="big", fix=Fix("use route reflectors")),
        Finding("ipip_blocked", hosts=["n1", "n2"], node="n1", peer="10.0.0.2",
                evidence=["IPIP probe n1 (10.0.0.1) -> n2 (10.0.0.2) failed (BGP n1 -> n2: Established)",
                          "IPIP probe n2 (10.0.0.2) -> n1 (10.0.0.1) failed (BGP n1 -> n2: Established)"],
                cause="blocked", fix=Fix("add the security group rule {proto: '4', cidr_ip: 10.0.0.0/16}",
                                         playbook="scale_out", tags=["network"])),
        Finding("bird_down", hosts=["n1"], node="n1", cause="down",
                fix=Fix("restart calico-node on n1", commands=[
                    "kubectl -n calico-system delete pod -l k8s-app=calico-node --field-selector spec.nodeName=n1"])),
    ]
    report = build(*healthy(mesh=mesh({**HEALTHY_MESH, "findings": [f.to_dict() for f in findings]})))
    got = [(i["section"], dr.subject(i), i["kind"], i["severity"]) for i in report["items"]]
    assert got == [
        ("names", "host/n2", "nodename_mismatch", "warning"),
        ("bgp_mesh", "host/n1", "bird_down", "error"),
        ("bgp_mesh", "cluster", "mesh_too_large", "warning"),
        ("ipip_underlay", "host/n1,n2", "ipip_blocked", "error"),
    ]
    # The fixes are the mesh check's, as data; the report's inventory is named only when they are rendered.
    fixes = {i["kind"]: Fix.from_dict(i["fix"]) for i in report["items"]}
    assert fixes["nodename_mismatch"] == findings[0].fix
    lines = to_text(report)
    assert ("    fix:      give n2 one name. Run: ansible-playbook -i inventories/prod "
            "calico_fleet.fleet.fix_nodename_conflict --limit n2") in lines
    assert ("    fix:      restart calico-node on n1. Run: kubectl -n calico-system delete pod -l k8s-app=calico-node "
            "--field-selector spec.nodeName=n1") in lines
    assert "[error] ipip_blocked on n1, n2 node n1 peer 10.0.0.2 [ipip_underlay]" in lines
    assert report["mesh"]["ipip_blocked_pairs"] == 1
    assert report["exit_code"] == 2


# -- could not be checked --------------------------------------------------------

def test_a_failed_section_is_not_checked_and_other_drift_is_still_listed():
    down = obs(["cloud_rules"], "gcp_firewall_rule", {"failed": True, "msg": "cannot reach the Compute API"},
               status="failed", args={"name": "calico-ipip"})
    finding = calico_finding("FelixConfiguration/default", "ipipMTU", 1440, None, "ipipMTU is not set")
    report = build(*healthy(cloud=down, calico=calico([finding])))
    assert (report["exit_code"], report["status"], report["drift"]) == (1, "incomplete", True)
    assert report["not_checked"] == [{"section": "cloud_rules", "resource": "firewall/calico-ipip",
                                      "reason": "t on localhost: cannot reach the Compute API"}]
    assert [i["field"] for i in report["items"]] == ["ipipMTU"]
    assert report["sections"]["cloud_rules"]["status"] == "not_checked"
    assert report["sections"]["calico_settings"]["status"] == "drift"


def test_datastore_down_in_the_mesh_play_is_one_entry_per_section():
    failed = obs(["names", "bgp_mesh", "ipip_underlay"], "calico_nodes_info",
                 {"msg": "cannot reach etcd (http://10.0.0.9:2379: refused)"}, status="failed", host="n1")
    per_host = [obs(["names", "bgp_mesh", "ipip_underlay"], "calico_bgp_status", {"msg": "undefined"},
                    status="failed", host=h, run_once=False) for h in ("n1", "n2")]
    report = build(firewall(RULE), calico(), failed, *per_host)
    assert [(n["section"], n["resource"]) for n in report["not_checked"]] == [
        ("names", "cluster"), ("bgp_mesh", "cluster"), ("ipip_underlay", "cluster")]
    assert all("http://10.0.0.9:2379" in n["reason"] for n in report["not_checked"])
    assert report["exit_code"] == 1


def test_unreachable_host_is_not_checked_not_drift():
    unreachable = {"kind": "host_unreachable", "severity": "error", "hosts": ["n2"], "node": "n2", "peer": None,
                   "evidence": ["n2 (10.0.0.2) answered nothing: ssh: connect to host refused"],
                   "cause": "down", "fix": "check"}
    report = build(*healthy(mesh=mesh({**HEALTHY_MESH, "findings": [unreachable]})))
    assert report["items"] == []
    assert [(n["section"], n["resource"]) for n in report["not_checked"]] == [
        ("names", "host/n2"), ("bgp_mesh", "host/n2"), ("ipip_underlay", "host/n2")]
    assert all("n2" in n["reason"] for n in report["not_checked"])
    assert report["exit_code"] == 1


def test_a_section_without_any_check_is_not_checked():
    report = build(firewall(RULE), calico())
    assert [(n["section"], n["resource"]) for n in report["not_checked"]] == [
        ("names", "cluster"), ("bgp_mesh", "cluster"), ("ipip_underlay", "cluster")]
    assert report["exit_code"] == 1


def validation(sections, role):
    """The role's argument validation: it runs whatever the tags, and checks nothing."""
    return obs(sections, "validate_argument_spec", {"changed": False, "msg": f"The arg spec of {role} validated"},
               task=f"Validating arguments against arg spec {role}")


def test_only_argument_validation_is_not_a_check_and_the_reason_names_the_tags():
    """--tags calico_network: the other plays validate their arguments only; nothing reads clean."""
    report = dr.build([validation(["cloud_rules"], "gcp_network"), calico(),
                       validation(["names", "bgp_mesh", "ipip_underlay"], "mesh_verify")],
                      {**CONTEXT, "tags": ["calico_network"]})
    jsonschema.validate(report, SCHEMA)
    assert {s: v["status"] for s, v in report["sections"].items()} == {
        **dict.fromkeys(dr.SECTIONS, "not_checked"), "calico_settings": "ok"}
    assert [(n["section"], n["resource"]) for n in report["not_checked"]] == [
        (s, "cluster") for s in dr.SECTIONS if s != "calico_settings"]
    assert all("skipped by tags (the run was limited to --tags calico_network)" in n["reason"]
               for n in report["not_checked"])
    assert [(c["section"], c["status"]) for c in report["checks"] if c["status"] == "ok"] == [
        ("calico_settings", "ok")]
    assert (report["exit_code"], report["status"]) == (1, "incomplete")


def test_tag_limited_run_still_lists_the_drift_it_found_and_exits_1():
    finding = calico_finding("IPPool/default-ipv4-ippool", "ipipMode", "Always", "Never", "ipipMode is Never")
    report = dr.build([calico([finding], module="calico_ippool")], {**CONTEXT, "tags": ["calico_network"]})
    assert [i["kind"] for i in report["items"]] == ["ip_pool_changed"]
    assert report["sections"]["calico_settings"]["status"] == "drift"
    assert report["exit_code"] == 1


def test_skip_tags_and_conditions_are_named_as_the_reason():
    report = dr.build([firewall(RULE), mesh()], {**CONTEXT, "skip_tags": ["calico_network"]})
    assert [n["section"] for n in report["not_checked"]] == ["calico_settings"]
    assert "skipped by tags (--skip-tags calico_network)" in report["not_checked"][0]["reason"]
    report = dr.build([calico(), mesh()], CONTEXT)  # the cloud role's when: was false
    assert [n["section"] for n in report["not_checked"]] == ["cloud_rules"]
    assert "skipped by a condition" in report["not_checked"][0]["reason"]
    assert "gcp_firewall_rule / ec2_security_group" in report["not_checked"][0]["reason"]


def test_a_mesh_result_without_the_probe_matrix_does_not_check_the_underlay():
    result = {k: v for k, v in HEALTHY_MESH.items() if k != "probed"}
    report = build(*healthy(mesh=mesh(result)))
    assert [n["section"] for n in report["not_checked"]] == ["ipip_underlay"]
    assert report["exit_code"] == 1


def test_mesh_checked_without_the_probe_leaves_the_underlay_not_checked():
    report = build(*healthy(mesh=mesh({**HEALTHY_MESH, "probed": False})))
    assert {s: v["status"] for s, v in report["sections"].items()} == {
        **dict.fromkeys(dr.SECTIONS, "ok"), "ipip_underlay": "not_checked"}
    assert report["not_checked"] == [{"section": "ipip_underlay", "resource": "cluster", "reason":
                                      "the IPIP probe did not run (--skip-tags probe or mesh_verify_probe=false)"}]
    assert report["exit_code"] == 1


# -- renderers -------------------------------------------------------------------

@pytest.fixture
def mixed():
    down = obs(["calico_settings"], "calico_ippool", {"msg": "cannot reach etcd"}, status="failed",
               args={"name": "default"})
    return build(firewall({**RULE, "source_ranges": ["10.0.0.0/29"], "description": "x"}), down, mesh())


def test_junit_has_one_testcase_per_check_drift_fails_and_not_checked_errors(mixed):
    root = ElementTree.fromstring(to_junit(mixed).encode())
    cases = root.findall(".//testcase")
    assert len(cases) == len(mixed["checks"]) == int(root.get("tests"))
    assert (root.get("failures"), root.get("errors")) == ("1", "1")
    failed = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [
        ("drift_check.cloud_rules", "firewall/calico-ipip")]
    assert "description" in failed[0].find("failure").get("message")
    assert "source_ranges" in failed[0].find("failure").get("message")
    text = failed[0].find("failure").text
    assert "    cause:    source_ranges of firewall rule calico-ipip is ['10.0.0.0/29']" in text
    assert "Run: ansible-playbook -i inventories/prod calico_fleet.fleet.scale_out --tags network" in text
    errored = [c for c in cases if c.find("error") is not None]
    assert [c.get("name") for c in errored] == ["IPPool/default"]
    assert [s.get("name") for s in root.findall("testsuite")] == list(dr.SECTIONS)


def test_metrics_parse_with_prometheus_own_parser(mixed):
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(to_metrics(mixed)) for s in f.samples}
    key = (("cluster", "prod-eu"),)
    assert samples[("calico_fleet_drift_check_success", key)] == 0
    assert samples[("calico_fleet_drift_check_exit_code", key)] == 1
    assert samples[("calico_fleet_drift_check_last_run_timestamp_seconds", key)] == 1735697760
    assert samples[("calico_fleet_ipip_blocked_pairs", key)] == 0
    assert samples[("calico_fleet_bgp_sessions", (("cluster", "prod-eu"), ("state", "Established")))] == 2
    items = {k[1]: v for k, v in samples.items() if k[0] == "calico_fleet_drift_items"}
    assert items == {
        (("cluster", "prod-eu"), ("kind", "firewall_rule_changed"), ("section", "cloud_rules"),
         ("severity", "error")): 1,
        (("cluster", "prod-eu"), ("kind", "firewall_rule_changed"), ("section", "cloud_rules"),
         ("severity", "warning")): 1,
    }
    checked = {dict(k[1])["section"]: v for k, v in samples.items() if k[0] == "calico_fleet_drift_section_checked"}
    assert checked == {**dict.fromkeys(dr.SECTIONS, 1), "calico_settings": 0}


def test_markdown_summary_lists_drift_and_what_could_not_be_checked(mixed):
    text = to_markdown(mixed)
    assert text.startswith("# Drift check prod-eu: could not check everything (exit 1)\n")
    assert "| warning | cloud_rules | firewall/calico-ipip | description |" in text
    assert "## Could not be checked" in text and "| calico_settings | IPPool/default |" in text
    assert ("| set description of firewall rule calico-ipip back to the inventory's value<br>"
            "`ansible-playbook -i inventories/prod calico_fleet.fleet.scale_out --tags network` |") in text


def test_write_all_writes_the_four_files(mixed, tmp_path):
    paths = write_all(mixed, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "drift-report.json", "drift-report.junit.xml", "drift-report.md", "drift-report.prom"]
    assert json.loads(open(paths["json"]).read()) == mixed


def test_a_node_without_the_tag_or_the_group_is_one_item_per_node_with_its_own_command():
    tags = obs(["cloud_rules"], "gcp_instance_tags", {
        "changed": True, "tagged": ["node-3"], "instances": ["node-1", "node-3"],
        "diff": {"before": {"node-1": ["calico-node"], "node-3": ["ssh"]},
                 "after": {"node-1": ["calico-node"], "node-3": ["calico-node", "ssh"]}}},
        args={"tags": ["calico-node"], "zones": ["europe-west1-b"], "labels": {"cluster": "prod"}})
    group = obs(["cloud_rules"], "aws_security_group_members", {
        "changed": True, "added_to": ["i-0b"],
        "diff": {"before": {"a (i-0a)": ["sg-1", "sg-c"], "b (i-0b)": ["sg-1"]},
                 "after": {"a (i-0a)": ["sg-1", "sg-c"], "b (i-0b)": ["sg-1", "sg-c"]}}},
        args={"group": "calico-nodes"})
    report = build(*healthy(), tags, group)
    got = [(i["resource"], i["kind"], i["field"], Fix.from_dict(i["fix"]).command(report["inventory"]))
           for i in report["items"]]
    assert got == [
        ("instance/b", "security_group_membership_missing", "security_groups",
         "ansible-playbook -i inventories/prod calico_fleet.fleet.scale_out --tags network "
         """-e '{"aws_network_node_filters": {"instance-id": ["i-0b"]}}'"""),
        ("instance/node-3", "network_tag_missing", "tags",
         "ansible-playbook -i inventories/prod calico_fleet.fleet.scale_out --tags network "
         """-e '{"gcp_network_node_instances": ["node-3"], "gcp_network_node_zones": ["europe-west1-b"]}'"""),
    ]
    assert "lacks the network tag calico-node" in report["items"][1]["cause"]
    assert report["exit_code"] == 2


@pytest.mark.parametrize("kind", ["node_without_machine", "node_without_kubernetes_node",
                                  "kubernetes_node_without_calico_node"])
def test_membership_findings_are_drift_in_the_names_section(kind):
    finding = {"kind": kind, "severity": "error", "hosts": [], "node": "node-1", "peer": "10.0.0.9",
               "evidence": ["e"], "cause": "c",
               "fix": {"text": "delete it", "commands": ["calicoctl delete node node-1"]}}
    report = build(*healthy(mesh=mesh({**HEALTHY_MESH, "findings": [finding]})))
    assert [(i["section"], dr.subject(i), i["kind"]) for i in report["items"]] == [("names", "Node/node-1", kind)]
    assert report["exit_code"] == 2


def test_membership_sources_not_compared_are_said_in_every_rendering():
    report = build(*healthy(mesh=mesh({**HEALTHY_MESH, "not_compared": ["cloud machines", "Kubernetes Nodes"]})))
    assert report["mesh"]["membership_not_compared"] == ["cloud machines", "Kubernetes Nodes"]
    jsonschema.validate(report, SCHEMA)
    sentence = "cloud machines and Kubernetes Nodes not compared (no such source in the inventory)"
    assert any(line.startswith("[not compared] names: " + sentence) for line in to_text(report))
    assert sentence in to_markdown(report)
