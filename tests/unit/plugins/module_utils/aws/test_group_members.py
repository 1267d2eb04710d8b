"""A security group's members (plugins/module_utils/aws/group_members.py), called directly.

The EC2 API is moto's, in this process (``mock_aws``); boto3 is the real client.
"""

import boto3
import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.aws.group_members import (
    GroupMembersError,
    ensure_members,
    find_group_id,
)
from moto import mock_aws

REGION = "us-east-1"
CLUSTER = {"tag:cluster": "k8s"}


@pytest.fixture
def ec2():
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION, aws_access_key_id="fake", aws_secret_access_key="fake")


@pytest.fixture
def vpc(ec2):
    """A VPC with one subnet, an image, the cluster's existing group and calico-fleet's group."""
    vpc_id = ec2.create_vpc(CidrBlock="198.18.0.0/20")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="198.18.0.0/24")["Subnet"]["SubnetId"]
    groups = {name: ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]
              for name in ("nodes", "calico-fleet")}
    image = ec2.register_image(Name="node", RootDeviceName="/dev/sda1")["ImageId"]
    return {"id": vpc_id, "subnet": subnet, "image": image, **groups}


def launch(ec2, vpc, name, cluster="k8s", groups=("nodes",)):
    return ec2.run_instances(
        ImageId=vpc["image"], MinCount=1, MaxCount=1, SubnetId=vpc["subnet"], SecurityGroupIds=[vpc[g] for g in groups],
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "Name", "Value": name}, {"Key": "cluster", "Value": cluster}]}],
    )["Instances"][0]["InstanceId"]


def groups_of(ec2, instance_id):
    inst = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return sorted(g["GroupId"] for g in inst["SecurityGroups"])


def test_group_found_by_name_in_its_vpc_or_by_id(ec2, vpc):
    assert find_group_id(ec2, "calico-fleet", vpc["id"]) == vpc["calico-fleet"]
    assert find_group_id(ec2, vpc["calico-fleet"]) == vpc["calico-fleet"]
    with pytest.raises(GroupMembersError, match="'missing' does not exist in vpc-.*create it first"):
        find_group_id(ec2, "missing", vpc["id"])


def test_a_name_in_two_vpcs_is_ambiguous_without_the_vpc(ec2, vpc):
    other = ec2.create_vpc(CidrBlock="198.18.16.0/20")["Vpc"]["VpcId"]
    ec2.create_security_group(GroupName="calico-fleet", Description="x", VpcId=other)
    with pytest.raises(GroupMembersError, match="is ambiguous"):
        find_group_id(ec2, "calico-fleet")


def test_members_keep_their_groups_and_check_mode_changes_nothing(ec2, vpc):
    a, b = launch(ec2, vpc, "node-a"), launch(ec2, vpc, "node-b")
    outsider = launch(ec2, vpc, "db-1", cluster="other")
    check = ensure_members(ec2, vpc["calico-fleet"], CLUSTER, check_mode=True)
    assert groups_of(ec2, a) == [vpc["nodes"]]

    real = ensure_members(ec2, vpc["calico-fleet"], CLUSTER)
    assert check == real
    assert real["changed"] is True and real["added_to"] == [a, b]
    assert real["instances"] == [f"node-a ({a})", f"node-b ({b})"]
    assert real["diff"]["before"][f"node-a ({a})"] == [vpc["nodes"]]
    for instance in (a, b):
        assert groups_of(ec2, instance) == sorted([vpc["nodes"], vpc["calico-fleet"]])
    assert groups_of(ec2, outsider) == [vpc["nodes"]]

    again = ensure_members(ec2, vpc["calico-fleet"], CLUSTER)
    assert again["changed"] is False and again["added_to"] == []


def test_terminated_instances_are_left_alone(ec2, vpc):
    gone = launch(ec2, vpc, "node-old")
    ec2.terminate_instances(InstanceIds=[gone])
    live = launch(ec2, vpc, "node-new")
    assert ensure_members(ec2, vpc["calico-fleet"], CLUSTER)["added_to"] == [live]


def test_no_filters_is_refused_before_any_call(ec2, vpc):
    with pytest.raises(GroupMembersError, match="no instance filters"):
        ensure_members(ec2, vpc["calico-fleet"], {})
