# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The etcdv3 datastore: keys and JSON exactly as Calico's etcdv3 backend writes them.

v3 resources live under /calico/resources/v3/projectcalico.org/<plural>/<name>, IPAM under
/calico/ipam/v2/ (assignment/ blocks, handle/ handles, host/<node>/ affinities and host key).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.base import (
    ETCD_PREFIX,
    RECORD_PLURALS,
    Datastore,
    Record,
    plural,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import (
    DatastoreConnectionError,
    DatastoreError,
    ResourceConflictError,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.etcd_v3 import (
    EtcdClient,
    EtcdConflictError,
    EtcdError,
    KeyValue,
)

if TYPE_CHECKING:  # the annotations of the Datastore methods
    from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore import base

IPAM_PREFIX = "/calico/ipam/v2/"
BLOCK_PREFIX = IPAM_PREFIX + "assignment/"
HANDLE_PREFIX = IPAM_PREFIX + "handle/"
HOST_PREFIX = IPAM_PREFIX + "host/"
AFFINITY_RE = re.compile(r"^ipv[46]/block/([^/]+)$")


def calico_json(obj: Any) -> str:
    """Serialise like Go's json.Marshal: compact, struct order kept, <>& escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def etcd_key(kind: str, name: str) -> str:
    return f"{ETCD_PREFIX}{plural(kind)}/{name}"


def _tunnel_addresses(node: dict) -> list[str]:
    spec = node.get("spec") or {}
    return [a for a in ((spec.get("bgp") or {}).get("ipv4IPIPTunnelAddr"), spec.get("ipv4VXLANTunnelAddr"),
                        (spec.get("wireguard") or {}).get("interfaceIPv4Address")) if a]


class EtcdDatastore(Datastore):
    """Keys and JSON exactly as Calico's etcdv3 backend writes them."""

    datastore_type = "etcdv3"

    def __init__(self, client: EtcdClient) -> None:
        self.client = client

    def _wrap(self, func: Callable, *args: Any) -> Any:
        try:
            return func(*args)
        except EtcdConflictError as exc:
            raise ResourceConflictError(str(exc), endpoint=exc.endpoint, key=exc.key) from exc
        except EtcdError as exc:
            raise DatastoreConnectionError(str(exc), endpoint=exc.endpoint) from exc

    @staticmethod
    def _decode(kv: KeyValue) -> dict:
        try:
            obj = json.loads(kv.value)
        except ValueError as exc:
            raise DatastoreError(f"etcd key {kv.key} does not hold JSON; not a Calico resource") from exc
        # Calico reports the etcd mod_revision as the resourceVersion; it never stores it.
        obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        return obj

    def list(self, kind: str) -> base.Resources:
        prefix = f"{ETCD_PREFIX}{plural(kind)}/"
        return [self._decode(kv) for kv in self._wrap(self.client.get_prefix, prefix)]

    def get(self, kind: str, name: str) -> dict | None:
        kv = self._wrap(self.client.get, etcd_key(kind, name))
        return self._decode(kv) if kv else None

    def put(self, obj: dict) -> dict:
        obj = json.loads(json.dumps(obj))
        meta = obj.setdefault("metadata", {})
        version = meta.pop("resourceVersion", None)
        # Calico's client sets these on create and keeps them on update.
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        key = etcd_key(obj["kind"], meta["name"])
        try:
            revision = self._wrap(self.client.put_if, key, calico_json(obj), int(version or 0))
        except ResourceConflictError as exc:
            what = "changed since it was read" if version else "already exists"
            raise ResourceConflictError(f"{obj['kind']} {meta['name']!r} {what} ({key}); run again",
                                        **exc.context) from exc
        meta["resourceVersion"] = str(revision)
        return obj

    def delete(self, kind: str, name: str, resource_version: str | None = None) -> None:
        key = etcd_key(kind, name)
        if resource_version:
            self._wrap(self.client.delete_if, key, int(resource_version))
        else:
            self._wrap(self.client.delete, key)

    # ---- records

    def _record(self, kind: str, name: str, kv: KeyValue) -> Record:
        try:
            value = json.loads(kv.value)
        except ValueError as exc:
            raise DatastoreError(f"etcd key {kv.key} does not hold JSON; not a Calico object", key=kv.key) from exc
        return Record(kind, name, kv.key, value, kv.mod_revision)

    def _get_record(self, kind: str, name: str, key: str) -> Record | None:
        kv = self._wrap(self.client.get, key)
        return self._record(kind, name, kv) if kv else None

    def _list_records(self, kind: str, prefix: str) -> base.Records:
        return [self._record(kind, kv.key[len(prefix):], kv) for kv in self._wrap(self.client.get_prefix, prefix)]

    def node_record(self, name: str) -> base.NodeRecord:
        rec = self._get_record("Node", name, f"{ETCD_PREFIX}nodes/{name}")
        if rec is None:
            return None, None, []
        bgp = (rec.value.get("spec") or {}).get("bgp") or {}
        return rec, bgp.get("ipv4Address"), _tunnel_addresses(rec.value)

    def workload_endpoint_records(self, node: str) -> base.EndpointRecords:
        out = []
        for rec in self._list_records("WorkloadEndpoint", f"{ETCD_PREFIX}workloadendpoints/"):
            spec = rec.value.get("spec") or {}
            if spec.get("node") == node:
                out.append((rec, list(spec.get("ipNetworks") or [])))
        return out

    def remove_workload_endpoint(self, rec: Record, dry: bool) -> None:
        self.remove_record(rec, dry)

    def ipam_block_records(self) -> base.BlockRecords:
        return [(rec, rec.value) for rec in self._list_records("IPAMBlock", BLOCK_PREFIX) if "/block/" in rec.key]

    def ipam_handle_record(self, handle_id: str) -> tuple[Record | None, dict | None]:
        rec = self._get_record("IPAMHandle", handle_id, HANDLE_PREFIX + handle_id)
        return (rec, rec.value) if rec else (None, None)

    def block_affinity_records(self, node: str) -> base.AffinityRecords:
        out = []
        for rec in self._list_records("BlockAffinity", f"{HOST_PREFIX}{node}/"):
            match = AFFINITY_RE.match(rec.name)
            if match:
                rec.name = f"{node}/{match.group(1)}"
                out.append((rec, match.group(1).replace("-", "/", 1), rec.value))
        return out

    def ipam_host_record(self, node: str) -> Record | None:
        return self._get_record("IPAMHost", node, HOST_PREFIX + node)

    def node_scoped_records(self, kind: str, node: str) -> base.Records:
        return [rec for rec in self._list_records(kind, f"{ETCD_PREFIX}{RECORD_PLURALS[kind]}/")
                if (rec.value.get("spec") or {}).get("node") == node]

    def resource_record(self, kind: str, name: str) -> Record | None:
        return self._get_record(kind, name, f"{ETCD_PREFIX}{RECORD_PLURALS[kind]}/{name}")

    def write_record(self, rec: Record, value: dict, dry: bool, spec_only: bool = True) -> Record:
        del spec_only  # etcd IPAM values are the model itself
        new = Record(rec.kind, rec.name, rec.key, value, rec.revision)
        if not dry:
            new.revision = self._wrap(self.client.put_if, rec.key, calico_json(value), int(rec.revision))
        return new

    def remove_record(self, rec: Record, dry: bool) -> None:
        if not dry:
            self._wrap(self.client.delete_if, rec.key, int(rec.revision))

    def delete_node_record(self, rec: Record, dry: bool) -> bool:
        self.remove_record(rec, dry)
        return True
