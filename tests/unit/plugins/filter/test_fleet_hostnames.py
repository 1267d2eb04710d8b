"""The fleet_hostname_plan / fleet_hostname_valid filters, called directly (through ansible-playbook:
tests/integration/filter/test_fleet_hostnames_playbook.py)."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.filter.fleet_hostnames import (
    FilterModule,
    fleet_hostname_plan,
    fleet_hostname_valid,
)

INCIDENT_EXISTING = {
    "cloud_instance": ["aws-na-k8s-temp1"],
    "calico_node": ["aws-na-k8s-temp1", "aws-na-k8s-temp2"],
    "kubernetes_node": ["172.31.3.33"],
}


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"fleet_hostname_plan", "fleet_hostname_valid"}


def test_plan_filter_returns_names_hostnames_and_ips():
    plan = fleet_hostname_plan(["172.31.7.227"], existing=INCIDENT_EXISTING, domain="ec2.internal")
    assert plan == [{"name": "ip-172-31-7-227", "hostname": "ip-172-31-7-227.ec2.internal",
                     "ip": "172.31.7.227", "reused": False}]


def test_plan_filter_raises_filter_error_with_the_clash():
    with pytest.raises(AnsibleFilterError) as err:
        fleet_hostname_plan(["172.31.7.227"], existing={"calico_node": ["ip-172-31-7-227"]})
    assert str(err.value).startswith(
        "hostname plan: ip-172-31-7-227 (from IP 172.31.7.227) is already used by "
        "Calico Node ip-172-31-7-227 (datastore)")


def test_valid_filter():
    assert fleet_hostname_valid("aws-na-k8s-temp2")
    assert not fleet_hostname_valid("AWS-na-k8s-temp2")
    assert fleet_hostname_valid("a-1.us-central1-a.c.proj.internal", fqdn=True, cloud="gcp")
    assert not fleet_hostname_valid("a-1", fqdn=True)


def test_valid_filter_settles_the_leading_digit_per_cloud():
    assert fleet_hostname_valid("1-node") and fleet_hostname_valid("1-node", cloud="aws")
    assert not fleet_hostname_valid("1-node", cloud="gcp")
    assert not fleet_hostname_valid("a-1.1zone.c.proj.internal", fqdn=True, cloud="gcp")
    assert fleet_hostname_valid("a-1.1zone.example.internal", fqdn=True)


