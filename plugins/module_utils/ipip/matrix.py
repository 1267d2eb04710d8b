# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPIP probe matrix (controller side): who hears whom, from the collected results.
"""

from __future__ import annotations

import ipaddress
from typing import Any


def probe_matrix(results: dict[str, Any] | list[Any] | None,
                 hosts: dict[str, str] | None = None) -> dict[str, Any]:
    """Directional matrix from ``collected`` results.

    ``results`` is a {host: result} dict or a list of results. A result's own
    ``received_from`` is the receiver's column; its ``columns`` are the ones
    it learnt from its peers (a direct result wins). ``hosts`` ({host: ip})
    names the hosts nothing is known about. A result missing, failed or
    skipped counts as not measured. Returns {matrix: {src_ip: {dst_ip:
    true|false|null}}, failed: [[src, dst]], unmeasured: [host], table: str}.
    A cell is null when nothing is known about the receiver.
    """
    items = sorted(results.items()) if isinstance(results, dict) else [(None, r) for r in results or []]
    received: dict[str, dict[str, bool]] = {}
    learnt: dict[str, dict[str, bool]] = {}
    unmeasured: list[str] = []
    addresses: set[str] = set()
    for host, res in items:
        if not isinstance(res, dict) or res.get("failed") or res.get("skipped") \
                or not isinstance(res.get("received_from"), dict) or not res.get("address"):
            if host is not None:
                unmeasured.append(host)
            continue
        received[res["address"]] = res["received_from"]
        addresses.add(res["address"])
        addresses.update(res["received_from"])
        for peer, column in (res.get("columns") or {}).items():
            learnt.setdefault(peer, column)
            addresses.add(peer)
    for peer, column in learnt.items():
        received.setdefault(peer, column)
    if hosts:
        addresses.update(hosts.values())
        unmeasured = sorted(set(unmeasured) | {h for h, ip in hosts.items() if ip not in received})
    order = sorted(addresses, key=ipaddress.IPv4Address)
    matrix = {src: {dst: (received[dst].get(src) if dst in received else None)
                    for dst in order if dst != src} for src in order}
    failed = [[s, d] for s in order for d in order if s != d and matrix[s][d] is False]
    return {"matrix": matrix, "failed": failed, "unmeasured": unmeasured,
            "table": format_matrix(matrix)}


def format_matrix(matrix: dict[str, dict[str, bool | None]]) -> str:
    """Readable table: rows send, columns receive; ok / FAIL / ? (not measured)."""
    order = list(matrix)
    if not order:
        return "IPIP probe: no results"
    width = max(len(a) for a in order) + 2
    marks = {True: "ok", False: "FAIL", None: "?"}
    lines = ["IPIP probe (protocol 4): row = sender, column = receiver",
             "from \\ to".ljust(width) + "".join(d.ljust(width) for d in order)]
    for src in order:
        cells = ("-" if dst == src else marks[matrix[src].get(dst)] for dst in order)
        lines.append(src.ljust(width) + "".join(c.ljust(width) for c in cells))
    return "\n".join(line.rstrip() for line in lines)
