"""playbooks/scale-in.yml on the lab: remove two of five nodes.

The cluster grows from the lab's three nodes to five with playbooks/scale-out.yml
through the Compute test server (machines node-4 and node-5, joined with
kubeadm under those names), so that scale-in can delete them through it.
Their pods' Calico keys (addresses, affinities, endpoints, per-node config)
are seeded in etcd. What a run did is read from the lab itself: the Compute
request log and instance list, etcd with etcdctl, `kubectl get nodes` on
node-1, BIRD on the nodes.
"""

import json
import urllib.request

import pytest

from lab import api, config
from tests.integration.conftest import ROOT, recap, run_playbook
from tests.integration.join.conftest import compute_requests, output, scale_out
from tests.integration.remediation.calico_keys import ETCDCTL, etcd_snapshot, keys_of, node_keys, seed

SCALE_IN = ROOT / "playbooks" / "scale-in.yml"
GONE = ("node-4", "node-5")
pytestmark = [pytest.mark.lab, pytest.mark.skipif(ETCDCTL is None, reason="etcdctl is not installed")]


def scale_in_vars(tmp_path, lab, nodes, **extra):
    path = tmp_path / "scale_in.json"
    path.write_text(json.dumps({
        "scale_in_nodes": list(nodes), "scale_in_max_nodes": 2,
        "calico_fleet_datastore": {"datastore": "etcdv3", "etcd_endpoints": [lab.etcd_endpoint()]},
        "node_decommission_cloud": "gcp",
        "node_decommission_gcp_project": lab.COMPUTE_PROJECT,
        "node_decommission_gcp_zones": [lab.COMPUTE_ZONE],
        "node_decommission_gcp_api_endpoint": config.current().compute_url,
        # kubeadm joined the new machines under their planned names, the inventory names.
        "node_decommission_kubernetes_node_name_hostvar": "inventory_hostname",
        **extra}))
    return f"@{path}"


def instances():
    """Names of the instances the Compute test server lists."""
    url = f"{config.current().compute_url}/compute/v1/projects/{api.COMPUTE_PROJECT}/aggregated/instances"
    with urllib.request.urlopen(url, timeout=10) as resp:
        reply = json.load(resp)
    return sorted(i["name"] for scoped in reply.get("items", {}).values() for i in scoped.get("instances", []))


def kube_nodes(lab):
    out = lab.node_exec("node-1", ["kubectl", "get", "nodes"], check=True).stdout
    return {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}


@pytest.fixture
def five_nodes(dirty_lab):
    lab = dirty_lab
    lab.cloud_start()
    proc = scale_out("-e", "scale_out_batch=in-1")
    assert proc.returncode == 0, output(proc)
    lab.wait_for_mesh(timeout=60)
    assert [n["name"] for n in lab.status()["nodes"]] == ["node-1", "node-2", "node-3", "node-4", "node-5"]
    seeded = {name: node_keys(name, octet) for name, octet in (("node-4", 40), ("node-5", 50), ("node-2", 20))}
    for keys in seeded.values():
        seed(lab, keys)
    yield lab, seeded
    lab.cloud_stop()


def test_check_mode_changes_nothing_then_the_real_run_removes_two_of_five(five_nodes, tmp_path):
    lab, seeded = five_nodes
    extra = scale_in_vars(tmp_path, lab, GONE)
    before = etcd_snapshot(lab)
    requests = len(compute_requests())
    proc = run_playbook(SCALE_IN, "--check", "-e", extra)
    assert [r for r in compute_requests()[requests:] if r["method"] != "GET"] == []
    assert etcd_snapshot(lab) == before
    assert "SchedulingDisabled" not in "".join(kube_nodes(lab).values())
    assert set(kube_nodes(lab)) >= set(GONE)
    assert "node-4 (" in proc.stdout and "decommission" in proc.stdout

    proc = run_playbook(SCALE_IN, "-e", extra)
    counts = recap(proc.stdout)
    assert counts["node-4"]["changed"] > 0 and counts["node-5"]["changed"] > 0, counts
    assert all(c["failed"] == 0 for c in counts.values()), counts
    # Machines gone, Kubernetes nodes gone, Calico keys gone; the others untouched.
    assert instances() == ["node-1", "node-2", "node-3"]
    assert sorted(kube_nodes(lab)) == ["node-1", "node-2", "node-3"]
    _rev, kvs = etcd_snapshot(lab)
    for name in GONE:
        assert keys_of(kvs, name) == set(), sorted(keys_of(kvs, name))
        assert not set(seeded[name]) & set(kvs)
    assert {k: before[1][k] for k in seeded["node-2"]} == {k: kvs.get(k) for k in seeded["node-2"]}
    # The mesh of three is healthy and the verification found nothing stale.
    lab.wait_for_mesh(timeout=60)
    status = lab.status()["nodes"]
    assert [n["name"] for n in status] == ["node-1", "node-2", "node-3"]
    assert all(n["bgp_established"] == 2 for n in status), status
    assert "stale" not in proc.stdout.split("Verify the remaining mesh", 1)[-1].lower()


@pytest.mark.parametrize("nodes, max_nodes, reason", [
    (["node-1"], 1, "node-1 is a control-plane host"),
    (["node-2", "node-3"], 1, "at most 1 at once (2 asked"),
])
def test_refusals_change_nothing(dirty_lab, tmp_path, nodes, max_nodes, reason):
    lab = dirty_lab
    before = (etcd_snapshot(lab), kube_nodes(lab), [n["name"] for n in lab.status()["nodes"]])
    proc = run_playbook(SCALE_IN, "-e", scale_in_vars(tmp_path, lab, nodes, scale_in_max_nodes=max_nodes,
                                                      node_decommission_cloud="none"), check=False)
    assert proc.returncode != 0
    assert "Nothing was changed." in proc.stdout and reason in proc.stdout, proc.stdout[-3000:]
    assert (etcd_snapshot(lab), kube_nodes(lab), [n["name"] for n in lab.status()["nodes"]]) == before
