"""The IAM policy in docs/aws.md names every EC2 action the two AWS roles use.

A moto server of its own, with IAM enforcement switched on after the setup,
runs the roles with the keys of an IAM user allowed only the documented
actions. Faked: AWS (moto). moto checks actions, not resource ARNs or
conditions, so this test pins the action list; the resource scoping in the
document is reviewed, not executed.
"""

import json
import pathlib
import re
import urllib.request

import boto3
import pytest

from lab.moto_server import DEFAULT_REGION, FAKE_CREDENTIALS, MotoServer, create_vpc_and_subnet, ec2_client

ROOT = pathlib.Path(__file__).resolve().parents[3]


def documented_actions():
    text = (ROOT / "docs" / "aws.md").read_text()
    [block] = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    actions = set()
    for statement in json.loads(block)["Statement"]:
        action = statement["Action"]
        actions |= {action} if isinstance(action, str) else set(action)
    return actions


@pytest.fixture
def enforcing_moto():
    with MotoServer() as server:
        yield server


def user_env(endpoint, actions):
    """An IAM user allowed ``actions`` on every resource; its keys as environment variables."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=DEFAULT_REGION, **FAKE_CREDENTIALS)
    name = f"calico-fleet-{len(iam.list_users()['Users'])}"
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": sorted(actions), "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="calico-fleet", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
    }


def enforce_iam(endpoint):
    """From now on moto checks every request against the caller's IAM policies."""
    # Plain text: with a form content type the server would parse the body away.
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_roles_run_with_only_the_documented_actions(run_playbook, enforcing_moto):
    endpoint = enforcing_moto.endpoint
    net = create_vpc_and_subnet(endpoint)
    image_id = ec2_client(endpoint).describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    allowed = user_env(endpoint, documented_actions())
    denied = user_env(endpoint, documented_actions() - {"ec2:AuthorizeSecurityGroupIngress"})
    enforce_iam(endpoint)

    network_vars = {
        "aws_network_region": net["region"],
        "aws_network_vpc_id": net["vpc_id"],
        "aws_network_vpc_cidr": net["vpc_cidr"],
        "aws_network_endpoint_url": endpoint,
    }
    refused = run_playbook("aws_network", network_vars, aws_env=denied)
    assert refused.returncode != 0, "moto did not enforce IAM: the test would prove nothing"
    # The two users differ in that one action only.
    assert "Unable to authorize ingress rules" in " ".join(refused.failure_messages()), refused.explain()

    network = run_playbook("aws_network", network_vars, aws_env=allowed)
    assert network.returncode == 0, network.explain()

    nodes_vars = {
        "aws_nodes_instances": [{"name": "iam-node-1", "hostname": "iam-node-1"}],
        "aws_nodes_region": net["region"],
        "aws_nodes_subnet_id": net["subnet_id"],
        "aws_nodes_image_id": image_id,
        "aws_nodes_cluster_name": "iam",
        "aws_nodes_calico_ipip_mode": "CrossSubnet",
        "aws_nodes_endpoint_url": endpoint,
        "aws_nodes_wait_delay": 1,
        "aws_nodes_wait_timeout": 60,
    }
    for options in (["--check"], [], []):
        nodes = run_playbook("aws_nodes", nodes_vars, *options, aws_env=allowed)
        assert nodes.returncode == 0, nodes.explain()
