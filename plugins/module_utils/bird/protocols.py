# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parsers of `show protocols`, `show protocols all` and `show status`, and
the peer names Calico gives its BGP protocols (Mesh_, Node_, Global_).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.reply import raise_on_error, split_reply

PEER_TYPES = {"Mesh_": "node-to-node mesh", "Node_": "node specific", "Global_": "global"}
BGP_STATES = frozenset(
    ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close", "Passive", "Down")
)
_PORT_SUFFIX = re.compile(r"^(.*)_port_(\d+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?$")


def decode_peer_name(name: str) -> tuple[str | None, int | None, str] | None:
    """`Mesh_10_0_1_202` -> ('10.0.1.202', None, 'node-to-node mesh').

    Returns None for protocols that are not BGP peers Calico creates. The
    address is None when the name has a peer prefix but no decodable IP.
    """
    prefix = next((p for p in PEER_TYPES if name.startswith(p)), None)
    if prefix is None:
        return None
    peer_type = PEER_TYPES[prefix]
    rest = name[len(prefix) :]
    port = None
    match = _PORT_SUFFIX.match(rest)
    if match:
        rest, port = match.group(1), int(match.group(2))
    return _decode_address(rest), port, peer_type


def _decode_address(text):
    # IPv4 first: `10_0_1_202`; IPv6 has 8 groups or `__` for `::`.
    for sep in (".", ":"):
        try:
            return str(ipaddress.ip_address(text.replace("_", sep)))
        except ValueError:
            continue
    return None


def _parse_row(text):
    """One protocol row -> dict, or None when it is not a row."""
    fields = text.split()
    if len(fields) < 4:
        return None
    name, proto, table, state = fields[:4]
    rest = fields[4:]
    since = ""
    if rest:
        since = rest.pop(0)
        # BIRD 2.x (and long-running 1.6) may print `2024-05-01 10:11:12`.
        if _DATE.match(since) and rest and _TIME.match(rest[0]):
            since = f"{since} {rest.pop(0)}"
    info = " ".join(rest)
    return {"name": name, "proto": proto, "table": table, "state": state, "since": since, "info": info}


def _is_heading(code, text):
    if code is not None:
        return 2000 <= code < 3000
    first = text.split(None, 1)[0] if text.strip() else ""
    return first in ("name", "Name") or text.startswith("BIRD ")


def parse_protocols(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Parse a `show protocols` reply (raw socket lines or birdc output).

    Returns one dict per BGP peer protocol Calico creates (Mesh_, Node_,
    Global_): name, address, port, type, state, since, bgp_state, info,
    established. Rows with an empty info column are kept.
    """
    pairs = split_reply(lines)
    raise_on_error(pairs)
    peers = []
    for code, text in pairs:
        if code is not None and code != 1002:
            continue
        if code is None and _is_heading(code, text):
            continue
        if text[:1].isspace():
            # `show protocols all` detail line inside a 1002 block (birdc output).
            continue
        row = _parse_row(text)
        if row is None:
            continue
        decoded = decode_peer_name(row["name"])
        if decoded is None:
            continue
        address, port, peer_type = decoded
        bgp_state = row["info"].split(None, 1)[0] if row["info"] else ""
        peers.append(
            {
                "name": row["name"],
                "address": address,
                "port": port,
                "type": peer_type,
                "state": row["state"],
                "since": row["since"],
                "bgp_state": bgp_state,
                "info": row["info"],
                "established": bgp_state == "Established",
            }
        )
    return peers


def parse_protocol_details(lines: Iterable[str]) -> dict[str, dict[str, str]]:
    """Parse `show protocols all`: {protocol name: {detail key: value}}.

    Keeps the `Key: value` lines (BGP state, Neighbor address, Source
    address, Hold timer, Last error, ...); route statistics are skipped.
    """
    pairs = split_reply(lines)
    raise_on_error(pairs)
    details: dict[str, dict[str, str]] = {}
    current = None
    for code, text in pairs:
        if code == 1002:
            row = _parse_row(text)
            current = details.setdefault(row["name"], {}) if row else None
        elif code == 1006 and current is not None:
            key, sep, value = text.strip().partition(":")
            if sep and value.strip() and key and not key.endswith("stats"):
                current.setdefault(key.strip(), value.strip())
    return details


def parse_status(lines: Iterable[str]) -> dict[str, Any]:
    """Parse `show status`: {bird_version, router_id, daemon_status, status_code}."""
    pairs = split_reply(lines)
    raise_on_error(pairs)
    out: dict[str, Any] = {"bird_version": None, "router_id": None, "daemon_status": None, "status_code": None}
    for code, text in pairs:
        if code == 1000 and text.startswith("BIRD "):
            out["bird_version"] = text.split()[1]
        elif code == 1011 and text.startswith("Router ID is "):
            out["router_id"] = text[len("Router ID is ") :].strip()
        elif code is not None and code < 1000:
            out["daemon_status"] = text.strip()
            out["status_code"] = code
    return out
