# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses and networks: an IPv4 address, an IPv4 CIDR, a network written as address/prefix."""

from __future__ import annotations

import ipaddress
from typing import Any


def parse_network(text: Any) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network | None, str | None]:
    """(network, None), or (None, why) for text that is not a network written as address/prefix."""
    if not isinstance(text, str) or "/" not in text:
        return None, f"{text!r} is not a network written as address/prefix"
    try:
        return ipaddress.ip_network(text.strip(), strict=True), None
    except ValueError:
        try:
            masked = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            return None, f"{text!r} is not a network written as address/prefix"
        return None, f"{text} has host bits set (the network is {masked})"


def ipv4_cidr_problem(text: Any) -> str | None:
    """Why ``text`` is not an IPv4 network such as 10.0.0.0/16 (dotted quad, prefix 0-32, no host bits)."""
    net, why = parse_network(text)
    if net is None:
        return why
    if net.version != 4:
        return f"{text} is not an IPv4 network"
    return None


def ipv4_address_problem(text: Any) -> str | None:
    """Why ``text`` is not a dotted-quad IPv4 address such as 10.0.1.7."""
    try:
        ipaddress.IPv4Address(str(text).strip() if isinstance(text, str) else text)
    except (ipaddress.AddressValueError, ValueError, TypeError):
        return f"{text!r} is not an IPv4 address such as 10.0.1.7"
    return None


def is_ipv4_cidr(text: Any) -> bool:
    return ipv4_cidr_problem(text) is None


def is_ipv4_address(text: Any) -> bool:
    return isinstance(text, str) and ipv4_address_problem(text) is None
