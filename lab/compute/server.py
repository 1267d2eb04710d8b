"""HTTP layer of the Compute Engine v1 test server: routes, request log, admin.

Test-only admin routes (never part of the Compute API):
  GET /_test/log, DELETE /_test/log      the request log
  GET /_test/faults, POST /_test/faults, DELETE /_test/faults
      POST body: {"burst": {"status": 429, "count": 3, "method": "POST", "path": "/instances"},
                  "fail_instance": {"name": "node-3"}, "forbid": {"project": "p", "permissions": []}}
  POST /_test/config {"operation_latency": 2.0}
"""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from lab.compute.cloud import ComputeCloud
from lab.compute.errors import ApiError, invalid
from lab.compute.schema import SchemaError

P = r"^/compute/v1/projects/(?P<project>[^/]+)"
Z = P + r"/zones/(?P<zone>[^/]+)"
# (method, path regex, handler, IAM permission GCE checks for it)
ROUTES = [
    ("POST", P + r"/global/firewalls$", "firewall_insert", "compute.firewalls.create"),
    ("GET", P + r"/global/firewalls$", "firewall_list", "compute.firewalls.list"),
    ("GET", P + r"/global/firewalls/(?P<name>[^/]+)$", "firewall_get", "compute.firewalls.get"),
    ("PATCH", P + r"/global/firewalls/(?P<name>[^/]+)$", "firewall_write", "compute.firewalls.update"),
    ("PUT", P + r"/global/firewalls/(?P<name>[^/]+)$", "firewall_write", "compute.firewalls.update"),
    ("DELETE", P + r"/global/firewalls/(?P<name>[^/]+)$", "firewall_delete", "compute.firewalls.delete"),
    ("GET", P + r"/global/operations/(?P<op>[^/]+)$", "operation", "compute.globalOperations.get"),
    ("POST", P + r"/global/operations/(?P<op>[^/]+)/wait$", "operation", "compute.globalOperations.get"),
    ("POST", Z + r"/instances$", "instance_insert", "compute.instances.create"),
    ("GET", Z + r"/instances$", "instance_list", "compute.instances.list"),
    ("GET", Z + r"/instances/(?P<name>[^/]+)$", "instance_get", "compute.instances.get"),
    ("DELETE", Z + r"/instances/(?P<name>[^/]+)$", "instance_delete", "compute.instances.delete"),
    ("GET", Z + r"/operations/(?P<op>[^/]+)$", "operation", "compute.zoneOperations.get"),
    ("POST", Z + r"/operations/(?P<op>[^/]+)/wait$", "operation", "compute.zoneOperations.get"),
]
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


def _page(kind, self_link, items, query):
    """A list response, paginated the way GCE does (maxResults + pageToken)."""
    size = int(query.get("maxResults", ["500"])[0] or 500)
    start = int(query.get("pageToken", ["0"])[0] or 0)
    body = {"kind": kind, "id": self_link, "selfLink": self_link, "items": items[start : start + size]}
    if start + size < len(items):
        body["nextPageToken"] = str(start + size)
    if not body["items"]:
        del body["items"]
    return body


class ComputeServer:
    """The Compute Engine v1 test server; ``start()`` serves it from a thread."""

    def __init__(self, host="127.0.0.1", port=0, project="p", zone="z", vpc_range="198.18.0.0/20",
                 operation_latency=0.0, backend=None, networks=("default",), first_host=10,
                 wait_timeout=120.0, extra_projects=(), extra_zones=()):
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the Compute test server listens on 127.0.0.1 only")
        self.project, self.zone = project, zone
        self.cloud = ComputeCloud(
            [project, *extra_projects], [zone, *extra_zones], vpc_range, networks=networks,
            latency=operation_latency, backend=backend, first_host=first_host, wait_timeout=wait_timeout,
        )
        self.cloud.seed(project, zone)
        self.log = []
        self._log_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def faults(self):
        return self.cloud.faults

    def set_latency(self, seconds):
        self.cloud.operations.latency = seconds

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self._httpd.serve_forever()

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self.cloud.operations.join()
        if self._thread:
            self._thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- request log ------------------------------------------------------
    def record(self, entry):
        with self._log_lock:
            entry["seq"] = len(self.log)
            self.log.append(entry)

    def requests(self, method=None, contains=""):
        with self._log_lock:
            return [e for e in self.log if method in (None, e["method"]) and contains in e["path"]]

    def writes(self):
        """Requests that change something (waits are POSTs but change nothing)."""
        return [e for e in self.requests() if e["method"] in WRITE_METHODS and not e["path"].endswith("/wait")]

    def clear_log(self):
        with self._log_lock:
            self.log.clear()

    # -- dispatch ---------------------------------------------------------
    def dispatch(self, method, path, query, body):
        status = self.faults.take_burst(method, path)
        if status == 429:
            raise ApiError(429, "Quota exceeded for quota metric 'Queries' of service 'compute.googleapis.com'.")
        if status:
            raise ApiError(status, "The service is currently unavailable.")
        for route_method, pattern, handler, permission in ROUTES:
            match = re.match(pattern, path) if route_method == method else None
            if match:
                return self._call(handler, permission, method, match.groupdict(), query, body)
        raise ApiError(404, f"The requested URL {path} was not found on this server.")

    def _call(self, handler, permission, method, parts, query, body):
        cloud, project, zone = self.cloud, parts["project"], parts.get("zone")
        cloud.check_scope(project, zone)
        scope = f"projects/{project}/zones/{zone}" if zone else f"projects/{project}/global"
        target = (body or {}).get("name") or parts.get("name") or parts.get("op") or ""
        kind = {"firewall": "firewalls", "instance": "instances", "operation": "operations"}[handler.split("_")[0]]
        cloud.authorize(project, permission, f"{scope}/{kind}/{target}".rstrip("/"))
        if handler == "operation":
            return cloud.operation(project, zone, parts["op"], wait=method == "POST")
        if handler in ("firewall_insert", "instance_insert", "firewall_write") and body is None:
            raise invalid("Invalid JSON payload received. A request body is required.")
        if handler == "firewall_insert":
            return cloud.firewall_insert(project, body)
        if handler == "firewall_write":
            return cloud.firewall_write(project, parts["name"], body, method)
        if handler == "firewall_list":
            link = f"https://www.googleapis.com/compute/v1/{scope}/firewalls"
            return _page("compute#firewallList", link, cloud.firewall_list(project), query)
        if handler == "instance_list":
            link = f"https://www.googleapis.com/compute/v1/{scope}/instances"
            return _page("compute#instanceList", link, cloud.instance_list(project, zone), query)
        if handler == "instance_insert":
            return cloud.instance_insert(project, zone, body)
        args = (project, zone, parts["name"]) if zone else (project, parts["name"])
        return getattr(cloud, handler)(*args)

    def admin(self, method, path, body):
        if path == "/_test/log":
            if method == "DELETE":
                self.clear_log()
            return {"requests": self.requests()}
        if path == "/_test/faults":
            if method == "DELETE":
                self.faults.clear()
            elif method == "POST":
                body = body or {}
                if "burst" in body:
                    self.faults.add_burst(**body["burst"])
                if "fail_instance" in body:
                    self.faults.fail_instance(**body["fail_instance"])
                if "forbid" in body:
                    self.faults.forbid(**body["forbid"])
            return self.faults.describe()
        if path == "/_test/config" and method == "POST":
            self.set_latency(float((body or {}).get("operation_latency", self.cloud.operations.latency)))
            return {"operation_latency": self.cloud.operations.latency}
        raise ApiError(404, f"No admin route {method} {path}")


def _handler_for(server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # the request log replaces stderr noise
            pass

        def _serve(self):
            started = time.time()
            split = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            entry = {"method": self.command, "path": split.path, "query": parse_qs(split.query),
                     "body": raw.decode(errors="replace") or None, "time": started}
            is_admin = split.path.startswith("/_test/")
            if not is_admin:
                server.record(entry)
            try:
                body = json.loads(raw) if raw.strip() else None
                entry["body"] = body
                if is_admin:
                    status, payload = 200, server.admin(self.command, split.path, body)
                else:
                    status, payload = 200, server.dispatch(self.command, split.path, entry["query"], body)
            except json.JSONDecodeError as exc:
                status, payload = 400, invalid(f"Invalid JSON payload received. {exc}").body()
            except SchemaError as exc:
                status, payload = 400, ApiError(400, str(exc)).body()
            except ApiError as exc:
                status, payload = exc.code, exc.body()
            entry["status"] = status
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
