"""The VPC firewall follows GCP's rule model when rendered to nftables."""

import ipaddress

import pytest

from lab import firewall

NODES = [{"ip": "198.18.0.11", "veth": "n1", "tags": ["k8s"]}, {"ip": "198.18.0.12", "veth": "n2", "tags": []}]


def rules_text(rules):
    return [line.strip() for line in firewall.render(rules, NODES, "mgmt0").splitlines() if "comment" in line]


def test_default_rule_is_gcps_internal_rule_without_ipip():
    rules = firewall.default_rules(ipaddress.ip_network("198.18.0.0/20"))
    text = "\n".join(rules_text(rules))
    assert "meta l4proto 6" in text and "meta l4proto 17" in text and "meta l4proto 1 " in text
    assert "l4proto 4" not in text


@pytest.mark.parametrize("value,name", [("4", "ipip"), ("ipip", "ipip"), ("TCP", "tcp"), ("6", "tcp"), ("all", "all"),
                                        ("47", "47")])
def test_protocol_names_and_numbers_are_the_same(value, name):
    assert firewall.protocol_name(value) == name


def test_unknown_protocol_name_is_refused():
    with pytest.raises(ValueError, match="unknown IP protocol"):
        firewall.protocol_name("bogus")


def test_lower_priority_number_first_and_deny_before_allow_at_equal_priority():
    rules = [
        {"name": "allow-late", "priority": 2000, "sourceRanges": ["198.18.0.0/20"], "allowed": [{"IPProtocol": "4"}]},
        {"name": "allow-same", "priority": 1000, "sourceRanges": ["198.18.0.0/20"], "allowed": [{"IPProtocol": "4"}]},
        {"name": "deny-same", "priority": 1000, "sourceRanges": ["198.18.0.0/20"], "denied": [{"IPProtocol": "4"}]},
    ]
    names = [line.split('comment "')[1].rstrip('"') for line in rules_text(rules)]
    assert names == ["deny-same", "allow-same", "allow-late"]
    assert rules_text(rules)[0].endswith('drop comment "deny-same"')


def test_target_tags_select_nodes_and_ports_are_matched():
    rules = [{"name": "bgp", "sourceRanges": ["198.18.0.0/20"], "targetTags": ["k8s"],
              "allowed": [{"IPProtocol": "tcp", "ports": ["179"]}]}]
    (line,) = rules_text(rules)
    assert 'oifname "n1"' in line and "n2" not in line and "th dport 179" in line


def test_rules_for_tags_nobody_has_and_disabled_rules_match_nothing():
    rules = [
        {"name": "ghost", "sourceRanges": ["198.18.0.0/20"], "targetTags": ["nope"], "allowed": [{"IPProtocol": "4"}]},
        {"name": "off", "disabled": True, "sourceRanges": ["198.18.0.0/20"], "allowed": [{"IPProtocol": "4"}]},
        {"name": "egress", "direction": "EGRESS", "destinationRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "4"}]},
    ]
    assert rules_text(rules) == []


def test_source_tags_become_node_addresses_and_anywhere_has_no_source_match():
    tagged = rules_text([{"name": "t", "sourceTags": ["k8s"], "allowed": [{"IPProtocol": "4"}]}])
    assert "ip saddr 198.18.0.11/32" in tagged[0]
    anywhere = rules_text([{"name": "a", "sourceRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "4"}]}])
    assert "saddr" not in anywhere[0]


def test_management_link_and_stateful_protocols_come_first():
    text = firewall.render([], NODES, "mgmt0")
    assert 'iifname "mgmt0" accept' in text and "policy drop" in text
    assert "ct state established,related meta l4proto { tcp, udp, icmp } accept" in text
