#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Add network tags to existing Compute Engine instances, keeping their other tags."""

DOCUMENTATION = r"""
---
module: gcp_instance_tags
short_description: Add network tags to the cluster's existing instances, keeping their other tags
description:
  - Adds O(tags) to every instance of O(zones) named in O(instances) or carrying every label of O(labels),
    through C(instances.setTags) with the instance's current tags fingerprint. No tag is ever removed.
  - Used for the network tags the Calico firewall rules target, so that the rules apply to nodes made
    before the tags were chosen (a node without them receives no IPIP and, with source tags, no BGP).
  - A tag change made by someone else meanwhile (HTTP 412) is read again and retried once.
  - Refuses, before any write, invalid tags or names, no selection, and named instances that do not exist.
  - Check mode lists what would be tagged and sends no write.
version_added: "1.2.0"
author: calico-fleet contributors (@calico-fleet)
options:
  tags:
    description: Network tags to add, each matching C([a-z]([-a-z0-9]*[a-z0-9])?).
    type: list
    elements: str
    required: true
  zones:
    description: Zones the instances run in.
    type: list
    elements: str
    required: true
  instances:
    description: Names of the instances to tag.
    type: list
    elements: str
    default: []
  labels:
    description: "Tag every instance that carries all of these labels (for example C({cluster: k8s-prod}))."
    type: dict
    default: {}
extends_documentation_fragment:
  - calico_fleet.fleet.gce_connection
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes
"""

EXAMPLES = r"""
- name: Give every instance of the cluster the tag the Calico rules target
  calico_fleet.fleet.gcp_instance_tags:
    project: my-k8s-project
    zones: [europe-west1-b]
    labels: {cluster: k8s-prod}
    tags: [calico-node]

- name: Tag one node a finding named
  calico_fleet.fleet.gcp_instance_tags:
    zones: [europe-west1-b]
    instances: [k8s-node-3]
    tags: [calico-node]
"""

RETURN = r"""
tagged:
  description: Instances given a tag (in check mode, that would be).
  returned: success
  type: list
  elements: str
instances:
  description: Every selected instance.
  returned: success
  type: list
  elements: str
diff:
  description: Each selected instance's tags before and after (with C(--diff)).
  returned: when diff mode is on
  type: dict
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.instances import TAGS_SPEC, add_tags, tag_selection
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.module import GcpModule


def main() -> None:
    GcpModule(argument_spec=TAGS_SPEC).run_change(tag_selection, add_tags)


if __name__ == "__main__":
    main()
