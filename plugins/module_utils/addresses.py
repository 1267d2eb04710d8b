# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address helpers: an IP address as Calico writes it, compared as the checks compare it."""

from __future__ import annotations

import ipaddress
from typing import Any


def normalize_ip(value: Any) -> str | None:
    """'10.0.1.202/24' or '10.0.1.202' -> '10.0.1.202'; None/'' or not an address -> None."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value).split("/", maxsplit=1)[0].strip()))
    except ValueError:
        return None


def node_ipv4(node: dict) -> str | None:
    """A Calico Node's BGP IPv4 address (calico_nodes_info's ipv4_address, else ipv4_network)."""
    return normalize_ip(node.get("ipv4_address") or node.get("ipv4_network"))
