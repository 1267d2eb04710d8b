"""The seed incident through the Compute API, with the GCP example inventory: every machine is seen.

The lab's existing nodes are instances of the Compute test server; the user
labels them `cluster=k8s-prod` once (instances.setLabels, as `gcloud compute
instances add-labels` does) and copies the cluster's admin kubeconfig to the
controller. Then a second machine is created through the Compute API with
the hostname of an existing worker (node-2) and joined the kubeasz way (`ezctl
add-node`: Kubernetes node name = its IP): its calico-node takes over Calico
Node node-2, and the displaced machine keeps its Kubernetes Node but loses
every BGP session.

With inventories/gcp-example (adapted only in endpoints and credentials),
the displaced machine is a host of the inventory, so verification fails
naming both machines, the drift check exits 2, and the remediation repairs
it: afterwards verification is healthy. What happened is read from the lab,
the Compute API and etcd, never with the code under test.
"""

import json
import subprocess
import urllib.request

import pytest

from lab import config
from tests.integration.conftest import ROOT, ansible_env
from tests.integration.drift.conftest import drift_check
from tests.integration.existing_cluster.test_scale_out_examples import (
    common_overrides,
    example_copy,
    lab_inventory,
    output,
)
from tests.integration.verify.conftest import wait

pytestmark = pytest.mark.lab
PROJECT, ZONE = "calico-fleet-lab", "europe-west1-b"
INSTANCES = f"/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances"
LABELS = {"cluster": "k8s-prod"}


def compute(method, path, body=None):
    url = f"http://127.0.0.1:{18700 + config.current().slot}{path}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def wait_operation(op):
    compute("POST", f"/compute/v1/projects/{PROJECT}/zones/{ZONE}/operations/{op['name']}/wait")


def label_every_instance():
    """The user's one-time step: gcloud compute instances add-labels <each> --labels=cluster=k8s-prod."""
    for inst in compute("GET", INSTANCES)["items"]:
        wait_operation(compute("POST", f"{INSTANCES}/{inst['name']}/setLabels",
                               {"labels": {**inst.get("labels", {}), **LABELS},
                                "labelFingerprint": inst["labelFingerprint"]}))


def registered_ip(lab_vars, name):
    proc = subprocess.run(["etcdctl", "--endpoints", lab_vars["lab_etcd_endpoint"], "get",
                           f"/calico/resources/v3/projectcalico.org/nodes/{name}", "--print-value-only"],
                          capture_output=True, text=True, timeout=20, env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    return json.loads(proc.stdout)["spec"]["bgp"]["ipv4Address"].split("/")[0] if proc.stdout.strip() else None


def run(inv, playbook, *args, timeout=900):
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inv), str(ROOT / "playbooks" / playbook),
           *args]
    return subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=timeout)


def listing(inv):
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(inv), "--list"],
                          cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = json.dumps(json.loads(proc.stdout))
    # ansible-inventory marks inventory-source values unsafe: {"__ansible_unsafe": value}
    return json.loads(text, object_hook=lambda d: d["__ansible_unsafe"] if set(d) == {"__ansible_unsafe"} else d)


@pytest.fixture
def example(dirty_lab, tmp_path):
    """The labelled lab cluster, its network rules in place, and the GCP example pointed at it."""
    lab = dirty_lab
    lab.cloud_start()
    label_every_instance()
    lab_vars = lab_inventory()
    plane = lab_vars["lab_kubeasz_deploy_host"]
    kubeconfig = tmp_path / "kubeconfig"  # scp master-1:.kube/config
    kubeconfig.write_text(lab.node_exec(plane, ["cat", "/root/.kube/config"], check=True).stdout)
    endpoint = f"http://127.0.0.1:{18700 + config.current().slot}"
    overrides = {**common_overrides(lab_vars), "gcp_project": PROJECT, "gcp_zone": ZONE,
                 "gcp_vpc_range": lab_vars["lab_vpc_range"], "gcp_network_api_endpoint": endpoint,
                 "gcp_network_target_tags": [], "gcp_nodes_api_endpoint": endpoint,
                 "node_names_gcp_api_endpoint": endpoint,
                 # The newcomer joined the kubeasz way (its Kubernetes node is its IP), the others under their
                 # names: the inventory's Kubernetes source holds each host's real Kubernetes node name.
                 "nodename_conflict_kubernetes_node_name_hostvar": "calico_fleet_kubernetes_node",
                 # The lab runs calico-node as a service, not as pods (as tests/integration/remediation).
                 "nodename_conflict_restart_method": "systemd"}
    source = {"project": PROJECT, "api_endpoint": endpoint, "kubeconfig": str(kubeconfig)}
    inv = example_copy(tmp_path, "gcp", overrides, lab_vars, source_overrides=source)
    # The cluster's network as the example's scale-out keeps it (IPIP and BGP rules).
    proc = run(inv, "scale_out.yml", "--tags", "network")
    assert proc.returncode == 0, output(proc)
    yield lab, inv, lab_vars
    lab.cloud_stop()


def test_every_labelled_machine_is_a_host_with_its_cloud_and_kubernetes_identity(example):
    lab, inv, lab_vars = example
    found = listing(inv)
    hostvars = found["_meta"]["hostvars"]
    instances = {i["networkInterfaces"][0]["networkIP"]: i for i in compute("GET", INSTANCES)["items"]}
    for name, node in lab_vars["hostvars"].items():
        host = hostvars[name]
        inst = instances[node["ansible_host"]]
        assert host["calico_fleet_instance_id"] == inst["id"] and host["calico_fleet_zone"] == ZONE
        assert host["calico_fleet_created"] == inst["creationTimestamp"]
        assert host["calico_fleet_calico_node"] == name and host["calico_fleet_kubernetes_node"]
        assert "creation_timestamp" not in node  # the lab's own inventory hands out no creation time
    assert sorted(found["calico_nodes"]["hosts"]) == sorted(lab_vars["hostvars"])


def test_the_seed_incident_is_found_by_verify_drift_check_and_remediation_which_repairs_it(example, tmp_path):
    lab, inv, lab_vars = example
    old_ip = lab_vars["hostvars"]["node-2"]["ansible_host"]
    # A second machine with the hostname of node-2, through the Compute API, labelled like the cluster.
    body = {"name": "node-4", "hostname": f"node-2.{ZONE}.c.{PROJECT}.internal", "labels": LABELS,
            "machineType": f"zones/{ZONE}/machineTypes/e2-standard-2",
            "disks": [{"boot": True, "autoDelete": True,
                       "initializeParams": {"sourceImage": "projects/debian-cloud/global/images/family/debian-12"}}],
            "networkInterfaces": [{"network": "global/networks/default"}]}
    wait_operation(compute("POST", INSTANCES, body))
    new = compute("GET", f"{INSTANCES}/node-4")
    new_ip = new["networkInterfaces"][0]["networkIP"]
    joined = lab.node_exec(lab_vars["lab_kubeasz_deploy_host"],
                           ["ezctl", "add-node", lab_vars["lab_kubeasz_cluster"], new_ip], timeout=120)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    wait(lambda: registered_ip(lab_vars, "node-2") == new_ip, "node-4 to take over Calico Node node-2")
    wait(lambda: not any(v.startswith("Established") for v in lab.bgp_sessions("node-2").values()),
         "the displaced node-2 to lose its BGP sessions")

    # The inventory lists both machines: Calico's node-2 is the newcomer, the displaced one has its own name.
    old = next(i for i in compute("GET", INSTANCES)["items"] if i["name"] == "node-2")
    displaced = f"node-2-{old['id']}"
    hostvars = listing(inv)["_meta"]["hostvars"]
    assert hostvars["node-2"]["ansible_host"] == new_ip
    assert hostvars["node-2"]["calico_fleet_instance_name"] == "node-4"
    assert hostvars[displaced]["ansible_host"] == old_ip
    assert hostvars[displaced]["calico_fleet_calico_node"] is None
    assert hostvars[displaced]["calico_fleet_kubernetes_node"]  # still a Kubernetes Node

    proc = run(inv, "verify_mesh.yml", "--skip-tags", "probe", "-e", "mesh_verify_wait_timeout=5")
    assert proc.returncode != 0, output(proc)
    assert "duplicate_nodename" in proc.stdout and displaced in proc.stdout and "Healthy" not in proc.stdout, \
        output(proc)

    report = drift_check(lab, tmp_path, "-i", str(inv))
    assert report.rc == 2, report
    names = [i for i in report.report["items"] if i["section"] == "names"]
    assert any(i["kind"] == "duplicate_nodename" and displaced in i["hosts"] for i in names), names

    proc = run(inv, "fix_nodename_conflict.yml")
    assert proc.returncode == 0, output(proc)
    wait(lambda: registered_ip(lab_vars, "node-2") == old_ip, "node-2 to be registered by its own machine again")
    proc = run(inv, "verify_mesh.yml", "-e", "mesh_verify_wait_timeout=60")
    assert proc.returncode == 0, output(proc)
    assert "Healthy: 4 nodes" in proc.stdout, output(proc)
