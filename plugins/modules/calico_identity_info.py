#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: what decides this host's Calico node name (read-only)."""

DOCUMENTATION = r"""
---
module: calico_identity_info
short_description: Read the running hostname and the raw Calico nodename file of a host
description:
  - Returns the running hostname and the content of the nodename file exactly as calico-node reads it
    (a trailing newline or upper case is kept, because calico-node keeps it too).
  - Read-only, never reports C(changed); works in check mode.
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  nodename_file:
    description: The file calico-node reads its node name from.
    type: path
    default: /var/lib/calico/nodename
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes.on_node
"""

EXAMPLES = r"""
- name: Read the identity of this host
  calico_identity_info:
  register: __identity
"""

RETURN = r"""
hostname:
  description: The running (kernel) hostname.
  returned: always
  type: str
  sample: node-1
nodename:
  description: Raw content of O(nodename_file); null when the file does not exist.
  returned: always
  type: str
  sample: node-1
nodename_file:
  description: The file that was read.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.identity import read_identity

HOSTNAME_FILE = "/proc/sys/kernel/hostname"


def main() -> None:
    module = AnsibleModule(argument_spec=dict(nodename_file=dict(type="path", default="/var/lib/calico/nodename")),
                           supports_check_mode=True)
    try:
        identity = read_identity(HOSTNAME_FILE, module.params["nodename_file"])
    except OSError as exc:
        module.fail_json(msg=f"cannot read the host's identity: {exc}; is {module.params['nodename_file']} "
                             "readable (run with become)?")
    module.exit_json(changed=False, **identity)


if __name__ == "__main__":
    main()
