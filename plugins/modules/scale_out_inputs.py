#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: check every input of scale-out before anything is created."""

DOCUMENTATION = r"""
---
module: scale_out_inputs
short_description: Check every input of a scale-out before any cloud or datastore call
description:
  - Checks the variables the inventory declares for every play of C(scale_out.yml) at once, before any
    cloud or datastore call.
  - Each role input is checked against its role's argument spec (C(meta/argument_specs.yml)) - type,
    required, choices, the keys of a list of dicts; the roles' rules across variables (networks, names,
    IP pools as Calico checks them, the datastore set once in C(calico_fleet_datastore)) are the same
    Python rules the collection's test plugins give the roles.
  - The playbook's own inputs are checked too - C(fleet_cloud), C(scale_out_count), C(scale_out_batch),
    C(scale_out_plan_file), C(scale_out_plan_expected).
  - Fails listing only the rules that failed, each with the variable the user sets and a fix.
  - Makes no network call and never reports a change.
  - Returns what later plays derive from the inputs, so that one inventory variable decides each of them;
    the IPIP mode comes from the IP pools.
version_added: "1.1.0"
author: calico-fleet contributors (@calico-fleet)
options:
  roles:
    description:
      - The roles whose inputs are checked, by name; their argument specs are read on the controller.
      - A role named after a cloud (C(gcp_*), C(aws_*)) is checked only when C(fleet_cloud) is that cloud.
    type: list
    elements: str
    default: []
  provided:
    description:
      - Required role inputs the playbook sets itself (from C(scale_out_count), the name plan, ...), not
        asked from the inventory.
    type: list
    elements: str
    default: []
  variables:
    description:
      - The declared variables, by name. Default - the play's variables that the argument specs of O(roles)
        and the playbook's own inputs name.
    type: dict
  argument_specs:
    description:
      - "The argument specs to check against, by role (the options of each role's C(main) entry point); the action
        plugin fills it from O(roles)."
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    details: Read-only; the same checks run.
  diff_mode:
    support: none
    details: Changes nothing, so there is no diff.
  platform:
    platforms: posix
    details: Runs on the controller (action plugin); makes no network call.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Check every input of the scale-out
  calico_fleet.fleet.scale_out_inputs:
    roles: [node_names, gcp_network, gcp_nodes, aws_network, aws_nodes, node_join, calico_network, mesh_verify]
    provided: [node_names_count, node_names_batch, gcp_nodes_instances, aws_nodes_instances]
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
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.problems import InputError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.scale_out import (
    ARGUMENT_SPEC,
    validate_scale_out_inputs,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        derived = validate_scale_out_inputs(params["variables"], params["argument_specs"], params["provided"])
    except InputError as exc:
        module.fail_json(msg=str(exc), problems=exc.problems)
    module.exit_json(changed=False, **derived)


if __name__ == "__main__":
    main()
