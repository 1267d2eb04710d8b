"""playbooks/fix-nodename-conflict.yml on the lab's reproduction of the field-notes incident.

The incident (FIELD-NOTES section 3): a new machine node-4 boots with the
existing hostname node-1, its calico-node registers Calico Node node-1 with
its own IP (last writer wins) and the old node-1 loses its BGP mesh.
Datastore snapshots are read with etcdctl, not with the code under test.
"""

import base64
import json
import shutil
import subprocess
import time

import pytest

from tests.conftest import run_module
from tests.integration.conftest import ROOT, recap, run_playbook

PLAYBOOK = ROOT / "playbooks" / "fix-nodename-conflict.yml"
HERE = ROOT / "tests" / "integration" / "remediation"
ETCDCTL = shutil.which("etcdctl")
pytestmark = pytest.mark.skipif(ETCDCTL is None, reason="etcdctl is not installed")


def wait(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def etcd_snapshot(lab):
    """(revision, {key: (create_revision, mod_revision, value)}) of the whole datastore."""
    out = subprocess.run([ETCDCTL, f"--endpoints={lab.etcd_endpoint()}", "get", "/", "--prefix", "-w", "json"],
                         capture_output=True, text=True, timeout=20, check=True, env={"ETCDCTL_API": "3"})
    reply = json.loads(out.stdout)
    kvs = {base64.b64decode(kv["key"]).decode(): (kv["create_revision"], kv["mod_revision"],
                                                  base64.b64decode(kv["value"]).decode())
           for kv in reply.get("kvs", [])}
    return reply["header"]["revision"], kvs


def node_files(lab):
    """What a user sees on every node: hostname, /etc/hostname, /etc/hosts, the raw nodename file."""
    script = "hostname; echo ---; cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /var/lib/calico/nodename"
    return {n["name"]: lab.node_exec(n["name"], ["sh", "-c", script]).stdout for n in lab.status()["nodes"]}


def registered(lab, name):
    node = etcd_snapshot(lab)[1].get(f"/calico/resources/v3/projectcalico.org/nodes/{name}")
    return json.loads(node[2])["spec"]["bgp"]["ipv4Address"].split("/")[0] if node else None


@pytest.fixture
def incident(dirty_lab):
    lab = dirty_lab
    new = lab.add_node("node-4", hostname="node-1")
    wait(lambda: registered(lab, "node-1") == new["ip"], "node-4 to take over Calico Node node-1")
    wait(lambda: not any(v.startswith("Established") for v in lab.bgp_sessions("node-1").values()),
         "old node-1 to lose its BGP peers", timeout=60)
    return lab, new


def lab_vars(tmp_path, lab, **extra):
    path = tmp_path / "vars.json"
    path.write_text(json.dumps({"nodename_conflict_etcd_endpoints": [lab.etcd_endpoint()],
                                "nodename_conflict_restart_method": "lab", **extra}))
    return f"@{path}"


def test_check_mode_prints_the_plan_and_writes_nothing(incident, tmp_path):
    lab, new = incident
    old_ip = lab.get_node("node-1")["ip"]
    before = (etcd_snapshot(lab), node_files(lab))
    proc = run_playbook(PLAYBOOK, "--check", "--diff", "-e", lab_vars(tmp_path, lab))
    assert (etcd_snapshot(lab), node_files(lab)) == before
    new_name = "ip-" + old_ip.replace(".", "-")
    assert f"node-1 ({old_ip}): rename node-1 -> {new_name} [duplicate_nodename]; delete Calico Node none" \
        in proc.stdout
    assert f"keep node-1 ({new['ip']}, held by node-4, a live host: never deleted)" in proc.stdout
    assert f"+{new_name}" in proc.stdout  # the diff of the nodename file and hostname


def test_real_run_fixes_the_incident_and_a_second_run_changes_nothing(incident, tmp_path):
    lab, new = incident
    old_ip = lab.get_node("node-1")["ip"]
    winner_key = "/calico/resources/v3/projectcalico.org/nodes/node-1"
    winner_created = etcd_snapshot(lab)[1][winner_key][0]
    extra = lab_vars(tmp_path, lab)
    proc = run_playbook(PLAYBOOK, "-e", extra)
    assert recap(proc.stdout)["node-1"]["changed"] > 0
    assert all(recap(proc.stdout)[h]["changed"] == 0 for h in ("node-2", "node-3", "node-4"))

    lab.wait_for_mesh(timeout=30)
    status = lab.status()["nodes"]
    assert all(n["bgp_established"] == 3 for n in status), status
    names = {n["name"]: (n["hostname"], n["calico_node_name"]) for n in status}
    new_name = "ip-" + old_ip.replace(".", "-")
    assert names == {"node-1": (new_name, new_name), "node-2": ("node-2", "node-2"),
                     "node-3": ("node-3", "node-3"), "node-4": ("node-1", "node-1")}
    nodes = etcd_snapshot(lab)[1]
    assert sorted(k.rsplit("/", 1)[1] for k in nodes if "/nodes/" in k) == sorted([new_name, "node-1", "node-2",
                                                                                   "node-3"])
    # The winner's registration was never deleted and re-created: same create revision, same IP.
    assert nodes[winner_key][0] == winner_created and registered(lab, "node-1") == new["ip"]
    assert lab.node_exec("node-1", ["cat", "/var/lib/calico/nodename"]).stdout == new_name  # no newline

    again = run_playbook(PLAYBOOK, "-e", extra)
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap(again.stdout).values()), again.stdout


def test_node_identity_refuses_a_duplicate_and_writes_nothing(dirty_lab):
    lab = dirty_lab
    before = (etcd_snapshot(lab), node_files(lab))
    proc = run_playbook(HERE / "playbooks" / "node_identity_duplicate.yml", check=False)
    assert proc.returncode != 0
    assert "node-2 is already registered to Calico Node node-2 with IP" in proc.stdout
    assert "Nothing was changed" in proc.stdout
    assert (etcd_snapshot(lab), node_files(lab)) == before


def test_remediation_refuses_to_delete_the_registration_of_a_healthy_host(incident, tmp_path):
    lab, new = incident
    old_ip = lab.get_node("node-1")["ip"]
    before = etcd_snapshot(lab)
    # The operator's `calicoctl delete node node-1`, believing node-1 is the old machine: refused,
    # because the Node is registered with node-4's IP.
    result = run_module("calico_node", {"name": "node-1", "state": "absent", "expected_ipv4_address": old_ip,
                                        "etcd_endpoints": [lab.etcd_endpoint()]})
    assert result.get("failed") and f"registered with IPv4 {new['ip']}, not {old_ip}" in result["msg"]
    # The playbook limited to the healthy holder: nothing to fix there, nothing deleted.
    proc = run_playbook(PLAYBOOK, "--limit", "node-4", "-e", lab_vars(tmp_path, lab))
    assert "node-4: nothing to fix" in proc.stdout
    assert etcd_snapshot(lab) == before
    sessions = lab.bgp_sessions("node-4")
    assert len(sessions) == 2 and all(v.startswith("Established") for v in sessions.values()), sessions
