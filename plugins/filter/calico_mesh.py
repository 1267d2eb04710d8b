# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the mesh: the peers one node must have, and the host records calico_mesh_check takes."""

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.check import host_records
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.expected import (
    bgp_peers_required,
    expected_peers_for,
)


def calico_expected_peers(nodes, bgp_configuration, host_ip, bgp_peers=None):
    """Peer IPs `host_ip` must have, following Calico's mesh and BGPPeer rules (mesh.py).

    nodes, bgp_configuration and bgp_peers as calico_nodes_info returns them. Without bgp_peers
    no BGPPeer is expected, which is refused where route reflectors exist.
    """
    if not isinstance(nodes, list):
        raise AnsibleFilterError("calico_expected_peers: nodes must be the list calico_nodes_info returns")
    if not host_ip:
        raise AnsibleFilterError("calico_expected_peers: pass the node's IPv4 address as host_ip")
    if bgp_peers is not None and not isinstance(bgp_peers, list):
        raise AnsibleFilterError("calico_expected_peers: bgp_peers must be the list calico_nodes_info returns")
    required = bgp_peers_required(nodes, bgp_peers)
    if required:
        raise AnsibleFilterError(f"calico_expected_peers: {required} as the fourth argument")
    return expected_peers_for(nodes, bgp_configuration or {}, host_ip, bgp_peers)


def _var(hostvars, host, name):
    if not name or host not in hostvars:
        return None
    values = hostvars[host]
    return values[name] if name in values else None


def mesh_check_hosts(hostvars, hosts, status_var=None, results=None, identity_var=None, ip_var=None):
    """{host: {ip, hostname, nodename, joined, status}} for calico_mesh_check's ``hosts`` option.

    Each host's BGP status comes from its registered ``status_var``, or from ``results`` (the
    ``results`` list of a loop over the hosts with delegate_to). Its identity comes from
    ``identity_var`` (a dict with ip, hostname, nodename) or from the status itself; its IP from
    the identity, ``ip_var``, or ``ansible_host``.
    """
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("mesh_check_hosts: pass the list of hosts (e.g. ansible_play_hosts_all)")
    if (status_var is None) == (results is None):
        raise AnsibleFilterError("mesh_check_hosts: pass exactly one of status_var or results")
    by_item = {r.get("item"): r for r in results or [] if isinstance(r, dict)}
    statuses, identities, ips = {}, {}, {}
    for host in hosts:
        statuses[host] = by_item.get(host) if results is not None else _var(hostvars, host, status_var)
        identities[host] = _var(hostvars, host, identity_var)
        ips[host] = ((identities[host] or {}).get("ip") or _var(hostvars, host, ip_var)
                     or _var(hostvars, host, "ansible_host"))
    return host_records(hosts, ips, identities, statuses)


MEMBER_VARS = {"ip": "calico_fleet_private_ip", "instance_id": "calico_fleet_instance_id",
               "instance_name": "calico_fleet_instance_name", "zone": "calico_fleet_zone",
               "kubernetes_node": "calico_fleet_kubernetes_node", "calico_node": "calico_fleet_calico_node",
               "sources": "calico_fleet_sources"}


def cluster_members(hostvars, hosts):
    """calico_mesh_check's ``members``: the membership host variables of the calico_nodes inventory plugin.

    One record per host of ``hosts`` (e.g. groups['all']) that has them; [] when the inventory has no
    membership variables (the plugin without cloud or Kubernetes source, or another inventory).
    """
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("cluster_members: pass the list of hosts (e.g. groups['all'])")
    records = []
    for host in hosts:
        sources = _var(hostvars, host, "calico_fleet_sources")
        if not sources or list(sources) == ["calico"]:
            continue
        records.append({"host": host, **{key: _var(hostvars, host, name) for key, name in MEMBER_VARS.items()}})
    return records


class FilterModule:
    def filters(self):
        return {"calico_expected_peers": calico_expected_peers, "mesh_check_hosts": mesh_check_hosts,
                "cluster_members": cluster_members}
