# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``ipip_probe_matrix``: the IPIP probe's pairwise matrix from every node's result."""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import probe_matrix


def ipip_probe_matrix(data, hosts=None, key=None):
    """Matrix from ``collected`` results.

    ``data`` is either {host: result} or ``hostvars`` with ``key`` naming the
    registered result (``hostvars | ipip_probe_matrix(ansible_play_hosts,
    '__mesh_verify_probe')``). ``hosts`` limits the hosts looked at.
    Returns {matrix: {src_ip: {dst_ip: bool|None}}, failed: [[src, dst]],
    unmeasured: [host], table: str}.
    """
    names = list(hosts) if hosts is not None else list(data)
    results = {}
    for host in names:
        value = data[host] if host in data else None
        if key is not None and value is not None:
            value = value[key] if key in value else None
        results[host] = value
    return probe_matrix(results)


class FilterModule:
    def filters(self):
        return {"ipip_probe_matrix": ipip_probe_matrix}
