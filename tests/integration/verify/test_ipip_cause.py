"""The IPIP finding names the real cause, read from the cloud, and its printed fix runs as printed.

The lab plays GCP through the Compute test server. An old node lacks the network tag the rules
target: verification names that node and the tag, the command it prints (pasted into a shell, as a
user does) tags just that node, and the next verification is healthy. With the rule present and
applying but a deny of higher priority, the cause names the deny rule; with the rule missing, it
says so from the rules it read.
"""

import json
import shlex
import subprocess
import urllib.request

import pytest

from tests.integration.conftest import ROOT, ansible_env, run_playbook
from tests.integration.verify.conftest import VERIFY_MESH, deny, ip, printed_fix, summary, verify, wait

pytestmark = pytest.mark.lab
PROJECT = "calico-fleet-lab"
ZONE = "europe-west1-b"
TAG = "calico-node"


def compute(lab, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{lab.status()['cloud']['url']}/compute/v1/projects/{PROJECT}{path}", data=data,
                                 method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.load(resp)


def instance_tags(lab, name):
    return compute(lab, "GET", f"/zones/{ZONE}/instances/{name}").get("tags", {}).get("items", [])


def tag_by_hand(lab, name):
    """instances.setTags through the Compute API, as the console does for the nodes made long ago."""
    current = compute(lab, "GET", f"/zones/{ZONE}/instances/{name}")["tags"]
    compute(lab, "POST", f"/zones/{ZONE}/instances/{name}/setTags",
            {"items": [TAG], "fingerprint": current["fingerprint"]})
    wait(lambda: TAG in lab.get_node(name)["tags"], f"{name} to carry the tag")


@pytest.fixture
def tagged_rules(dirty_lab, tmp_path):
    """The cloud's rules target the tag calico-node: an inventory (the lab's, plus the tag) and the rules."""
    lab = dirty_lab
    lab.cloud_start()
    extra = tmp_path / "tags"
    (extra / "group_vars").mkdir(parents=True)
    (extra / "hosts.yml").write_text("all: {}\n")
    (extra / "group_vars" / "all.yml").write_text(f"gcp_network_target_tags: [{TAG}]\n")
    inventory = ("-i", "inventories/lab", "-i", str(extra))
    run_playbook("calico_fleet.fleet.scale_out", *inventory, "--tags", "network")
    wait(lambda: {"calico-ipip", "calico-bgp"} <= {r["name"] for r in lab.get_firewall()}, "the calico rules")
    yield lab, inventory
    lab.cloud_stop()


def test_node_without_the_target_tag_is_named_and_the_printed_command_tags_it(tagged_rules):
    lab, inventory = tagged_rules
    for name in ("node-1", "node-2"):  # the old nodes that had the tag; node-3 never got it
        tag_by_hand(lab, name)
    result = verify(lab, *inventory)
    assert summary(result) == [("ipip_blocked", ("node-3",), "node-3", None)], result["findings"]
    finding = result["findings"][0]
    assert f"Instance node-3 ({'node-3'}) lacks the network tag {TAG} that firewall rule calico-ipip targets" \
        in finding["cause"]
    assert f"firewall rule calico-ipip (priority 1000) allows ipip from {lab.status()['vpc']['range']} to " \
        f"instances tagged {TAG}" in finding["evidence"]
    [command] = printed_fix(result["printed"], "ipip_blocked")
    argv = shlex.split(command)
    assert argv[:6] == ["ansible-playbook", *inventory, "calico_fleet.fleet.scale_out"], command
    assert json.loads(argv[argv.index("-e") + 1]) == {"gcp_network_node_instances": ["node-3"],
                                                       "gcp_network_node_zones": [ZONE]}
    # As printed, in a shell, from where the user ran verify.
    proc = subprocess.run(command, shell=True, cwd=ROOT, env=ansible_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert instance_tags(lab, "node-3") == [TAG]
    wait(lambda: TAG in lab.get_node("node-3")["tags"], "node-3 to carry the tag")
    healthy = verify(lab, *inventory)
    assert healthy["findings"] == [] and healthy["healthy"] is True
    assert instance_tags(lab, "node-1") == [TAG]  # nobody else was touched


def test_rule_present_but_a_deny_of_higher_priority_is_named(tagged_rules):
    lab, inventory = tagged_rules
    for name in ("node-1", "node-2", "node-3"):
        tag_by_hand(lab, name)
    n3 = ip(lab, "node-3")
    compute(lab, "POST", "/global/firewalls", {**deny("deny-ipip-from-node-3", "4", n3),
                                                "network": "global/networks/default"})
    wait(lambda: "deny-ipip-from-node-3" in {r["name"] for r in lab.get_firewall()}, "the deny rule")
    result = verify(lab, *inventory)
    assert summary(result) == [("ipip_blocked", ("node-3",), "node-3", None)]
    cause = result["findings"][0]["cause"]
    assert "Firewall rule deny-ipip-from-node-3 (priority 900) denies IP protocol 4" in cause
    assert "lacks the network tag" not in cause and "No enabled VPC firewall rule" not in cause
    assert f"gcloud compute firewall-rules delete deny-ipip-from-node-3 --project {PROJECT}" \
        in result["findings"][0]["fix"]["text"]


def test_default_rules_only_says_the_rule_is_missing_from_what_it_read(dirty_lab):
    lab = dirty_lab
    lab.cloud_start()
    try:
        result = verify(lab)
    finally:
        lab.cloud_stop()
    assert summary(result) == [("ipip_blocked", ("node-1", "node-2", "node-3"), None, None)]
    finding = result["findings"][0]
    assert "No enabled VPC firewall rule allows IP protocol 4 towards node-1, node-2, node-3" in finding["cause"]
    assert any(e.startswith("firewall rule default-allow-internal (priority 65534) allows icmp, tcp, udp")
               for e in finding["evidence"]), finding["evidence"]
    assert printed_fix(result["printed"], "ipip_blocked") == [
        "ansible-playbook -i inventories/lab calico_fleet.fleet.scale_out --tags network"]
    assert VERIFY_MESH.exists()
