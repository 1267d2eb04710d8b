"""calico_datastore: optimistic concurrency on etcd, and the Kubernetes request/response flow.

The Kubernetes tests run against a STAND-IN: a tiny local HTTP server that
records every request and keeps objects in memory (no kube-apiserver can run
here). It checks what we send (paths, verbs, apiVersion, bodies, token,
resourceVersion) and how we read answers. A real API server with Calico's API
server would add what the stand-in does not: authentication and RBAC,
admission, Calico's own validation and defaulting (e.g. blockSize 26,
nodeSelector all()), resourceVersion conflicts caused by other writers,
managedFields, watch caches. Those paths are not proven here.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.connect import connect
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import ResourceConflictError

from tests.conftest import run_module
from tests.integration.datastore.conftest import CALICO

V3 = "/apis/projectcalico.org/v3"
V1 = "/apis/crd.projectcalico.org/v1"


class StandInApi:
    def __init__(self, serve_v3=True, nodes=()):
        self.serve_v3 = serve_v3
        self.nodes = list(nodes)
        self.objects = {}  # collection path -> {name: obj}
        self.requests = []
        self.version = 100
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                recorded = json.loads(json.dumps(body))  # what was sent, before the server edits it
                api.requests.append((self.command, self.path, recorded, self.headers.get("Authorization")))
                self._reply(*api.answer(self.command, self.path, body))

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def writes(self):
        return [(m, p, b) for m, p, b, _ in self.requests if m != "GET"]

    def answer(self, method, path, body):
        missing = (404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
        if path == "/api/v1/nodes":
            return 200, {"kind": "NodeList", "items": self.nodes}
        if path == V3:
            return (200, {"kind": "APIResourceList", "groupVersion": "projectcalico.org/v3"}) if self.serve_v3 \
                else missing
        if path.startswith(V3) and not self.serve_v3:
            return missing
        collection, _, name = path.rpartition("/") if path.count("/") == 5 else (path, "", "")
        store = self.objects.setdefault(collection, {})
        if method == "GET":
            if not name:
                return 200, {"kind": "List", "items": list(store.values())}
            return (200, store[name]) if name in store else missing
        if method == "POST":
            name = body["metadata"]["name"]
            if name in store:
                return 409, {"kind": "Status", "reason": "AlreadyExists", "message": f"{name} already exists"}
            self.version += 1
            body["metadata"].update(uid="stand-in-uid", creationTimestamp="2024-05-01T10:00:00Z",
                                    resourceVersion=str(self.version))
            store[name] = body
            return 201, body
        if name not in store:
            return missing
        if method == "PUT":
            if body["metadata"].get("resourceVersion") != store[name]["metadata"]["resourceVersion"]:
                return 409, {"kind": "Status", "reason": "Conflict", "message": "the object has been modified"}
            self.version += 1
            body["metadata"]["resourceVersion"] = str(self.version)
            store[name] = body
            return 200, body
        del store[name]
        return 200, {"kind": "Status", "status": "Success"}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    servers = []

    def start(**kwargs):
        servers.append(StandInApi(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def k8s_args(api, **extra):
    """The Kubernetes options by kubernetes.core's names (the names ``connect`` reads)."""
    return {"datastore": "kubernetes", "host": api.url, "api_key": "s3cr3t", "timeout": 5, **extra}


def test_the_earlier_option_names_still_work_as_aliases(stand_in):
    api = stand_in()
    result = run_module("calico_nodes_info", {"datastore": "kubernetes", "api_host": api.url,
                                              "api_token": "old-name", "timeout": 5})
    assert result["nodes"] == [] and not result.get("failed"), result
    assert {auth for *_, auth in api.requests} == {"Bearer old-name"}


def test_ippool_create_noop_update_delete_through_v3(stand_in):
    api = stand_in()
    pool = {"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16", "ipip_mode": "Always"}
    dry = run_module("calico_ippool", {**k8s_args(api), **pool}, check=True)
    assert dry["changed"] is True and api.writes() == []

    assert run_module("calico_ippool", {**k8s_args(api), **pool})["changed"] is True
    ((method, path, body),) = api.writes()
    assert (method, path) == ("POST", f"{V3}/ippools")
    assert body["apiVersion"] == "projectcalico.org/v3" and body["kind"] == "IPPool"
    assert body["metadata"] == {"name": "default-ipv4-ippool"}
    assert body["spec"]["ipipMode"] == "Always" and body["spec"]["blockSize"] == 26
    assert {auth for *_, auth in api.requests} == {"Bearer s3cr3t"}

    # The server added uid, creationTimestamp and resourceVersion: still no change.
    assert run_module("calico_ippool", {**k8s_args(api), **pool})["changed"] is False
    assert len(api.writes()) == 1

    assert run_module("calico_ippool", {**k8s_args(api), **pool, "ipip_mode": "CrossSubnet"})["changed"] is True
    method, path, body = api.writes()[-1]
    assert (method, path) == ("PUT", f"{V3}/ippools/default-ipv4-ippool")
    assert body["metadata"]["resourceVersion"] == "101" and body["metadata"]["uid"] == "stand-in-uid"

    assert run_module("calico_ippool", {**k8s_args(api), "name": pool["name"], "state": "absent"})["changed"]
    method, path, body = api.writes()[-1]
    assert (method, path) == ("DELETE", f"{V3}/ippools/default-ipv4-ippool")
    assert body["preconditions"] == {"resourceVersion": "102"}


def test_raw_crd_v1_write_is_refused_unless_allowed(stand_in):
    api = stand_in(serve_v3=False)
    pool = {"name": "p", "cidr": "172.20.0.0/16"}
    refused = run_module("calico_ippool", {**k8s_args(api), **pool})
    assert refused["failed"] is True
    assert "allow_crd_v1: true" in refused["msg"] and "skips Calico's validation" in refused["msg"]
    assert api.writes() == []

    assert run_module("calico_ippool", {**k8s_args(api, allow_crd_v1=True), **pool})["changed"] is True
    ((method, path, body),) = api.writes()
    assert (method, path, body["apiVersion"]) == ("POST", f"{V1}/ippools", "crd.projectcalico.org/v1")


def test_nodes_from_kubernetes_node_annotations(stand_in):
    api = stand_in(nodes=[{"metadata": {"name": "node-b", "annotations": {
        "projectcalico.org/IPv4Address": "10.0.1.203/24",
        "projectcalico.org/IPv4IPIPTunnelAddr": "172.20.139.64"}}},
        {"metadata": {"name": "node-a", "labels": {"route-reflector": "true"}, "annotations": {
            "projectcalico.org/IPv4Address": "10.0.1.202/24",
            "projectcalico.org/RouteReflectorClusterID": "224.0.0.1"}}}])
    result = run_module("calico_nodes_info", k8s_args(api))
    assert [(n["name"], n["ipv4_address"], n["rr_cluster_id"], n["ipip_tunnel_addr"], n["labels"])
            for n in result["nodes"]] == [
        ("node-a", "10.0.1.202", "224.0.0.1", None, {"route-reflector": "true"}),
        ("node-b", "10.0.1.203", None, "172.20.139.64", {})]
    assert result["bgp_configuration"] == {"exists": False, "mesh_enabled": True, "as_number": 64512}
    assert result["bgp_peers"] == []


@pytest.mark.parametrize("serve_v3", [True, False])
def test_bgp_peers_through_the_api_server(stand_in, serve_v3):
    api = stand_in(serve_v3=serve_v3)
    group = V3 if serve_v3 else V1
    api.objects[f"{group}/bgppeers"] = {"peer-with-route-reflectors": {
        "kind": "BGPPeer", "apiVersion": group.split("/", 2)[2],
        "metadata": {"name": "peer-with-route-reflectors", "resourceVersion": "7"},
        "spec": {"nodeSelector": "all()", "peerSelector": "route-reflector == 'true'"}}}
    result = run_module("calico_nodes_info", k8s_args(api))
    assert result["bgp_peers"] == [{"name": "peer-with-route-reflectors", "node": None, "node_selector": "all()",
                                    "peer_ip": None, "peer_selector": "route-reflector == 'true'",
                                    "as_number": None}]
    assert ("GET", f"{group}/bgppeers") in [(m, p) for m, p, *_ in api.requests]
    assert api.writes() == []


def test_concurrent_change_is_a_conflict_on_kubernetes(stand_in):
    api = stand_in()
    ds = connect(k8s_args(api))
    created = ds.put({"kind": "IPPool", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "p"},
                      "spec": {"cidr": "172.20.0.0/16"}})
    stale = json.loads(json.dumps(created))
    ds.put(created)  # someone else writes first
    with pytest.raises(ResourceConflictError):
        ds.put(stale)


def test_concurrent_change_is_a_conflict_on_etcd(etcd, ds_args):
    ds = connect(ds_args)
    obj = {"kind": "IPPool", "apiVersion": "projectcalico.org/v3", "metadata": {"name": "p"},
           "spec": {"cidr": "172.20.0.0/16"}}
    created = ds.put(obj)
    with pytest.raises(ResourceConflictError, match="already exists"):
        ds.put(obj)
    etcd.put_json(f"{CALICO}ippools/p", {**obj, "spec": {"cidr": "172.20.0.0/16", "disabled": True}})
    start = etcd.revision()
    with pytest.raises(ResourceConflictError, match="changed since it was read"):
        ds.put(created)
    with pytest.raises(ResourceConflictError):
        ds.delete("IPPool", "p", created["metadata"]["resourceVersion"])
    assert etcd.revision() == start
    assert ds.get("IPPool", "p")["spec"]["disabled"] is True


def test_kubeconfig_with_token_user(stand_in, tmp_path):
    api = stand_in()
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
        f"clusters: [{{name: lab, cluster: {{server: '{api.url}'}}}}]\n"
        "users: [{name: admin, user: {token: from-kubeconfig}}]\n"
        "contexts: [{name: lab, context: {cluster: lab, user: admin}}]\n")
    result = run_module("calico_nodes_info", {"datastore": "kubernetes", "kubeconfig": str(kubeconfig)})
    assert result["nodes"] == [] and not result.get("failed")
    assert {auth for *_, auth in api.requests} == {"Bearer from-kubeconfig"}
    missing = run_module("calico_nodes_info", {"datastore": "kubernetes", "kubeconfig": str(kubeconfig),
                                               "kube_context": "prod"})
    assert missing["failed"] is True and "Expected object with name prod" in missing["msg"]
    assert str(kubeconfig) in missing["msg"]


def test_kubeconfig_with_an_exec_credential_plugin(stand_in, tmp_path):
    """Cloud kubeconfigs (gke-gcloud-auth-plugin, aws eks get-token) get their token from a command."""
    api = stand_in()
    plugin = tmp_path / "get-token"
    plugin.write_text('#!/bin/sh\necho \'{"apiVersion": "client.authentication.k8s.io/v1", '
                      '"kind": "ExecCredential", "status": {"token": "from-exec-plugin"}}\'\n')
    plugin.chmod(0o755)
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
        f"clusters: [{{name: lab, cluster: {{server: '{api.url}'}}}}]\n"
        "users: [{name: cloud, user: {exec: {apiVersion: client.authentication.k8s.io/v1, "
        f"command: '{plugin}', interactiveMode: Never}}}}}}]\n"
        "contexts: [{name: lab, context: {cluster: lab, user: cloud}}]\n")
    result = run_module("calico_nodes_info", {"datastore": "kubernetes", "kubeconfig": str(kubeconfig)})
    assert result["nodes"] == [] and not result.get("failed"), result
    assert {auth for *_, auth in api.requests} == {"Bearer from-exec-plugin"}
