"""The local EC2 API and its fix for port-less protocols (lab/moto_server.py).

Each test talks to a real moto server process over HTTP with boto3; the
credentials are dummies (moto accepts any).
"""

import pathlib
import subprocess
import sys
import time

import pytest
from botocore.parsers import ResponseParserError

from lab.moto_server import REPO, MotoServer, create_vpc_and_subnet, ec2_client

IPIP_FROM_VPC = {"IpProtocol": "4", "IpRanges": [{"CidrIp": "198.18.0.0/20"}]}


@pytest.fixture(scope="module")
def unpatched():
    with MotoServer(patched=False) as server:
        yield server


@pytest.fixture(scope="module")
def patched():
    with MotoServer() as server:
        yield server


def new_group(endpoint):
    net = create_vpc_and_subnet(endpoint)
    client = ec2_client(endpoint)
    group_id = client.create_security_group(GroupName="nodes", Description="nodes", VpcId=net["vpc_id"])["GroupId"]
    return client, group_id


def wait_for_log(server, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.log_text():
            return True
        time.sleep(0.1)
    return False


def ingress(client, group_id):
    return client.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["IpPermissions"]


def test_unpatched_moto_answers_500_to_protocol_4_without_ports(unpatched):
    client, group_id = new_group(unpatched.endpoint)
    with pytest.raises(ResponseParserError, match="500 Internal Server Error"):
        client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[IPIP_FROM_VPC])
    # moto logs the traceback after it has answered: give it a moment.
    assert wait_for_log(unpatched, "TypeError: int() argument must be a string")
    assert ingress(client, group_id) == []


def test_patched_moto_stores_protocol_4_without_ports_like_aws(patched):
    client, group_id = new_group(patched.endpoint)
    client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[IPIP_FROM_VPC])
    [rule] = ingress(client, group_id)
    assert rule["IpProtocol"] == "4"
    assert rule["IpRanges"] == [{"CidrIp": "198.18.0.0/20"}]
    assert "FromPort" not in rule and "ToPort" not in rule


def test_patched_moto_revokes_protocol_4_without_ports(patched):
    client, group_id = new_group(patched.endpoint)
    client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[IPIP_FROM_VPC])
    client.revoke_security_group_ingress(GroupId=group_id, IpPermissions=[IPIP_FROM_VPC])
    assert ingress(client, group_id) == []


def test_patched_moto_refuses_the_same_rule_twice(patched):
    client, group_id = new_group(patched.endpoint)
    client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[IPIP_FROM_VPC])
    with pytest.raises(client.exceptions.ClientError, match="InvalidPermission.Duplicate"):
        client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[IPIP_FROM_VPC])


def test_patch_leaves_port_rules_alone(patched):
    client, group_id = new_group(patched.endpoint)
    bgp = {"IpProtocol": "tcp", "FromPort": 179, "ToPort": 179, "UserIdGroupPairs": [{"GroupId": group_id}]}
    client.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[bgp])
    [rule] = ingress(client, group_id)
    assert (rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) == ("tcp", 179, 179)


def test_server_listens_on_loopback_and_stops():
    server = MotoServer().start()
    try:
        assert server.endpoint.startswith("http://127.0.0.1:")
        assert server.process.poll() is None
    finally:
        server.stop()
    assert server.process.returncode is not None


def running(pid):
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_server_exits_when_the_process_that_started_it_is_killed():
    code = (
        "import time; from lab.moto_server import MotoServer; s = MotoServer().start(); "
        "print(s.process.pid, s.log.name, flush=True); time.sleep(120)"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        pid, log = parent.stdout.readline().split()
    finally:
        parent.kill()
        parent.wait(timeout=10)
        parent.stdout.close()
    deadline = time.monotonic() + 15
    while running(int(pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    pathlib.Path(log).unlink(missing_ok=True)
    assert not running(int(pid))


def test_vpc_and_subnet_are_in_the_lab_range(patched):
    net = create_vpc_and_subnet(patched.endpoint)
    client = ec2_client(patched.endpoint)
    [vpc] = client.describe_vpcs(VpcIds=[net["vpc_id"]])["Vpcs"]
    [subnet] = client.describe_subnets(SubnetIds=[net["subnet_id"]])["Subnets"]
    assert vpc["CidrBlock"] == "198.18.0.0/20"
    assert subnet["CidrBlock"] == "198.18.0.0/24"
    assert subnet["VpcId"] == net["vpc_id"]


def test_lab_mode_needs_an_info_file():
    proc = subprocess.run([sys.executable, "-m", "lab.moto_server", "--lab"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "--lab needs --info FILE" in proc.stderr


def test_lab_mode_instances_boot_pending_until_the_lab_has_booted_them():
    # The patch is process-wide: try it in a child, as the lab server does.
    code = (
        "from moto import mock_aws; from lab import aws_reconcile; from lab.moto_server import *; import boto3\n"
        "aws_reconcile.patch_instances_boot_pending()\n"
        "with mock_aws():\n"
        "    c = boto3.client('ec2', region_name='us-east-1', **FAKE_CREDENTIALS)\n"
        "    ami = c.register_image(Name='img', RootDeviceName='/dev/sda1')['ImageId']\n"
        "    i = c.run_instances(ImageId=ami, MinCount=1, MaxCount=1)['Instances'][0]['InstanceId']\n"
        "    print(c.describe_instances(InstanceIds=[i])['Reservations'][0]['Instances'][0]['State']['Name'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "pending", proc.stderr
