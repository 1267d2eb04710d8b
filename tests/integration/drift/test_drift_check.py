"""scripts/drift-check.sh against the lab: a healthy cluster is clean three
times in a row; each hand-made change is exactly its drift item (exit 2);
each part that cannot be checked is named as such (exit 1) while the other
sections are still reported. Every run writes nothing but its reports, and
the reports parse: the JSON against docs/drift-report.schema.json, the JUnit
XML, and the metrics with prometheus_client's own parser.

One healthy lab per module (drift_lab); each test breaks one thing and puts
it back. The Compute API test stops the Compute test server, so it runs last.
"""

import shlex
import subprocess

import pytest

from tests.integration.conftest import ROOT, ansible_env
from tests.integration.drift.conftest import (
    drift_check,
    etcd_delete,
    etcd_get,
    etcd_put,
    full_mesh,
    patch_rule,
)
from tests.integration.verify.conftest import VERIFY_MESH, run_json, wait

pytestmark = pytest.mark.lab

NODENAME_FILE = "/var/lib/calico/nodename"
IPPOOL_KEY = "/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool"
BGPCONFIG_KEY = "/calico/resources/v3/projectcalico.org/bgpconfigurations/default"
SECTIONS = ("cloud_rules", "calico_settings", "names", "bgp_mesh", "ipip_underlay")
FIX_NETWORK = "ansible-playbook -i inventories/lab calico_fleet.fleet.scale_out --tags network"
FIX_CALICO = "ansible-playbook -i inventories/lab calico_fleet.fleet.scale_out --tags calico_network"


def apply_fix(command):
    """Run the fix a report printed as a user pastes it into a shell where they ran the check."""
    assert shlex.split(command)[:2] == ["ansible-playbook", "-i"], command
    proc = subprocess.run(command, shell=True, cwd=ROOT, env=ansible_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"{command}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


def status(**changed):
    return {s: changed.get(s, "ok") for s in SECTIONS}


def test_healthy_cluster_is_clean_three_runs_in_a_row(drift_lab, tmp_path):
    for _ in range(3):
        run = drift_check(drift_lab, tmp_path)
        assert run.rc == 0, run
        assert run.report["items"] == [] and run.report["not_checked"] == []
        assert run.sections() == status()
        assert "drift-check: everything checked, no drift" in run.proc.stdout
    report = run.report
    assert report["cluster"] == "lab" and report["inventory"] == ["inventories/lab"]
    assert report["calico_namespace"] == "kube-system" and report["duration_seconds"] > 0
    # inventories/lab lists the lab's machines, not a cloud or Kubernetes source: the report says so.
    assert report["mesh"] == {"bgp_sessions": {"Established": 6}, "ipip_blocked_pairs": 0,
                              "membership_not_compared": ["cloud machines", "Kubernetes Nodes"]}
    junit = run.junit()
    assert (junit.get("failures"), junit.get("errors")) == ("0", "0")
    assert int(junit.get("tests")) == len(report["checks"]) == len(junit.findall(".//testcase"))
    metrics = run.metrics()
    assert metrics[("calico_fleet_drift_check_success", frozenset({("cluster", "lab")}))] == 1
    assert metrics[("calico_fleet_bgp_sessions", frozenset({("cluster", "lab"), ("state", "Established")}))] == 6
    assert not [k for k in metrics if k[0] == "calico_fleet_drift_items"]


def test_ipip_rule_narrowed_below_the_nodes(drift_lab, tmp_path):
    lab = drift_lab
    base = lab.status()["vpc"]["range"].split("/")[0]
    patch_rule(lab, "calico-ipip", sourceRanges=[f"{base}/29"])  # the nodes are .11 and up
    try:
        run = drift_check(lab, tmp_path)
        # The fix the report prints puts the rule back: the next check is clean.
        [command] = run.printed_fix("firewall_rule_changed")
        apply_fix(command)
        after = drift_check(lab, tmp_path)
    finally:
        patch_rule(lab, "calico-ipip", sourceRanges=[lab.status()["vpc"]["range"]])
    assert after.rc == 0 and after.report["items"] == [], after
    assert run.rc == 2, run
    # The rule's field, and its consequence: protocol 4 dropped between every pair.
    assert run.items() == [
        ("cloud_rules", "firewall/calico-ipip", "firewall_rule_changed", "source_ranges", "error"),
        ("ipip_underlay", "host/node-1,node-2,node-3", "ipip_blocked", None, "error"),
    ]
    item = run.report["items"][0]
    assert (item["actual"], item["expected"]) == ([f"{base}/29"], [lab.status()["vpc"]["range"]])
    assert command == run.fix_command(item) == FIX_NETWORK
    assert run.report["mesh"]["ipip_blocked_pairs"] == 3
    junit = run.junit()
    assert junit.get("failures") == str(len([c for c in run.report["checks"] if c["status"] == "drift"]))
    failed = sorted(c.get("name") for c in junit.iter("testcase") if c.find("failure") is not None)
    assert failed == ["firewall/calico-ipip", "host/node-1", "host/node-2", "host/node-3"]
    metrics = run.metrics()
    assert metrics[("calico_fleet_ipip_blocked_pairs", frozenset({("cluster", "lab")}))] == 3
    assert metrics[("calico_fleet_drift_items", frozenset({("cluster", "lab"), ("section", "cloud_rules"),
                                                           ("kind", "firewall_rule_changed"),
                                                           ("severity", "error")}))] == 1


def test_rule_description_edited_is_a_warning_naming_the_field(drift_lab, tmp_path):
    lab = drift_lab
    patch_rule(lab, "calico-bgp", description="edited in the console")
    try:
        run = drift_check(lab, tmp_path)
    finally:
        patch_rule(lab, "calico-bgp", description="Calico BGP mesh between nodes (managed by calico-fleet)")
    assert run.rc == 2, run
    assert run.items() == [("cloud_rules", "firewall/calico-bgp", "firewall_rule_changed", "description", "warning")]
    assert run.report["items"][0]["actual"] == "edited in the console"
    assert run.sections() == status(cloud_rules="drift")


def test_pool_ipip_mode_changed_in_the_datastore(drift_lab, tmp_path):
    lab = drift_lab
    pool = etcd_get(lab, IPPOOL_KEY)
    etcd_put(lab, IPPOOL_KEY, {**pool, "spec": {**pool["spec"], "ipipMode": "Never"}})
    try:
        run = drift_check(lab, tmp_path)
        apply_fix(run.fix_command(run.report["items"][0]))
        fixed = etcd_get(lab, IPPOOL_KEY)
    finally:
        etcd_put(lab, IPPOOL_KEY, pool)
    assert fixed["spec"]["ipipMode"] == "Always"
    assert run.rc == 2, run
    assert run.items() == [("calico_settings", "IPPool/default-ipv4-ippool", "ip_pool_changed", "ipipMode", "error")]
    item = run.report["items"][0]
    assert (item["actual"], item["expected"], run.fix_command(item)) == ("Never", "Always", FIX_CALICO)


def test_pool_switched_to_vxlan_by_hand_is_drift_on_the_undeclared_field(drift_lab, tmp_path):
    """The inventory declares the pool's ipip_mode only; VXLAN switched on by hand is still drift, on
    vxlanMode, and the printed fix sets it back."""
    lab = drift_lab
    pool = etcd_get(lab, IPPOOL_KEY)
    etcd_put(lab, IPPOOL_KEY, {**pool, "spec": {**pool["spec"], "ipipMode": "Never", "vxlanMode": "Always"}})
    try:
        run = drift_check(lab, tmp_path, "--tags", "calico_network")
        apply_fix(run.fix_command(run.report["items"][0]))
        fixed = etcd_get(lab, IPPOOL_KEY)
    finally:
        etcd_put(lab, IPPOOL_KEY, pool)
    assert run.rc == 1, run  # limited by tags: the other sections are not checked
    assert run.items() == [
        ("calico_settings", "IPPool/default-ipv4-ippool", "ip_pool_changed", "ipipMode", "error"),
        ("calico_settings", "IPPool/default-ipv4-ippool", "ip_pool_changed", "vxlanMode", "error")]
    item = run.report["items"][1]
    assert (item["actual"], item["expected"], run.fix_command(item)) == ("Always", "Never", FIX_CALICO)
    assert run.sections()["calico_settings"] == "drift"
    assert (fixed["spec"]["ipipMode"], fixed["spec"].get("vxlanMode")) == ("Always", "Never")


def test_node_to_node_mesh_disabled_by_hand(drift_lab, tmp_path):
    lab = drift_lab
    etcd_put(lab, BGPCONFIG_KEY, {"kind": "BGPConfiguration", "apiVersion": "projectcalico.org/v3",
                                  "metadata": {"name": "default"}, "spec": {"nodeToNodeMeshEnabled": False}})
    try:
        # The lab's inventory leaves the mesh setting alone; this one declares it.
        run = drift_check(lab, tmp_path, "-e", '{"calico_network_mesh_enabled": true}',
                          "-e", "mesh_verify_wait_timeout=5")
    finally:
        etcd_delete(lab, BGPCONFIG_KEY)
        wait(lambda: full_mesh(lab), "the mesh to come back", timeout=60)
    assert run.rc == 2, run
    # The declared setting, and its consequence: no node has a BGP session left.
    assert run.items() == [
        ("calico_settings", "BGPConfiguration/default", "bgp_configuration_changed", "nodeToNodeMeshEnabled",
         "error"),
        ("bgp_mesh", "host/node-1,node-2,node-3", "no_bgp_peers", None, "error")]
    assert (run.report["items"][0]["actual"], run.report["items"][0]["expected"]) == (False, True)
    assert run.fix_command(run.report["items"][0]) == FIX_CALICO


def test_hostname_changed_by_hand(drift_lab, tmp_path):
    lab = drift_lab
    lab.node_exec("node-2", ["hostname", "node-2-renamed"], check=True)
    try:
        run = drift_check(lab, tmp_path)
    finally:
        lab.node_exec("node-2", ["hostname", "node-2"], check=True)
    assert run.rc == 2, run
    assert run.items() == [("names", "host/node-2", "nodename_mismatch", None, "warning")]
    item = run.report["items"][0]
    assert run.fix_command(item) == (
        "ansible-playbook -i inventories/lab calico_fleet.fleet.fix_nodename_conflict --limit node-2")


def test_nodename_file_with_a_trailing_newline(drift_lab, tmp_path):
    lab = drift_lab
    lab.node_exec("node-2", ["sh", "-c", f"printf 'node-2\\n' > {NODENAME_FILE}"], check=True)
    try:
        lab.restart_calico_node("node-2")
        wait(lambda: "Metadata.Name" in (lab.status()["nodes"][1]["calico_node_error"] or ""),
             "calico-node on node-2 to refuse the name")
        run = drift_check(lab, tmp_path, "-e", "mesh_verify_wait_timeout=5")
    finally:
        lab.node_exec("node-2", ["sh", "-c", f"printf 'node-2' > {NODENAME_FILE}"], check=True)
        lab.restart_calico_node("node-2")
        wait(lambda: full_mesh(lab), "the mesh to come back", timeout=60)
    assert run.rc == 2, run
    assert run.items() == [("names", "host/node-2", "nodename_invalid", None, "error")]
    assert run.report["items"][0]["fix"]["text"].startswith(f"printf '%s' node-2 > {NODENAME_FILE} on node-2")


def test_datastore_down_is_not_checked_naming_the_endpoint(drift_lab, tmp_path):
    endpoint = "http://127.0.0.1:9"  # nothing listens on the discard port
    run = drift_check(drift_lab, tmp_path, "-e", f'{{"lab_etcd_endpoints": ["{endpoint}"]}}')
    assert run.rc == 1, run
    assert run.items() == []
    assert run.sections() == status(calico_settings="not_checked", names="not_checked", bgp_mesh="not_checked",
                                    ipip_underlay="not_checked")
    assert run.not_checked() == [
        ("calico_settings", "FelixConfiguration/default"), ("calico_settings", "IPPool/default-ipv4-ippool"),
        ("names", "cluster"), ("bgp_mesh", "cluster"), ("ipip_underlay", "cluster")]
    assert all(endpoint in n["reason"] for n in run.report["not_checked"]), run.report["not_checked"]
    junit = run.junit()
    assert junit.get("failures") == "0" and int(junit.get("errors")) == 5
    assert run.metrics()[("calico_fleet_drift_check_success", frozenset({("cluster", "lab")}))] == 0


def test_one_node_unreachable_is_named_and_the_rest_reported(drift_lab, tmp_path):
    lab = drift_lab
    # SSH on node-3 answers with a reset; BGP and IPIP are untouched.
    lab.node_exec("node-3", ["nft", "-f", "-"], check=True, input=(
        "table inet drift_test {\n chain input {\n  type filter hook input priority 0;\n"
        "  tcp dport 22 reject with tcp reset\n }\n}\n"))
    try:
        run = drift_check(lab, tmp_path)
    finally:
        lab.node_exec("node-3", ["nft", "delete", "table", "inet", "drift_test"], check=True)
    assert run.rc == 1, run
    assert run.items() == []
    assert run.not_checked() == [("names", "host/node-3"), ("bgp_mesh", "host/node-3"),
                                 ("ipip_underlay", "host/node-3")]
    assert all("node-3" in n["reason"] for n in run.report["not_checked"])
    assert run.sections() == status(names="not_checked", bgp_mesh="not_checked", ipip_underlay="not_checked")


def test_each_tag_alone_checks_only_its_sections_and_never_reads_clean(drift_lab, tmp_path):
    """The issue's run: the IPIP rule narrowed and BIRD down on node-3, the check limited by tags.
    Each run reports what its tag checks, names every other section "not checked" and exits 1."""
    lab = drift_lab
    base = lab.status()["vpc"]["range"].split("/")[0]
    patch_rule(lab, "calico-ipip", sourceRanges=[f"{base}/29"])  # the nodes are .11 and up
    lab.stop_calico_node("node-3")
    try:
        wait(lambda: not lab.bgp_sessions("node-3"), "BIRD on node-3 to stop")
        runs = {tag: drift_check(lab, tmp_path, "--tags", tag, "-e", "mesh_verify_wait_timeout=5")
                for tag in ("network", "calico_network", "verify")}
    finally:
        patch_rule(lab, "calico-ipip", sourceRanges=[lab.status()["vpc"]["range"]])
        lab.restart_calico_node("node-3")
        wait(lambda: full_mesh(lab), "the mesh to come back", timeout=90)
    checked_by = {"network": ("cloud_rules",), "calico_network": ("calico_settings",),
                  "verify": ("names", "bgp_mesh", "ipip_underlay")}
    for tag, run in runs.items():
        assert run.rc == 1, (tag, run)
        skipped = [s for s in SECTIONS if s not in checked_by[tag]]
        assert [n for n in run.not_checked() if n[0] in skipped] == [(s, "cluster") for s in skipped], (tag, run)
        assert all(f"skipped by tags (the run was limited to --tags {tag})" in n["reason"]
                   for n in run.report["not_checked"] if n["section"] in skipped), (tag, run)
        assert all(run.sections()[s] == "not_checked" for s in skipped), (tag, run)
        assert "could not be checked" in run.proc.stderr
    network, calico, verify = runs["network"], runs["calico_network"], runs["verify"]
    assert network.items() == [
        ("cloud_rules", "firewall/calico-ipip", "firewall_rule_changed", "source_ranges", "error")]
    assert calico.items() == [] and calico.sections()["calico_settings"] == "ok"
    kinds = {(i[0], i[2]) for i in verify.items()}
    assert {("bgp_mesh", "bird_down"), ("ipip_underlay", "ipip_blocked")} <= kinds, verify
    assert not [n for n in verify.not_checked() if n[1] == "cluster" and n[0] in checked_by["verify"]], verify


def test_node_to_node_mesh_off_without_bgp_peers_is_no_bgp_peers(drift_lab, tmp_path):
    """No routes is never healthy: verify-mesh fails naming every node, the drift check exits 2 with
    no_bgp_peers, and its printed fix turns the mesh back on."""
    lab = drift_lab
    etcd_put(lab, BGPCONFIG_KEY, {"kind": "BGPConfiguration", "apiVersion": "projectcalico.org/v3",
                                  "metadata": {"name": "default"}, "spec": {"nodeToNodeMeshEnabled": False}})
    try:
        wait(lambda: not any(lab.bgp_sessions(n["name"]) for n in lab.status()["nodes"]),
             "BIRD to drop the mesh sessions", timeout=60)
        rc, out = run_json(VERIFY_MESH, "-e", "mesh_verify_wait_timeout=5")
        run = drift_check(lab, tmp_path, "-e", "mesh_verify_wait_timeout=5")
        item = next((i for i in run.report["items"] if i["kind"] == "no_bgp_peers"), None)
        assert item is not None, run
        [command] = run.printed_fix("no_bgp_peers")
        apply_fix(command)
        fixed = etcd_get(lab, BGPCONFIG_KEY)
        wait(lambda: full_mesh(lab), "the mesh to come back after the printed fix", timeout=90)
    finally:
        etcd_delete(lab, BGPCONFIG_KEY)
        wait(lambda: full_mesh(lab), "the mesh to come back", timeout=60)
    assert rc != 0
    results = [res for play in out["plays"] for task in play["tasks"] for res in task["hosts"].values()]
    lines = [line for res in results if isinstance(res.get("msg"), list) for line in res["msg"]]
    assert "[error] no_bgp_peers on node-1, node-2, node-3" in lines, lines
    assert any(res.get("failed") and "not healthy" in str(res.get("msg")) for res in results)
    assert run.rc == 2, run
    assert run.items() == [("bgp_mesh", "host/node-1,node-2,node-3", "no_bgp_peers", None, "error")]
    assert "mesh is off" in item["cause"] and "no BGPPeer exists" in item["cause"]
    assert item["fix"]["text"].startswith("turn the node-to-node mesh back on")
    assert command.startswith(
        "ansible-playbook -i inventories/lab calico_fleet.fleet.scale_out --tags calico_network -e")
    assert fixed["spec"]["nodeToNodeMeshEnabled"] is True


def test_compute_api_down_is_not_checked_and_the_rest_reported(drift_lab, tmp_path):
    lab = drift_lab
    lab.cloud_stop()
    try:
        run = drift_check(lab, tmp_path)
    finally:
        lab.cloud_start()
    assert run.rc == 1, run
    assert run.items() == []
    assert run.not_checked() == [("cloud_rules", "firewall/calico-bgp"), ("cloud_rules", "firewall/calico-ipip")]
    assert run.sections() == status(cloud_rules="not_checked")
    assert "could not be checked" in run.proc.stderr
