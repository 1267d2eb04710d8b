"""Long-running operations: PENDING -> RUNNING -> DONE after a latency.

The resource change itself (the ``effect``) runs while the operation is
RUNNING, so a lab node boots or a firewall is applied before DONE is seen. An
effect that raises ApiError makes the operation fail the way GCE reports it:
``error.errors[]`` plus ``httpErrorStatusCode`` / ``httpErrorMessage``.
"""

import datetime
import itertools
import re
import threading
import time
import uuid

from lab.compute.errors import HTTP_MESSAGES, ApiError, invalid
from lab.compute.resources import BASE

_ids = itertools.count(4_000_000_000_000_000_001)


def now_rfc3339():
    return datetime.datetime.now(datetime.UTC).astimezone().isoformat(timespec="milliseconds")


def new_stamp():
    return {"id": str(next(_ids)), "time": now_rfc3339()}


class Operations:
    def __init__(self, latency=0.0, wait_timeout=120.0):
        self.latency = latency
        self.wait_timeout = wait_timeout
        self._ops = {}
        self._done = threading.Condition()
        self._threads = []

    def start(self, project, kind, target_link, target_id, effect, zone=None):
        """Create an operation and run ``effect`` in its RUNNING phase."""
        stamp = new_stamp()
        name = f"operation-{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}"
        scope = f"zones/{zone}" if zone else "global"
        op = {
            "kind": "compute#operation",
            "id": stamp["id"],
            "name": name,
            "operationType": kind,
            "targetLink": target_link,
            "targetId": target_id,
            "status": "PENDING",
            "user": "test-server@local",
            "progress": 0,
            "insertTime": stamp["time"],
            "selfLink": f"{BASE}/projects/{project}/{scope}/operations/{name}",
        }
        if zone:
            op["zone"] = f"{BASE}/projects/{project}/zones/{zone}"
        with self._done:
            self._ops[(project, zone, name)] = op
        if self.latency <= 0:
            self._run(op, effect, 0.0)
        else:
            thread = threading.Thread(target=self._run, args=(op, effect, self.latency), daemon=True)
            self._threads.append(thread)
            thread.start()
        return self.snapshot(project, zone, name)

    def _run(self, op, effect, latency):
        time.sleep(latency * 0.25)
        with self._done:
            op.update(status="RUNNING", progress=50, startTime=now_rfc3339())
        failure = None
        try:
            effect()
        except ApiError as exc:
            failure = exc
        except Exception as exc:  # an unexpected effect failure is a server error, not a crash
            failure = ApiError(500, f"Internal error: {exc}")
            failure.op_code = "INTERNAL_ERROR"
        time.sleep(latency * 0.75)
        with self._done:
            if failure is not None:
                code = getattr(failure, "op_code", failure.reason.upper())
                op["error"] = {"errors": [{"code": code, "message": failure.message}]}
                op["httpErrorStatusCode"] = failure.code
                op["httpErrorMessage"] = HTTP_MESSAGES.get(failure.code, "ERROR")
            op.update(status="DONE", progress=100, endTime=now_rfc3339())
            self._done.notify_all()

    def snapshot(self, project, zone, name):
        with self._done:
            op = self._ops.get((project, zone, name))
            return dict(op) if op else None

    def wait(self, project, zone, name, timeout=None):
        """Block until DONE or the server's wait timeout, like GCE's wait."""
        deadline = time.monotonic() + (self.wait_timeout if timeout is None else timeout)
        with self._done:
            while True:
                op = self._ops.get((project, zone, name))
                if op is None or op["status"] == "DONE":
                    return dict(op) if op else None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return dict(op)
                self._done.wait(remaining)

    def list(self, project, zone=None):
        """Every operation of one scope (a zone, or global when ``zone`` is None), oldest first."""
        with self._done:
            ops = [dict(op) for (proj, zon, _), op in self._ops.items() if (proj, zon) == (project, zone)]
        return sorted(ops, key=lambda op: int(op["id"]))

    def join(self, timeout=30.0):
        """Let running operations finish (used on shutdown)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))


UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_request_id(request_id):
    if not UUID.fullmatch(request_id) or not request_id.replace("-", "").strip("0"):
        raise invalid(f"Invalid value for field 'requestId': '{request_id}'. "
                      "The request id must be a valid UUID other than the zero UUID.")


class RequestIds:
    """``requestId`` -> the operation its first request started.

    GCE keeps request ids about 30 minutes; here they live as long as the
    server. A repeated request with a known id (same project) gets the first
    operation as it is now and changes nothing. Requests refused before an
    operation started (400, 404, 409) leave no id behind, as in GCE.
    """

    def __init__(self, operations):
        self.operations = operations
        self._lock = threading.Lock()
        self._seen = {}  # (project, request id) -> (zone or None, operation name)
        self._key_locks = {}

    def run(self, project, request_id, act):
        if request_id is None:
            return act()
        check_request_id(request_id)
        key = (project, request_id.lower())
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # a concurrent repeat waits for the first to start its operation
            seen = self._seen.get(key)
            op = self.operations.snapshot(project, *seen) if seen else None
            if op is not None:
                return op
            op = act()
            zone = op.get("zone", "").rsplit("/", 1)[-1] or None
            self._seen[key] = (zone, op["name"])
            return op

    def known(self):
        with self._lock:
            return len(self._seen)
