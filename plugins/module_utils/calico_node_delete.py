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

import copy
import ipaddress
import json
import re
import socket
import urllib.parse

from ansible_collections.calico_fleet.fleet.plugins.module_utils.addresses import normalize_ip
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico_datastore import (
    CRD_V1_GROUP,
    ETCD_PREFIX,
    NODE_ANNOTATIONS,
    DatastoreError,
    EtcdDatastore,
    KubernetesDatastore,
    ResourceConflictError,
    calico_json,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico_node_registration import (
    RegistrationOwnedElsewhereError,
    registration_state,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.etcd_v3 import EtcdConflictError, EtcdError

IPAM_PREFIX = "/calico/ipam/v2/"
BLOCK_PREFIX = IPAM_PREFIX + "assignment/"
HANDLE_PREFIX = IPAM_PREFIX + "handle/"
HOST_PREFIX = IPAM_PREFIX + "host/"
AFFINITY_RE = re.compile(r"^ipv[46]/block/([^/]+)$")
WINDOWS_RESERVED_HANDLE = "windows-reserved-ipam-handle"
POD_IP_ANNOTATIONS = ("cni.projectcalico.org/podIP", "cni.projectcalico.org/podIPs",
                      "cni.projectcalico.org/containerID")
BGP_PORT = 179


class NodeDeleteError(DatastoreError):
    """Base class of the decommission errors."""


class NodeInUseError(NodeDeleteError):
    """The Node's host is alive and uses the registration (BGP answers at its address)."""


class Record:
    """One stored object: ``key`` names it (etcd key or API path), ``value`` is its JSON as a dict."""

    def __init__(self, kind, name, key, value, revision, uid=None):
        self.kind, self.name, self.key, self.value, self.revision, self.uid = kind, name, key, value, revision, uid

    def copy(self):
        return Record(self.kind, self.name, self.key, copy.deepcopy(self.value), self.revision, self.uid)


# ---------------------------------------------------------------- backends


class EtcdNodeStore:
    """Calico's etcdv3 layout: v3 resources under /calico/resources/v3, IPAM under /calico/ipam/v2."""

    def __init__(self, client):
        self.client = client

    def _call(self, func, *args):
        try:
            return func(*args)
        except EtcdConflictError as exc:
            raise ResourceConflictError(str(exc), endpoint=exc.endpoint, key=exc.key) from exc
        except EtcdError as exc:
            raise DatastoreError(str(exc), endpoint=exc.endpoint) from exc

    def _record(self, kind, name, kv):
        try:
            value = json.loads(kv.value)
        except ValueError as exc:
            raise NodeDeleteError(f"etcd key {kv.key} does not hold JSON; not a Calico object", key=kv.key) from exc
        return Record(kind, name, kv.key, value, kv.mod_revision)

    def _get(self, kind, name, key):
        kv = self._call(self.client.get, key)
        return self._record(kind, name, kv) if kv else None

    def _list(self, kind, prefix):
        return [self._record(kind, kv.key[len(prefix):], kv) for kv in self._call(self.client.get_prefix, prefix)]

    def node(self, name):
        rec = self._get("Node", name, f"{ETCD_PREFIX}nodes/{name}")
        return rec, (registration_state(rec.value) if rec else None), (_tunnel_addresses(rec.value) if rec else [])

    def workload_endpoints(self, node):
        out = []
        for rec in self._list("WorkloadEndpoint", f"{ETCD_PREFIX}workloadendpoints/"):
            spec = rec.value.get("spec") or {}
            if spec.get("node") == node:
                out.append((rec, list(spec.get("ipNetworks") or [])))
        return out

    def remove_workload_endpoint(self, rec, dry):
        return self.remove(rec, dry)

    def blocks(self):
        return [(rec, rec.value) for rec in self._list("IPAMBlock", BLOCK_PREFIX) if "/block/" in rec.key]

    def handle(self, handle_id):
        rec = self._get("IPAMHandle", handle_id, HANDLE_PREFIX + handle_id)
        return (rec, rec.value) if rec else (None, None)

    def affinities(self, node):
        out = []
        for rec in self._list("BlockAffinity", f"{HOST_PREFIX}{node}/"):
            match = AFFINITY_RE.match(rec.name)
            if match:
                rec.name = f"{node}/{match.group(1)}"
                out.append((rec, match.group(1).replace("-", "/", 1), rec.value))
        return out

    def ipam_host(self, node):
        return self._get("IPAMHost", node, HOST_PREFIX + node)

    def resources(self, plural, kind, node):
        return [rec for rec in self._list(kind, f"{ETCD_PREFIX}{plural}/")
                if (rec.value.get("spec") or {}).get("node") == node]

    def resource(self, plural, kind, name):
        return self._get(kind, name, f"{ETCD_PREFIX}{plural}/{name}")

    def write(self, rec, value, dry, spec_only=False):
        del spec_only  # etcd IPAM values are the model itself
        new = Record(rec.kind, rec.name, rec.key, value, rec.revision)
        if not dry:
            new.revision = self._call(self.client.put_if, rec.key, calico_json(value), int(rec.revision))
        return new

    def remove(self, rec, dry):
        if not dry:
            self._call(self.client.delete_if, rec.key, int(rec.revision))

    def delete_node(self, rec, dry):
        self.remove(rec, dry)
        return True


class KubeNodeStore:
    """The Kubernetes datastore: v3 resources through the API server, IPAM as crd.projectcalico.org/v1."""

    def __init__(self, datastore):
        self.datastore = datastore
        self.api = datastore.api

    def _items(self, path):
        status, body = self.api.request("GET", path)
        return [] if status == 404 else body.get("items") or []

    def _record(self, kind, path, obj):
        meta = obj.get("metadata") or {}
        return Record(kind, meta.get("name"), f"{path}/{meta.get('name')}", obj,
                      meta.get("resourceVersion"), meta.get("uid"))

    def _crd(self, plural):
        return f"/apis/{CRD_V1_GROUP}/{plural}"

    def node(self, name):
        status, obj = self.api.request("GET", f"/api/v1/nodes/{urllib.parse.quote(name)}")
        if status == 404:
            return None, None, []
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        before = {"name": name, "ipv4_address": normalize_ip(ann.get(NODE_ANNOTATIONS["ipv4_network"]))}
        tunnels = [ann.get(k) for k in (NODE_ANNOTATIONS["ipip_tunnel_addr"], "projectcalico.org/IPv4VXLANTunnelAddr",
                                        "projectcalico.org/IPv4WireguardInterfaceAddr") if ann.get(k)]
        return self._record("Node", "/api/v1/nodes", obj), before, tunnels

    def workload_endpoints(self, node):
        selector = urllib.parse.quote(f"spec.nodeName={node}")
        out = []
        for pod in self._items(f"/api/v1/pods?fieldSelector={selector}"):
            ann = (pod.get("metadata") or {}).get("annotations") or {}
            ips = [ip.strip() for ip in (ann.get("cni.projectcalico.org/podIPs") or
                                         ann.get("cni.projectcalico.org/podIP") or "").split(",") if ip.strip()]
            if ips:  # host-network pods have no Calico endpoint
                ns = pod["metadata"].get("namespace", "default")
                rec = self._record("WorkloadEndpoint", f"/api/v1/namespaces/{ns}/pods", pod)
                rec.name = f"{ns}/{rec.name}"
                out.append((rec, ips))
        return out

    def remove_workload_endpoint(self, rec, dry):
        # Calico's backend "deletes" a pod's endpoint by removing its Calico annotations.
        obj = copy.deepcopy(rec.value)
        for key in POD_IP_ANNOTATIONS:
            obj["metadata"].get("annotations", {}).pop(key, None)
        if not dry:
            self._put(rec.key, obj)

    def _put(self, key, obj):
        status, body = self.api.request("PUT", key, obj)
        if status == 404:
            raise ResourceConflictError(f"{key} vanished while it was being updated; run again", key=key)
        return body

    def blocks(self):
        return [(self._record("IPAMBlock", self._crd("ipamblocks"), o), o.get("spec") or {})
                for o in self._items(self._crd("ipamblocks"))]

    def handle(self, handle_id):
        for obj in self._items(self._crd("ipamhandles")):
            if (obj.get("spec") or {}).get("handleID") == handle_id:
                return self._record("IPAMHandle", self._crd("ipamhandles"), obj), obj["spec"]
        return None, None

    def affinities(self, node):
        out = []
        for obj in self._items(self._crd("blockaffinities")):
            spec = obj.get("spec") or {}
            if spec.get("node") == node and spec.get("type", "host") == "host":
                out.append((self._record("BlockAffinity", self._crd("blockaffinities"), obj), spec.get("cidr"), spec))
        return out

    def ipam_host(self, node):
        del node  # the Kubernetes datastore has no IPAM host object (Calico: a no-op there)

    def resources(self, plural, kind, node):
        path = f"/apis/{self.datastore.group()}/{plural}"
        return [self._record(kind, path, o) for o in self._items(path) if (o.get("spec") or {}).get("node") == node]

    def resource(self, plural, kind, name):
        path = f"/apis/{self.datastore.group()}/{plural}"
        status, obj = self.api.request("GET", f"{path}/{urllib.parse.quote(name)}")
        return None if status == 404 else self._record(kind, path, obj)

    def write(self, rec, value, dry, spec_only=True):
        obj = copy.deepcopy(rec.value)
        if spec_only:
            obj["spec"] = value
        new = Record(rec.kind, rec.name, rec.key, obj, rec.revision, rec.uid)
        if not dry:
            body = self._put(rec.key, obj)
            new.value, new.revision = body, (body.get("metadata") or {}).get("resourceVersion")
        return new

    def remove(self, rec, dry):
        if dry:
            return
        if rec.kind == "IPAMBlock":
            # No compare-and-delete in the Kubernetes API: Calico marks the block deleted first.
            spec = dict(rec.value.get("spec") or {}, deleted=True)
            rec = self.write(rec, spec, dry)
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {k: v for k, v in (("resourceVersion", rec.revision), ("uid", rec.uid)) if v}}
        self.api.request("DELETE", rec.key, body)

    def delete_node(self, rec, dry):
        del rec, dry  # Calico's Kubernetes backend does not delete Nodes
        return False


def node_store(datastore):
    """The node-delete view of a datastore from calico_datastore.connect()."""
    if isinstance(datastore, EtcdDatastore):
        return EtcdNodeStore(datastore.client)
    if isinstance(datastore, KubernetesDatastore):
        return KubeNodeStore(datastore)
    raise NodeDeleteError(f"cannot decommission a node through {type(datastore).__name__}")


# ---------------------------------------------------------------- IPAM semantics


def _tunnel_addresses(node):
    spec = node.get("spec") or {}
    return [a for a in ((spec.get("bgp") or {}).get("ipv4IPIPTunnelAddr"), spec.get("ipv4VXLANTunnelAddr"),
                        (spec.get("wireguard") or {}).get("interfaceIPv4Address")) if a]


def _ip(text):
    try:
        return ipaddress.ip_address(str(text).split("/", 1)[0].strip())
    except ValueError:
        return None  # Calico logs and skips an address it cannot parse


def sanitize_handle(handle_id):
    return handle_id.split("\r", 1)[0]


def block_empty(block):
    attrs = block.get("attributes") or []
    for idx in block.get("allocations") or []:
        if idx is None:
            continue
        handle = attrs[idx].get("handle_id") if idx < len(attrs) else None
        if handle is None or handle.lower() != WINDOWS_RESERVED_HANDLE:
            return False
    return True


def release_in_block(block, addresses):
    """Release ``addresses`` in ``block`` (a copy is changed); return (released, {handle: count})."""
    cidr = ipaddress.ip_network(block["cidr"], strict=False)
    allocations = block.setdefault("allocations", [])
    attributes = block.setdefault("attributes", []) or []
    ordinals, deleted_refs, by_handle = [], {}, {}
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
    refs = {}
    for idx in allocations:
        if idx is not None:
            refs[idx] = refs.get(idx, 0) + 1
    drop = {idx for idx, count in deleted_refs.items() if refs[idx] == count}
    if drop:  # attributes nobody references any more go; the others are renumbered
        new_index, kept = {}, []
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

    def __init__(self, store, name, dry):
        self.store, self.name, self.dry = store, name, dry
        self.removed, self.updated, self.released, self.warnings, self.not_deleted = [], [], [], [], []
        self.before, self.after = {}, {}
        self.state = {}  # key -> the record as this run left it (None: removed); check mode reads it back

    def _blocks(self):
        """Every IPAM block, as this run has left it so far."""
        out = []
        for rec, _unused in self.store.blocks():
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
        self.store.remove(rec, self.dry)
        self._note(rec)

    def _write(self, rec, value, spec_only=True):
        new = self.store.write(rec, value, self.dry, spec_only)
        self._note(rec, new.value)
        self.state[rec.key] = new
        return new

    def release_addresses(self, addresses):
        """ReleaseIPs: group by block, clear allocations, then decrement handles."""
        ips = [ip for ip in (_ip(a) for a in addresses) if ip is not None]
        if not ips:
            return
        blocks = {rec.key: (rec, net) for rec, net in self._blocks()}
        by_block = {}
        for ip in ips:
            found = [key for key, (_unused, net) in blocks.items() if ip.version == net.version and ip in net]
            if found:  # an address in no block is already free
                by_block.setdefault(found[0], []).append(ip)
        handles = {}
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
            handles[handle_id] = self.store.handle(handle_id)[0]
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

    def remove_ipam_host(self):
        """RemoveIPAMHost: release every block affinity of the node, then the host key."""
        blocks = {str(net): rec for rec, net in self._blocks()}
        for aff, cidr, _unused in sorted(self.store.affinities(self.name), key=lambda a: a[0].key):
            try:
                cidr = str(ipaddress.ip_network(cidr, strict=False))
            except (TypeError, ValueError):
                cidr = None
            block_rec = blocks.get(cidr)
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
        host = self.store.ipam_host(self.name)
        if host is not None:
            self._remove(host)

    def run(self):
        store = self.store
        node, before, tunnels = store.node(self.name)
        weps = store.workload_endpoints(self.name)
        self.release_addresses([ip for _unused, ips in weps for ip in ips] + tunnels)
        for rec, _unused in weps:
            store.remove_workload_endpoint(rec, self.dry)
            self._note(rec)
        self.remove_ipam_host()
        for rec in sorted(store.resources("bgppeers", "BGPPeer", self.name), key=lambda r: r.key):
            self._remove(rec)
        for plural, kind in (("felixconfigurations", "FelixConfiguration"),
                             ("bgpconfigurations", "BGPConfiguration")):
            rec = store.resource(plural, kind, f"node.{self.name}")
            if rec is not None:
                self._remove(rec)
        for rec in sorted(store.resources("hostendpoints", "HostEndpoint", self.name), key=lambda r: r.key):
            self._remove(rec)
        if node is not None:
            if store.delete_node(node, self.dry):
                self._note(node)
            else:
                self.not_deleted.append({"key": node.key, "reason": "Calico's Kubernetes datastore does not delete "
                                         "Nodes: delete the Kubernetes node (kubectl delete node "
                                         f"{self.name})"})
        return before


def _spec(rec):
    """The IPAM model of a record, as a copy: the etcd value itself, or the CRD's spec."""
    value = copy.deepcopy(rec.value)
    return value.get("spec") or {} if rec.key.startswith("/apis/") else value


def bgp_alive(address, timeout, port=BGP_PORT):
    """True when something accepts TCP connections on the BGP port at ``address``."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def decommission_node(datastore, name, expected_ipv4_address=None, force=False, check_mode=False,
                      liveness_timeout=2.0, alive=bgp_alive):
    """Delete node ``name`` and everything Calico's node delete removes with it.

    Returns {changed, node, removed, updated, released_addresses, not_deleted,
    inconsistencies, diff}. Refuses, before any write, a Node registered with another
    IPv4 address than ``expected_ipv4_address`` (RegistrationOwnedElsewhereError)
    and, unless ``force``, a Node whose address answers on the BGP port: its
    calico-node is alive and uses the registration (NodeInUseError).
    """
    store = node_store(datastore)
    _unused, before, _unused = store.node(name)
    if before is not None:
        expected = normalize_ip(expected_ipv4_address) if expected_ipv4_address else None
        if expected and before["ipv4_address"] != expected:
            raise RegistrationOwnedElsewhereError(
                f"Calico Node {name} is registered with IPv4 {before['ipv4_address']}, not {expected}: it belongs "
                f"to the host at {before['ipv4_address']} and was not deleted. If that host is gone, check it "
                f"and set expected_ipv4_address: {before['ipv4_address']}",
                node=name, registered_ipv4_address=before["ipv4_address"], expected_ipv4_address=expected,
            )
        if not force and before["ipv4_address"] and alive(before["ipv4_address"], liveness_timeout):
            raise NodeInUseError(
                f"Calico Node {name} is in use: BGP answers at its address {before['ipv4_address']}:{BGP_PORT}, "
                "so its calico-node is running. Stop calico-node there (or remove the machine) first, or set "
                "force: true if the registration must go while the host runs (it re-registers when calico-node "
                "restarts).", node=name, registered_ipv4_address=before["ipv4_address"],
            )
    job = Decommission(store, name, check_mode)
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
        "diff": {"before": dict(sorted(job.before.items())), "after": dict(sorted(
            (k, job.after[k]) for k in job.updated))},
    }
