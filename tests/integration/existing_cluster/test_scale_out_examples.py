"""scale_out.yml end to end on the lab, with the example inventories' own files.

Each example directory is copied to a temporary directory and only endpoints,
addresses and access are changed: the cloud API endpoint and project/VPC ids,
the etcd endpoint (plain HTTP in the lab, so no TLS files), the control-plane
host, how SSH reaches the lab's nodes (root with the lab key, no bastion), and
on GCP the firewall rules' target tags (the lab's existing nodes have no
network tag for the example's `gcp_node_tag` to name).
Everything else (the datastore inventory source, the pools, the MTU, the
join method) is the example's.

Bad inputs: each is refused in the first play, with nothing created (the
Compute request log has no write, the etcd revision and the instance list are
unchanged).
"""

import json
import os
import shutil
import subprocess
import urllib.request
import uuid

import pytest
import yaml

from lab import config
from tests.integration.conftest import ROOT, ansible_env

pytestmark = pytest.mark.lab
SCALE_OUT = ROOT / "playbooks" / "scale_out.yml"
EXAMPLES = ROOT / "inventories"


def _load(path):
    return yaml.safe_load(path.read_text())


def _dump(path, data):
    path.write_text("---\n" + yaml.safe_dump(data, sort_keys=False))


def example_copy(tmp_path, cloud, overrides, lab_vars, source_overrides=None):
    """inventories/<cloud>-example in tmp_path, endpoints and addresses pointed at the lab.

    source_overrides: the inventory source's cloud and Kubernetes endpoints and credentials; without
    them those two sources are left out (the Calico Nodes only, as before they existed)."""
    inv = tmp_path / f"{cloud}-example"
    shutil.copytree(EXAMPLES / f"{cloud}-example", inv)
    all_vars = _load(inv / "group_vars" / "all.yml")
    for key in overrides:
        assert key in all_vars or key.endswith(("_api_endpoint", "_endpoint_url")), f"{key} is not in the example"
    all_vars.update(overrides)
    _dump(inv / "group_vars" / "all.yml", all_vars)

    source = _load(inv / "cluster.calico_nodes.yml")
    source["etcd_endpoints"] = [lab_vars["lab_etcd_endpoint"]]
    for key in ("etcd_ca_cert", "etcd_cert", "etcd_key"):
        source.pop(key)
    if source_overrides is None:
        for key in ("cloud", "project", "gcp_labels", "gcp_zones", "region", "aws_tags", "kubernetes_nodes",
                    "kubeconfig"):
            source.pop(key, None)
    else:
        source.update(source_overrides)
    _dump(inv / "cluster.calico_nodes.yml", source)

    hosts = _load(inv / "hosts.yml")
    control = hosts["all"]["children"]["fleet_nodes"]["children"]["kube_control_plane"]
    plane = lab_vars["lab_kubeasz_deploy_host"]
    control["hosts"] = {plane: {"ansible_host": lab_vars["hostvars"][plane]["ansible_host"]}}
    _dump(inv / "hosts.yml", hosts)

    access = _load(inv / "group_vars" / "fleet_nodes.yml")
    access.update(ansible_user="root", ansible_become=False,
                  ansible_ssh_private_key_file=lab_vars["ansible_ssh_private_key_file"],
                  ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                          "-o LogLevel=ERROR")
    _dump(inv / "group_vars" / "fleet_nodes.yml", access)
    return inv


def lab_inventory():
    data = json.loads(config.current().inventory_file.read_text())
    return {**data["all"]["vars"], "hostvars": data["_meta"]["hostvars"]}


def common_overrides(lab_vars):
    tls = {"calico_etcd_ca_cert": "", "calico_etcd_cert": "", "calico_etcd_key": ""}
    return {"calico_etcd_endpoints": [lab_vars["lab_etcd_endpoint"]], **tls,
            "scale_out_count": 2, "scale_out_batch": f"ex-{uuid.uuid4().hex[:6]}"}


def scale_out(inv, *args, env=None, timeout=1200):
    run_env = ansible_env()
    run_env.update(env or {})
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inv), str(SCALE_OUT), *args]
    return subprocess.run(cmd, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=timeout)


def output(proc):
    return f"{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"


def etcd_revision(endpoint):
    req = urllib.request.Request(f"{endpoint}/v3/kv/range", data=json.dumps({"key": "AA=="}).encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return int(json.load(resp)["header"]["revision"])


def compute_writes():
    url = f"http://127.0.0.1:{18700 + config.current().slot}/_test/log"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return [r for r in json.load(resp)["requests"] if r["method"] != "GET"]


def _gcp_example(the_lab, tmp_path):
    the_lab.cloud_start()
    lab_vars = lab_inventory()
    endpoint = f"http://127.0.0.1:{18700 + config.current().slot}"
    overrides = {**common_overrides(lab_vars), "gcp_project": "calico-fleet-lab", "gcp_zone": "europe-west1-b",
                 "gcp_vpc_range": lab_vars["lab_vpc_range"], "gcp_network_api_endpoint": endpoint,
                 # The example's gcp_node_tag is the existing nodes' network tag; the lab's existing
                 # nodes carry none, so the rules target every instance of the network (as on the lab).
                 "gcp_network_target_tags": [],
                 "gcp_nodes_api_endpoint": endpoint, "node_names_gcp_api_endpoint": endpoint}
    return example_copy(tmp_path, "gcp", overrides, lab_vars), lab_vars


@pytest.fixture
def gcp_example(dirty_lab, tmp_path):
    """The GCP example on the lab; the scale-out adds machines, so the lab is rebuilt afterwards."""
    yield _gcp_example(dirty_lab, tmp_path)
    dirty_lab.cloud_stop()


@pytest.fixture
def gcp_example_read_only(lab, tmp_path):
    """The GCP example on the shared lab, for runs that must not change it."""
    yield _gcp_example(lab, tmp_path)
    lab.cloud_stop()


@pytest.fixture
def aws_example(dirty_lab, tmp_path):
    info = dirty_lab.aws_start()
    lab_vars = lab_inventory()
    endpoint = info["endpoint"]
    overrides = {**common_overrides(lab_vars), "aws_region": info["region"], "aws_vpc_id": info["vpc_id"],
                 "aws_vpc_cidr": info["vpc_cidr"], "aws_subnet_id": info["subnet_id"],
                 "aws_cluster_security_groups": [info["security_group_name"]],
                 "aws_nodes_image_id": info["amis"]["lab-k8s-node"], "aws_nodes_key_name": info["key_name"],
                 "aws_network_endpoint_url": endpoint, "aws_nodes_endpoint_url": endpoint,
                 "node_names_aws_endpoint_url": endpoint}
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": info["region"]}
    yield example_copy(tmp_path, "aws", overrides, lab_vars), lab_vars, info, env
    dirty_lab.aws_stop()


def test_datastore_inventory_lists_every_lab_node(gcp_example_read_only):
    inv, lab_vars = gcp_example_read_only
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(inv), "--list"],
                          cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert sorted(listing["calico_nodes"]["hosts"]) == sorted(lab_vars["hostvars"])
    for name, host in lab_vars["hostvars"].items():
        address = listing["_meta"]["hostvars"][name]["ansible_host"]
        assert (address.get("__ansible_unsafe") if isinstance(address, dict) else address) == host["ansible_host"]


def test_gcp_example_scales_out_end_to_end(gcp_example, lab):
    inv, lab_vars = gcp_example
    proc = scale_out(inv)
    assert proc.returncode == 0, output(proc)
    names = [n["name"] for n in lab.status()["nodes"]]
    assert len(names) == len(lab_vars["hostvars"]) + 2


def test_aws_example_scales_out_end_to_end_and_keeps_crosssubnet(aws_example, lab):
    inv, lab_vars, info, env = aws_example
    proc = scale_out(inv, env=env)
    assert proc.returncode == 0, output(proc)
    assert len(lab.status()["nodes"]) == len(lab_vars["hostvars"]) + 2
    pools = subprocess.run(
        ["etcdctl", "--endpoints", lab_vars["lab_etcd_endpoint"], "get",
         "/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool", "--print-value-only"],
        capture_output=True, text=True, timeout=20, check=True, env={**os.environ, "ETCDCTL_API": "3"})
    assert json.loads(pools.stdout)["spec"]["ipipMode"] == "CrossSubnet"


@pytest.mark.parametrize("pool, words", [
    ({"cidr": "172.20.0.0/33"}, "not a network"),
    ({"cidr": "VPC"}, "overlaps the nodes' range"),
    ({"block_size": 33}, "use 20..32"),
    ({"ipip_mode": "sometimes"}, "Always, CrossSubnet, Never"),
])
def test_bad_input_is_refused_with_nothing_created(gcp_example_read_only, lab, pool, words):
    inv, lab_vars = gcp_example_read_only
    spec = {"name": "batch-pool", "cidr": "172.21.0.0/16", **pool}
    if spec["cidr"] == "VPC":
        spec["cidr"] = lab_vars["lab_vpc_range"]
    nodes = [n["name"] for n in lab.status()["nodes"]]
    revision = etcd_revision(lab_vars["lab_etcd_endpoint"])
    writes = len(compute_writes())
    proc = scale_out(inv, "-e", json.dumps({"calico_network_ippools": [spec]}))
    assert proc.returncode != 0
    assert words in proc.stdout and "calico_network_ippools[0] (batch-pool)" in proc.stdout, output(proc)
    assert "PLAY [Plan unique names" not in proc.stdout
    assert len(compute_writes()) == writes
    assert etcd_revision(lab_vars["lab_etcd_endpoint"]) == revision
    assert [n["name"] for n in lab.status()["nodes"]] == nodes
