# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter: the hosts that are to be Calico route reflectors."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.route_reflectors import (
    ReflectorChoiceError,
    pick_route_reflectors,
)


def route_reflector_hosts(hosts: Iterable[str] | None, hostvars: Mapping[str, Any], count: int = 3,
                          group: Iterable[str] | None = None, current: Iterable[str] | None = None,
                          zone_var: str = "zone") -> list[str]:
    """Reflector hosts: ``group`` when not empty, else ``count`` hosts picked round-robin across zones."""
    zones = {h: (hostvars[h].get(zone_var) if h in hostvars else None) for h in hosts or []}
    try:
        return pick_route_reflectors(list(hosts or []), zones, int(count), list(group or []), list(current or []))
    except (ReflectorChoiceError, ValueError, TypeError) as exc:
        raise AnsibleFilterError(f"route_reflector_hosts: {exc}") from exc


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"route_reflector_hosts": route_reflector_hosts}
