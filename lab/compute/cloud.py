"""The state behind the REST routes: firewalls, instances, IPs, faults.

Handlers take already-parsed path parts and bodies and return JSON-ready
dicts or raise ApiError; the HTTP layer (server.py) only routes and logs.
"""

import base64
import copy
import hashlib
import ipaddress
import re
import threading

from lab.compute import schema
from lab.compute.backends import NullBackend
from lab.compute.errors import ApiError, already_exists, forbidden, invalid, not_found
from lab.compute.operations import Operations, new_stamp
from lab.compute.resources import (
    check_firewall,
    check_instance,
    firewall_defaults,
    instance_defaults,
    network_name,
)

TAG = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"


def tag_fingerprint(items, salt):
    """A new tags fingerprint (GCE's is an opaque base64 hash that changes on every update)."""
    digest = hashlib.sha256(("\n".join(items) + salt).encode()).digest()[:8]
    return base64.b64encode(digest).decode()


# Label keys and values as the Compute API accepts them.
LABEL_KEY = r"[a-z][a-z0-9_-]{0,62}"
LABEL_VALUE = r"[a-z0-9_-]{0,63}"
STOCKOUT = (
    "The zone '{zone}' does not have enough resources available to fulfill the request. "
    "Try a different zone, or try again later."
)


class Faults:
    """Injected failures: request bursts, failing instance operations, 403s."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.bursts = []  # [{"status", "remaining", "method", "path"}]
        self.failing_instances = {}  # name -> {"status", "code", "message", "remaining"}
        self.forbidden = {}  # project -> set of permissions ({} = every permission)

    def add_burst(self, status=429, count=1, method=None, path=None):
        with self.lock:
            self.bursts.append({"status": status, "remaining": count, "method": method, "path": path})

    def fail_instance(self, name, status=503, code="ZONE_RESOURCE_POOL_EXHAUSTED", message=None, times=1):
        with self.lock:
            self.failing_instances[name] = {"status": status, "code": code, "message": message, "remaining": times}

    def forbid(self, project, permissions=()):
        with self.lock:
            self.forbidden[project] = set(permissions)

    def take_burst(self, method, path):
        with self.lock:
            for burst in self.bursts:
                matches = burst["method"] in (None, method) and (burst["path"] or "") in path
                if burst["remaining"] > 0 and matches:
                    burst["remaining"] -= 1
                    return burst["status"]
        return None

    def take_instance_failure(self, name):
        with self.lock:
            fault = self.failing_instances.get(name)
            if not fault or fault["remaining"] <= 0:
                return None
            fault["remaining"] -= 1
            return dict(fault)

    def is_forbidden(self, project, permission):
        with self.lock:
            if project not in self.forbidden:
                return False
            return not self.forbidden[project] or permission in self.forbidden[project]

    def describe(self):
        with self.lock:
            return {
                "bursts": [dict(burst) for burst in self.bursts],
                "failing_instances": copy.deepcopy(self.failing_instances),
                "forbidden": {project: sorted(perms) for project, perms in self.forbidden.items()},
            }


class ComputeCloud:
    def __init__(self, projects, zones, vpc_range, networks=("default",), latency=0.0, backend=None,
                 first_host=10, wait_timeout=120.0):
        self.projects = set(projects)
        self.zones = set(zones)
        self.networks = set(networks)
        self.vpc = ipaddress.ip_network(vpc_range)
        self.first_host = first_host
        self.backend = backend or NullBackend()
        self.operations = Operations(latency, wait_timeout)
        self.faults = Faults()
        self.lock = threading.RLock()
        self._apply_lock = threading.Lock()
        self.firewalls = {}  # (project, name) -> dict
        self.instances = {}  # (project, zone, name) -> dict

    def seed(self, project, zone):
        """Adopt what the backend already runs (firewall rules, machines), without calling it back."""
        existing = getattr(self.backend, "existing", None)
        if existing is None:
            return
        rules, nodes = existing()
        with self.lock:
            for rule in rules:
                body = {k: v for k, v in rule.items() if k not in ("kind", "id", "selfLink", "creationTimestamp")}
                network = body.get("network", "default")
                network = network if "/" not in network else network_name(project, network, "network")
                body["network"] = f"global/networks/{network}"
                self.firewalls[(project, body["name"])] = firewall_defaults(project, body, new_stamp())
            for node in nodes:
                body = {
                    "name": node["name"],
                    "machineType": f"zones/{zone}/machineTypes/e2-standard-2",
                    "networkInterfaces": [{"network": "global/networks/default"}],
                    "tags": {"items": list(node.get("tags") or [])},
                }
                if node.get("hostname") and "." in node["hostname"]:
                    body["hostname"] = node["hostname"]
                stamp = new_stamp()
                # The machine's creation time is when it booted, as the backend knows it.
                stamp["time"] = node.get("created") or stamp["time"]
                inst = instance_defaults(project, zone, body, "default", node["ip"], stamp)
                inst["status"] = "RUNNING"
                self.instances[(project, zone, node["name"])] = inst

    # -- checks shared by every route -------------------------------------
    def check_scope(self, project, zone=None):
        if project not in self.projects:
            raise not_found(f"projects/{project}")
        if zone is not None and zone not in self.zones:
            raise not_found(f"projects/{project}/zones/{zone}")

    def authorize(self, project, permission, path):
        if self.faults.is_forbidden(project, permission):
            raise forbidden(permission, path)

    def _network(self, project, url, field):
        name = network_name(project, url, field)
        if name not in self.networks:
            raise not_found(f"projects/{project}/global/networks/{name}")
        return name

    # -- firewalls --------------------------------------------------------
    def _firewall_rules(self):
        with self.lock:
            return [copy.deepcopy(rule) for _, rule in sorted(self.firewalls.items())]

    def _apply_firewalls(self):
        # Read and apply under one lock so concurrent operations cannot apply a stale set last.
        with self._apply_lock:
            self.backend.set_firewall(self._firewall_rules())

    def firewall_list(self, project):
        return [rule for rule in self._firewall_rules() if rule["selfLink"].split("/")[6] == project]

    def firewall_get(self, project, name):
        with self.lock:
            rule = self.firewalls.get((project, name))
            if rule is None:
                raise not_found(f"projects/{project}/global/firewalls/{name}")
            return copy.deepcopy(rule)

    def firewall_insert(self, project, body):
        schema.validate("Firewall", body, "compute.firewalls.insert")
        check_firewall(body)
        self._network(project, body.get("network", "global/networks/default"), "network")
        with self.lock:
            key = (project, body["name"])
            if key in self.firewalls:
                raise already_exists(f"projects/{project}/global/firewalls/{body['name']}")
            rule = firewall_defaults(project, body, new_stamp())
            self.firewalls[key] = rule
        return self._firewall_op(project, "insert", rule)

    def firewall_write(self, project, name, body, method):
        """PATCH merges the given fields; PUT replaces the rule."""
        method_id = "compute.firewalls.patch" if method == "PATCH" else "compute.firewalls.update"
        schema.validate("Firewall", body, method_id)
        with self.lock:
            current = self.firewall_get(project, name)
            if body.get("name", name) != name:
                raise invalid(f"Invalid value for field 'resource.name': '{body['name']}'. Names cannot be changed.")
            base = current if method == "PATCH" else {"network": current["network"]}
            merged = {key: value for key, value in base.items() if key not in ("kind", "id", "selfLink")}
            merged.update(body)
            merged["name"] = name
            if network_name(project, merged["network"], "network") != current["network"].rsplit("/", 1)[-1]:
                raise invalid("Invalid value for field 'resource.network'. The network of a rule cannot be changed.")
            check_firewall(merged)
            stamp = {"id": current["id"], "time": current["creationTimestamp"]}
            rule = firewall_defaults(project, merged, stamp)
            self.firewalls[(project, name)] = rule
        return self._firewall_op(project, method.lower() if method == "PATCH" else "update", rule)

    def firewall_delete(self, project, name):
        with self.lock:
            rule = self.firewall_get(project, name)
            del self.firewalls[(project, name)]
        return self._firewall_op(project, "delete", rule)

    def _firewall_op(self, project, kind, rule):
        return self.operations.start(project, kind, rule["selfLink"], rule["id"], self._apply_firewalls)

    # -- instances --------------------------------------------------------
    def _allocate_ip(self, requested=None):
        used = {inst["networkInterfaces"][0]["networkIP"] for inst in self.instances.values()}
        if requested:
            address = ipaddress.ip_address(requested)
            if address not in self.vpc or requested in used:
                raise invalid(f"Invalid value for field 'resource.networkInterfaces[0].networkIP': '{requested}'.")
            return requested
        for index, address in enumerate(self.vpc.hosts(), start=1):
            if index >= self.first_host and str(address) not in used:
                return str(address)
        raise ApiError(403, f"IP space of '{self.vpc}' is exhausted.", reason="quotaExceeded")

    def instance_list(self, project, zone):
        with self.lock:
            return [
                copy.deepcopy(inst)
                for (proj, zon, _), inst in sorted(self.instances.items())
                if (proj, zon) == (project, zone)
            ]

    def instance_get(self, project, zone, name):
        with self.lock:
            inst = self.instances.get((project, zone, name))
            if inst is None:
                raise not_found(f"projects/{project}/zones/{zone}/instances/{name}")
            return copy.deepcopy(inst)

    def instance_insert(self, project, zone, body):
        schema.validate("Instance", body, "compute.instances.insert")
        network = check_instance(project, body)
        if network not in self.networks:
            raise not_found(f"projects/{project}/global/networks/{network}")
        with self.lock:
            key = (project, zone, body["name"])
            if key in self.instances:
                raise already_exists(f"projects/{project}/zones/{zone}/instances/{body['name']}")
            ip = self._allocate_ip(body["networkInterfaces"][0].get("networkIP"))
            inst = instance_defaults(project, zone, body, network, ip, new_stamp())
            self.instances[key] = inst
        fault = self.faults.take_instance_failure(inst["name"])

        def boot():
            if fault:
                with self.lock:
                    self.instances.pop(key, None)
                message = fault["message"] or STOCKOUT.format(zone=f"projects/{project}/zones/{zone}")
                error = ApiError(fault["status"], message)
                error.op_code = fault["code"]
                raise error
            tags = inst.get("tags", {}).get("items", [])
            image = next((str((d.get("initializeParams") or {}).get("sourceImage") or "").rsplit("/", 1)[-1]
                          for d in body.get("disks", []) if d.get("boot")), "") or None
            self.backend.add_node(inst["name"], ip=ip, hostname=inst.get("hostname"), tags=list(tags), image=image)
            with self.lock:
                if key in self.instances:
                    self.instances[key]["status"] = "RUNNING"

        return self.operations.start(project, "insert", inst["selfLink"], inst["id"], boot, zone=zone)

    def instance_set_labels(self, project, zone, name, body):
        """instances.setLabels: the whole label map, guarded by labelFingerprint (412 when stale)."""
        labels, fingerprint = body.get("labels") or {}, body.get("labelFingerprint")
        if not isinstance(labels, dict):
            raise invalid("Invalid value for field 'resource.labels': a map of keys to values is required.")
        for key, value in labels.items():
            if not re.fullmatch(LABEL_KEY, str(key)) or not re.fullmatch(LABEL_VALUE, str(value)):
                raise invalid(f"Invalid value for field 'resource.labels': '{key}={value}'. Label keys and values "
                              "can only contain lowercase letters, numeric characters, underscores and dashes.")
        with self.lock:
            inst = self.instances.get((project, zone, name))
            if inst is None:
                raise not_found(f"projects/{project}/zones/{zone}/instances/{name}")
            if not fingerprint:
                raise invalid("Invalid value for field 'resource.labelFingerprint': ''. "
                              "Fingerprint is required to update labels.")
            if fingerprint != inst["labelFingerprint"]:
                raise ApiError(412, "Labels fingerprint either invalid or resource labels have changed",
                               reason="conditionNotMet")
            inst["labels"] = {str(k): str(v) for k, v in labels.items()}
            inst["labelFingerprint"] = new_stamp()["id"][-8:]
            link, ident = inst["selfLink"], inst["id"]
        return self.operations.start(project, "setLabels", link, ident, lambda: None, zone=zone)

    def instance_delete(self, project, zone, name):
        with self.lock:
            inst = self.instance_get(project, zone, name)
            self.instances[(project, zone, name)]["status"] = "STOPPING"

        def remove():
            self.backend.remove_node(name)
            with self.lock:
                self.instances.pop((project, zone, name), None)

        return self.operations.start(project, "delete", inst["selfLink"], inst["id"], remove, zone=zone)

    def instance_set_tags(self, project, zone, name, body):
        """instances.setTags: the Tags body replaces the tags when its fingerprint is the current one."""
        schema.validate("Tags", body, "compute.instances.setTags")
        if not body.get("fingerprint"):
            raise invalid("Required field 'fingerprint' not specified")
        items = list(body.get("items") or [])
        for tag in items:
            if not re.fullmatch(TAG, tag):
                raise invalid(f"Invalid value for field 'resource.items[{items.index(tag)}]': '{tag}'. "
                              "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
        with self.lock:
            inst = self.instance_get(project, zone, name)
            current = inst.get("tags", {}).get("fingerprint")
            if body["fingerprint"] != current:
                raise ApiError(412, "Supplied fingerprint does not match current metadata fingerprint.",
                               reason="conditionNotMet")
            tags = {"fingerprint": tag_fingerprint(items, new_stamp()["id"])}
            if items:
                tags["items"] = sorted(set(items))
            self.instances[(project, zone, name)]["tags"] = tags

        def apply():
            self.backend.set_tags(name, list(tags.get("items", [])))

        return self.operations.start(project, "setTags", inst["selfLink"], inst["id"], apply, zone=zone)

    # -- operations -------------------------------------------------------
    def operation(self, project, zone, name, wait=False):
        op = self.operations.wait(project, zone, name) if wait else self.operations.snapshot(project, zone, name)
        if op is None:
            scope = f"zones/{zone}" if zone else "global"
            raise not_found(f"projects/{project}/{scope}/operations/{name}")
        return op
