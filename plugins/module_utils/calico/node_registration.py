# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Calico Node registration: read it, and delete it only when it still
points at the address the caller expects.

The guard exists because two hosts can write one Node (last writer wins): a
name alone does not say whose registration it is; its IPv4 address does.
Deleting the Node a healthy host holds takes that host out of every peer's
BGP mesh.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.addresses import normalize_ip
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.base import Datastore
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import DatastoreError


class RegistrationOwnedElsewhereError(DatastoreError):
    """The registration points at another IP than expected: it belongs to another host."""


def registration_row(name: str, ipv4_network: str | None) -> dict:
    """The part of a Node a user compares: {name, ipv4_address}."""
    return {"name": name, "ipv4_address": normalize_ip(ipv4_network)}


def registration_state(obj: dict | None) -> dict | None:
    """``registration_row`` of a Calico v3 Node (None when absent)."""
    if obj is None:
        return None
    bgp = (obj.get("spec") or {}).get("bgp") or {}
    return registration_row(obj["metadata"]["name"], bgp.get("ipv4Address"))


def refuse_foreign_registration(name: str, before: dict, expected_ipv4_address: Any) -> None:
    """RegistrationOwnedElsewhereError when Node ``name`` is registered with another address than expected."""
    expected = normalize_ip(expected_ipv4_address) if expected_ipv4_address else None
    if expected and before["ipv4_address"] != expected:
        raise RegistrationOwnedElsewhereError(
            f"Calico Node {name} is registered with IPv4 {before['ipv4_address']}, not {expected}: it belongs "
            f"to the host at {before['ipv4_address']} and was not deleted. If that host is gone, check it and "
            f"set expected_ipv4_address: {before['ipv4_address']}",
            node=name, registered_ipv4_address=before["ipv4_address"], expected_ipv4_address=expected,
        )


def delete_registration(datastore: Datastore, name: str, expected_ipv4_address: str | None = None,
                        check_mode: bool = False) -> tuple[bool, dict | None]:
    """Delete Node ``name``; return (changed, before).

    With ``expected_ipv4_address`` the Node is deleted only while it is
    registered with that address; otherwise RegistrationOwnedElsewhereError,
    before any write. The delete carries the revision that was read, so a
    Node rewritten in between (calico-node starting on another host) is not
    deleted either.
    """
    obj = datastore.get("Node", name)
    before = registration_state(obj)
    if obj is None or before is None:
        return False, None
    refuse_foreign_registration(name, before, expected_ipv4_address)
    if not check_mode:
        datastore.delete("Node", name, resource_version=obj["metadata"].get("resourceVersion"))
    return True, before
