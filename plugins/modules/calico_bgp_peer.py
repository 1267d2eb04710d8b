#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: manage one Calico BGPPeer in the datastore."""

DOCUMENTATION = r"""
---
module: calico_bgp_peer
extends_documentation_fragment:
  [calico_fleet.fleet.calico_datastore, calico_fleet.fleet.attributes.datastore, calico_fleet.fleet.attributes]
short_description: Create, update or delete one Calico BGPPeer idempotently, in etcd or through the Kubernetes API
description:
  - Creates, updates or deletes one C(projectcalico.org/v3) BGPPeer.
  - The five peering fields (O(node), O(peer_ip), O(as_number), O(node_selector), O(peer_selector)) are
    declarative - one left out is removed from an existing peer - so switching from a node to a selector
    works; other stored fields (password, source address, timers) are kept.
  - Which nodes peer is decided by O(node) or O(node_selector) (neither - a global peer, every node);
    with whom, by O(peer_ip) or O(peer_selector). Calico configures a peering between Calico nodes on
    both ends, so one BGPPeer from C(all()) to the reflectors also gives the reflectors their clients.
  - Validates before any write; a second run is a no-op.
version_added: "1.1.0"
author: calico-fleet contributors (@calico-fleet)
options:
  name:
    description: BGPPeer name, e.g. C(peer-with-route-reflectors).
    type: str
    required: true
  state:
    description: Whether the peer should exist.
    type: str
    choices: [present, absent]
    default: present
  node:
    description: The one Calico node this peering is for (not together with O(node_selector)).
    type: str
  node_selector:
    description: Calico selector of the nodes this peering is for, e.g. C(all()).
    type: str
  peer_ip:
    description: Address of the remote peer (C(10.0.1.5) or C(10.0.1.5:179)); not with O(peer_selector).
    type: str
  peer_selector:
    description: Calico selector of the Calico nodes to peer with, e.g. C(route-reflector == 'true').
    type: str
  as_number:
    description: AS number of the remote peer given by O(peer_ip); empty with O(peer_selector).
    type: int
notes:
  - Supports check mode and diff mode; the diff shows the managed fields.
seealso:
  - module: calico_fleet.fleet.calico_node_bgp
"""

EXAMPLES = r"""
# A play sets the datastore once for every Calico module:
#   module_defaults:
#     group/calico_fleet.fleet.calico_datastore: "{{ calico_fleet_datastore }}"
- name: Peer every node with the route reflectors
  calico_fleet.fleet.calico_bgp_peer:
    name: peer-with-route-reflectors
    node_selector: all()
    peer_selector: route-reflector == 'true'

- name: Peer node-a with a top-of-rack router (Kubernetes datastore, given on the task)
  calico_fleet.fleet.calico_bgp_peer:
    name: node-a-tor
    node: node-a
    peer_ip: 10.0.1.254
    as_number: 65010
    datastore: kubernetes
    kubeconfig: ~/.kube/config

- name: Remove the reflector peering
  calico_fleet.fleet.calico_bgp_peer:
    name: peer-with-route-reflectors
    state: absent
"""

RETURN = r"""
bgp_peer:
  description: >-
    The BGPPeer as stored after the run, or as it would be stored (check mode). Null when the peer does not exist.
  returned: always
  type: dict
findings:
  description: >-
    Findings (kind C(bgp_peer_missing), C(bgp_peer_changed) or C(bgp_peer_unexpected)) whose fix is the
    route_reflectors playbook; one per field that differs, empty when nothing changes.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.apply import apply_bgp_peer
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.module import (
    CalicoModule,
    resource_argument_spec,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import bgp_peer_request


def argument_spec() -> dict:
    return resource_argument_spec(
        node=dict(type="str"),
        node_selector=dict(type="str"),
        peer_ip=dict(type="str"),
        peer_selector=dict(type="str"),
        as_number=dict(type="int"),
    )


def main() -> None:
    module = CalicoModule(argument_spec=argument_spec())
    p = module.params
    wanted = bgp_peer_request(p["node"], p["peer_ip"], p["as_number"], p["node_selector"], p["peer_selector"])
    module.exit_result(module.run(apply_bgp_peer, p["name"], p["state"], wanted, module.check_mode, name=p["name"]))


if __name__ == "__main__":
    main()
