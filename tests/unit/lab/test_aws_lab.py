"""The AWS test server's translations (lab/aws_lab.py): user-data to hostname,
security groups to lab firewall rules, the lab's rules to a seed group."""

import base64
import ipaddress

import pytest

from lab import aws_lab, firewall

IP = "198.18.48.130"
VPC = "198.18.48.0/20"


@pytest.mark.parametrize("user_data,hostname", [
    # what roles/aws_nodes sends
    ("#cloud-config\npreserve_hostname: false\nhostname: aws-na-k8s-temp4\n", "aws-na-k8s-temp4"),
    ("#cloud-config\npreserve_hostname: false\nhostname: web-1\nfqdn: web-1.corp.example\n"
     "prefer_fqdn_over_hostname: true\n", "web-1.corp.example"),
    # cloud-init's own rules
    ("#cloud-config\nhostname: web-1\nfqdn: web-1.corp.example\n", "web-1"),
    ("#cloud-config\nfqdn: web-2.corp.example\n", "web-2"),
    ("#cloud-config\nfqdn: web-2.corp.example\nprefer_fqdn_over_hostname: true\n", "web-2.corp.example"),
    ("#cloud-config\nhostname: web-3.corp.example\n", "web-3"),
    ("#cloud-config\npreserve_hostname: true\nhostname: kept\n", "ip-198-18-48-130"),
    ("#cloud-config\npackages: [curl]\n", "ip-198-18-48-130"),
    ("#cloud-config\nhostname: [not, a, name\n", "ip-198-18-48-130"),
    ("#cloud-config\nhostname: bad_name!\n", "ip-198-18-48-130"),
    ("hostname: no-header\n", "ip-198-18-48-130"),
    # trivial shell scripts
    ("#!/bin/sh\nset -e\nhostnamectl set-hostname node-7\n", "node-7"),
    ("#!/bin/bash\nsudo hostnamectl set-hostname 'node-8'\n", "node-8"),
    ("#!/bin/sh\nhostnamectl set-hostname a\nhostnamectl set-hostname b\n", "b"),
    ("#!/bin/sh\nhostnamectl set-hostname \"ip-$(hostname -I)\"\n", "ip-198-18-48-130"),
    ("#!/bin/sh\nhostnamectl set-hostname $NAME\n", "ip-198-18-48-130"),
    ("#!/usr/bin/python3\nhostnamectl set-hostname py\n", "ip-198-18-48-130"),
    ("", "ip-198-18-48-130"),
    (None, "ip-198-18-48-130"),
    (b"#cloud-config\nhostname: from-bytes\n", "from-bytes"),
])
def test_hostname_from_user_data(user_data, hostname):
    assert aws_lab.hostname_from_user_data(user_data, IP) == hostname


def test_user_data_as_moto_describes_it_is_base64():
    text = "#cloud-config\nhostname: x\n"
    assert aws_lab.decode_user_data(base64.b64encode(text.encode()).decode()) == text
    assert aws_lab.decode_user_data(None) == ""


def instance(iid, ip, *groups, state="running", vpc="vpc-1"):
    return {"InstanceId": iid, "PrivateIpAddress": ip, "State": {"Name": state}, "VpcId": vpc,
            "SecurityGroups": [{"GroupId": g} for g in groups]}


def group(gid, *permissions, name=None, vpc="vpc-1"):
    return {"GroupId": gid, "GroupName": name or gid, "VpcId": vpc, "IpPermissions": list(permissions)}


NODES = [instance("i-1", "198.18.48.11", "sg-cluster"), instance("i-2", "198.18.48.12", "sg-cluster", "sg-calico"),
         instance("i-3", "198.18.48.128", "sg-calico")]


def test_ipip_from_the_vpc_reaches_the_groups_instances_only():
    groups = [group("sg-calico", {"IpProtocol": "4", "IpRanges": [{"CidrIp": VPC}]})]
    [rule] = aws_lab.firewall_rules(groups, NODES)
    assert rule["sourceRanges"] == [VPC]
    assert rule["destinationRanges"] == ["198.18.48.12/32", "198.18.48.128/32"]
    assert rule["allowed"] == [{"IPProtocol": "ipip"}]
    assert rule["direction"] == "INGRESS" and rule["name"] == "aws-sg-calico-0"


def test_group_reference_allows_the_private_ips_of_that_groups_instances():
    bgp = {"IpProtocol": "tcp", "FromPort": 179, "ToPort": 179, "UserIdGroupPairs": [{"GroupId": "sg-calico"}]}
    [rule] = aws_lab.firewall_rules([group("sg-calico", bgp)], NODES)
    assert rule["sourceRanges"] == ["198.18.48.12/32", "198.18.48.128/32"]
    assert rule["allowed"] == [{"IPProtocol": "tcp", "ports": ["179"]}]


@pytest.mark.parametrize("permission,allowed", [
    ({"IpProtocol": "-1"}, {"IPProtocol": "all"}),
    ({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535}, {"IPProtocol": "tcp", "ports": ["0-65535"]}),
    ({"IpProtocol": "udp", "FromPort": 4789, "ToPort": 4789}, {"IPProtocol": "udp", "ports": ["4789"]}),
    ({"IpProtocol": "6", "FromPort": -1, "ToPort": -1}, {"IPProtocol": "tcp"}),
    ({"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1}, {"IPProtocol": "icmp"}),
    ({"IpProtocol": "47"}, {"IPProtocol": "47"}),
])
def test_protocols_and_ports(permission, allowed):
    [rule] = aws_lab.firewall_rules([group("sg-calico", {**permission, "IpRanges": [{"CidrIp": VPC}]})], NODES)
    assert rule["allowed"] == [allowed]


def test_rules_nobody_can_use_are_left_out():
    groups = [
        # attached to no live instance
        group("sg-unused", {"IpProtocol": "4", "IpRanges": [{"CidrIp": VPC}]}),
        # sources: an empty group, IPv6 only; icmpv6 has no IPv4 meaning
        group("sg-calico", {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                            "UserIdGroupPairs": [{"GroupId": "sg-unused"}]},
              {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
              {"IpProtocol": "icmpv6", "IpRanges": [{"CidrIp": VPC}]}),
    ]
    assert aws_lab.firewall_rules(groups, NODES) == []


def test_terminated_instances_are_neither_sources_nor_targets():
    nodes = [*NODES, instance("i-4", "198.18.48.129", "sg-calico", state="terminated")]
    bgp = {"IpProtocol": "tcp", "FromPort": 179, "ToPort": 179, "UserIdGroupPairs": [{"GroupId": "sg-calico"}]}
    [rule] = aws_lab.firewall_rules([group("sg-calico", bgp)], nodes)
    assert "198.18.48.129/32" not in rule["sourceRanges"] + rule["destinationRanges"]


def test_instance_without_group_has_its_vpcs_default_group():
    groups = [group("sg-default", {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-default"}]},
                    name="default")]
    [rule] = aws_lab.firewall_rules(groups, [instance("i-9", "198.18.48.140")])
    assert rule["sourceRanges"] == rule["destinationRanges"] == ["198.18.48.140/32"]


def test_rendered_rule_matches_destination_addresses():
    groups = [group("sg-calico", {"IpProtocol": "4", "IpRanges": [{"CidrIp": VPC}]})]
    nodes = [{"ip": i["PrivateIpAddress"], "veth": i["InstanceId"], "tags": []} for i in NODES]
    text = firewall.render(aws_lab.firewall_rules(groups, NODES), nodes, "mgmt0")
    [line] = [line for line in text.splitlines() if "aws-sg-calico-0" in line]
    assert "ip daddr { 198.18.48.12/32, 198.18.48.128/32 }" in line
    assert f"ip saddr {VPC}" in line and "meta l4proto 4" in line


def test_lab_default_rule_seeds_the_cluster_group_and_translates_back_to_the_same_semantics():
    rules = firewall.default_rules(ipaddress.ip_network(VPC))
    permissions = aws_lab.permissions_from_rules(rules)
    assert permissions == [
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": VPC}]},
        {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": VPC}]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": VPC}]},
    ]
    back = aws_lab.firewall_rules([group("sg-cluster", *permissions)], NODES[:2])
    assert [r["allowed"] for r in back] == [entry for entry in ([a] for a in rules[0]["allowed"])]
    assert all(r["sourceRanges"] == [VPC] for r in back)


def test_seed_skips_rules_a_group_cannot_express_and_keeps_ipip():
    rules = [
        {"name": "tagged", "sourceRanges": [VPC], "targetTags": ["k8s"], "allowed": [{"IPProtocol": "tcp"}]},
        {"name": "deny", "sourceRanges": [VPC], "denied": [{"IPProtocol": "all"}]},
        {"name": "ipip", "sourceRanges": [VPC], "allowed": [{"IPProtocol": "ipip"}, {"IPProtocol": "all"}]},
    ]
    assert aws_lab.permissions_from_rules(rules) == [
        {"IpProtocol": "4", "IpRanges": [{"CidrIp": VPC}]},
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": VPC}]},
    ]
