#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: Calico's IPIP tunnel MTU (FelixConfiguration default)."""

DOCUMENTATION = r"""
---
module: calico_felix_configuration
extends_documentation_fragment:
  [calico_fleet.fleet.calico_datastore, calico_fleet.fleet.attributes.datastore, calico_fleet.fleet.attributes]
short_description: Set or check Calico's IPIP tunnel MTU, derived from the underlay MTU
description:
  - Manages C(ipipMTU) in the FelixConfiguration C(default).
  - IPIP adds a 20-byte outer header, so the tunnel MTU is the underlay MTU minus 20
    (GCP's default VPC MTU 1460 gives 1440; 1500 gives 1480).
  - A wrong or unset C(ipipMTU) is a finding in RV(findings) with its cause; check mode writes nothing
    (the nightly drift check runs it so).
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  underlay_mtu:
    description: MTU of the nodes' network (VPC); the tunnel MTU is derived from it.
    type: int
  ipip_mtu:
    description: Tunnel MTU to set directly; give this or O(underlay_mtu).
    type: int
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Derive the tunnel MTU from GCP's VPC MTU (the datastore from the play's module_defaults)
  calico_fleet.fleet.calico_felix_configuration:
    underlay_mtu: 1460
"""

RETURN = r"""
findings:
  description:
    - The tunnel MTU difference as a finding of kind C(felix_configuration_missing) or C(felix_configuration_changed).
    - C(cause) explains it (fragmentation, wasted bytes); C(fix) runs the scale_out playbook, tag calico_network.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: felix_configuration_changed
      section: calico_settings
      resource: FelixConfiguration/default
      field: ipipMTU
      expected: 1440
      actual: 1480
before:
  description: C({ipip_mtu}) before the run (null when unset).
  returned: always
  type: dict
after:
  description: C({ipip_mtu}) after the run (or as it would be, in check mode).
  returned: always
  type: dict
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.apply import apply_felix_configuration
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.module import CalicoModule


def main() -> None:
    module = CalicoModule(argument_spec=dict(underlay_mtu=dict(type="int"), ipip_mtu=dict(type="int")),
                          required_one_of=[("underlay_mtu", "ipip_mtu")])
    p = module.params
    module.exit_result(module.run(apply_felix_configuration, p["ipip_mtu"], p["underlay_mtu"], module.check_mode))


if __name__ == "__main__":
    main()
