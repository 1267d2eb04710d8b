"""Filter ``ipip_probe_matrix``: the IPIP probe's pairwise matrix from every node's result."""

import importlib.util
import pathlib

try:
    from ansible.module_utils.ipip import probe_matrix
except ImportError:
    # Controller-side plugins do not see the project's module_utils as
    # ansible.module_utils.*: load the same file by its path instead.
    _PATH = pathlib.Path(__file__).resolve().parents[1] / "module_utils" / "ipip.py"
    _SPEC = importlib.util.spec_from_file_location("calico_fleet_ipip", _PATH)
    _IPIP = importlib.util.module_from_spec(_SPEC)
    _SPEC.loader.exec_module(_IPIP)
    probe_matrix = _IPIP.probe_matrix


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
