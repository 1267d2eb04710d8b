# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An IP pool as the inventory declares it (calico_network_ippools), checked as Calico checks it.

Keys are the inventory's snake_case ones. Calico's own rules (cidr, blockSize range and fit, ipipMode
and vxlanMode values and exclusivity, IPIP on IPv4 only, allowedUses, nodeSelector, overlaps) are
``calico_resources.validate_ippool``, the rule the calico_ippool module applies; this file adds what an
inventory entry can get wrong before it becomes a spec (keys, name, state, types).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import (
    MODES,
    ResourceValidationError,
    ippool_defaults,
    ippool_request,
    validate_ippool,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.network import parse_network
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.numbers import whole_number as _int

POOL_KEYS = ("name", "state", "cidr", "block_size", "ipip_mode", "vxlan_mode", "nat_outgoing", "disabled",
             "disable_bgp_export", "node_selector", "allowed_uses")
STATES = ("present", "absent")
_FLAGS = ("nat_outgoing", "disabled", "disable_bgp_export")

# (field, problem): field is the pool key at fault ("" for the entry as a whole).
Problem = tuple[str, str]


def ippool_problems(pool: Any, other_pools: Iterable[Mapping[str, Any]] = (),
                    service_cidr: str | None = None) -> list[Problem]:
    """What Calico would refuse in ``pool`` (an inventory entry), as (field, problem); [] when fine.

    ``other_pools`` are entries declared before it ({name, cidr}): a pool may not overlap them.
    """
    if not isinstance(pool, Mapping):
        return [("", f"{pool!r} is not a mapping; write each pool as {{name: ..., cidr: ...}}")]
    problems: list[Problem] = []
    unknown = sorted(set(pool) - set(POOL_KEYS))
    if unknown:
        problems.append(("", f"unknown key(s) {', '.join(map(str, unknown))}; use only {', '.join(POOL_KEYS)}"))
    name = pool.get("name")
    if not isinstance(name, str) or not name:
        return problems + [("name", "is not set; give the pool a name, e.g. default-ipv4-ippool")]
    state = pool.get("state", "present")
    if state not in STATES:
        return problems + [("state", f"is {state!r}; use present or absent")]
    if state == "absent":
        return problems
    if "cidr" not in pool:
        return problems + [("cidr", "is not set; give the pool's cidr, e.g. 172.20.0.0/16")]
    net, why = parse_network(pool["cidr"])
    if net is None:
        return problems + [("cidr", f"{why}; write it as address/prefix, e.g. 172.20.0.0/16")]
    block = pool.get("block_size")
    if block is not None and _int(block) is None:
        return problems + [("block_size", f"{block!r} is not a number; use 20..32 for IPv4 (default 26)")]
    modes = [(key, pool[key]) for key in ("ipip_mode", "vxlan_mode") if key in pool and pool[key] not in MODES]
    if modes:
        return problems + [(key, f"is {value!r}; use one of {', '.join(MODES)} (case matters)") for key, value in modes]
    flags = [key for key in _FLAGS if pool.get(key) is not None and not isinstance(pool[key], bool)]
    if flags:
        return problems + [(key, f"is {pool[key]!r}; use true or false") for key in flags]
    spec = ippool_defaults(ippool_request(
        pool["cidr"], _int(block) if block is not None else None, pool.get("ipip_mode"), pool.get("vxlan_mode"),
        pool.get("nat_outgoing"), pool.get("disabled"), pool.get("disable_bgp_export"), pool.get("node_selector"),
        pool.get("allowed_uses")))
    others = [{"metadata": {"name": o.get("name")}, "spec": {"cidr": str(o.get("cidr"))}}
              for o in other_pools if isinstance(o, Mapping) and o.get("cidr")]
    try:
        validate_ippool(name, spec, others, service_cidr or None, None)
    except ResourceValidationError as exc:
        field = {"service_cidr": "cidr", "node_cidr": "cidr"}.get(exc.field or "", exc.field) or "cidr"
        problems.append((field, str(exc)))
    return problems


def is_ippool(pool: Any) -> bool:
    return not ippool_problems(pool)
