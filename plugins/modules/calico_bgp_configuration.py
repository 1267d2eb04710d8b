#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: Calico's cluster-wide BGP settings (BGPConfiguration default)."""

DOCUMENTATION = r"""
---
module: calico_bgp_configuration
extends_documentation_fragment:
  [calico_fleet.fleet.calico_datastore, calico_fleet.fleet.attributes.datastore, calico_fleet.fleet.attributes]
short_description: Set or check Calico's node-to-node mesh and cluster AS number
description:
  - Manages the BGPConfiguration C(default), fields C(nodeToNodeMeshEnabled) and C(asNumber).
  - Compares Calico's effective values (mesh on and AS 64512 when unset), so defaults never cause a change.
  - Each mismatch is a finding in RV(findings); in check mode nothing is written, so the module is a drift check.
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  mesh_enabled:
    description: Node-to-node BGP mesh on (recommended up to about 100 nodes) or off (route reflectors).
    type: bool
  as_number:
    description: Cluster AS number (1-4294967295; Calico's default 64512).
    type: int
  allow_route_reflectors:
    description:
      - Turn the mesh back on although route reflectors or BGPPeers exist (refused otherwise). Only for
        the way back from route reflectors to the full mesh, which removes them afterwards
        (role calico_fleet.fleet.route_reflectors does it in that order).
    type: bool
    default: false
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
# The datastore comes from the play: module_defaults for group/calico_fleet.fleet.calico_datastore.
- name: Keep the full mesh on, AS 64512
  calico_fleet.fleet.calico_bgp_configuration:
    mesh_enabled: true
    as_number: 64512

- name: Report whether the mesh is off, without changing it
  calico_fleet.fleet.calico_bgp_configuration:
    mesh_enabled: false
  check_mode: true
  register: mesh
"""

RETURN = r"""
findings:
  description: >-
    The mesh or AS number differences as findings (C(bgp_configuration_missing) or C(bgp_configuration_changed)),
    each with its cause and its fix as data; empty when in line.
  returned: always
  type: list
  elements: dict
before:
  description: Effective C({mesh_enabled, as_number}) before the run.
  returned: always
  type: dict
after:
  description: Effective C({mesh_enabled, as_number}) after the run (or as it would be, in check mode).
  returned: always
  type: dict
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.apply import apply_bgp_configuration
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.module import CalicoModule


def main() -> None:
    module = CalicoModule(argument_spec=dict(mesh_enabled=dict(type="bool"), as_number=dict(type="int"),
                                             allow_route_reflectors=dict(type="bool", default=False)))
    p = module.params
    module.exit_result(module.run(apply_bgp_configuration, p["mesh_enabled"], p["as_number"], module.check_mode,
                                  p["allow_route_reflectors"]))


if __name__ == "__main__":
    main()
