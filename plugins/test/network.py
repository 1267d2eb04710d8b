# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests over the address rules (plugins/module_utils/validation/network.py, ipip_sources.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import network
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.ipip_sources import is_internal


def ipv4_cidr(value: Any) -> bool:
    """An IPv4 network written as address/prefix with no host bits set, e.g. 10.0.0.0/16."""
    return network.is_ipv4_cidr(value)


def ipv4_address(value: Any) -> bool:
    """A dotted-quad IPv4 address, e.g. 10.0.1.7."""
    return network.is_ipv4_address(value)


def private_range(value: Any) -> bool:
    """A network inside the ranges internal to a VPC (RFC 1918, RFC 6598, RFC 2544, fc00::/7)."""
    return network.parse_network(value)[0] is not None and is_internal(value)


class TestModule:
    def tests(self) -> dict[str, Callable[..., bool]]:
        return {"ipv4_cidr": ipv4_cidr, "ipv4_address": ipv4_address, "private_range": private_range}
