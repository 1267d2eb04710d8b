# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that gather the names in use for the naming plan (plugins/plugin_utils/names_in_use.py)."""

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils import names_in_use as source


def _inventory(hostvars, hosts):
    out = {}
    for host in hosts or []:
        values = hostvars[host] if hostvars is not None and host in hostvars else {}
        out[host] = values["ansible_host"] if "ansible_host" in values else None
    return out


def names_in_use(sources, hostvars=None, inventory_hosts=None):
    """[{name, source, location, ip}] from {gcp, aws, calico, k8s} results and the inventory's hosts."""
    if not isinstance(sources, dict):
        raise AnsibleFilterError("names_in_use: pass a dict {gcp, aws, calico, k8s} of registered results")
    return source.names_in_use(gcp=sources.get("gcp"), aws=sources.get("aws"), calico=sources.get("calico"),
                               k8s=sources.get("k8s"), inventory=_inventory(hostvars, inventory_hosts))


def batch_machines(sources, batch):
    """[{name, ip}] of the machines that already carry this batch's label or tag."""
    if not isinstance(sources, dict):
        raise AnsibleFilterError("batch_machines: pass a dict {gcp, aws} of registered results")
    return source.batch_machines(batch, gcp=sources.get("gcp"), aws=sources.get("aws"))


def planned_machines(plan):
    """[{name, hostname}] of a fleet_hostname_plan result: what the cloud roles take as their instances."""
    if not isinstance(plan, list):
        raise AnsibleFilterError("planned_machines: pass the list fleet_hostname_plan returns")
    return [{"name": entry["name"], "hostname": entry["hostname"]} for entry in plan]


def ec2_duplicate_names(instances, names):
    """['name (i-1, i-2)'] for each planned name that several live EC2 instances carry."""
    if not isinstance(instances, list):
        raise AnsibleFilterError("ec2_duplicate_names: pass the instances of amazon.aws.ec2_instance_info")
    return source.ec2_duplicate_names(instances, names)


class FilterModule:
    def filters(self):
        return {"names_in_use": names_in_use, "batch_machines": batch_machines, "planned_machines": planned_machines,
                "ec2_duplicate_names": ec2_duplicate_names}
