# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decommission a Calico node the way Calico's own node delete does.

libcalico-go's node client (``clientv3`` ``nodes.Delete``, Calico v3.30), in
this order:

1. list the workload endpoints whose ``spec.node`` is the node;
2. release their addresses and the node's IPIP, VXLAN and WireGuard tunnel
   addresses (from the Node's spec) through IPAM: in each block the
   allocation is cleared and put back on ``unallocated``, attributes nobody
   references any more are removed (indexes rewritten), the block is deleted
   when it is then empty and has no affinity, and each handle's count for
   the block is decremented, the handle deleted at zero;
3. delete those workload endpoints;
4. remove the node from IPAM: each block affinity of the node is marked
   ``pendingDeletion``, its block deleted when empty or stripped of its
   affinity when not, then the affinity is deleted; then the IPAM host key
   ``/calico/ipam/v2/host/<node>``;
5. delete the BGPPeers whose ``spec.node`` is the node;
6. delete FelixConfiguration and BGPConfiguration ``node.<name>`` (absent is fine);
7. delete the HostEndpoints whose ``spec.node`` is the node;
8. delete the Node.

Every write carries the revision that was read (etcd mod_revision, Kubernetes
resourceVersion), so a key changed in between stops the run with
ResourceConflictError; a second run continues where the first stopped. In
check mode the same steps run on an in-memory copy and nothing is written.

Where this differs from Calico, it removes more of the node's own keys and
never another node's: an affinity whose block no longer exists is deleted
(Calico leaves it behind), and a failed handle decrement (a handle that does
not list the block) is reported in ``inconsistencies`` as Calico logs it.

Kubernetes datastore: workload endpoints are the node's pods (their Calico
annotations are removed, as Calico's backend does), IPAM lives in the
``crd.projectcalico.org/v1`` ``ipamblocks``, ``blockaffinities`` and
``ipamhandles`` (Calico itself only ever writes those raw), there is no IPAM
host key, and the Node is the Kubernetes Node: Calico does not delete it
(its backend answers "operation not supported"), so neither does this code;
it is listed in ``not_deleted`` (delete it with ``kubectl delete node``).
"""

from __future__ import annotations

import copy
import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.node_registration import (
    refuse_foreign_registration,
    registration_row,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.base import Datastore, Record
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import DatastoreError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import WARNING, Finding, Fix, findings_to_dicts

WINDOWS_RESERVED_HANDLE = "windows-reserved-ipam-handle"
BGP_PORT = 179


class NodeDeleteError(DatastoreError):
    """Base class of the decommission errors."""


class NodeInUseError(NodeDeleteError):
    """The Node's host is alive and uses the registration (BGP answers at its address)."""


# ---------------------------------------------------------------- IPAM semantics


def _ip(text):
    try:
        return ipaddress.ip_address(str(text).split("/", 1)[0].strip())
    except ValueError:
        return None  # Calico logs and skips an address it cannot parse


def sanitize_handle(handle_id: str) -> str:
    return handle_id.split("\r", 1)[0]


def block_empty(block: dict) -> bool:
    attrs = block.get("attributes") or []
    for idx in block.get("allocations") or []:
        if idx is None:
            continue
        handle = attrs[idx].get("handle_id") if idx < len(attrs) else None
        if handle is None or handle.lower() != WINDOWS_RESERVED_HANDLE:
            return False
    return True


def release_in_block(block: dict, addresses: Iterable[Any]) -> tuple[list[str], dict[str, int]]:
    """Release ``addresses`` in ``block`` (a copy is changed); return (released, {handle: count})."""
    cidr = ipaddress.ip_network(block["cidr"], strict=False)
    allocations = block.setdefault("allocations", [])
    attributes = block.setdefault("attributes", []) or []
    ordinals: list[int] = []
    deleted_refs: dict[int, int] = {}
    by_handle: dict[str, int] = {}
    for ip in sorted(set(addresses)):
        ordinal = int(ip) - int(cidr.network_address)
        idx = allocations[ordinal] if 0 <= ordinal < len(allocations) else None
        if idx is None:
            continue  # already free
        ordinals.append(ordinal)
        deleted_refs[idx] = deleted_refs.get(idx, 0) + 1
        handle = attributes[idx].get("handle_id") if idx < len(attributes) else None
        if handle:
            handle = sanitize_handle(handle)
            by_handle[handle] = by_handle.get(handle, 0) + 1
    if not ordinals:
        return [], {}
    refs: dict[int, int] = {}
    for idx in allocations:
        if idx is not None:
            refs[idx] = refs.get(idx, 0) + 1
    drop = {idx for idx, count in deleted_refs.items() if refs[idx] == count}
    if drop:  # attributes nobody references any more go; the others are renumbered
        new_index: dict[int, int] = {}
        kept: list[dict] = []
        for old, attr in enumerate(attributes):
            if old not in drop:
                new_index[old] = len(kept)
                kept.append(attr)
        block["attributes"] = kept
        for i, idx in enumerate(allocations):
            if idx is not None:
                allocations[i] = new_index.get(idx)
    for ordinal in ordinals:
        allocations[ordinal] = None
        block.setdefault("unallocated", []).append(ordinal)
        if isinstance(block.get("sequenceNumberForAllocation"), dict):
            block["sequenceNumberForAllocation"].pop(str(ordinal), None)
    return [str(cidr.network_address + o) for o in ordinals], by_handle


# ---------------------------------------------------------------- the decommission


class Decommission:
    """One node delete, step by step; ``dry`` (check mode) changes copies only."""

    def __init__(self, store: Datastore, name: str, dry: bool) -> None:
        self.store, self.name, self.dry = store, name, dry
        self.removed: list[str] = []
        self.updated: list[str] = []
        self.released: list[str] = []
        self.warnings: list[str] = []
        self.not_deleted: list[dict] = []
        self.before: dict[str, dict] = {}
        self.after: dict[str, dict] = {}
        # key -> the record as this run left it (None: removed); check mode reads it back
        self.state: dict[str, Record | None] = {}

    def _blocks(self):
        """Every IPAM block, as this run has left it so far."""
        out = []
        for rec, _unused in self.store.ipam_block_records():
            rec = self.state.get(rec.key, rec)
            if rec is not None:
                out.append((rec, ipaddress.ip_network(_spec(rec)["cidr"], strict=False)))
        return out

    def _note(self, rec, new_value=None):
        self.before.setdefault(rec.key, rec.value)
        if new_value is None:
            self.state[rec.key] = None
            self.after.pop(rec.key, None)
            if rec.key in self.updated:
                self.updated.remove(rec.key)
            self.removed.append(rec.key)
        else:
            self.after[rec.key] = new_value
            if rec.key not in self.updated:
                self.updated.append(rec.key)

    def _remove(self, rec):
        self.store.remove_record(rec, self.dry)
        self._note(rec)

    def _write(self, rec, value, spec_only=True):
        new = self.store.write_record(rec, value, self.dry, spec_only)
        self._note(rec, new.value)
        self.state[rec.key] = new
        return new

    def release_addresses(self, addresses: Iterable[str]) -> None:
        """ReleaseIPs: group by block, clear allocations, then decrement handles."""
        ips = [ip for ip in (_ip(a) for a in addresses) if ip is not None]
        if not ips:
            return
        blocks = {rec.key: (rec, net) for rec, net in self._blocks()}
        by_block: dict[str, list] = {}
        for ip in ips:
            found = [key for key, (_unused, net) in blocks.items() if ip.version == net.version and ip in net]
            if found:  # an address in no block is already free
                by_block.setdefault(found[0], []).append(ip)
        handles: dict[str, Record | None] = {}
        for key in sorted(by_block):
            rec = blocks[key][0]
            spec = _spec(rec)
            released, counts = release_in_block(spec, by_block[key])
            if not released:
                continue
            self.released.extend(released)
            if block_empty(spec) and spec.get("affinity") is None:
                self._remove(rec)
            else:
                self._write(rec, spec)
            for handle_id, count in sorted(counts.items()):
                self._decrement_handle(handles, handle_id, str(blocks[key][1]), count)

    def _decrement_handle(self, handles, handle_id, cidr, count):
        if handle_id not in handles:
            handles[handle_id] = self.store.ipam_handle_record(handle_id)[0]
        rec = handles[handle_id]
        if rec is None:
            self.warnings.append(f"IPAM handle {handle_id} does not exist; nothing to decrement")
            return
        spec = _spec(rec)
        current = (spec.get("block") or {}).get(cidr)
        if current is None or current - count < 0:
            self.warnings.append(f"IPAM handle {handle_id} has {current} address(es) in block {cidr}, "
                                 f"not {count}; left as it is")
            return
        if current - count == 0:
            del spec["block"][cidr]
        else:
            spec["block"][cidr] = current - count
        if spec["block"]:
            handles[handle_id] = self._write(rec, spec)
        else:
            self._remove(rec)
            handles[handle_id] = None

    def remove_ipam_host(self) -> None:
        """RemoveIPAMHost: release every block affinity of the node, then the host key."""
        blocks = {str(net): rec for rec, net in self._blocks()}
        for aff, stored_cidr, _unused in sorted(self.store.block_affinity_records(self.name), key=lambda a: a[0].key):
            try:
                cidr: str | None = str(ipaddress.ip_network(stored_cidr or "", strict=False))
            except (TypeError, ValueError):
                cidr = None
            block_rec = blocks.get(cidr) if cidr else None
            spec = _spec(block_rec) if block_rec else None
            if spec is not None and spec.get("affinity") == f"host:{self.name}":
                aff_spec = dict(_spec(aff), state="pendingDeletion")
                aff = self._write(aff, aff_spec)
                if block_empty(spec):
                    self._remove(block_rec)
                else:
                    spec["affinity"] = None
                    self._write(block_rec, spec)
            # A block claimed by another host, or gone: the affinity is stale and goes too.
            self._remove(aff)
        host = self.store.ipam_host_record(self.name)
        if host is not None:
            self._remove(host)

    def run(self) -> dict | None:
        store = self.store
        node, ipv4, tunnels = store.node_record(self.name)
        weps = store.workload_endpoint_records(self.name)
        self.release_addresses([ip for _unused, ips in weps for ip in ips] + tunnels)
        for rec, _unused in weps:
            store.remove_workload_endpoint(rec, self.dry)
            self._note(rec)
        self.remove_ipam_host()
        for rec in sorted(store.node_scoped_records("BGPPeer", self.name), key=lambda r: r.key):
            self._remove(rec)
        for kind in ("FelixConfiguration", "BGPConfiguration"):
            config = store.resource_record(kind, f"node.{self.name}")
            if config is not None:
                self._remove(config)
        for rec in sorted(store.node_scoped_records("HostEndpoint", self.name), key=lambda r: r.key):
            self._remove(rec)
        if node is not None:
            if store.delete_node_record(node, self.dry):
                self._note(node)
            else:
                self.not_deleted.append({"key": node.key, "reason": "Calico's Kubernetes datastore does not delete "
                                         "Nodes: delete the Kubernetes node (kubectl delete node "
                                         f"{self.name})"})
        return registration_row(self.name, ipv4) if node is not None else None


def _spec(rec: Record) -> dict:
    """The IPAM model of a record, as a copy: the etcd value itself, or the CRD's spec."""
    value = copy.deepcopy(rec.value)
    return value.get("spec") or {} if rec.key.startswith("/apis/") else value


def bgp_alive(address: str, timeout: float, port: int = BGP_PORT) -> bool:
    """True when something accepts TCP connections on the BGP port at ``address``."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def decommission_node(datastore: Datastore, name: str, expected_ipv4_address: str | None = None,
                      force: bool = False, check_mode: bool = False, liveness_timeout: float = 2.0,
                      alive: Callable[[str, float], bool] = bgp_alive) -> dict[str, Any]:
    """Delete node ``name`` and everything Calico's node delete removes with it.

    Returns {changed, node, removed, updated, released_addresses, not_deleted,
    inconsistencies, findings, diff}; ``findings`` says what is left to do by others
    (the Kubernetes Node under the kubernetes datastore, IPAM handles to check), each a
    ``Finding`` dict with its fix. Refuses, before any write, a Node registered with another
    IPv4 address than ``expected_ipv4_address`` (RegistrationOwnedElsewhereError)
    and, unless ``force``, a Node whose address answers on the BGP port: its
    calico-node is alive and uses the registration (NodeInUseError).
    """
    node, ipv4, _unused = datastore.node_record(name)
    before = registration_row(name, ipv4) if node is not None else None
    if before is not None:
        refuse_foreign_registration(name, before, expected_ipv4_address)
        if not force and before["ipv4_address"] and alive(before["ipv4_address"], liveness_timeout):
            raise NodeInUseError(
                f"Calico Node {name} is in use: BGP answers at its address {before['ipv4_address']}:{BGP_PORT}, "
                "so its calico-node is running. Stop calico-node there (or remove the machine) first, or set "
                "force: true if the registration must go while the host runs (it re-registers when calico-node "
                "restarts).", node=name, registered_ipv4_address=before["ipv4_address"],
            )
    job = Decommission(datastore, name, check_mode)
    job.run()
    return {
        "changed": bool(job.removed or job.updated),
        "node": before,
        "removed": job.removed,
        "updated": job.updated,
        "released_addresses": sorted(set(job.released), key=lambda a: (ipaddress.ip_address(a).version,
                                                                       int(ipaddress.ip_address(a)))),
        "not_deleted": job.not_deleted,
        "inconsistencies": job.warnings,
        "findings": decommission_findings(name, job.not_deleted, job.warnings),
        "diff": {"before": dict(sorted(job.before.items())), "after": dict(sorted(
            (k, job.after[k]) for k in job.updated))},
    }


def decommission_findings(name: str, not_deleted: list[dict], inconsistencies: list[str]) -> list[dict]:
    """What a decommission leaves to others, as findings with their fix."""
    findings = [Finding(
        kind="kubernetes_node_not_deleted", severity=WARNING, section="scale_in", node=name, resource=item["key"],
        evidence=[item["reason"]], cause="Calico's Kubernetes datastore does not delete Nodes",
        fix=Fix(text="Delete the Kubernetes node.", commands=[f"kubectl delete node {name}"]),
    ) for item in not_deleted]
    findings += [Finding(
        kind="ipam_handle_inconsistent", severity=WARNING, section="scale_in", node=name, evidence=[text],
        cause="the IPAM handle does not list the addresses released in this block (left as Calico leaves it)",
        fix=Fix(text="Check IPAM for leaked or missing handles.", commands=["calicoctl ipam check"]),
    ) for text in inconsistencies]
    return findings_to_dicts(findings)
