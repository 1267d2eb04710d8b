"""playbooks/fix-nodename-conflict.yml on the lab's reproduction of the field-notes incident.

The incident (FIELD-NOTES section 3): a new machine node-4 boots with the
existing hostname node-1 and joins the cluster the kubeasz way (`ezctl
add-node`: Kubernetes node name = its IP); its calico-node names itself from
the hostname, registers Calico Node node-1 with its own IP (last writer
wins) and the established node-1 loses its BGP mesh. node-1 carries pods:
its address allocations and workload endpoints are seeded in etcd.
calico-node runs as a systemd service on lab nodes (`systemctl restart
calico-node`); the machines' creation times come from the Compute API.
Datastore snapshots are read with etcdctl, not with the code under test.
"""

import json
import time

import pytest

from tests.conftest import run_module
from tests.integration.conftest import ROOT, recap, run_playbook
from tests.integration.remediation.calico_keys import ETCDCTL, etcd_snapshot, keys_of, node_keys, seed

PLAYBOOK = ROOT / "playbooks" / "fix-nodename-conflict.yml"
HERE = ROOT / "tests" / "integration" / "remediation"
pytestmark = pytest.mark.skipif(ETCDCTL is None, reason="etcdctl is not installed")
# node-1's address allocations: affine block, handles, affinity, IPAM host key, endpoints, Felix config.
ESTABLISHED_KEYS = node_keys("node-1", 139)


def wait(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def node_files(lab):
    """What a user sees on every node: hostname, /etc/hostname, /etc/hosts, the raw nodename file."""
    script = "hostname; echo ---; cat /etc/hostname; echo ---; cat /etc/hosts; echo ---; cat /var/lib/calico/nodename"
    return {n["name"]: lab.node_exec(n["name"], ["sh", "-c", script]).stdout for n in lab.status()["nodes"]}


def kube_nodes(lab):
    """{Kubernetes node: STATUS} as `kubectl get nodes` prints it on the control plane."""
    out = lab.node_exec("node-1", ["kubectl", "get", "nodes"], check=True).stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}


def task_output(stdout, task):
    """The lines Ansible printed for one task of the role (its status lines)."""
    marker = f"TASK [calico_fleet.fleet.nodename_conflict : {task}]"
    assert marker in stdout, f"{task!r} did not run"
    return stdout.split(marker, 1)[1].split("\nTASK [", 1)[0]


def registered(lab, name):
    node = etcd_snapshot(lab)[1].get(f"/calico/resources/v3/projectcalico.org/nodes/{name}")
    return json.loads(node[2])["spec"]["bgp"]["ipv4Address"].split("/")[0] if node else None


@pytest.fixture
def incident(dirty_lab):
    lab = dirty_lab
    seed(lab, ESTABLISHED_KEYS)  # the established node's pods
    new = lab.add_node("node-4", hostname="node-1")  # a bare machine from the default image
    joined = lab.node_exec("node-1", ["ezctl", "add-node", "k8s-01", new["ip"]], timeout=120)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    wait(lambda: registered(lab, "node-1") == new["ip"], "node-4 to take over Calico Node node-1")
    wait(lambda: not any(v.startswith("Established") for v in lab.bgp_sessions("node-1").values()),
         "old node-1 to lose its BGP peers", timeout=60)
    # The Compute API lists every machine with its creation time (node-4 booted last); the
    # remediation reads it there (the lab inventory, like a cloud's, does not carry it).
    lab.cloud_start()
    yield lab, new
    lab.cloud_stop()


def lab_vars(tmp_path, lab, **extra):
    path = tmp_path / "vars.json"
    datastore = {"datastore": "etcdv3", "etcd_endpoints": [lab.etcd_endpoint()]}
    path.write_text(json.dumps({"calico_fleet_datastore": datastore,
                                "nodename_conflict_restart_method": "systemd",
                                "nodename_conflict_wait_timeout": 60, **extra}))
    return f"@{path}"


def new_name_of(new):
    return "ip-" + new["ip"].replace(".", "-")


def test_check_mode_prints_the_plan_and_writes_nothing(incident, tmp_path):
    lab, new = incident
    old_ip = lab.get_node("node-1")["ip"]
    before = (etcd_snapshot(lab), node_files(lab), kube_nodes(lab))
    proc = run_playbook(PLAYBOOK, "--check", "--diff", "-e", lab_vars(tmp_path, lab))
    assert (etcd_snapshot(lab), node_files(lab), kube_nodes(lab)) == before
    assert (f"node-4 ({new['ip']}): rename node-1 -> {new_name_of(new)} [duplicate_nodename]; "
            "node-1 keeps node-1 (node-1 created first (cloud creation time))") in proc.stdout
    assert "no Calico Node is deleted" in proc.stdout
    assert f"restart calico-node on node-1 so that node-1 is registered with {old_ip} again" in proc.stdout
    assert f"+{new_name_of(new)}" in proc.stdout  # the diff of the nodename file and hostname


def test_real_run_renames_the_newcomer_keeps_the_established_node_and_a_second_run_changes_nothing(
        incident, tmp_path):
    lab, new = incident
    old_ip = lab.get_node("node-1")["ip"]
    new_name = new_name_of(new)
    _rev, kvs = etcd_snapshot(lab)
    established = {k: kvs[k] for k in ESTABLISHED_KEYS}
    assert keys_of(kvs, "node-1") - set(established) == {"/calico/resources/v3/projectcalico.org/nodes/node-1"}
    extra = lab_vars(tmp_path, lab)
    proc = run_playbook(PLAYBOOK, "-e", extra)
    counts = recap(proc.stdout)
    assert counts["node-4"]["changed"] > 0
    assert all(counts[h]["changed"] == 0 for h in ("node-1", "node-2", "node-3")), counts
    assert "changed: [node-4 -> node-1" in task_output(proc.stdout, "Drain the Kubernetes node")

    lab.wait_for_mesh(timeout=30)
    status = lab.status()["nodes"]
    assert all(n["bgp_established"] == 3 for n in status), status
    names = {n["name"]: (n["hostname"], n["calico_node_name"]) for n in status}
    assert names == {"node-1": ("node-1", "node-1"), "node-2": ("node-2", "node-2"),
                     "node-3": ("node-3", "node-3"), "node-4": (new_name, new_name)}
    _rev, kvs = etcd_snapshot(lab)
    assert sorted(k.rsplit("/", 1)[1] for k in kvs if "/nodes/" in k) == sorted(
        ["node-1", "node-2", "node-3", new_name])
    assert registered(lab, "node-1") == old_ip and registered(lab, new_name) == new["ip"]
    # node-1's address allocations, affinities and endpoints were never touched (same revisions, same bytes).
    assert {k: kvs.get(k) for k in established} == established
    assert lab.node_exec("node-4", ["cat", "/var/lib/calico/nodename"]).stdout == new_name  # no newline
    assert "SchedulingDisabled" not in "".join(kube_nodes(lab).values())

    revision = etcd_snapshot(lab)[0]
    again = run_playbook(PLAYBOOK, "-e", extra)
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap(again.stdout).values()), again.stdout
    assert etcd_snapshot(lab)[0] == revision


def test_a_failure_mid_remediation_leaves_no_node_cordoned(incident, tmp_path):
    lab, new = incident
    # The restart on the newcomer fails (the unit is masked), after the drain, the rename and node-1's restart.
    masked = lab.node_exec("node-4", ["systemctl", "mask", "calico-node"])
    assert masked.returncode == 0, masked.stderr
    proc = run_playbook(PLAYBOOK, "-e", lab_vars(tmp_path, lab), check=False)
    assert proc.returncode != 0
    assert "Unable to restart service calico-node" in proc.stdout
    assert "changed: [node-4 -> node-1" in task_output(proc.stdout, "Drain the Kubernetes node")
    assert "changed: [node-4 -> node-1" in task_output(proc.stdout, "Uncordon the Kubernetes node this run cordoned")
    assert "SchedulingDisabled" not in "".join(kube_nodes(lab).values()), kube_nodes(lab)
    # Unmasked, a rerun finishes the job.
    lab.node_exec("node-4", ["systemctl", "unmask", "calico-node"], check=True)
    run_playbook(PLAYBOOK, "-e", lab_vars(tmp_path, lab))
    lab.wait_for_mesh(timeout=30)
    assert registered(lab, new_name_of(new)) == new["ip"]
    assert "SchedulingDisabled" not in "".join(kube_nodes(lab).values())


def test_node_identity_refuses_a_duplicate_and_writes_nothing(dirty_lab):
    lab = dirty_lab
    before = (etcd_snapshot(lab), node_files(lab))
    proc = run_playbook(HERE / "playbooks" / "node_identity_duplicate.yml", check=False)
    assert proc.returncode != 0
    assert "node-2 is already registered to Calico Node node-2 with IP" in proc.stdout
    assert "Nothing was changed" in proc.stdout
    assert (etcd_snapshot(lab), node_files(lab)) == before


def test_remediation_never_deletes_the_name_the_established_host_keeps(incident, tmp_path):
    lab, new = incident
    old_ip = lab.get_node("node-1")["ip"]
    before = etcd_snapshot(lab)
    # The operator's `calicoctl delete node node-1`, believing node-1's registration is the old machine's:
    # refused, because the Node is registered with node-4's IP.
    result = run_module("calico_node", {"name": "node-1", "state": "absent", "expected_ipv4_address": old_ip,
                                        "etcd_endpoints": [lab.etcd_endpoint()]})
    assert result.get("failed") and f"registered with IPv4 {new['ip']}, not {old_ip}" in result["msg"]
    # The playbook limited to the established host: nothing to fix there, nothing deleted.
    proc = run_playbook(PLAYBOOK, "--limit", "node-1", "-e", lab_vars(tmp_path, lab))
    assert "node-1: nothing to fix" in proc.stdout
    assert etcd_snapshot(lab) == before
