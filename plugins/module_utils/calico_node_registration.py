# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Calico Node registration: read it, and delete it only when it still
points at the address the caller expects.

The guard exists because two hosts can write one Node (last writer wins): a
name alone does not say whose registration it is; its IPv4 address does.
Deleting the Node a healthy host holds takes that host out of every peer's
BGP mesh.
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.addresses import normalize_ip
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico_datastore import DatastoreError


class RegistrationOwnedElsewhereError(DatastoreError):
    """The registration points at another IP than expected: it belongs to another host."""


def registration_state(obj):
    """The part of a Node a user compares: {name, ipv4_address} (None when absent)."""
    if obj is None:
        return None
    bgp = (obj.get("spec") or {}).get("bgp") or {}
    return {"name": obj["metadata"]["name"], "ipv4_address": normalize_ip(bgp.get("ipv4Address"))}


def delete_registration(datastore, name, expected_ipv4_address=None, check_mode=False):
    """Delete Node ``name``; return (changed, before).

    With ``expected_ipv4_address`` the Node is deleted only while it is
    registered with that address; otherwise RegistrationOwnedElsewhereError,
    before any write. The delete carries the revision that was read, so a
    Node rewritten in between (calico-node starting on another host) is not
    deleted either.
    """
    obj = datastore.get("Node", name)
    before = registration_state(obj)
    if before is None:
        return False, None
    expected = normalize_ip(expected_ipv4_address) if expected_ipv4_address else None
    if expected_ipv4_address and before["ipv4_address"] != expected:
        raise RegistrationOwnedElsewhereError(
            f"Calico Node {name} is registered with IPv4 {before['ipv4_address']}, not {expected}: it belongs "
            f"to the host at {before['ipv4_address']} and was not deleted. If that host is gone, check it and "
            f"set expected_ipv4_address: {before['ipv4_address']}",
            node=name, registered_ipv4_address=before["ipv4_address"], expected_ipv4_address=expected,
        )
    if not check_mode:
        datastore.delete("Node", name, resource_version=obj["metadata"].get("resourceVersion"))
    return True, before
