#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Create, update or delete one GCP VPC firewall rule (check mode and diff)."""

DOCUMENTATION = r"""
---
module: gcp_firewall_rule
short_description: Ensure one Compute Engine VPC firewall rule, idempotently
description:
  - Creates, updates or deletes one VPC firewall rule through the official C(google-cloud-compute)
    client library, waiting for the operation to finish.
  - Compares in a normal form, so C("4") and C(ipip) are the same protocol, a network given as a name
    or a URL is the same network, GCE's server defaults (priority 1000, C(disabled=false)) cause no
    change and list order does not matter.
  - Changes that only set fields use PATCH; a change that clears a list (for example removing every
    target tag) uses update (PUT), because PATCH cannot send an empty list.
  - Refuses, before any API call, an INGRESS rule that lets IP protocol 4 (IPIP) in from a public
    range (including a rule with no source, which GCE opens to 0.0.0.0/0) unless
    O(allow_public_sources=true).
  - Supports check mode and diff mode; check mode sends no write.
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  name:
    description: Rule name, 1-63 characters matching C([a-z]([-a-z0-9]*[a-z0-9])?).
    type: str
    required: true
  state:
    description: C(present) creates or updates the rule, C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  network:
    description: VPC network, as a name or a full or partial URL.
    type: str
    default: default
  description:
    description: Free text stored with the rule.
    type: str
    default: ""
  direction:
    description: Traffic direction the rule applies to.
    type: str
    choices: [INGRESS, EGRESS]
    default: INGRESS
  priority:
    description: Rule priority, 0 to 65535; lower wins.
    type: int
    default: 1000
  disabled:
    description: Whether the rule is disabled.
    type: bool
    default: false
  allowed:
    description: Allowed protocols and ports. Give exactly one of O(allowed) and O(denied).
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: Protocol name (tcp, udp, icmp, esp, ah, sctp, ipip, all) or number 0-255.
        type: str
        required: true
      ports:
        description: Ports or ranges (C(179), C(30000-32767)); only for tcp, udp, sctp and all.
        type: list
        elements: str
        default: []
  denied:
    description: Denied protocols and ports, same shape as O(allowed).
    type: list
    elements: dict
    default: []
    suboptions:
      protocol:
        description: Protocol name or number.
        type: str
        required: true
      ports:
        description: Ports or ranges.
        type: list
        elements: str
        default: []
  source_ranges:
    description: Source CIDR ranges (INGRESS).
    type: list
    elements: str
    default: []
  destination_ranges:
    description: Destination CIDR ranges (EGRESS).
    type: list
    elements: str
    default: []
  source_tags:
    description: Network tags of source instances (INGRESS).
    type: list
    elements: str
    default: []
  target_tags:
    description: Network tags of the instances the rule applies to; empty means all instances.
    type: list
    elements: str
    default: []
  target_service_accounts:
    description: Service accounts of the instances the rule applies to; excludes O(target_tags).
    type: list
    elements: str
    default: []
  allow_public_sources:
    description: Allow an IPIP (protocol 4) rule whose sources include a public range.
    type: bool
    default: false
extends_documentation_fragment:
  - calico_fleet.fleet.gce_connection
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes
"""

EXAMPLES = r"""
- name: Allow IPIP between Calico nodes
  gcp_firewall_rule:
    name: calico-ipip
    network: default
    allowed:
      - protocol: ipip
    source_ranges: [10.128.0.0/9]
    target_tags: [calico-node]

- name: Remove the rule
  gcp_firewall_rule:
    name: calico-ipip
    state: absent
"""

RETURN = r"""
action:
  description: What was (or in check mode would be) done.
  returned: always
  type: str
  sample: patch
rule:
  description: The rule in normal form (as desired, or as found when deleted).
  returned: always
  type: dict
  sample: {name: calico-ipip, network: default, allowed: [{protocol: ipip, ports: []}]}
diff:
  description: Normal-form rule before and after; an absent rule is C({}).
  returned: when diff mode is on
  type: dict
  sample: {before: {}, after: {name: calico-ipip, network: default, allowed: [{protocol: ipip, ports: []}]}}
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.firewall import RULE_SPEC, ensure, validate
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.module import GcpModule


def main() -> None:
    GcpModule(argument_spec=RULE_SPEC).run_change(validate, ensure)


if __name__ == "__main__":
    main()
