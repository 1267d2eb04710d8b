#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: read Calico's Node registrations and BGP settings."""

DOCUMENTATION = r"""
---
module: calico_nodes_info
extends_documentation_fragment:
  - calico_fleet.fleet.calico_datastore
  - calico_fleet.fleet.attributes.datastore
  - calico_fleet.fleet.attributes.read_only
short_description: Read Calico Nodes (BGP addresses, route-reflector IDs, tunnel addresses), BGP settings and BGPPeers
description:
  - Reads every Calico Node, the BGPConfiguration C(default) and every BGPPeer from the datastore, read-only,
    which is what decides who peers with whom (see the C(calico_fleet.fleet.calico_expected_peers) filter).
  - With O(datastore=etcdv3) the Node resources come from etcd; with O(datastore=kubernetes) from the
    C(projectcalico.org/*) annotations and the labels of the Kubernetes Nodes.
  - BGPPeers come from etcd (C(/calico/resources/v3/projectcalico.org/bgppeers/<name>)) or the API server
    (C(projectcalico.org/v3), else the C(crd.projectcalico.org/v1) BGPPeer CRDs).
  - Never reports a change; works in check mode.
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
"""

EXAMPLES = r"""
- name: Read the Calico nodes from etcd (TLS, as kubeasz sets it up)
  calico_fleet.fleet.calico_nodes_info:
    etcd_endpoints: [https://10.0.1.1:2379]
    etcd_ca_cert: /etc/kubernetes/ssl/ca.pem
    etcd_cert: /etc/calico/ssl/calico.pem
    etcd_key: /etc/calico/ssl/calico-key.pem
  register: calico_nodes

- name: Read them through the Kubernetes API (the datastore from the play's module_defaults)
  calico_fleet.fleet.calico_nodes_info:
  register: calico_nodes
"""

RETURN = r"""
nodes:
  description: One entry per Calico Node, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Calico node name., type: str}
    ipv4_address: {description: BGP IPv4 address without prefix (null when none)., type: str}
    ipv4_network: {description: BGP IPv4 address as stored (C(10.0.1.202/24))., type: str}
    ipv6_address: {description: BGP IPv6 address without prefix., type: str}
    rr_cluster_id: {description: Route-reflector cluster ID (null when not a route reflector)., type: str}
    ipip_tunnel_addr: {description: Address of the node's tunl0., type: str}
    asn: {description: Node-specific AS number (null = the cluster AS)., type: int}
    labels: {description: The Node's labels (what BGPPeer selectors select)., type: dict}
    k8s_node_name:
      description:
        - The Kubernetes node of this Calico Node, from its C(spec.orchRefs) entry with orchestrator C(k8s)
          (etcdv3; null without one); the Node's own name under the kubernetes datastore.
      type: str
bgp_configuration:
  description: Effective BGPConfiguration C(default) (Calico's defaults when it does not exist).
  returned: always
  type: dict
  contains:
    exists: {description: Whether the resource exists., type: bool}
    mesh_enabled: {description: Node-to-node mesh on., type: bool}
    as_number: {description: Cluster AS number (default 64512)., type: int}
bgp_peers:
  description: One entry per BGPPeer, sorted by name; an unset field is null.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: BGPPeer name., type: str}
    node: {description: The one node this peering is for (C(spec.node))., type: str}
    node_selector: {description: Selector of the nodes this peering is for (C(spec.nodeSelector))., type: str}
    peer_ip: {description: "Address of the peer (C(spec.peerIP)), a Calico node or a router.", type: str}
    peer_selector: {description: Selector of the Calico nodes to peer with (C(spec.peerSelector))., type: str}
    as_number: {description: AS number of the peer given by C(peer_ip) (null = the cluster AS)., type: int}
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.module import CalicoModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.connect import nodes_info


def main() -> None:
    module = CalicoModule()
    module.exit_result(module.run(nodes_info))


if __name__ == "__main__":
    main()
