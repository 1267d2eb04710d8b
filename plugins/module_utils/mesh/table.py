# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mesh as text: a host x host grid, a per-host summary for large clusters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

GRID_MAX_HOSTS = 30


def render_table(hosts: dict, matrix: dict, findings: Iterable[Any] = (), down: dict | None = None) -> str:
    """The mesh as text: a host x host grid up to GRID_MAX_HOSTS hosts, a
    per-host summary beyond (a 150 x 150 grid is not readable)."""
    down = down or {}
    invs = sorted(hosts)
    total = sum(len(row) for row in matrix.values())
    good = sum(1 for row in matrix.values() for cell in row.values() if cell == "Established")
    lines = [
        f"Calico BGP mesh: {len(invs)} hosts, {good}/{total} expected sessions Established, "
        f"{len(list(findings))} finding(s)"
    ]
    if len(invs) <= GRID_MAX_HOSTS:
        lines += _grid(invs, hosts, matrix, down)
    else:
        lines += _summary(invs, hosts, matrix, down)
    return "\n".join(lines)


def _grid(invs, hosts, matrix, down):
    labels = [f"{inv} ({hosts[inv].get('ip')})" for inv in invs]
    extra = sorted({col for row in matrix.values() for col in row} - set(invs))
    cols = invs + extra
    width = max([len(c) for c in cols] + [len("Established")]) + 2
    first = max(len(s) for s in labels) + 2
    out = ["".ljust(first) + "".join(c.ljust(width) for c in cols).rstrip()]
    for inv, label in zip(invs, labels, strict=True):
        if inv in down:
            cells = [("-" if c == inv else "no answer") for c in cols]
        else:
            row = matrix.get(inv, {})
            cells = ["-" if c == inv else row.get(c, "") for c in cols]
        out.append(label.ljust(first) + "".join(c.ljust(width) for c in cells).rstrip())
    return out


def _summary(invs, hosts, matrix, down):
    out = [f"{'HOST':<24}{'IP':<18}{'PEERS':>6}{'ESTABLISHED':>13}  NOT ESTABLISHED"]
    for inv in invs:
        row = matrix.get(inv, {})
        ok = sum(1 for cell in row.values() if cell == "Established")
        bad = sorted(f"{peer}={cell}" for peer, cell in row.items() if cell != "Established")
        note = "no answer" if inv in down else ", ".join(bad[:8]) + (f" (+{len(bad) - 8})" if len(bad) > 8 else "")
        out.append(f"{inv:<24}{str(hosts[inv].get('ip')):<18}{len(row):>6}{ok:>13}  {note}".rstrip())
    return out
