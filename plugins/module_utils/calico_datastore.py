# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico's datastore behind one interface: etcdv3 (direct) or kubernetes (API server).

Every object in and out is a Calico v3 resource dict (kind, apiVersion, metadata,
spec). ``metadata.resourceVersion`` carries the etcd mod_revision or the
Kubernetes resourceVersion: ``put`` with it is an update that fails on a
concurrent change, ``put`` without it is a create that fails if the resource
exists. Nothing else in calico-fleet talks to the datastore directly.
"""

import json
import os
import time
import urllib.parse
import uuid

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico_resources import bgp_configuration_state
from ansible_collections.calico_fleet.fleet.plugins.module_utils.etcd_v3 import EtcdClient, EtcdConflictError, EtcdError

PLURALS = {
    "IPPool": "ippools",
    "Node": "nodes",
    "BGPConfiguration": "bgpconfigurations",
    "FelixConfiguration": "felixconfigurations",
    "BGPPeer": "bgppeers",
}
ETCD_PREFIX = "/calico/resources/v3/projectcalico.org/"
V3_GROUP = "projectcalico.org/v3"
CRD_V1_GROUP = "crd.projectcalico.org/v1"
NODE_ANNOTATIONS = {
    "ipv4_network": "projectcalico.org/IPv4Address",
    "ipv6_network": "projectcalico.org/IPv6Address",
    "ipip_tunnel_addr": "projectcalico.org/IPv4IPIPTunnelAddr",
    "rr_cluster_id": "projectcalico.org/RouteReflectorClusterID",
    "asn": "projectcalico.org/ASNumber",
}


class DatastoreError(Exception):
    """Base class; ``context`` goes into fail_json as extra keys."""

    def __init__(self, message, **context):
        super().__init__(message)
        self.context = context


class DatastoreConnectionError(DatastoreError):
    """The datastore could not be reached or refused our credentials."""


class ResourceConflictError(DatastoreError):
    """Created concurrently, or changed since read: read again and retry."""


class CrdV1RefusedError(DatastoreError):
    """projectcalico.org/v3 is not served and raw crd.projectcalico.org/v1 writes were not allowed."""


def datastore_argument_spec():
    """Options shared by every module that reads or writes Calico resources."""
    return dict(
        datastore=dict(type="str", default="etcdv3", choices=["etcdv3", "kubernetes"]),
        etcd_endpoints=dict(type="list", elements="str"),
        etcd_ca_cert=dict(type="path"),
        etcd_cert=dict(type="path"),
        etcd_key=dict(type="path", no_log=False),
        kubeconfig=dict(type="path"),
        kube_context=dict(type="str"),
        api_host=dict(type="str"),
        api_token=dict(type="str", no_log=True),
        api_ca_cert=dict(type="path"),
        api_client_cert=dict(type="path"),
        api_client_key=dict(type="path", no_log=False),
        validate_certs=dict(type="bool", default=True),
        allow_crd_v1=dict(type="bool", default=False),
        timeout=dict(type="float", default=10),
    )


DATASTORE_REQUIRED_IF = [("datastore", "etcdv3", ["etcd_endpoints"])]


def connect(params):
    """A Datastore for module params shaped like ``datastore_argument_spec()``."""
    # Inventories often pass "" for "not set"; treat it like an absent option.
    params = {k: (None if v == "" else v) for k, v in params.items()}
    if params.get("datastore", "etcdv3") == "etcdv3":
        try:
            client = EtcdClient(
                params.get("etcd_endpoints") or [],
                ca_cert=params.get("etcd_ca_cert"),
                cert=params.get("etcd_cert"),
                key=params.get("etcd_key"),
                timeout=params.get("timeout") or 10,
            )
        except EtcdError as exc:
            raise DatastoreConnectionError(str(exc), endpoint=exc.endpoint) from exc
        return EtcdDatastore(client)
    return KubernetesDatastore(KubeApi.from_params(params), allow_crd_v1=bool(params.get("allow_crd_v1")))


def _plural(kind):
    if kind not in PLURALS:
        raise DatastoreError(f"unsupported Calico resource kind {kind!r}; supported: {', '.join(PLURALS)}")
    return PLURALS[kind]


def _strip_prefix(address):
    return address.split("/", 1)[0] if address else None


class Datastore:
    """Shared reads built on list/get."""

    def list(self, kind):
        raise NotImplementedError

    def get(self, kind, name):
        raise NotImplementedError

    def put(self, obj):
        raise NotImplementedError

    def delete(self, kind, name, resource_version=None):
        raise NotImplementedError

    def read_nodes(self):
        nodes = []
        for obj in self.list("Node"):
            bgp = (obj.get("spec") or {}).get("bgp") or {}
            nodes.append(_node_row(
                obj["metadata"]["name"], bgp.get("ipv4Address"), bgp.get("ipv6Address"),
                bgp.get("routeReflectorClusterID"), bgp.get("ipv4IPIPTunnelAddr"), bgp.get("asNumber"),
                obj["metadata"].get("labels"), _k8s_node_ref(obj.get("spec") or {}),
            ))
        return sorted(nodes, key=lambda n: n["name"])

    def read_bgp_configuration(self):
        return bgp_configuration_state(self.get("BGPConfiguration", "default"))

    def read_bgp_peers(self):
        """Every BGPPeer as a row (the fields that decide who peers with whom), sorted by name."""
        return sorted((bgp_peer_row(obj) for obj in self.list("BGPPeer")), key=lambda p: p["name"])


def _k8s_node_ref(spec):
    """The Kubernetes node a Calico Node belongs to: its ``orchRefs`` entry with orchestrator k8s
    (calico-node writes it from CALICO_K8S_NODE_REF, the pod's spec.nodeName); None without one."""
    for ref in spec.get("orchRefs") or []:
        if isinstance(ref, dict) and ref.get("orchestrator") == "k8s" and ref.get("nodeName"):
            return ref["nodeName"]
    return None


def _node_row(name, ipv4, ipv6, rr_cluster_id, tunnel, asn, labels=None, k8s_node_name=None):
    return {
        "name": name,
        "ipv4_address": _strip_prefix(ipv4),
        "ipv4_network": ipv4 or None,
        "ipv6_address": _strip_prefix(ipv6),
        "rr_cluster_id": rr_cluster_id or None,
        "ipip_tunnel_addr": tunnel or None,
        "asn": int(asn) if asn not in (None, "") else None,
        "labels": dict(labels or {}),
        "k8s_node_name": k8s_node_name or None,
    }


def bgp_peer_row(obj):
    """{name, node, node_selector, peer_ip, peer_selector, as_number} of a BGPPeer (None when unset)."""
    spec = obj.get("spec") or {}
    asn = spec.get("asNumber")
    return {
        "name": (obj.get("metadata") or {}).get("name"),
        "node": spec.get("node") or None,
        "node_selector": spec.get("nodeSelector") or None,
        "peer_ip": spec.get("peerIP") or None,
        "peer_selector": spec.get("peerSelector") or None,
        "as_number": int(asn) if asn not in (None, "") else None,
    }


# ---------------------------------------------------------------- etcdv3


def calico_json(obj):
    """Serialise like Go's json.Marshal: compact, struct order kept, <>& escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def etcd_key(kind, name):
    return f"{ETCD_PREFIX}{_plural(kind)}/{name}"


class EtcdDatastore(Datastore):
    """Keys and JSON exactly as Calico's etcdv3 backend writes them."""

    def __init__(self, client):
        self.client = client

    def _wrap(self, func, *args):
        try:
            return func(*args)
        except EtcdConflictError as exc:
            raise ResourceConflictError(str(exc), endpoint=exc.endpoint, key=exc.key) from exc
        except EtcdError as exc:
            raise DatastoreConnectionError(str(exc), endpoint=exc.endpoint) from exc

    @staticmethod
    def _decode(kv):
        try:
            obj = json.loads(kv.value)
        except ValueError as exc:
            raise DatastoreError(f"etcd key {kv.key} does not hold JSON; not a Calico resource") from exc
        # Calico reports the etcd mod_revision as the resourceVersion; it never stores it.
        obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        return obj

    def list(self, kind):
        prefix = f"{ETCD_PREFIX}{_plural(kind)}/"
        return [self._decode(kv) for kv in self._wrap(self.client.get_prefix, prefix)]

    def get(self, kind, name):
        kv = self._wrap(self.client.get, etcd_key(kind, name))
        return self._decode(kv) if kv else None

    def put(self, obj):
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

    def delete(self, kind, name, resource_version=None):
        key = etcd_key(kind, name)
        if resource_version:
            self._wrap(self.client.delete_if, key, int(resource_version))
        else:
            self._wrap(self.client.delete, key)


# ---------------------------------------------------------------- kubernetes


class KubeApi:
    """JSON requests to the Kubernetes API server through the official ``kubernetes`` client.

    The client reads kubeconfigs as kubectl does (exec credential plugins, token
    files, client certificates, contexts); ``api_*`` options build the same
    configuration by hand.
    """

    def __init__(self, api_client, timeout=10):
        self.client = api_client
        self.host = api_client.configuration.host
        self.timeout = timeout

    @classmethod
    def from_params(cls, params):
        try:
            from kubernetes import client, config
        except ImportError as exc:
            raise DatastoreConnectionError(
                "datastore kubernetes needs the Python package kubernetes where the module runs "
                "(pip install kubernetes)"
            ) from exc
        timeout = params.get("timeout") or 10
        configuration = client.Configuration()
        if params.get("api_host") or not params.get("kubeconfig"):
            if not params.get("api_host"):
                raise DatastoreConnectionError(
                    "datastore kubernetes needs api_host or a kubeconfig (with a current context)")
            configuration.host = params["api_host"].rstrip("/")
            if params.get("api_token"):
                configuration.api_key = {"authorization": params["api_token"]}
                configuration.api_key_prefix = {"authorization": "Bearer"}
            configuration.ssl_ca_cert = params.get("api_ca_cert") or None
            configuration.cert_file = params.get("api_client_cert") or None
            configuration.key_file = params.get("api_client_key") or None
        else:
            try:
                config.load_kube_config(config_file=params["kubeconfig"], context=params.get("kube_context"),
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

    def request(self, method, path, body=None):
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

    def __init__(self, api, allow_crd_v1=False):
        self.api = api
        self.allow_crd_v1 = allow_crd_v1
        self._group = None

    def group(self, for_write=False):
        if self._group is None:
            status, _unused = self.api.request("GET", f"/apis/{V3_GROUP}")
            self._group = V3_GROUP if status != 404 else CRD_V1_GROUP
        if for_write and self._group == CRD_V1_GROUP and not self.allow_crd_v1:
            raise CrdV1RefusedError(
                f"the API server does not serve {V3_GROUP} (no Calico API server / v3 CRDs), and writing "
                f"{CRD_V1_GROUP} directly skips Calico's validation and defaulting. Install the Calico API "
                "server, or set allow_crd_v1: true to write the raw CRDs anyway.",
                api_host=self.api.host,
            )
        return self._group

    def _path(self, kind, name=None, for_write=False):
        path = f"/apis/{self.group(for_write)}/{_plural(kind)}"
        return f"{path}/{urllib.parse.quote(name)}" if name else path

    def _as_v3(self, obj):
        obj["apiVersion"] = V3_GROUP  # callers see one shape whichever group served it
        return obj

    def list(self, kind):
        status, body = self.api.request("GET", self._path(kind))
        return [self._as_v3(item) for item in body.get("items") or []] if status != 404 else []

    def get(self, kind, name):
        status, body = self.api.request("GET", self._path(kind, name))
        return None if status == 404 else self._as_v3(body)

    def put(self, obj):
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

    def delete(self, kind, name, resource_version=None):
        body = None
        if resource_version:
            body = {"kind": "DeleteOptions", "apiVersion": "v1",
                    "preconditions": {"resourceVersion": str(resource_version)}}
        self.api.request("DELETE", self._path(kind, name, for_write=True), body)

    def read_nodes(self):
        status, body = self.api.request("GET", "/api/v1/nodes")
        nodes = []
        for item in body.get("items") or [] if status != 404 else []:
            meta = item.get("metadata") or {}
            ann = meta.get("annotations") or {}
            nodes.append(_node_row(
                meta.get("name"), ann.get(NODE_ANNOTATIONS["ipv4_network"]),
                ann.get(NODE_ANNOTATIONS["ipv6_network"]), ann.get(NODE_ANNOTATIONS["rr_cluster_id"]),
                ann.get(NODE_ANNOTATIONS["ipip_tunnel_addr"]), ann.get(NODE_ANNOTATIONS["asn"]),
                meta.get("labels"), meta.get("name"),
            ))
        return sorted(nodes, key=lambda n: n["name"])


def read_nodes_info(params):
    """What calico_nodes_info returns: every Calico Node, the BGP configuration and the BGPPeers."""
    datastore = connect(params)
    return {"nodes": datastore.read_nodes(), "bgp_configuration": datastore.read_bgp_configuration(),
            "bgp_peers": datastore.read_bgp_peers()}
