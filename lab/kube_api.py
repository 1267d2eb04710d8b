"""A Kubernetes API stand-in for the lab's control-plane host (test equipment).

It serves HTTPS on <control-plane ip>:6443 inside that node's network
namespace, so joins cross the VPC and its firewall. It holds what joining
needs and nothing more (docs/lab.md):
- the cluster CA (made with openssl by `lab up`) and a serving certificate;
- bootstrap tokens, as kube-system Secrets of type bootstrap.kubernetes.io/token
  (created with the admin credential, checked for expiry);
- the kube-public/cluster-info ConfigMap, with one detached JWS signature per
  usable token, which is what `kubeadm join` discovery verifies;
- Node objects: registered by the kubelet's TLS bootstrap (bootstrap token),
  listed, fetched, patched (spec, labels) and deleted with the admin credential.
A registration hands out a node credential directly (the CSR flow is not
modelled). With --lab, registering a Node starts the calico-node stand-in on
the machine that registered, as the calico-node DaemonSet would, and deleting
it stops it again.
"""

import argparse
import copy
import json
import secrets
import signal
import ssl
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lab import api, kube

BOOTSTRAP_TYPE = "bootstrap.kubernetes.io/token"
SECRET_PREFIX = "bootstrap-token-"


def _now():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Tokens, Nodes and node credentials, kept in <dir>/store.json."""

    def __init__(self, directory, server):
        self.dir = Path(directory)
        self.server = server
        self.ca_pem = (self.dir / "ca.crt").read_text()
        self.admin_token = (self.dir / "admin.token").read_text().strip()
        self.lock = threading.Lock()
        try:
            self.data = json.loads((self.dir / "store.json").read_text())
        except FileNotFoundError:
            self.data = {"tokens": {}, "nodes": {}, "credentials": {}}

    def save(self):
        tmp = self.dir / "store.json.tmp"
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True))
        tmp.replace(self.dir / "store.json")

    def who(self, bearer):
        """'admin', 'bootstrap', 'node:<name>' or None for a bearer token."""
        if not bearer:
            return None
        if secrets.compare_digest(bearer, self.admin_token):
            return "admin"
        with self.lock:
            name = self.data["credentials"].get(bearer)
            if name:
                return f"node:{name}"
            match = kube.TOKEN_RE.fullmatch(bearer)
            token = self.data["tokens"].get(match.group(1)) if match else None
            if (token and secrets.compare_digest(token["secret"], match.group(2))
                    and "authentication" in token["usages"] and not kube.expired(token["expiration"])):
                return "bootstrap"
        return None

    def cluster_info(self):
        conf = kube.kubeconfig(self.server, self.ca_pem, "", "")
        conf.update(users=[], contexts=[], **{"current-context": ""})
        payload = json.dumps(conf, indent=2)
        data = {"kubeconfig": payload}
        with self.lock:
            for token_id, token in self.data["tokens"].items():
                if "signing" in token["usages"] and not kube.expired(token["expiration"]):
                    data[f"jws-kubeconfig-{token_id}"] = kube.jws_sign(payload, token_id, token["secret"])
        return {"kind": "ConfigMap", "apiVersion": "v1",
                "metadata": {"name": "cluster-info", "namespace": "kube-public"}, "data": data}

    def add_token(self, secret):
        if secret.get("type") != BOOTSTRAP_TYPE:
            raise ApiError(422, "only bootstrap token Secrets are served by the lab")
        data = secret.get("stringData") or {}
        token_id, token_secret = data.get("token-id", ""), data.get("token-secret", "")
        kube.split_token(f"{token_id}.{token_secret}")
        usages = [u for u in ("authentication", "signing") if data.get(f"usage-bootstrap-{u}") == "true"]
        with self.lock:
            if token_id in self.data["tokens"]:
                raise ApiError(409, f'secrets "{SECRET_PREFIX}{token_id}" already exists')
            self.data["tokens"][token_id] = {"secret": token_secret, "expiration": data.get("expiration"),
                                             "usages": usages, "description": data.get("description", "")}
            self.save()
        return {"kind": "Secret", "metadata": {"name": SECRET_PREFIX + token_id, "namespace": "kube-system"},
                "type": BOOTSTRAP_TYPE}

    def register(self, body):
        """Create or update a Node (a kubelet registering); returns (node, credential)."""
        name = (body.get("metadata") or {}).get("name", "")
        if not kube.NAME_RE.fullmatch(name) or len(name) > 253:
            raise ApiError(422, f'Node "{name}" is invalid: metadata.name: Invalid value: "{name}": a lowercase '
                                "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'")
        with self.lock:
            node = self.data["nodes"].get(name) or {
                "kind": "Node", "apiVersion": "v1",
                "metadata": {"name": name, "uid": str(uuid.uuid4()), "creationTimestamp": _now(), "labels": {}},
                "spec": {},
            }
            node["metadata"]["labels"].update({"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                               **((body.get("metadata") or {}).get("labels") or {})})
            node["status"] = {
                "addresses": (body.get("status") or {}).get("addresses", []),
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                "nodeInfo": {"kubeletVersion": kube.KUBE_VERSION},
            }
            self.data["nodes"][name] = node
            credential = secrets.token_hex(24)
            self.data["credentials"][credential] = name
            self.save()
            return copy.deepcopy(node), credential

    def nodes(self):
        with self.lock:
            return copy.deepcopy(sorted(self.data["nodes"].values(), key=lambda n: n["metadata"]["name"]))

    def node(self, name):
        with self.lock:
            node = self.data["nodes"].get(name)
            if node is None:
                raise ApiError(404, f'nodes "{name}" not found')
            return copy.deepcopy(node)

    def patch(self, name, body):
        with self.lock:
            node = self.data["nodes"].get(name)
            if node is None:
                raise ApiError(404, f'nodes "{name}" not found')
            node["spec"].update(body.get("spec") or {})
            node["spec"] = {k: v for k, v in node["spec"].items() if v is not None}
            node["metadata"]["labels"].update((body.get("metadata") or {}).get("labels") or {})
            self.save()
            return copy.deepcopy(node)

    def delete(self, name):
        with self.lock:
            node = self.data["nodes"].pop(name, None)
            if node is None:
                raise ApiError(404, f'nodes "{name}" not found')
            self.data["credentials"] = {k: v for k, v in self.data["credentials"].items() if v != name}
            self.save()
            return node


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Handler(BaseHTTPRequestHandler):
    server_version = "lab-kube-apiserver"
    store = None
    hooks = None

    def log_message(self, fmt, *args):  # one line per request, never the Authorization header
        print(f"{self.client_address[0]} {fmt % args}", file=sys.stderr, flush=True)

    def _reply(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            return json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise ApiError(400, "the request body is not JSON") from None

    def _who(self):
        auth = self.headers.get("Authorization", "")
        return self.store.who(auth[7:].strip() if auth.startswith("Bearer ") else "")

    def _require(self, who, *allowed):
        if who is None:
            raise ApiError(401, "Unauthorized")
        if not any(who == a or who.startswith(a + ":") for a in allowed):
            raise ApiError(403, f'forbidden: User "{who}" cannot {self.command} {self.path}')

    def _handle(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            status, body = self._route(self.command, path, self._who())
        except ApiError as exc:
            status, body = exc.status, {"kind": "Status", "status": "Failure", "message": str(exc), "code": exc.status}
        except kube.KubeError as exc:
            status, body = 422, {"kind": "Status", "status": "Failure", "message": str(exc), "code": 422}
        self._reply(status, body)

    do_GET = do_POST = do_DELETE = do_PATCH = _handle

    def _route(self, method, path, who):
        store = self.store
        if method == "GET" and path == "/version":
            return 200, {"gitVersion": kube.KUBE_VERSION}
        if method == "GET" and path == kube.CLUSTER_INFO:
            return 200, store.cluster_info()
        if method == "POST" and path == kube.SECRETS:
            self._require(who, "admin")
            return 201, store.add_token(self._body())
        if path == kube.NODES:
            if method == "POST":
                self._require(who, "admin", "bootstrap")
                node, credential = store.register(self._body())
                self._hook("node_registered", node)
                return 201, {"node": node, "credential": credential}
            if method == "GET":
                self._require(who, "admin", "node")
                return 200, {"kind": "NodeList", "apiVersion": "v1", "items": store.nodes()}
        if path.startswith(kube.NODES + "/"):
            name = path[len(kube.NODES) + 1:]
            if method == "GET":
                self._require(who, "admin", "node")
                return 200, store.node(name)
            if method == "PATCH":
                self._require(who, "admin")
                return 200, store.patch(name, self._body())
            if method == "DELETE":
                self._require(who, "admin")
                node = store.delete(name)
                self._hook("node_deleted", node)
                return 200, {"kind": "Status", "status": "Success", "details": {"name": name, "kind": "nodes"}}
        raise ApiError(404, f"the server could not find the requested resource ({method} {path})")

    def _hook(self, name, node):
        """The DaemonSet's reaction, in the background: a pod starts later than the Node appears."""
        hook = getattr(self.hooks, name, None) if self.hooks else None
        if hook:
            threading.Thread(target=hook, args=(node,), daemon=True).start()


class LabHooks:
    """What the calico-node DaemonSet does on the lab's machines (calls lab.api)."""

    def __init__(self, datastore, lab_api=api):
        self.api = lab_api
        self.datastore = datastore

    def node_registered(self, node):
        self._call(self.api.kube_node_registered, node, datastore=self.datastore)

    def node_deleted(self, node):
        self._call(self.api.kube_node_deleted, node)

    def _call(self, func, node, **kwargs):
        ip, name = kube.node_ip(node), node["metadata"]["name"]
        try:
            func(ip, name, **kwargs)
        except Exception as exc:  # the server keeps serving; the log says what went wrong
            print(f"calico-node DaemonSet: {name} ({ip}): {exc}", file=sys.stderr, flush=True)


def make_server(listen, port, directory, hooks=None):
    """The HTTPS server (not started); port 0 picks a free one."""
    handler = type("LabHandler", (Handler,), {"hooks": hooks})
    httpd = ThreadingHTTPServer((listen, port), handler)
    httpd.daemon_threads = True
    handler.store = Store(directory, f"https://{listen}:{httpd.server_address[1]}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(Path(directory) / "apiserver.crt", Path(directory) / "apiserver.key")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    return httpd


def serve(listen, port, directory, lifetime, hooks=None):
    httpd = make_server(listen, port, directory, hooks)
    server_url = f"https://{listen}:{port}"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    print(f"kube-apiserver (lab stand-in) serving on {server_url}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + lifetime
    while not stop.is_set() and time.monotonic() < deadline:
        stop.wait(1.0)
    httpd.shutdown()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="address to serve on (the control-plane node's)")
    parser.add_argument("--port", type=int, default=kube.API_PORT)
    parser.add_argument("--dir", required=True, help="directory with the CA, serving certificate and store")
    parser.add_argument("--lifetime", type=float, default=6 * 3600, help="exit after this many seconds")
    parser.add_argument("--lab", action="store_true", help="start/stop calico-node on lab nodes (DaemonSet)")
    parser.add_argument("--calico-datastore", choices=["etcdv3", "kubernetes"], default="etcdv3")
    args = parser.parse_args(argv)
    hooks = LabHooks(args.calico_datastore) if args.lab else None
    return serve(args.listen, args.port, args.dir, args.lifetime, hooks)


if __name__ == "__main__":
    sys.exit(main())
