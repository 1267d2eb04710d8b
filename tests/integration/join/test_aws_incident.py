"""The field notes' AWS incident (3) replayed through the AWS API, on the lab.

An earlier scale-out left a joined node `aws-na-k8s-temp1`: here a machine
launched through the lab's EC2 API (Name tag and cloud-init hostname
`aws-na-k8s-temp1`) and joined with the control plane's printed kubeadm
join command, as an operator would. Then:

- a scale-out whose naming scheme would reuse that name (prefix
  `AWS-na-k8s-temp`, no separator, as the incident's tool had it) is refused
  before anything is created: the EC2 instance list and the lab's machines
  are unchanged; the lower-case scheme plans around the existing name;
- forced past the plan (a machine booted by hand through the EC2 API with
  cloud-init hostname `aws-na-k8s-temp1` and joined with kubeadm), mesh
  verification names both hosts and fails.

What happened is read from the lab and the EC2 API, never with the code
under test.
"""

import json
import time

import boto3
import pytest

from lab import api
from tests.integration.conftest import NODES, ROOT
from tests.integration.join.conftest import output, scale_out
from tests.integration.verify.conftest import run_json

pytestmark = pytest.mark.lab
EXISTING = "aws-na-k8s-temp1"
VERIFY_MESH = ROOT / "playbooks" / "verify-mesh.yml"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def ec2_client(info):
    return boto3.client("ec2", endpoint_url=info["endpoint"], region_name=info["region"],
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def instances(ec2):
    """{instance id: (Name tag, state)} of every instance the EC2 API lists."""
    found = {}
    for reservation in ec2.describe_instances()["Reservations"]:
        for inst in reservation["Instances"]:
            name = next((t["Value"] for t in inst.get("Tags", []) if t["Key"] == "Name"), None)
            found[inst["InstanceId"]] = (name, inst["State"]["Name"])
    return found


def boot_by_hand(ec2, info, name_tag, hostname, timeout=120):
    """run_instances as an operator types it; the lab node booted for it, once running."""
    reply = ec2.run_instances(
        ImageId=info["amis"]["lab-k8s-node"], MinCount=1, MaxCount=1, InstanceType="t3.medium",
        KeyName=info["key_name"], SubnetId=info["subnet_id"], SecurityGroupIds=[info["security_group_id"]],
        UserData=f"#cloud-config\npreserve_hostname: false\nhostname: {hostname}\n",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name_tag}]}])
    instance_id = reply["Instances"][0]["InstanceId"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inst = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        state = inst["State"]["Name"]
        assert state in ("pending", "running"), inst.get("StateReason")
        if state == "running":
            ip = inst["PrivateIpAddress"]
            return next(n for n in api.status()["nodes"] if n["ip"] == ip)
        time.sleep(0.5)
    raise AssertionError(f"{instance_id} ({name_tag}) not running after {timeout} s")


def kubeadm_join(node, timeout=60):
    """The control plane's printed join command, run on the node as printed (no --node-name)."""
    command = api.node_exec("node-1", ["kubeadm", "token", "create", "--print-join-command"]).stdout.split()
    assert command[:2] == ["kubeadm", "join"], command
    api.node_exec(node["name"], command)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = next(n for n in api.status()["nodes"] if n["name"] == node["name"])
        if now["calico_node_running"] and now["bgp_established"]:
            return now
        time.sleep(1)
    raise AssertionError(f"calico-node on {node['name']} did not come up after the join: {now}")


@pytest.fixture(scope="module")
def incident(lab_session):
    """The 3-node lab, its EC2 API, and a joined `aws-na-k8s-temp1` launched through it; rebuilt afterwards."""
    info = lab_session.aws_start()
    ec2 = ec2_client(info)
    existing = kubeadm_join(boot_by_hand(ec2, info, EXISTING, EXISTING))
    assert existing["calico_node_name"] == EXISTING
    yield info, ec2, existing
    lab_session.down()
    lab_session.up(NODES)


def aws_vars(info, **extra):
    """Scale-out on the lab's EC2 API, as the scale-out-aws scenario runs it."""
    return json.dumps({
        "fleet_cloud": "aws", "scale_out_count": 3, "scale_out_batch": "incident-1", "mesh_verify_cloud": "aws",
        "node_names_cloud": "aws", "node_names_domain": "ec2.internal", "node_names_aws_region": info["region"],
        "node_names_aws_vpc_id": info["vpc_id"], "node_names_aws_endpoint_url": info["endpoint"],
        "aws_network_region": info["region"], "aws_network_vpc_id": info["vpc_id"],
        "aws_network_vpc_cidr": info["vpc_cidr"], "aws_network_endpoint_url": info["endpoint"],
        "aws_nodes_region": info["region"], "aws_nodes_subnet_id": info["subnet_id"],
        "aws_nodes_image_id": info["amis"]["lab-k8s-node"], "aws_nodes_key_name": info["key_name"],
        "aws_nodes_cluster_name": "calico-fleet-lab", "aws_nodes_endpoint_url": info["endpoint"], **extra})


def test_a_scheme_reusing_the_name_is_refused_with_nothing_launched(incident):
    info, ec2, _existing = incident
    before, lab_before = instances(ec2), [n["name"] for n in api.status()["nodes"]]
    proc = scale_out("-e", aws_vars(info, node_names_prefix="AWS-na-k8s-temp", node_names_separator=""),
                     env=CREDENTIALS)
    assert proc.returncode != 0, output(proc)
    assert "'AWS-na-k8s-temp1' and 'aws-na-k8s-temp1' would be the same node" in proc.stdout, output(proc)
    assert "use lower case: 'aws-na-k8s-temp'" in proc.stdout, output(proc)
    assert instances(ec2) == before
    assert [n["name"] for n in api.status()["nodes"]] == lab_before

    # The fix the message gives plans around the existing name, and it is only a plan.
    proc = scale_out("--tags", "plan", "-e", aws_vars(info, node_names_prefix="aws-na-k8s-temp",
                                                      node_names_separator=""), env=CREDENTIALS)
    assert proc.returncode == 0, output(proc)
    for index in (2, 3, 4):
        assert f"aws-na-k8s-temp{index} (hostname aws-na-k8s-temp{index}.ec2.internal)" in proc.stdout
    assert "aws-na-k8s-temp1 (hostname" not in proc.stdout
    assert instances(ec2) == before


def test_b_forced_past_the_plan_verification_names_both_hosts(incident):
    info, ec2, existing = incident
    # The incident's tool, by hand: Name AWS-na-k8s-temp1, the hostname the existing node has.
    newcomer = kubeadm_join(boot_by_hand(ec2, info, "AWS-na-k8s-temp1", EXISTING))
    assert newcomer["hostname"] == EXISTING and newcomer["name"] != existing["name"]

    rc, out = run_json(VERIFY_MESH, "-e", "mesh_verify_wait_timeout=5")
    assert rc != 0
    results = [res for play in out["plays"] for task in play["tasks"] for res in task["hosts"].values()
               if {"healthy", "findings", "matrix"} <= set(res)]
    assert len(results) == 1 and results[0]["healthy"] is False
    both = {existing["name"], newcomer["name"]}
    named = [f for f in results[0]["findings"]
             if f["kind"] in ("duplicate_nodename", "unregistered_host") and f["node"] == EXISTING]
    assert named, results[0]["findings"]
    assert both <= {h for f in named for h in f["hosts"]}, named
