"""Filter: the BGP peers one node must have, so a play can pass calico_bgp_status expect_peers."""

import os

import ansible.module_utils
from ansible.errors import AnsibleFilterError

# Filters run on the controller, where ansible.cfg's module_utils path is not
# importable: make plugins/module_utils reachable the way modules see it.
_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.mesh import expected_peers_for  # noqa: E402


def calico_expected_peers(nodes, bgp_configuration, host_ip):
    """Peer IPs `host_ip` must have, following the mesh / route-reflector rules of mesh.py.

    nodes and bgp_configuration as calico_nodes_info returns them.
    """
    if not isinstance(nodes, list):
        raise AnsibleFilterError("calico_expected_peers: nodes must be the list calico_nodes_info returns")
    if not host_ip:
        raise AnsibleFilterError("calico_expected_peers: pass the node's IPv4 address as host_ip")
    return expected_peers_for(nodes, bgp_configuration or {}, host_ip)


class FilterModule:
    def filters(self):
        return {"calico_expected_peers": calico_expected_peers}
