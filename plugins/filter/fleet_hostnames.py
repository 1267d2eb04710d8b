# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the hostname plan (plugins/module_utils/hostnames.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.module_utils import hostnames


def fleet_hostname_plan(new_machines: Any, existing: Any = None, scheme: str = "ip", prefix: Any = None,
                        template: Any = None, separator: Any = "-", variables: Any = None, domain: Any = None,
                        assigned: Any = None, cloud: str | None = None) -> list:
    try:
        return hostnames.plan_hostnames(
            new_machines, existing=existing, scheme=scheme, prefix=prefix, template=template,
            separator=separator, variables=variables, domain=domain, assigned=assigned, cloud=cloud)
    except hostnames.HostnamePlanError as exc:
        raise AnsibleFilterError(f"hostname plan: {exc}") from None


def fleet_hostname_valid(name: Any, fqdn: bool = False, cloud: str | None = None) -> bool:
    """True when ``name`` is a node name the plan would give on ``cloud`` (or, with fqdn, a valid hostname)."""
    if fqdn:
        return hostnames.is_valid_fqdn(name, rfc1035=cloud == "gcp")
    return hostnames.is_valid_name(name, cloud)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "fleet_hostname_plan": fleet_hostname_plan,
            "fleet_hostname_valid": fleet_hostname_valid,
        }
