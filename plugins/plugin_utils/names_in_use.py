# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every name already in use around a cluster, from the sources the naming plan reads.

Input shapes are the registered results of the modules the node_names role
calls (calico_fleet.fleet.gcp_instances_info, amazon.aws.ec2_instance_info,
calico_fleet.fleet.calico_nodes_info, kubernetes.core.k8s_info) and the
inventory; a source that was not read is None or {}.
"""

from __future__ import annotations

from collections.abc import Iterable

BATCH_KEY = "calico-fleet-batch"


def _items(result, key):
    return list((result or {}).get(key) or [])


def _aws_live(instances):
    return [i for i in instances if ((i.get("state") or {}).get("name")) != "terminated"]


def names_in_use(gcp: dict | None = None, aws: dict | None = None, calico: dict | None = None,
                 k8s: dict | None = None, inventory: dict | None = None) -> list[dict]:
    """[{name, source, location?, ip?}] for hostnames.plan_hostnames(existing=...).

    inventory: {inventory host name: ansible_host or None}.
    """
    out = []
    for inst in _items(gcp, "instances"):
        ip = inst.get("private_ip")
        out.append({"name": inst["name"], "source": "cloud_instance",
                    "location": f"GCP instance in {inst.get('zone')}", "ip": ip})
        if inst.get("hostname"):
            out.append({"name": inst["hostname"], "source": "cloud_hostname",
                        "location": f"hostname of GCP instance {inst['name']}", "ip": ip})
    for inst in _aws_live(_items(aws, "instances")):
        ip = inst.get("private_ip_address")
        name = (inst.get("tags") or {}).get("Name")
        if name:
            out.append({"name": name, "source": "cloud_instance",
                        "location": f"AWS instance {inst.get('instance_id')}", "ip": ip})
        if inst.get("private_dns_name"):
            out.append({"name": inst["private_dns_name"], "source": "cloud_hostname",
                        "location": f"DNS name of AWS instance {inst.get('instance_id')}", "ip": ip})
    for node in _items(calico, "nodes"):
        out.append({"name": node["name"], "source": "calico_node", "ip": node.get("ipv4_address")})
    for node in _items(k8s, "resources"):
        out.append({"name": node["metadata"]["name"], "source": "kubernetes_node"})
    for host, ip in sorted((inventory or {}).items()):
        out.append({"name": host, "source": "inventory", "ip": ip})
    return out


def batch_machines(batch: str, gcp: dict | None = None, aws: dict | None = None) -> list[dict]:
    """[{name, ip}] of machines that already carry this batch's label/tag (a rerun after a partial failure)."""
    out = []
    for inst in _items(gcp, "instances"):
        if (inst.get("labels") or {}).get(BATCH_KEY, "") == batch:
            out.append({"name": inst["name"], "ip": inst.get("private_ip")})
    for inst in _aws_live(_items(aws, "instances")):
        tags = inst.get("tags") or {}
        if tags.get(BATCH_KEY, "") == batch:
            out.append({"name": tags.get("Name"), "ip": inst.get("private_ip_address")})
    return out


def ec2_duplicate_names(instances: Iterable[dict] | None, names: Iterable[str] | None) -> list[str]:
    """['name (i-1, i-2)'] for each planned name that more than one live EC2 instance carries."""
    out = []
    for name in names or []:
        ids = [i.get("instance_id") for i in _aws_live(list(instances or []))
               if (i.get("tags") or {}).get("Name") == name]
        if len(ids) > 1:
            out.append(f"{name} ({', '.join(ids)})")
    return out
