#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: a Calico Node's route-reflector cluster ID and labels."""

DOCUMENTATION = r"""
---
module: calico_node_bgp
extends_documentation_fragment:
  [calico_fleet.fleet.calico_datastore, calico_fleet.fleet.attributes.datastore, calico_fleet.fleet.attributes]
short_description: Set a Calico Node's route-reflector cluster ID and labels, idempotently
description:
  - Sets C(spec.bgp.routeReflectorClusterID) and C(metadata.labels) of one registered Calico Node and
    leaves every other field alone (BGP addresses, tunnel address, orchestrator references, other labels).
  - A node with a cluster ID is a route reflector - it leaves the node-to-node mesh; the label (for
    example C(route-reflector=true)) is what a BGPPeer's C(peerSelector) selects it by.
  - The Node must exist (calico-node registers it when it starts); this module never creates one.
version_added: "1.1.0"
author: calico-fleet contributors (@calico-fleet)
options:
  node:
    description: Calico node name.
    type: str
    required: true
  route_reflector_cluster_id:
    description:
      - Cluster ID written like an IPv4 address, e.g. C(244.0.0.1); the same on every reflector of one
        cluster. An empty string removes it (the node is no longer a reflector). Left out - not managed.
    type: str
  labels:
    description:
      - "Labels to set, e.g. C(route-reflector: 'true'). A label with a null value is removed. Labels not
        named here are kept."
    type: dict
notes:
  - Supports check mode and diff mode; the diff shows the cluster ID and the labels.
  - Etcdv3 datastore only. With the kubernetes datastore these are the annotation
    C(projectcalico.org/RouteReflectorClusterID) and the labels of the Kubernetes Node; the module then
    fails and names the C(kubectl annotate) / C(kubectl label) commands to run instead.
seealso:
  - module: calico_fleet.fleet.calico_bgp_peer
"""

EXAMPLES = r"""
- name: Make node-c a route reflector
  calico_fleet.fleet.calico_node_bgp:
    node: node-c
    route_reflector_cluster_id: 244.0.0.1
    labels:
      route-reflector: "true"

- name: Turn node-c back into a mesh member
  calico_fleet.fleet.calico_node_bgp:
    node: node-c
    route_reflector_cluster_id: ""
    labels:
      route-reflector: null
"""

RETURN = r"""
node:
  description: The Calico Node as stored after the run (as it would be, in check mode).
  returned: always
  type: dict
findings:
  description:
    - A C(node_changed) finding for the cluster ID and one for the labels, when they differ.
    - The fix - the route_reflectors playbook.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.apply import apply_node_bgp
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.module import CalicoModule


def main() -> None:
    module = CalicoModule(argument_spec=dict(node=dict(type="str", required=True),
                                             route_reflector_cluster_id=dict(type="str"), labels=dict(type="dict")))
    p = module.params
    module.exit_result(module.run(apply_node_bgp, p["node"], p["route_reflector_cluster_id"], p["labels"],
                                  module.check_mode, node=p["node"]))


if __name__ == "__main__":
    main()
