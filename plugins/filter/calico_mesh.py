"""Filter: the BGP peers one node must have, so a play can pass calico_bgp_status expect_peers."""

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh import expected_peers_for


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
