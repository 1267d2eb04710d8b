# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules support, said once: use with ansible.builtin.action_common_attributes.

calico_fleet.fleet.attributes           a module that changes an API's resources
calico_fleet.fleet.attributes.read_only a module that reads an API (never changed)
calico_fleet.fleet.attributes.on_node   a read-only module that runs on each cluster node
calico_fleet.fleet.attributes.datastore member of the calico_datastore action group; with it the attributes
                                        carry their descriptions, so a Calico module needs no
                                        ansible.builtin.action_common_attributes
"""


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode: {support: full, details: The same comparison runs and nothing is written.}
  diff_mode: {support: full}
  platform: {platforms: posix, details: Talks to an API from wherever it runs (usually the controller).}
"""

    READ_ONLY = r"""
attributes:
  check_mode:
    support: full
    details: Read-only; it runs the same in check mode.
  diff_mode:
    support: none
    details: It never changes anything, so there is no diff.
  platform:
    platforms: posix
    details: Talks to an API from wherever it runs; usually the controller.
"""

    ON_NODE = r"""
attributes:
  check_mode: {support: full, details: Read-only and it runs the same in check mode.}
  diff_mode: {support: none, details: It never changes anything so there is no diff.}
  platform: {platforms: posix, details: Runs on each cluster node (Linux).}
"""

    DATASTORE = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
  action_group:
    description: Action is part of action_group(s), for convenient setting of module_defaults.
    support: N/A
    membership:
      - calico_fleet.fleet.calico_datastore
"""
