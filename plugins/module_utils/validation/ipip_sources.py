# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One rule for both clouds: which sources may send IP protocol 4 (IPIP) into the cluster.

IPIP carries pod traffic unencrypted and unauthenticated: a source that can
reach the nodes with protocol 4 can inject packets into the pod network. So
protocol 4 (or all traffic) is allowed from ranges internal to a VPC only,
unless the user says otherwise (gcp_network_allow_public_sources,
aws_network_allow_public_sources).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

# Ranges internal to a VPC: RFC 1918, shared address space (RFC 6598),
# benchmarking (RFC 2544), IPv6 unique local addresses.
INTERNAL_RANGES = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "198.18.0.0/15", "fc00::/7"))

# Protocol values that let IPIP through: GCP ("ipip", "4", "all") and EC2 ("4", "-1", "all").
IPIP_PROTOCOLS = {"4", "ipip", "all", "-1"}


def is_internal(network: Any) -> bool:
    """True when the network (an ip_network or text) lies inside a range internal to a VPC."""
    net = ipaddress.ip_network(str(network), strict=False) if not isinstance(
        network, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else network
    return any(net.version == inner.version and net.subnet_of(inner)  # type: ignore[arg-type]
               for inner in INTERNAL_RANGES)


def lets_ipip_in(protocol: Any) -> bool:
    return str(protocol).strip().lower() in IPIP_PROTOCOLS


def public_sources(protocol: Any, sources: Sequence[Any] | None) -> list[str]:
    """The sources that are not internal, when `protocol` lets IPIP in ([] otherwise).

    Sources that do not parse as networks are left to the caller's own validation.
    """
    if not lets_ipip_in(protocol):
        return []
    public: list[str] = []
    for source in sources or []:
        try:
            internal = is_internal(source)
        except ValueError:
            continue
        if not internal:
            public.append(str(source))
    return public


def ec2_rule_public_sources(rules: Sequence[Any] | None) -> list[str]:
    """Public protocol-4 sources of EC2 ingress rules written as amazon.aws.ec2_security_group takes them."""
    public: list[str] = []
    for rule in rules or []:
        if not isinstance(rule, dict):
            continue
        sources: list[Any] = []
        for key in ("cidr_ip", "cidr_ipv6"):
            value = rule.get(key)
            sources += value if isinstance(value, list) else ([value] if value else [])
        public += public_sources(rule.get("proto", ""), sources)
    return public


# Protocol names EC2 understands besides numbers 0-255 (`-1`/`all`: all traffic).
EC2_PROTOCOL_NAMES = {"tcp", "udp", "icmp", "icmpv6", "all", "-1"}


def ec2_rule_problems(rules: Sequence[Any] | None) -> list[str]:
    """What EC2 would reject or misread in ec2_security_group rules, one sentence each."""
    problems: list[str] = []
    for index, rule in enumerate(rules or [], start=1):
        if not isinstance(rule, dict) or "proto" not in rule:
            problems.append(f"rule {index} has no proto")
            continue
        proto = str(rule["proto"]).strip().lower()
        if proto == "ipip":
            problems.append(f'rule {index}: EC2 knows IPIP only by number, write proto: "4"')
        elif proto not in EC2_PROTOCOL_NAMES and not (proto.isdigit() and int(proto) <= 255):
            problems.append(f"rule {index}: proto {proto} is not tcp, udp, icmp, icmpv6, all or a number 0-255")
        cidrs = rule.get("cidr_ip") or []
        for cidr in cidrs if isinstance(cidrs, list) else [cidrs]:
            try:
                net = ipaddress.ip_network(str(cidr), strict=False)
                if net.version != 4 or "/" not in str(cidr):
                    raise ValueError(cidr)
            except ValueError:
                problems.append(f"rule {index}: cidr_ip {cidr} is not an IPv4 CIDR like 10.0.0.0/16")
    return problems
