# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPIP probe's inputs: run id, peers and the ranges of the numeric options.

Standard library only: the probe runs on the nodes with their system Python.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping

from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.errors import ProbeError

RUN_ID_LEN = 32
RUN_ID_RE = re.compile(rf"^[A-Za-z0-9_.-]{{1,{RUN_ID_LEN}}}$")
# Most peers one probe takes part in (the column bitmap stays within one packet).
MAX_PEERS = 8000


def check_run_id(run_id: object) -> None:
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise ProbeError(f"run_id {run_id!r} is invalid: use 1-{RUN_ID_LEN} characters from "
                         "A-Z a-z 0-9 _ . -", run_id=run_id)


def check_peers(peers: Iterable[object]) -> list[str]:
    """Return peers as sorted, unique IPv4 strings; raise on anything else."""
    out = set()
    for peer in peers:
        try:
            out.add(str(ipaddress.IPv4Address(str(peer).strip())))
        except ValueError:
            raise ProbeError(f"peer {peer!r} is not an IPv4 address: list the nodes' private IPv4 "
                             "addresses in peers", peer=peer) from None
    if len(out) > MAX_PEERS:
        raise ProbeError(f"{len(out)} peers: the probe takes at most {MAX_PEERS}", peers=len(out))
    return sorted(out, key=ipaddress.IPv4Address)


# Ranges of the probe's numeric options: {name: (lowest, highest)}.
LIMITS = {"count": (1, 100), "interval": (0.1, 5), "timeout": (1, 3600), "wait": (0, 600)}


def out_of_range(values: Mapping[str, float]) -> str | None:
    """Message naming the first option outside LIMITS and what to use, or None."""
    for name, (low, high) in LIMITS.items():
        if name in values and not low <= values[name] <= high:
            return f"{name}={values[name]} is out of range: use a value from {low} to {high}"
    return None
