"""HTTP layer of the Compute Engine v1 test server: routes, request log, admin.

Test-only admin routes (never part of the Compute API):
  GET /_test/log, DELETE /_test/log      the request log
  GET /_test/faults, POST /_test/faults, DELETE /_test/faults
      POST body: {"burst": {"status": 429, "count": 3, "method": "POST", "path": "/instances"},
                  "fail_instance": {"name": "node-3"}, "forbid": {"project": "p", "permissions": []}}
  POST /_test/config {"operation_latency": 2.0}
  POST /_test/drop-next-reply {"method": "POST", "path": "/instances$", "count": 1}
      the next ``count`` requests whose method matches and whose path matches the
      regex (re.search) are performed, then the connection is closed without a
      reply (a lost reply); also ``{"drop_reply": {...}}`` in POST /_test/faults.

``instances.setTags`` takes a Tags body whose ``fingerprint`` must be the
instance's current ``tags.fingerprint`` (400 without one, 412 when stale);
the tags replace the old ones and the fingerprint changes.

List calls honour ``filter`` (lab/compute/filters.py), ``maxResults`` and
``pageToken``; inserts, updates and deletes honour ``requestId``. A request for
a Compute v1 method the server does not model is answered 501 ``notImplemented``
naming the method, never 404.
"""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from lab.compute.cloud import ComputeCloud
from lab.compute.errors import ApiError, invalid, not_implemented
from lab.compute.filters import FilterError, apply_filter
from lab.compute.operations import RequestIds
from lab.compute.schema import SchemaError, method_id

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
    ("GET", P + r"/global/operations$", "operation_list", "compute.globalOperations.list"),
    ("GET", P + r"/global/operations/(?P<op>[^/]+)$", "operation", "compute.globalOperations.get"),
    ("POST", P + r"/global/operations/(?P<op>[^/]+)/wait$", "operation", "compute.globalOperations.get"),
    ("POST", Z + r"/instances$", "instance_insert", "compute.instances.create"),
    ("GET", Z + r"/instances$", "instance_list", "compute.instances.list"),
    ("GET", P + r"/aggregated/instances$", "instance_aggregated", "compute.instances.list"),
    ("GET", Z + r"/instances/(?P<name>[^/]+)$", "instance_get", "compute.instances.get"),
    ("DELETE", Z + r"/instances/(?P<name>[^/]+)$", "instance_delete", "compute.instances.delete"),
    ("POST", Z + r"/instances/(?P<name>[^/]+)/setTags$", "instance_set_tags", "compute.instances.setTags"),
    ("POST", Z + r"/instances/(?P<name>[^/]+)/setLabels$", "instance_set_labels", "compute.instances.setLabels"),
    ("GET", Z + r"/operations$", "operation_list", "compute.zoneOperations.list"),
    ("GET", Z + r"/operations/(?P<op>[^/]+)$", "operation", "compute.zoneOperations.get"),
    ("POST", Z + r"/operations/(?P<op>[^/]+)/wait$", "operation", "compute.zoneOperations.get"),
]
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


# Handlers whose requests carry a requestId and start an operation.
IDEMPOTENT = {"firewall_insert", "firewall_write", "firewall_delete", "instance_insert", "instance_delete",
              "instance_set_tags", "instance_set_labels"}
BASE = "https://www.googleapis.com/compute/v1"


def _param(query, name, default=None):
    return query.get(name, [default])[-1]


def _bool_param(query, name):
    value = _param(query, name)
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise invalid(f"Invalid value at '{name}' (TYPE_BOOL), \"{value}\"")
    return value.lower() == "true"


def _filtered(items, query):
    text = _param(query, "filter", "")
    try:
        return apply_filter(text, items)
    except FilterError as exc:
        raise invalid(f"Invalid value for field 'filter': '{text}'. Invalid list filter expression: {exc}.") from None


def _window(items, query):
    """The slice of ``items`` one page holds (maxResults + pageToken), and the next token."""
    try:
        size = int(_param(query, "maxResults", "500") or 500)
    except ValueError:
        raise invalid(f"Invalid value at 'max_results' (TYPE_UINT32), \"{_param(query, 'maxResults')}\"") from None
    if not 0 <= size <= 500:
        raise invalid(f"Invalid value for field 'maxResults': '{size}'. Must be between 0 and 500.")
    size = size or 500
    token = _param(query, "pageToken", "0") or "0"
    if not token.isdigit():
        raise invalid(f"Invalid value for field 'pageToken': '{token}'. The page token is not valid.")
    start = int(token)
    nxt = str(start + size) if start + size < len(items) else None
    return items[start : start + size], nxt


def _page(kind, self_link, items, query):
    """A list response, filtered and paginated the way GCE does (filter, maxResults, pageToken)."""
    _bool_param(query, "returnPartialSuccess")
    page, nxt = _window(_filtered(items, query), query)
    body = {"kind": kind, "id": self_link, "selfLink": self_link}
    if page:
        body["items"] = page
    if nxt:
        body["nextPageToken"] = nxt
    return body


def _aggregated(project, zones, by_zone, query):
    """instances.aggregatedList: ``items`` keyed ``zones/<zone>``, one entry per zone."""
    _bool_param(query, "returnPartialSuccess")
    _bool_param(query, "includeAllScopes")
    everything = [inst for zone in sorted(zones) for inst in _filtered(by_zone[zone], query)]
    page, nxt = _window(everything, query)
    link = f"{BASE}/projects/{project}/aggregated/instances"
    items = {}
    for zone in sorted(zones):
        scope = f"zones/{zone}"
        found = [inst for inst in page if inst["zone"].rsplit("/", 1)[-1] == zone]
        items[scope] = {"instances": found} if found else {"warning": {
            "code": "NO_RESULTS_ON_PAGE",
            "message": f"There are no results for scope '{scope}' on this page.",
            "data": [{"key": "scope", "value": scope}],
        }}
    body = {"kind": "compute#instanceAggregatedList", "id": f"projects/{project}/aggregated/instances",
            "items": items, "selfLink": link}
    if nxt:
        body["nextPageToken"] = nxt
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
        self.request_ids = RequestIds(self.cloud.operations)
        self.log = []
        self._drops = []
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

    # -- lost replies -----------------------------------------------------
    def drop_next_reply(self, method=None, path=None, count=1):
        """Perform the next ``count`` matching requests, then close the connection without a reply.

        ``method``: an HTTP method or None for any; ``path``: a regex searched in the URL path.
        """
        if path is not None:
            try:
                re.compile(path)
            except re.error as exc:
                raise invalid(f"drop-next-reply: bad path regex '{path}': {exc}") from None
        with self._log_lock:
            self._drops.append({"method": method, "path": path, "remaining": int(count)})

    def drop_replies(self):
        with self._log_lock:
            return [dict(drop) for drop in self._drops if drop["remaining"] > 0]

    def take_drop(self, method, path):
        with self._log_lock:
            for drop in self._drops:
                if drop["remaining"] > 0 and drop["method"] in (None, method) and \
                        (drop["path"] is None or re.search(drop["path"], path)):
                    drop["remaining"] -= 1
                    return True
        return False

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
        raise not_implemented(method, path, method_id(method, path))

    def _call(self, handler, permission, method, parts, query, body):
        cloud, project, zone = self.cloud, parts["project"], parts.get("zone")
        cloud.check_scope(project, zone)
        scope = f"projects/{project}/zones/{zone}" if zone else f"projects/{project}/global"
        target = (body or {}).get("name") or parts.get("name") or parts.get("op") or ""
        kind = {"firewall": "firewalls", "instance": "instances", "operation": "operations"}[handler.split("_")[0]]
        if handler == "instance_aggregated":
            scope = f"projects/{project}/aggregated"
        cloud.authorize(project, permission, f"{scope}/{kind}/{target}".rstrip("/"))
        if handler in IDEMPOTENT:
            if handler in ("firewall_insert", "instance_insert", "firewall_write", "instance_set_tags") \
                    and body is None:
                raise invalid("Invalid JSON payload received. A request body is required.")
            return self.request_ids.run(project, _param(query, "requestId"),
                                        lambda: self._write(handler, method, parts, body))
        if handler == "operation":
            return cloud.operation(project, zone, parts["op"], wait=method == "POST")
        if handler == "operation_list":
            link = f"{BASE}/{scope}/operations"
            return _page("compute#operationList", link, cloud.operations.list(project, zone), query)
        if handler == "firewall_list":
            return _page("compute#firewallList", f"{BASE}/{scope}/firewalls", cloud.firewall_list(project), query)
        if handler == "instance_list":
            link = f"{BASE}/{scope}/instances"
            return _page("compute#instanceList", link, cloud.instance_list(project, zone), query)
        if handler == "instance_aggregated":
            by_zone = {name: cloud.instance_list(project, name) for name in cloud.zones}
            return _aggregated(project, cloud.zones, by_zone, query)
        args = (project, zone, parts["name"]) if zone else (project, parts["name"])
        return getattr(cloud, handler)(*args)

    def _write(self, handler, method, parts, body):
        cloud, project, zone = self.cloud, parts["project"], parts.get("zone")
        if handler == "firewall_insert":
            return cloud.firewall_insert(project, body)
        if handler == "firewall_write":
            return cloud.firewall_write(project, parts["name"], body, method)
        if handler == "instance_insert":
            return cloud.instance_insert(project, zone, body)
        if handler == "instance_set_tags":
            return cloud.instance_set_tags(project, zone, parts["name"], body)
        if handler == "instance_set_labels":
            return cloud.instance_set_labels(project, zone, parts["name"], body or {})
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
                with self._log_lock:
                    self._drops.clear()
            elif method == "POST":
                body = body or {}
                if "burst" in body:
                    self.faults.add_burst(**body["burst"])
                if "fail_instance" in body:
                    self.faults.fail_instance(**body["fail_instance"])
                if "forbid" in body:
                    self.faults.forbid(**body["forbid"])
                if "drop_reply" in body:
                    self.drop_next_reply(**body["drop_reply"])
            return {**self.faults.describe(), "drop_replies": self.drop_replies()}
        if path == "/_test/drop-next-reply" and method == "POST":
            self.drop_next_reply(**(body or {}))
            return {"drop_replies": self.drop_replies()}
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
            except TypeError as exc:  # an admin body with unknown keys
                status, payload = 400, invalid(str(exc)).body()
            entry["status"] = status
            if not is_admin and server.take_drop(self.command, split.path):
                entry["dropped"] = True  # performed, but the client never hears of it
                self.close_connection = True
                return
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
