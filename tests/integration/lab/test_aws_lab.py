"""The AWS test server wired to the lab (`lab aws start`): boto3 sees the lab's
nodes as instances, a launched instance boots a lab machine, a terminated one
is gone, and security group rules are the VPC firewall."""

import inspect
import pathlib
import subprocess
import time

import pytest

from lab import aws_lab, config
from lab.moto_server import ec2_client
from lab.sh import LabError

RAW = pathlib.Path(__file__).parent / "raw_ipip.py"
pytestmark = pytest.mark.lab
# what roles/aws_nodes sends for a fully qualified planned hostname
CLOUD_INIT = (
    "#cloud-config\npreserve_hostname: false\nhostname: {short}\nfqdn: {fqdn}\nprefer_fqdn_over_hostname: true\n"
)


@pytest.fixture(scope="module")
def aws(lab_session):
    lab = lab_session
    before = {n["name"] for n in lab.status()["nodes"]}
    rules = lab.get_firewall()
    info = lab.aws_start()
    try:
        yield lab, info, ec2_client(info["endpoint"], info["region"])
    finally:
        lab.aws_stop()
        for n in lab.status()["nodes"]:
            if n["name"] not in before:
                lab.remove_node(n["name"])
    # While it ran, the security groups were the firewall; stopping puts the lab's rules back.
    assert lab.get_firewall() == rules


def wait(predicate, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def describe(client, iid):
    return client.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


def lab_nodes(lab):
    return {n["name"]: n for n in lab.status()["nodes"]}


def test_lab_nodes_are_listed_as_instances(aws):
    lab, info, client = aws
    filters = [{"Name": "vpc-id", "Values": [info["vpc_id"]]}]
    instances = [i for r in client.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]
    listed = {next(t["Value"] for t in i["Tags"] if t["Key"] == "Name"): i for i in instances}
    nodes = lab_nodes(lab)
    assert set(listed) == set(nodes)
    for name, inst in listed.items():
        assert inst["PrivateIpAddress"] == nodes[name]["ip"]
        assert inst["State"]["Name"] == "running"
        assert inst["ImageId"] == info["amis"]["lab-k8s-node"]
        assert [g["GroupId"] for g in inst["SecurityGroups"]] == [info["security_group_id"]]
    [vpc] = client.describe_vpcs(VpcIds=[info["vpc_id"]])["Vpcs"]
    assert vpc["CidrBlock"] == info["vpc_cidr"] == str(lab.status()["vpc"]["range"])
    names = {i["Name"] for i in client.describe_images(ImageIds=list(info["amis"].values()))["Images"]}
    assert names == {"lab-k8s-node", "lab-bare"}


def test_launched_instance_boots_a_lab_machine_and_terminate_removes_it(aws):
    lab, info, client = aws
    user_data = CLOUD_INIT.format(short="aws-na-k8s-temp7", fqdn="aws-na-k8s-temp7.lab.internal")
    inst = client.run_instances(
        ImageId=info["amis"]["lab-bare"], MinCount=1, MaxCount=1, InstanceType="t3.medium", KeyName=info["key_name"],
        SubnetId=info["subnet_id"], SecurityGroupIds=[info["security_group_id"]], UserData=user_data,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "temp7"},
                                                                  {"Key": "role", "Value": "worker"}]}],
    )["Instances"][0]
    iid, ip = inst["InstanceId"], inst["PrivateIpAddress"]
    assert inst["State"]["Name"] == "pending"
    wait(lambda: describe(client, iid)["State"]["Name"] == "running", what=f"{iid} running")
    node = lab.get_node("temp7")
    assert node["ip"] == ip and node["hostname"] == "aws-na-k8s-temp7.lab.internal"
    assert "role=worker" in node["tags"]
    ssh = ["ssh", "-i", lab.status()["nodes"][0]["ssh"]["key"], "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
           f"root@{ip}", "hostname"]
    proc = subprocess.run(ssh, capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout.strip()) == (0, "aws-na-k8s-temp7.lab.internal"), proc.stderr
    if {"joined", "image"} <= set(inspect.signature(lab.add_node).parameters):
        assert not lab.status()["nodes"][-1]["calico_node_running"]  # a bare machine, not joined
        assert lab.node_exec("temp7", ["sh", "-c", "command -v kubeadm"]).returncode != 0  # AMI lab-bare
    client.terminate_instances(InstanceIds=[iid])
    wait(lambda: "temp7" not in lab_nodes(lab), what="the lab node of a terminated instance to go")


def test_shell_user_data_sets_the_hostname_and_the_node_ami_has_kubeadm(aws):
    lab, info, client = aws
    inst = client.run_instances(
        ImageId=info["amis"]["lab-k8s-node"], MinCount=1, MaxCount=1, SubnetId=info["subnet_id"],
        SecurityGroupIds=[info["security_group_id"]], UserData="#!/bin/sh\nhostnamectl set-hostname k8s-extra-1\n",
    )["Instances"][0]
    iid = inst["InstanceId"]
    try:
        wait(lambda: describe(client, iid)["State"]["Name"] == "running", what=f"{iid} running")
        # No Name tag: the lab node is named after the instance.
        assert lab.node_exec(iid, ["hostname"]).stdout.strip() == "k8s-extra-1"
        if {"joined", "image"} <= set(inspect.signature(lab.add_node).parameters):
            assert lab.node_exec(iid, ["sh", "-c", "command -v kubeadm"]).returncode == 0
    finally:
        client.terminate_instances(InstanceIds=[iid])
    wait(lambda: iid not in lab_nodes(lab), what="the lab node of a terminated instance to go")


def test_unknown_ami_is_refused_with_a_reason(aws):
    lab, info, client = aws
    other = client.register_image(Name="someone-elses-image", RootDeviceName="/dev/sda1")["ImageId"]
    iid = client.run_instances(ImageId=other, MinCount=1, MaxCount=1, SubnetId=info["subnet_id"])["Instances"][0][
        "InstanceId"]
    inst = wait(lambda: (i := describe(client, iid))["State"]["Name"] == "terminated" and i, what=f"{iid} refused")
    assert "has no lab image" in inst["StateReason"]["Message"]


def ipip_passes(lab, src, dst):
    dst_ip = lab.get_node(dst)["ip"]
    listener = subprocess.Popen(lab.node_argv(dst, ["python3", str(RAW), "listen", "1.5"]), stdout=subprocess.PIPE,
                                text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        lab.node_exec(src, ["python3", str(RAW), "send", dst_ip], check=True)
        out, _ = listener.communicate(timeout=10)
    finally:
        listener.kill()
        listener.wait(timeout=10)
    return lab.get_node(src)["ip"] in out.split()


def test_ipip_passes_only_once_the_security_group_allows_protocol_4(aws):
    lab, info, client = aws
    assert not ipip_passes(lab, "node-1", "node-2")
    ipip = [{"IpProtocol": "4", "IpRanges": [{"CidrIp": info["vpc_cidr"]}]}]
    client.authorize_security_group_ingress(GroupId=info["security_group_id"], IpPermissions=ipip)
    try:
        wait(lambda: any(r["allowed"] == [{"IPProtocol": "ipip"}] for r in lab.get_firewall()), what="an IPIP rule")
        assert ipip_passes(lab, "node-1", "node-2")
        assert ipip_passes(lab, "node-2", "node-1")
    finally:
        client.revoke_security_group_ingress(GroupId=info["security_group_id"], IpPermissions=ipip)
    wait(lambda: not any(r["allowed"] == [{"IPProtocol": "ipip"}] for r in lab.get_firewall()), what="no IPIP rule")
    assert not ipip_passes(lab, "node-1", "node-2")


def test_compute_server_is_refused_while_the_aws_server_runs(aws):
    lab, _, _ = aws
    with pytest.raises(LabError, match="lab aws stop"):
        lab.cloud_start()
    assert lab.aws_info()["endpoint"] == aws_lab.endpoint(config.current())
