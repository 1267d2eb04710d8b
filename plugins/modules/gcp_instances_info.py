#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List the Compute Engine instances of one or more zones (read-only)."""

DOCUMENTATION = r"""
---
module: gcp_instances_info
short_description: List Compute Engine instances with their hostnames, private IPs and labels
description:
  - Lists every instance in O(zones) through the official C(google-cloud-compute) client library,
    one list call per zone. The hostname plan compares new names against these.
  - Read-only; never reports a change; runs the same in check mode.
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  zones:
    description: Zones to list.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - calico_fleet.fleet.gce_connection
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes.read_only
"""

EXAMPLES = r"""
- name: List the instances of the cluster's zone
  gcp_instances_info:
    project: my-k8s-project
    zones: [europe-west1-b]
  register: cluster_instances
"""

RETURN = r"""
instances:
  description: Every instance, sorted by zone and name, with its C(creation_timestamp) (the API's creationTimestamp).
  returned: success
  type: list
  elements: dict
  sample: [{name: k8s-node-1, zone: europe-west1-b, hostname: k8s-node-1.k8s-prod.internal,
            private_ip: 10.132.0.7, status: RUNNING, tags: [calico-node], labels: {cluster: k8s-prod},
            creation_timestamp: "2026-11-29T02:14:07.311-08:00"}]
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.instances import list_instances
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.module import GcpModule


def main() -> None:
    module = GcpModule(argument_spec={"zones": dict(type="list", elements="str", required=True)})
    with module.failing_on_errors():
        instances = list_instances(module.gce, module.params["zones"])
    module.exit_json(changed=False, instances=instances)


if __name__ == "__main__":
    main()
