#!/usr/bin/python
"""Ansible module: delete one Calico Node registration, guarded by the IP it must still have."""

DOCUMENTATION = r"""
---
module: calico_node
short_description: Delete a Calico Node registration, only while it points at the expected IP
description:
  - Deletes one Calico Node (what C(calicoctl delete node <name>) does), through the etcdv3 or
    kubernetes datastore.
  - With O(expected_ipv4_address) the Node is deleted only while it is registered with that IPv4 address.
    Two hosts can write one Node (last writer wins), so the name alone does not say whose registration it
    is; a Node registered with another address belongs to another host, and deleting it would take that
    host out of the BGP mesh. The module then fails before any write and names the address it found.
  - The delete is conditional on the revision that was read, so a Node rewritten in between is not deleted.
  - Idempotent (an absent Node is no change); supports check mode and diff.
version_added: "1.0.0"
author: calico-fleet
options:
  name:
    description: Calico node name.
    type: str
    required: true
  state:
    description: C(absent) deletes the registration.
    type: str
    choices: [absent]
    default: absent
  expected_ipv4_address:
    description:
      - IPv4 address (with or without prefix length) the Node must be registered with to be deleted;
        normally the IP of the host whose registration this is.
      - Leave it out only for a Node whose host is known to be gone.
    type: str
attributes:
  check_mode:
    support: full
    details: The same comparison runs; nothing is written.
  diff_mode:
    support: full
  platform:
    platforms: posix
    details: Talks to an API from wherever it runs; usually the controller.
  action_group:
    membership:
      - calico_fleet.fleet.calico_datastore
extends_documentation_fragment:
  - calico_fleet.fleet.calico_datastore
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
"""

EXAMPLES = r"""
- name: Delete node-1's old registration, only if it is still the one of this host
  calico_node:
    name: node-1
    state: absent
    expected_ipv4_address: 172.31.3.33
    etcd_endpoints: [https://10.0.1.1:2379]
    etcd_ca_cert: /etc/kubernetes/ssl/ca.pem
    etcd_cert: /etc/calico/ssl/calico.pem
    etcd_key: /etc/calico/ssl/calico-key.pem
  delegate_to: localhost
"""

RETURN = r"""
node:
  description: The registration before the module ran, as C({name, ipv4_address}); null when there was none.
  returned: always
  type: dict
diff:
  description: C(before) and C(after) registration when diff mode is on.
  returned: when diff is requested
  type: dict
"""

import ipaddress

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico_datastore import (
    DATASTORE_REQUIRED_IF,
    DatastoreError,
    connect,
    datastore_argument_spec,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico_node_registration import delete_registration


def argument_spec():
    spec = datastore_argument_spec()
    spec.update(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["absent"], default="absent"),
        expected_ipv4_address=dict(type="str"),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=DATASTORE_REQUIRED_IF,
                           supports_check_mode=True)
    expected = module.params["expected_ipv4_address"]
    try:
        if expected is not None:
            ipaddress.IPv4Address(expected.split("/")[0].strip())
    except ValueError:
        module.fail_json(msg=f"expected_ipv4_address {expected!r} is not an IPv4 address; set the host's IP")
    try:
        changed, before = delete_registration(connect(module.params), module.params["name"], expected,
                                              module.check_mode)
    except DatastoreError as exc:
        module.fail_json(msg=str(exc), **exc.context)
    result = dict(changed=changed, node=before)
    if module._diff:
        result["diff"] = dict(before=before or {}, after={})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
