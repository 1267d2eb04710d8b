# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kubernetes datastore: projectcalico.org/v3 through the API server, Node BGP data from the
Kubernetes Node annotations, IPAM as crd.projectcalico.org/v1 objects."""

from __future__ import annotations

import copy
import json
import os
import urllib.parse
from typing import TYPE_CHECKING, Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.base import (
    CRD_V1_GROUP,
    NODE_ANNOTATIONS,
    RECORD_PLURALS,
    V3_GROUP,
    Datastore,
    Record,
    _node_row,
    plural,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import (
    CrdV1RefusedError,
    DatastoreConnectionError,
    DatastoreError,
    ResourceConflictError,
)

if TYPE_CHECKING:  # the annotations of the Datastore methods
    from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore import base

POD_IP_ANNOTATIONS = ("cni.projectcalico.org/podIP", "cni.projectcalico.org/podIPs",
                      "cni.projectcalico.org/containerID")
TUNNEL_ANNOTATIONS = (NODE_ANNOTATIONS["ipip_tunnel_addr"], "projectcalico.org/IPv4VXLANTunnelAddr",
                      "projectcalico.org/IPv4WireguardInterfaceAddr")


class KubeApi:
    """JSON requests to the Kubernetes API server through the official ``kubernetes`` client.

    The client reads kubeconfigs as kubectl does (exec credential plugins, token
    files, client certificates, contexts); ``host``, ``api_key``, ``ca_cert``, ``client_cert``
    and ``client_key`` (kubernetes.core's names) build the same configuration by hand.
    """

    def __init__(self, api_client: Any, timeout: float = 10) -> None:
        self.client = api_client
        self.host = api_client.configuration.host
        self.timeout = timeout

    @classmethod
    def from_params(cls, params: dict) -> KubeApi:
        try:
            from kubernetes import client, config
        except ImportError as exc:
            raise DatastoreConnectionError(
                "datastore kubernetes needs the Python package kubernetes where the module runs "
                "(pip install kubernetes)"
            ) from exc
        timeout = params.get("timeout") or 10
        configuration = client.Configuration()
        if params.get("host") or not params.get("kubeconfig"):
            if not params.get("host"):
                raise DatastoreConnectionError(
                    "datastore kubernetes needs host or a kubeconfig (with a current context)")
            configuration.host = params["host"].rstrip("/")
            if params.get("api_key"):
                configuration.api_key = {"authorization": params["api_key"]}
                configuration.api_key_prefix = {"authorization": "Bearer"}
            configuration.ssl_ca_cert = params.get("ca_cert") or None
            configuration.cert_file = params.get("client_cert") or None
            configuration.key_file = params.get("client_key") or None
        else:
            try:
                config.load_kube_config(config_file=params["kubeconfig"], context=params.get("context"),
                                        client_configuration=configuration, persist_config=False)
            except Exception as exc:  # ConfigException, YAML and file errors: all mean "fix the kubeconfig"
                raise DatastoreConnectionError(f"cannot use kubeconfig {params['kubeconfig']}: {exc}",
                                               kubeconfig=params["kubeconfig"]) from exc
        if params.get("validate_certs") is False:
            configuration.verify_ssl = False
        for name in ("ssl_ca_cert", "cert_file", "key_file"):
            path = getattr(configuration, name, None)
            if path and not os.path.isfile(path):
                raise DatastoreConnectionError(f"cannot load Kubernetes TLS files: {path} does not exist",
                                               api_host=configuration.host)
        return cls(client.ApiClient(configuration), timeout)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """(status, decoded JSON body); 404 is returned, other errors raise."""
        from kubernetes.client.exceptions import ApiException

        try:
            response = self.client.call_api(
                path, method, header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=body, auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=self.timeout, _return_http_data_only=True)
            return response.status, json.loads(response.data or b"{}")
        except ApiException as exc:
            try:
                status = json.loads(exc.body or b"{}")
            except (TypeError, ValueError):
                status = {}
            if exc.status == 404:
                return 404, status
            message = status.get("message") or exc.reason
            if exc.status == 409:
                raise ResourceConflictError(
                    f"{method} {path}: {message}; read again and retry", api_host=self.host
                ) from exc
            if exc.status in (401, 403):
                raise DatastoreConnectionError(
                    f"Kubernetes API {self.host} refused {method} {path} (HTTP {exc.status}): {message}; "
                    "check the credentials and RBAC for projectcalico.org", api_host=self.host,
                ) from exc
            raise DatastoreError(f"Kubernetes API {method} {path} failed (HTTP {exc.status}): {message}",
                                 api_host=self.host, status=exc.status) from exc
        except Exception as exc:  # urllib3 connection, TLS and timeout errors have no common base here
            raise DatastoreConnectionError(
                f"cannot reach the Kubernetes API at {self.host}: {exc}", api_host=self.host,
            ) from exc


class KubernetesDatastore(Datastore):
    """projectcalico.org/v3 through the API server; Node BGP data from k8s Node annotations."""

    datastore_type = "kubernetes"

    def __init__(self, api: KubeApi, allow_crd_v1: bool = False) -> None:
        self.api = api
        self.allow_crd_v1 = allow_crd_v1
        self._group: str | None = None

    def group(self, for_write: bool = False) -> str:
        if self._group is None:
            status, _unused = self.api.request("GET", f"/apis/{V3_GROUP}")
            self._group = V3_GROUP if status != 404 else CRD_V1_GROUP
        group = self._group
        if for_write and group == CRD_V1_GROUP and not self.allow_crd_v1:
            raise CrdV1RefusedError(
                f"the API server does not serve {V3_GROUP} (no Calico API server / v3 CRDs), and writing "
                f"{CRD_V1_GROUP} directly skips Calico's validation and defaulting. Install the Calico API "
                "server, or set allow_crd_v1: true to write the raw CRDs anyway.",
                api_host=self.api.host,
            )
        return group

    def _path(self, kind: str, name: str | None = None, for_write: bool = False) -> str:
        path = f"/apis/{self.group(for_write)}/{plural(kind)}"
        return f"{path}/{urllib.parse.quote(name)}" if name else path

    def _as_v3(self, obj: dict) -> dict:
        obj["apiVersion"] = V3_GROUP  # callers see one shape whichever group served it
        return obj

    def list(self, kind: str) -> base.Resources:
        status, body = self.api.request("GET", self._path(kind))
        return [self._as_v3(item) for item in body.get("items") or []] if status != 404 else []

    def get(self, kind: str, name: str) -> dict | None:
        status, body = self.api.request("GET", self._path(kind, name))
        return None if status == 404 else self._as_v3(body)

    def put(self, obj: dict) -> dict:
        obj = json.loads(json.dumps(obj))
        path = self._path(obj["kind"], for_write=True)
        obj["apiVersion"] = self.group(for_write=True)
        name = obj["metadata"]["name"]
        if obj["metadata"].get("resourceVersion"):
            status, body = self.api.request("PUT", f"{path}/{urllib.parse.quote(name)}", obj)
        else:
            status, body = self.api.request("POST", path, obj)
        if status == 404:
            raise DatastoreError(f"{obj['kind']} {name!r} vanished during the update; run again")
        return self._as_v3(body)

    def delete(self, kind: str, name: str, resource_version: str | None = None) -> None:
        body = None
        if resource_version:
            body = {"kind": "DeleteOptions", "apiVersion": "v1",
                    "preconditions": {"resourceVersion": str(resource_version)}}
        self.api.request("DELETE", self._path(kind, name, for_write=True), body)

    def read_nodes(self) -> base.Rows:
        status, body = self.api.request("GET", "/api/v1/nodes")
        nodes = []
        for item in body.get("items") or [] if status != 404 else []:
            meta = item.get("metadata") or {}
            ann = meta.get("annotations") or {}
            nodes.append(_node_row(
                meta.get("name") or "", ann.get(NODE_ANNOTATIONS["ipv4_network"]),
                ann.get(NODE_ANNOTATIONS["ipv6_network"]), ann.get(NODE_ANNOTATIONS["rr_cluster_id"]),
                ann.get(NODE_ANNOTATIONS["ipip_tunnel_addr"]), ann.get(NODE_ANNOTATIONS["asn"]),
                meta.get("labels"), meta.get("name"),
            ))
        return sorted(nodes, key=lambda n: n["name"])

    # ---- records

    def _items(self, path: str) -> base.Resources:
        status, body = self.api.request("GET", path)
        return [] if status == 404 else body.get("items") or []

    @staticmethod
    def _record(kind: str, path: str, obj: dict) -> Record:
        meta = obj.get("metadata") or {}
        return Record(kind, meta.get("name") or "", f"{path}/{meta.get('name')}", obj,
                      meta.get("resourceVersion"), meta.get("uid"))

    @staticmethod
    def _crd(plural_name: str) -> str:
        return f"/apis/{CRD_V1_GROUP}/{plural_name}"

    def _put_record(self, key: str, obj: dict) -> dict:
        status, body = self.api.request("PUT", key, obj)
        if status == 404:
            raise ResourceConflictError(f"{key} vanished while it was being updated; run again", key=key)
        return body

    def node_record(self, name: str) -> base.NodeRecord:
        status, obj = self.api.request("GET", f"/api/v1/nodes/{urllib.parse.quote(name)}")
        if status == 404:
            return None, None, []
        ann = (obj.get("metadata") or {}).get("annotations") or {}
        tunnels = [ann[k] for k in TUNNEL_ANNOTATIONS if ann.get(k)]
        return self._record("Node", "/api/v1/nodes", obj), ann.get(NODE_ANNOTATIONS["ipv4_network"]), tunnels

    def workload_endpoint_records(self, node: str) -> base.EndpointRecords:
        selector = urllib.parse.quote(f"spec.nodeName={node}")
        out = []
        for pod in self._items(f"/api/v1/pods?fieldSelector={selector}"):
            ann = (pod.get("metadata") or {}).get("annotations") or {}
            ips = [ip.strip() for ip in (ann.get("cni.projectcalico.org/podIPs") or
                                         ann.get("cni.projectcalico.org/podIP") or "").split(",") if ip.strip()]
            if ips:  # host-network pods have no Calico endpoint
                namespace = pod["metadata"].get("namespace", "default")
                rec = self._record("WorkloadEndpoint", f"/api/v1/namespaces/{namespace}/pods", pod)
                rec.name = f"{namespace}/{rec.name}"
                out.append((rec, ips))
        return out

    def remove_workload_endpoint(self, rec: Record, dry: bool) -> None:
        # Calico's backend "deletes" a pod's endpoint by removing its Calico annotations.
        obj = copy.deepcopy(rec.value)
        for key in POD_IP_ANNOTATIONS:
            obj["metadata"].get("annotations", {}).pop(key, None)
        if not dry:
            self._put_record(rec.key, obj)

    def ipam_block_records(self) -> base.BlockRecords:
        return [(self._record("IPAMBlock", self._crd("ipamblocks"), o), o.get("spec") or {})
                for o in self._items(self._crd("ipamblocks"))]

    def ipam_handle_record(self, handle_id: str) -> tuple[Record | None, dict | None]:
        for obj in self._items(self._crd("ipamhandles")):
            if (obj.get("spec") or {}).get("handleID") == handle_id:
                return self._record("IPAMHandle", self._crd("ipamhandles"), obj), obj["spec"]
        return None, None

    def block_affinity_records(self, node: str) -> base.AffinityRecords:
        out = []
        for obj in self._items(self._crd("blockaffinities")):
            spec = obj.get("spec") or {}
            if spec.get("node") == node and spec.get("type", "host") == "host":
                out.append((self._record("BlockAffinity", self._crd("blockaffinities"), obj), spec.get("cidr"), spec))
        return out

    def ipam_host_record(self, node: str) -> Record | None:
        del node  # the Kubernetes datastore has no IPAM host object (Calico: a no-op there)
        return None

    def node_scoped_records(self, kind: str, node: str) -> base.Records:
        path = f"/apis/{self.group()}/{RECORD_PLURALS[kind]}"
        return [self._record(kind, path, o) for o in self._items(path) if (o.get("spec") or {}).get("node") == node]

    def resource_record(self, kind: str, name: str) -> Record | None:
        path = f"/apis/{self.group()}/{RECORD_PLURALS[kind]}"
        status, obj = self.api.request("GET", f"{path}/{urllib.parse.quote(name)}")
        return None if status == 404 else self._record(kind, path, obj)

    def write_record(self, rec: Record, value: dict, dry: bool, spec_only: bool = True) -> Record:
        obj = copy.deepcopy(rec.value)
        if spec_only:
            obj["spec"] = value
        new = Record(rec.kind, rec.name, rec.key, obj, rec.revision, rec.uid)
        if not dry:
            body = self._put_record(rec.key, obj)
            new.value, new.revision = body, (body.get("metadata") or {}).get("resourceVersion")
        return new

    def remove_record(self, rec: Record, dry: bool) -> None:
        if dry:
            return
        if rec.kind == "IPAMBlock":
            # No compare-and-delete in the Kubernetes API: Calico marks the block deleted first.
            spec = dict(rec.value.get("spec") or {}, deleted=True)
            rec = self.write_record(rec, spec, dry)
        body = {"kind": "DeleteOptions", "apiVersion": "v1",
                "preconditions": {k: v for k, v in (("resourceVersion", rec.revision), ("uid", rec.uid)) if v}}
        self.api.request("DELETE", rec.key, body)

    def delete_node_record(self, rec: Record, dry: bool) -> bool:
        del rec, dry  # Calico's Kubernetes backend does not delete Nodes
        return False
