"""AWS regions, resource ids and security group names."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import aws


@pytest.mark.parametrize(("region", "valid"), [
    ("eu-west-1", True), ("us-gov-west-1", True), ("ap-southeast-2", True), ("eu-west", False), ("EU-west-1", False),
    ("", False), (None, False),
])
def test_region(region, valid):
    assert aws.is_region(region) is valid


@pytest.mark.parametrize(("value", "kind", "valid"), [
    ("vpc-0123456789abcdef0", "vpc", True),
    ("vpc-01234567", "vpc", True),
    ("subnet-0123456789abcdef0", "vpc", False),
    ("ami-0123456789abcdef0", "ami", True),
    ("ami-0123456789ABCDEF0", "ami", False),
    ("my-subnet", "subnet", False),
    (None, "vpc", False),
])
def test_resource_id(value, kind, valid):
    assert aws.is_resource_id(value, kind) is valid
    if not valid:
        assert f"{kind}-0123456789abcdef0" in aws.resource_id_problem(value, kind)


def test_security_group_name():
    assert aws.security_group_name_problem("calico-nodes") is None
    assert "not starting with 'sg-'" in aws.security_group_name_problem("sg-nodes")
    assert aws.security_group_name_problem("") is not None
