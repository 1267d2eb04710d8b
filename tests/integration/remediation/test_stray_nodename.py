"""A stray value in one node's nodename file: the remediation writes the name back, and nothing else.

The trial of issue 19: node-3's /var/lib/calico/nodename holds something else
than its name while its hostname, its Calico Node (registered with its IP) and
its Kubernetes node (the lab joins nodes under their hostname, as kubeadm
does; Calico's orchRefs name it) all still say node-3. node-3 carries pods
(address allocations, workload endpoints, its FelixConfiguration) and what an
operator made for it (BGPConfiguration node.node-3, a HostEndpoint): all of it
must stay, byte for byte, with the same etcd revisions.

Run with the lab's inventory and with each example inventory, adapted only in
endpoints and access (tests/integration/existing_cluster/test_scale_out_examples.py).
Datastore snapshots are read with etcdctl, not with the code under test.
"""

import json
import re
import shlex

import pytest

from tests.integration.conftest import ROOT, recap, run_playbook
from tests.integration.existing_cluster.test_scale_out_examples import example_copy, lab_inventory
from tests.integration.remediation.calico_keys import ETCDCTL, etcd_snapshot, node_keys, operator_keys, seed
from tests.integration.remediation.test_fix_nodename_conflict import kube_nodes, lab_vars, node_files

PLAYBOOK = ROOT / "playbooks" / "fix-nodename-conflict.yml"
pytestmark = pytest.mark.skipif(ETCDCTL is None, reason="etcdctl is not installed")
STRAY = "node-x\n"


def calico_node_pid(lab, name):
    """The pid of the node's calico-node stand-in: another pid after a restart."""
    out = lab.node_exec(name, ["cat", "/run/calico/stand-in.json"], check=True).stdout
    return json.loads(out)["pid"]


def what_a_user_sees(lab):
    return etcd_snapshot(lab)[1], node_files(lab), kube_nodes(lab)


@pytest.fixture
def stray(dirty_lab):
    """node-3 with pods, operator-made resources and a stray nodename file."""
    lab = dirty_lab
    ip = lab.get_node("node-3")["ip"]
    seed(lab, {**node_keys("node-3", 141), **operator_keys("node-3", ip)})
    lab.node_exec("node-3", ["sh", "-c", f"printf '{STRAY}' > /var/lib/calico/nodename"], check=True)
    node = json.loads(etcd_snapshot(lab)[1]["/calico/resources/v3/projectcalico.org/nodes/node-3"][2])
    assert node["spec"]["orchRefs"] == [{"nodeName": "node-3", "orchestrator": "k8s"}]
    return lab


def assert_only_the_file_was_written(lab, before, proc):
    kvs, files, kube = before
    assert etcd_snapshot(lab)[1] == kvs  # same keys, values and revisions: no Node, config or endpoint touched
    assert kube_nodes(lab) == kube
    after = node_files(lab)
    assert after["node-3"] == files["node-3"].replace(STRAY, "node-3")
    assert lab.node_exec("node-3", ["cat", "/var/lib/calico/nodename"]).stdout == "node-3"  # no newline
    assert {k: v for k, v in after.items() if k != "node-3"} == {k: v for k, v in files.items() if k != "node-3"}
    counts = recap(proc.stdout)
    assert counts["node-3"]["changed"] == 1 and counts["node-3"]["failed"] == 0, counts
    assert all(counts[h]["changed"] == 0 for h in counts if h != "node-3"), counts
    assert "Drain the Kubernetes node" not in proc.stdout and "Set the hostname" not in proc.stdout


def test_a_stray_nodename_file_is_written_back_and_nothing_else_changes(stray, tmp_path):
    lab = stray
    before = what_a_user_sees(lab)
    pid = calico_node_pid(lab, "node-3")
    extra = lab_vars(tmp_path, lab)

    check = run_playbook(PLAYBOOK, "--check", "--diff", "-e", extra)
    assert what_a_user_sees(lab) == before
    assert ("node-3 (" + lab.get_node("node-3")["ip"] + "): write node-3 back into the nodename file") in check.stdout
    assert "no drain, no rename, nothing deleted" in check.stdout
    assert "+node-3" in check.stdout  # the diff of the file

    proc = run_playbook(PLAYBOOK, "-e", extra)
    assert_only_the_file_was_written(lab, before, proc)
    assert calico_node_pid(lab, "node-3") == pid  # it runs as node-3 already: not restarted
    lab.wait_for_mesh(timeout=30)

    revision = etcd_snapshot(lab)[0]
    again = run_playbook(PLAYBOOK, "-e", extra)
    assert all(r["changed"] == 0 and r["failed"] == 0 for r in recap(again.stdout).values()), again.stdout
    assert etcd_snapshot(lab)[0] == revision


def test_calico_node_is_restarted_only_where_it_does_not_run(stray, tmp_path):
    # calico-node on node-3 is down (it exited): the file is written back and calico-node started again.
    lab = stray
    lab.stop_calico_node("node-3")
    proc = run_playbook(PLAYBOOK, "-e", lab_vars(tmp_path, lab))
    assert "changed: [node-3]" in proc.stdout.split("Restart the calico-node service]", 1)[1].split("TASK [", 1)[0]
    assert "Drain the Kubernetes node" not in proc.stdout
    lab.wait_for_mesh(timeout=30)
    assert lab.node_exec("node-3", ["cat", "/var/lib/calico/nodename"]).stdout == "node-3"
    status = {n["name"]: n for n in lab.status()["nodes"]}
    assert status["node-3"]["calico_node_name"] == "node-3" and status["node-3"]["bgp_established"] == 2


def test_the_printed_fix_runs_as_printed(stray):
    """verify-mesh reports the stray file with the fix that writes it back; the playbook command it prints
    does exactly that, run as printed."""
    lab = stray
    before = what_a_user_sees(lab)
    verify = run_playbook(ROOT / "playbooks" / "verify-mesh.yml", "--skip-tags", "probe", check=False)
    said = ("printf '%s' node-3 > /var/lib/calico/nodename on node-3: its hostname, Calico Node node-3 and "
            "Kubernetes node agree, so only the file is wrong (no drain, no rename, nothing deleted); or run the "
            "remediation, which writes just that file. Run: ")
    assert said in verify.stdout, verify.stdout[-4000:]
    command = re.match(r"ansible-playbook [^\n\"']*", verify.stdout.split(said, 1)[1]).group(0).strip()
    assert command == "ansible-playbook -i inventories/lab calico_fleet.fleet.fix_nodename_conflict --limit node-3"
    proc = run_playbook(*shlex.split(command)[1:])
    assert_only_the_file_was_written(lab, before, proc)


def example_inventory(tmp_path, cloud):
    lab_vars_ = lab_inventory()
    overrides = {"calico_etcd_endpoints": [lab_vars_["lab_etcd_endpoint"]],
                 "calico_etcd_ca_cert": "", "calico_etcd_cert": "", "calico_etcd_key": ""}
    return example_copy(tmp_path, cloud, overrides, lab_vars_)


@pytest.mark.parametrize("cloud", ["gcp", "aws"])
def test_with_the_example_inventory_only_the_file_is_written(stray, tmp_path, cloud):
    lab = stray
    inv = example_inventory(tmp_path, cloud)
    before = what_a_user_sees(lab)
    proc = run_playbook(PLAYBOOK, inventory=inv)
    assert_only_the_file_was_written(lab, before, proc)


@pytest.mark.parametrize("cloud", ["gcp", "aws"])
def test_with_the_example_inventory_a_rename_that_would_part_the_kubernetes_node_is_refused(dirty_lab, tmp_path,
                                                                                           cloud):
    # node-3's hostname was changed by hand; its Calico Node and its Kubernetes node are still node-3.
    lab = dirty_lab
    lab.node_exec("node-3", ["hostname", "worker-three"], check=True)
    inv = example_inventory(tmp_path, cloud)
    before = what_a_user_sees(lab)
    proc = run_playbook(PLAYBOOK, inventory=inv, check=False)
    assert proc.returncode != 0
    assert "Nothing was changed." in proc.stdout
    assert "node-3's Kubernetes node node-3 is named after the host (Calico's orchRefs name it)" in proc.stdout
    assert "kubectl drain node-3 --ignore-daemonsets --delete-emptydir-data; kubectl delete node node-3" in proc.stdout
    assert what_a_user_sees(lab) == before
