#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: check every input of scale-out before anything is created."""

DOCUMENTATION = r"""
---
module: scale_out_inputs
short_description: Check every input of a scale-out before any cloud or datastore call
description:
  - Checks the variables the inventory declares for every play of C(scale_out.yml) at once. That is the batch
    (C(scale_out_count), C(scale_out_batch), C(fleet_cloud)), the naming plan, the datastore connection,
    the cloud network, the IP pools (cidr, block size, IPIP/VXLAN mode, overlap with the nodes' range and
    the Service CIDR) and the join method.
  - Fails listing only the rules that failed, each with the variable the user sets and a fix.
  - Makes no network call and never reports a change.
  - Returns what later plays derive from the inputs, so that one inventory variable decides each of them;
    the IPIP mode comes from the IP pools.
version_added: "1.1.0"
author: calico-fleet contributors (@calico-fleet)
options:
  variables:
    description:
      - The declared variables, by name, as the inventory or C(-e) sets them.
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    details: Read-only; the same checks run.
  diff_mode:
    support: none
    details: Changes nothing, so there is no diff.
  platform:
    platforms: posix
    details: Runs on the controller; makes no network call.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Check every input of the scale-out
  calico_fleet.fleet.scale_out_inputs:
    variables: "{{ dict(__names | zip(query('ansible.builtin.vars', *__names))) }}"
  vars:
    __names: "{{ query('ansible.builtin.varnames', '^(fleet_cloud|scale_out_|calico_network_|node_names_)') }}"
  register: scale_out_inputs
"""

RETURN = r"""
cloud:
  description: The cloud of the scale-out (C(gcp) or C(aws)).
  returned: success
  type: str
ipip_mode:
  description: IPIP mode the declared pools give (or C(aws_nodes_calico_ipip_mode) when no pool is declared);
    null when neither is declared.
  returned: success
  type: str
underlay_mtu:
  description: The declared underlay MTU; null when not declared.
  returned: success
  type: int
node_range:
  description: The nodes' (VPC) range pools are kept out of; null when none is declared.
  returned: success
  type: str
problems:
  description: Each failed rule as C({variable, problem, fix}).
  returned: failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.scale_out_inputs import (
    ScaleOutInputError,
    validate_scale_out_inputs,
)


def main():
    module = AnsibleModule(argument_spec=dict(variables=dict(type="dict", required=True)),
                           supports_check_mode=True)
    try:
        derived = validate_scale_out_inputs(module.params["variables"])
    except ScaleOutInputError as exc:
        module.fail_json(msg=str(exc), problems=exc.problems)
    module.exit_json(changed=False, **derived)


if __name__ == "__main__":
    main()
