"""One rule for IPIP sources on both clouds: protocol 4 only from ranges internal to a VPC."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp import firewall as gce_firewall
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.ipip_sources import (
    ec2_rule_problems,
    ec2_rule_public_sources,
    is_internal,
    public_sources,
)


@pytest.mark.parametrize("network, internal", [
    ("10.128.0.0/9", True), ("172.31.0.0/16", True), ("198.18.16.0/20", True), ("100.64.0.0/10", True),
    ("fd00::/8", True), ("0.0.0.0/0", False), ("172.32.0.0/16", False), ("8.8.8.0/24", False), ("10.0.0.0/7", False),
])
def test_internal_ranges(network, internal):
    assert is_internal(network) is internal


def test_only_protocols_that_let_ipip_in_count():
    assert public_sources("4", ["0.0.0.0/0"]) == ["0.0.0.0/0"]
    assert public_sources("ipip", ["0.0.0.0/0", "10.0.0.0/8"]) == ["0.0.0.0/0"]
    assert public_sources("-1", ["203.0.113.0/24"]) == ["203.0.113.0/24"]
    assert public_sources("tcp", ["0.0.0.0/0"]) == []


def test_ec2_rules_and_the_gcp_rule_agree():
    ec2 = [{"proto": "4", "cidr_ip": "10.0.0.0/16"}, {"proto": "-1", "cidr_ip": ["0.0.0.0/0", "10.1.0.0/16"]},
           {"proto": "tcp", "ports": [443], "cidr_ip": "0.0.0.0/0"}, {"proto": "4", "cidr_ipv6": "2001:db8::/32"}]
    assert ec2_rule_public_sources(ec2) == ["0.0.0.0/0", "2001:db8::/32"]
    gcp = {"direction": "INGRESS", "allowed": [{"protocol": "ipip", "ports": []}],
           "source_ranges": ["10.0.0.0/16", "0.0.0.0/0"]}
    assert gce_firewall.public_ipip_sources(gcp) == ["0.0.0.0/0"]


def test_ec2_rule_problems_name_the_rule_and_what_to_write():
    problems = ec2_rule_problems([{"proto": "ipip", "cidr_ip": "10.0.0.0/16"}, {"cidr_ip": "10.0.0.0/16"},
                                  {"proto": "gre"}, {"proto": "4", "cidr_ip": "10.0.0.0"}, {"proto": "47"}])
    assert problems == ['rule 1: EC2 knows IPIP only by number, write proto: "4"', "rule 2 has no proto",
                        "rule 3: proto gre is not tcp, udp, icmp, icmpv6, all or a number 0-255",
                        "rule 4: cidr_ip 10.0.0.0 is not an IPv4 CIDR like 10.0.0.0/16"]
