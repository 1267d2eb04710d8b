#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List the VPC firewall rules of a project (read-only)."""

DOCUMENTATION = r"""
---
module: gcp_firewall_info
short_description: List the VPC firewall rules of a network, in the normal form gcp_firewall_rule compares
description:
  - Lists every firewall rule of the project through the official C(google-cloud-compute) client library,
    keeping those of O(network), allow and deny rules alike, enabled or not.
  - Mesh verification judges with them (and M(calico_fleet.fleet.gcp_instances_info)'s network tags) why IP
    protocol 4 is dropped between two nodes - no rule, a node without the target tag, a deny rule of higher
    priority, or the rule present and applying.
  - Read-only; never reports a change; runs the same in check mode.
version_added: "1.2.0"
author: calico-fleet contributors (@calico-fleet)
options:
  network:
    description: VPC network name or URL whose rules are returned; empty for every network of the project.
    type: str
    default: ""
extends_documentation_fragment:
  - calico_fleet.fleet.gce_connection
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes.read_only
"""

EXAMPLES = r"""
- name: Read the firewall rules of the cluster's network
  calico_fleet.fleet.gcp_firewall_info:
    project: my-k8s-project
    network: default
  register: firewall
"""

RETURN = r"""
rules:
  description: Every rule of the network, sorted by name, in the normal form of M(calico_fleet.fleet.gcp_firewall_rule).
  returned: success
  type: list
  elements: dict
  sample: [{name: calico-ipip, network: default, direction: INGRESS, priority: 1000, disabled: false,
            allowed: [{protocol: ipip, ports: []}], denied: [], source_ranges: [10.128.0.0/9],
            source_tags: [], target_tags: [calico-node], description: ""}]
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.firewall import list_rules
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.module import GcpModule


def main() -> None:
    module = GcpModule(argument_spec={"network": dict(type="str", default="")})
    with module.failing_on_errors():
        rules = list_rules(module.gce, module.params["network"])
    module.exit_json(changed=False, rules=rules)


if __name__ == "__main__":
    main()
