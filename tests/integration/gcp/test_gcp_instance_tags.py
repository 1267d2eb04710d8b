"""gcp_instance_tags adds the Calico rules' network tag to existing instances, keeping their other tags;
gcp_firewall_info reads the rules it is judged against. Against the Compute test server (setTags with
the tags fingerprint, as the API does)."""

from tests.conftest import run_module
from tests.integration.gcp.conftest import ZONE


def tags_of(compute_server, name):
    return compute_server.cloud.instance_get(compute_server.project, ZONE, name).get("tags", {}).get("items", [])


def set_tags_writes(compute_server):
    return [w for w in compute_server.writes() if w["path"].endswith("/setTags")]


def make(gcp_args):
    created = run_module("gcp_instances", {**gcp_args, "zone": ZONE, "labels": {"cluster": "k8s"},
                                           "instances": [{"name": "node-1", "tags": ["calico-node", "ssh"]},
                                                         {"name": "node-2", "tags": ["ssh"]},
                                                         {"name": "node-3"},
                                                         {"name": "other", "labels": {"cluster": "other"}}]})
    assert created["changed"] is True, created


def test_check_then_real_then_nothing_by_labels(compute_server, gcp_args):
    make(gcp_args)
    args = {**gcp_args, "zones": [ZONE], "labels": {"cluster": "k8s"}, "tags": ["calico-node"]}
    compute_server.clear_log()
    check = run_module("gcp_instance_tags", args, check=True, diff=True)
    assert (check["changed"], check["tagged"]) == (True, ["node-2", "node-3"]), check
    assert check["instances"] == ["node-1", "node-2", "node-3"]  # not "other": another cluster's label
    assert set_tags_writes(compute_server) == []
    real = run_module("gcp_instance_tags", args, diff=True)
    assert (real["changed"], real["tagged"], real["diff"]) == (True, ["node-2", "node-3"], check["diff"])
    assert real["diff"]["after"] == {"node-1": ["calico-node", "ssh"], "node-2": ["calico-node", "ssh"],
                                     "node-3": ["calico-node"]}
    assert len(set_tags_writes(compute_server)) == 2
    assert tags_of(compute_server, "node-2") == ["calico-node", "ssh"] and tags_of(compute_server, "other") == []
    again = run_module("gcp_instance_tags", args)
    assert (again["changed"], again["tagged"]) == (False, [])
    assert len(set_tags_writes(compute_server)) == 2


def test_one_named_instance_and_a_stale_fingerprint_retried(compute_server, gcp_args):
    make(gcp_args)
    # Someone changes node-3's tags between our read and our write: the first setTags gets 412.
    original = compute_server.cloud.instance_set_tags
    calls = []

    def racing(project, zone, name, body):
        if not calls:
            inst = compute_server.cloud.instance_get(project, zone, name)
            original(project, zone, name, {"items": ["web"], "fingerprint": inst["tags"]["fingerprint"]})
        calls.append(body)
        return original(project, zone, name, body)

    compute_server.cloud.instance_set_tags = racing
    result = run_module("gcp_instance_tags", {**gcp_args, "zones": [ZONE], "instances": ["node-3"],
                                               "tags": ["calico-node"]})
    assert (result["changed"], result["tagged"]) == (True, ["node-3"]), result
    assert len(calls) == 2 and tags_of(compute_server, "node-3") == ["calico-node", "web"]


def test_bad_input_names_what_to_change_and_writes_nothing(compute_server, gcp_args):
    make(gcp_args)
    compute_server.clear_log()
    for args, text in (({"instances": ["node-9"]}, "node-9 not found"),
                       ({"tags": ["Calico"]}, "Network tag 'Calico' is invalid"),
                       ({"instances": []}, "Nothing selects the instances")):
        result = run_module("gcp_instance_tags", {**gcp_args, "zones": [ZONE], "instances": ["node-1"],
                                                   "tags": ["calico-node"], **args})
        assert result["failed"] and text in result["msg"], result
    assert compute_server.writes() == []


def test_firewall_info_lists_allow_and_deny_rules_of_the_network(compute_server, gcp_args):
    for name, extra in (("calico-ipip", {"allowed": [{"protocol": "ipip"}], "target_tags": ["calico-node"]}),
                        ("deny-ipip", {"denied": [{"protocol": "4"}], "priority": 900})):
        run_module("gcp_firewall_rule", {**gcp_args, "name": name, "network": "default",
                                         "source_ranges": ["198.18.0.0/20"], **extra})
    compute_server.clear_log()
    info = run_module("gcp_firewall_info", {**gcp_args, "network": "default"}, check=True)
    assert info["changed"] is False and [r["name"] for r in info["rules"]] == ["calico-ipip", "deny-ipip"]
    allow, deny = info["rules"]
    assert (allow["allowed"], allow["target_tags"]) == ([{"protocol": "ipip", "ports": []}], ["calico-node"])
    assert (deny["denied"], deny["priority"]) == ([{"protocol": "ipip", "ports": []}], 900)
    assert compute_server.writes() == []
