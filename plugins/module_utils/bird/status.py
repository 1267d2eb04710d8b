# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The BGP status of this host, as calico_bgp_status reports it: the first
BIRD socket that answers, IPv4 and IPv6 merged, waiting for expected peers.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Iterable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.client import BirdClient
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.errors import BirdNotRunning
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.protocols import parse_protocols, parse_status

DEFAULT_SOCKETS = {
    4: ("/var/run/calico/bird.ctl", "/var/run/bird/bird.ctl"),
    6: ("/var/run/calico/bird6.ctl", "/var/run/bird/bird6.ctl"),
}


def read_bgp_status(socket_path: str, timeout: float = 5.0) -> dict[str, Any]:
    """Status and BGP peers of the BIRD behind one socket (one connection)."""
    with BirdClient(socket_path, timeout) as client:
        status = parse_status(client.command("show status"))
        peers = parse_protocols(client.command("show protocols"))
        version = status["bird_version"] or client.version
    return {
        "bird_version": version,
        "router_id": status["router_id"],
        "daemon_status": status["daemon_status"],
        "socket": socket_path,
        "peers": peers,
    }


def socket_candidates(ip_version: int, socket_path: str | None = None) -> list[str]:
    """Paths to try for one IP version, in order."""
    if socket_path:
        if ip_version == 6 and os.path.basename(socket_path) == "bird.ctl":
            return [os.path.join(os.path.dirname(socket_path), "bird6.ctl")]
        return [socket_path]
    return list(DEFAULT_SOCKETS[ip_version])


def _read_first(candidates, timeout):
    last = None
    for path in candidates:
        if not os.path.exists(path):
            continue
        try:
            return read_bgp_status(path, timeout)
        except BirdNotRunning as exc:
            last = exc
    looked = ", ".join(candidates)
    detail = f" ({last})" if last else " (no socket file)"
    raise BirdNotRunning(
        f"calico-node / BIRD is not running on this host: no BIRD control socket answers at {looked}{detail}",
        candidates,
    )


def collect_bgp_status(ip_version: str = "4", socket_path: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """The module's view: one IP version, or `all` (IPv4 + IPv6 merged).

    With `all`, IPv4 is required and IPv6 is read when its socket exists
    (BIRD 1.6 runs a separate bird6; BIRD 2.x serves both on one socket).
    An explicit `socket_path` is the IPv4 socket; IPv6 uses bird6.ctl beside it.
    """
    if str(ip_version) == "6":
        return _read_first(socket_candidates(6, socket_path), timeout)
    result = _read_first(socket_candidates(4, socket_path), timeout)
    result["sockets"] = [result["socket"]]
    if str(ip_version) == "all":
        v6 = [p for p in socket_candidates(6, socket_path) if os.path.exists(p)]
        if v6 and v6[0] != result["socket"]:
            other = _read_first(v6, timeout)
            result["sockets"].append(other["socket"])
            result["router_id_v6"] = other["router_id"]
            seen = {p["name"] for p in result["peers"]}
            result["peers"] += [p for p in other["peers"] if p["name"] not in seen]
    return result


def peer_states(peers: Iterable[dict[str, Any]]) -> dict[str, bool]:
    """{address: established?} - any Established protocol to an address counts."""
    out: dict[str, bool] = {}
    for peer in peers:
        if peer["address"]:
            out[peer["address"]] = out.get(peer["address"], False) or peer["established"]
    return out


def normalize_peers(expect_peers: Iterable[object] | None) -> list[str]:
    """Validate and canonicalise peer IPs (a /prefix is ignored)."""
    out = set()
    for ip in expect_peers or ():
        try:
            out.add(str(ipaddress.ip_address(str(ip).split("/", maxsplit=1)[0].strip())))
        except ValueError:
            raise ValueError(f"expect_peers: {ip!r} is not an IP address; pass peer IPs such as 10.0.1.203") from None
    return sorted(out)


def wait_for_peers(expect_peers: Iterable[object] | None, ip_version: str = "4", socket_path: str | None = None,
                   timeout: float = 5.0, wait_timeout: float = 0, retry_interval: float = 2) -> dict[str, Any]:
    """Poll until every expected peer is Established or wait_timeout passes.

    Returns the last status plus `expected_established` (bool), `waiting_for`
    (peers still not Established) and `waited` (seconds). Never fails for a
    peer that is not Established: judging is the mesh check's job.
    """
    expected = normalize_peers(expect_peers)
    start = time.monotonic()
    deadline = start + max(0.0, float(wait_timeout))
    while True:
        result = collect_bgp_status(ip_version, socket_path, timeout)
        states = peer_states(result["peers"])
        waiting = [ip for ip in expected if not states.get(ip)]
        now = time.monotonic()
        if not waiting or now >= deadline:
            break
        time.sleep(min(max(float(retry_interval), 0.1), max(deadline - now, 0.0)))
    result["expected_established"] = not waiting
    result["waiting_for"] = waiting
    result["waited"] = round(time.monotonic() - start, 3)
    return result
