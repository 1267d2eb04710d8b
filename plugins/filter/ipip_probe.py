# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``ipip_probe_matrix``: the IPIP probe's pairwise matrix from the collected results."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.matrix import probe_matrix


def _host_ips(hosts: Mapping[str, Any]) -> dict[str, Any]:
    """{host: ip} from {host: ip} or {host: {ip: ...}} (mesh_check_hosts records)."""
    return {h: (v.get("ip") if isinstance(v, dict) else v) for h, v in hosts.items()}


def ipip_probe_matrix(data: Any, hosts: Any = None, key: str | None = None) -> dict[str, Any]:
    """Matrix from ``collected`` results.

    ``data`` is a list of results (the collecting node's, then the nodes
    asked directly: ``[probe] + direct.results | ipip_probe_matrix(hosts)``
    with ``hosts`` mapping each host to its IP, so hosts nothing is known
    about are named), {host: result}, or ``hostvars`` with ``key`` naming the
    registered result. With a dict, a list ``hosts`` limits the hosts read.
    Returns {matrix: {src_ip: {dst_ip: bool|None}}, failed: [[src, dst]],
    unmeasured: [host], table: str}.
    """
    if isinstance(data, (list, tuple)):
        return probe_matrix(list(data), _host_ips(hosts) if isinstance(hosts, dict) else None)
    names = list(hosts) if hosts is not None else list(data)
    results = {}
    for host in names:
        value = data[host] if host in data else None
        if key is not None and value is not None:
            value = value[key] if key in value else None
        results[host] = value
    return probe_matrix(results)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"ipip_probe_matrix": ipip_probe_matrix}
