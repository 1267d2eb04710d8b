# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the hostname plan (plugins/module_utils/hostnames.py)."""

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.module_utils import hostnames


def fleet_hostname_plan(new_machines, existing=None, scheme="ip", prefix=None, template=None, separator="-",
                        variables=None, domain=None, assigned=None, cloud=None):
    try:
        return hostnames.plan_hostnames(
            new_machines, existing=existing, scheme=scheme, prefix=prefix, template=template,
            separator=separator, variables=variables, domain=domain, assigned=assigned, cloud=cloud)
    except hostnames.HostnamePlanError as exc:
        raise AnsibleFilterError(f"hostname plan: {exc}") from None


def fleet_hostname_valid(name, fqdn=False, cloud=None):
    """True when ``name`` is a node name the plan would give (or, with fqdn, a valid hostname)."""
    if fqdn:
        return hostnames.is_valid_fqdn(name, rfc1035=cloud == "gcp")
    return hostnames.is_valid_name(name)


class FilterModule:
    def filters(self):
        return {
            "fleet_hostname_plan": fleet_hostname_plan,
            "fleet_hostname_valid": fleet_hostname_valid,
        }
