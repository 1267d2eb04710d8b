# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which hosts become route reflectors: an inventory group, or a count picked across zones.

The pick is deterministic (same inventory, same reflectors): hosts that already
are reflectors are kept first, then zones are visited round-robin in sorted
order, each zone's hosts in sorted order, so reflectors spread over as many
zones as there are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class ReflectorChoiceError(ValueError):
    """The inventory cannot give the reflectors asked for; the message says what to change."""


def pick_route_reflectors(hosts: Iterable[str] | None, zones: Mapping[str, str | None] | None = None, count: int = 3,
                          group: Iterable[str] | None = None, current: Iterable[str] | None = None) -> list[str]:
    """Sorted inventory hosts to be route reflectors.

    hosts: every cluster host; zones: {host: zone}; group: hosts of the reflector group (wins when
    not empty; each must be a cluster host); current: hosts that already are reflectors.
    """
    hosts = sorted(set(hosts or []))
    if group:
        unknown = sorted(set(group) - set(hosts))
        if unknown:
            raise ReflectorChoiceError(
                f"route reflector(s) {', '.join(unknown)} are not among the cluster's hosts: put them in the "
                "inventory group of the cluster nodes too, or remove them from the reflector group")
        return sorted(set(group))
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ReflectorChoiceError(f"route_reflectors_count must be a positive number, got {count!r}")
    if count > len(hosts):
        raise ReflectorChoiceError(
            f"route_reflectors_count {count} is more than the {len(hosts)} cluster hosts")
    zones = zones or {}
    chosen = [h for h in hosts if h in set(current or [])][:count]
    by_zone: dict[str, list[str]] = {}
    for host in hosts:
        if host not in chosen:
            by_zone.setdefault(str(zones.get(host) or ""), []).append(host)
    # Zones that already hold a reflector come last in the first round.
    used = {str(zones.get(h) or "") for h in chosen}
    order = sorted(by_zone, key=lambda z: (z in used, z))
    while len(chosen) < count:
        for zone in order:
            if by_zone[zone] and len(chosen) < count:
                chosen.append(by_zone[zone].pop(0))
    return sorted(chosen)
