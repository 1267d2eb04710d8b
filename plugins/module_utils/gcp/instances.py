# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A batch of Compute Engine instances, ensured by name.

All missing instances are inserted first, then every operation is waited
for, so a batch takes about as long as one instance. A failed insert or
operation is recorded for that instance only; the others go on, and a rerun
creates just what is still missing. Existing instances are never changed:
a setting that differs from the request is reported (``differences``), never
"fixed" by recreating the machine.

Every insert and delete carries a ``requestId`` (one uuid4 per instance per
run), reused when the request is retried, so a retry after a lost reply
gets the first operation back instead of a 409 or a second machine.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.client import Gce, compute_v1, last_segment
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.errors import (
    TRANSPORT_ERRORS,
    GceError,
    GceInputError,
    GoogleAPICallError,
    api_error,
    is_conflict,
    is_not_found,
)

NAME = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
# Per-instance settings; each falls back to the module option of the same name.
SHARED = ("zone", "machine_type", "image", "disk_size_gb", "disk_type", "network", "subnetwork", "tags", "labels",
          "can_ip_forward", "service_account_email", "scopes", "metadata", "ssh_keys", "startup_script",
          "user_data", "provisioning_model", "spot_termination_action")
SCOPE_BASE = "https://www.googleapis.com/auth/"
CLOUD_PLATFORM = SCOPE_BASE + "cloud-platform"
# Compute Engine's default service account is called "default" in requests, then reported by its email.
DEFAULT_ACCOUNT = re.compile(r"default|[0-9]+-compute@developer\.gserviceaccount\.com")

INSTANCES_SPEC = dict(
    instances=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True),
        hostname=dict(type="str"),
        zone=dict(type="str"),
        machine_type=dict(type="str"),
        image=dict(type="str"),
        disk_size_gb=dict(type="int"),
        disk_type=dict(type="str"),
        network=dict(type="str"),
        subnetwork=dict(type="str"),
        tags=dict(type="list", elements="str"),
        labels=dict(type="dict"),
        can_ip_forward=dict(type="bool"),
        service_account_email=dict(type="str"),
        scopes=dict(type="list", elements="str"),
        metadata=dict(type="dict"),
        ssh_keys=dict(type="list", elements="str", no_log=False),
        startup_script=dict(type="str"),
        user_data=dict(type="str"),
        provisioning_model=dict(type="str", choices=["standard", "spot"]),
        spot_termination_action=dict(type="str", choices=["stop", "delete"]),
    )),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    zone=dict(type="str"),
    zones=dict(type="list", elements="str", default=[]),
    machine_type=dict(type="str", default="e2-standard-2"),
    image=dict(type="str", default="projects/debian-cloud/global/images/family/debian-12"),
    disk_size_gb=dict(type="int", default=20),
    disk_type=dict(type="str", default="pd-balanced"),
    network=dict(type="str", default="default"),
    subnetwork=dict(type="str"),
    tags=dict(type="list", elements="str", default=[]),
    labels=dict(type="dict", default={}),
    can_ip_forward=dict(type="bool", default=False),
    service_account_email=dict(type="str", default="default"),
    scopes=dict(type="list", elements="str", default=["cloud-platform"]),
    metadata=dict(type="dict", default={}),
    ssh_keys=dict(type="list", elements="str", default=[], no_log=False),
    startup_script=dict(type="str"),
    user_data=dict(type="str"),
    provisioning_model=dict(type="str", default="standard", choices=["standard", "spot"]),
    spot_termination_action=dict(type="str", default="stop", choices=["stop", "delete"]),
)


def valid_hostname(value: str) -> bool:
    labels = value.split(".")
    return len(value) <= 253 and len(labels) >= 2 and all(re.fullmatch(LABEL, label) for label in labels)


def desired(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The requested instances with defaults filled in; raises GceInputError on bad input.

    An instance without its own zone takes the next of ``zones`` (round-robin in list order),
    else ``zone``. ``pinned`` says whether the instance named its zone itself.
    """
    out: list[dict[str, Any]] = []
    seen_hostnames: dict[str, str] = {}
    spread = list(params.get("zones") or [])
    unpinned = 0
    for entry in params["instances"]:
        item = {key: entry.get(key) if entry.get(key) is not None else params.get(key) for key in SHARED}
        item.update(name=entry["name"], hostname=entry.get("hostname"), pinned=bool(entry.get("zone")))
        if not item["pinned"] and spread:
            item["zone"] = spread[unpinned % len(spread)]
            unpinned += 1
        name = item["name"]
        if not re.fullmatch(NAME, name or ""):
            raise GceInputError(f"Instance name '{name}' is invalid: use 1-63 characters matching {NAME}.")
        if any(other["name"] == name for other in out):
            raise GceInputError(f"Instance '{name}' is listed twice in instances.")
        if not item["zone"]:
            raise GceInputError(f"No zone for instance '{name}': set zone or zones on the module, or zone on "
                                "the instance.")
        if params["state"] == "present":
            _validate_present(item, seen_hostnames)
        item["metadata_items"] = metadata_items(item)
        item["scopes"] = sorted({scope if "/" in scope else SCOPE_BASE + scope for scope in item["scopes"] or []})
        out.append(item)
    return out


def metadata_items(item: dict[str, Any]) -> dict[str, str]:
    """The instance metadata: ``metadata`` plus the ssh-keys, startup-script and user-data keys."""
    items = {str(key): str(value) for key, value in (item.get("metadata") or {}).items()}
    for key, value in (("ssh-keys", "\n".join(item.get("ssh_keys") or [])),
                       ("startup-script", item.get("startup_script")), ("user-data", item.get("user_data"))):
        if value:
            if key in items:
                raise GceInputError(f"Instance '{item['name']}': metadata key '{key}' is also set by its own "
                                    "option; use one of them.")
            items[key] = value
    return items


def _validate_present(item, seen_hostnames):
    name, hostname = item["name"], item["hostname"]
    if hostname is not None:
        if not valid_hostname(hostname):
            raise GceInputError(
                f"hostname '{hostname}' of instance '{name}' is invalid: use a fully qualified lower-case name "
                "with two or more labels (for example node-1.cluster.internal), at most 253 characters.")
        # GCE does not make hostnames unique; Calico names nodes by hostname, so two would collide.
        if hostname in seen_hostnames:
            raise GceInputError(f"Instances '{seen_hostnames[hostname]}' and '{name}' both have hostname "
                                f"'{hostname}': give each instance its own hostname.")
        seen_hostnames[hostname] = name
    for tag in item["tags"] or []:
        if not re.fullmatch(NAME, tag):
            raise GceInputError(f"Network tag '{tag}' of instance '{name}' is invalid: tags match {NAME}.")
    if item["disk_size_gb"] is not None and item["disk_size_gb"] < 10:
        raise GceInputError(f"disk_size_gb of instance '{name}' is {item['disk_size_gb']}: boot disks need at "
                            "least 10 GB.")


def describe(inst: Any, zone: str, project: str, created: bool = False) -> dict[str, Any]:
    """What the module returns for one instance."""
    nics = list(inst.network_interfaces)
    return {
        "name": inst.name,
        "zone": zone,
        "hostname": inst.hostname or f"{inst.name}.{zone}.c.{project}.internal",
        "private_ip": nics[0].network_i_p if nics else None,
        "status": inst.status,
        "tags": sorted(inst.tags.items),
        "created": created,
    }


def to_api(item: dict[str, Any], project: str) -> Any:
    zone = item["zone"]
    nic = compute_v1.NetworkInterface(network=f"projects/{project}/global/networks/{last_segment(item['network'])}")
    if item["subnetwork"]:
        nic.subnetwork = f"projects/{project}/regions/{region_of(zone)}/subnetworks/{last_segment(item['subnetwork'])}"
    params = compute_v1.AttachedDiskInitializeParams(source_image=item["image"], disk_size_gb=item["disk_size_gb"])
    if item["disk_type"]:
        params.disk_type = f"zones/{zone}/diskTypes/{last_segment(item['disk_type'])}"
    disk = compute_v1.AttachedDisk(boot=True, auto_delete=True, initialize_params=params)
    resource = compute_v1.Instance(
        name=item["name"],
        machine_type=f"zones/{zone}/machineTypes/{last_segment(item['machine_type'])}",
        disks=[disk],
        network_interfaces=[nic],
        can_ip_forward=bool(item["can_ip_forward"]),
        labels=dict(item["labels"] or {}),
    )
    if item["tags"]:
        resource.tags = compute_v1.Tags(items=sorted(set(item["tags"])))
    if item["hostname"]:
        resource.hostname = item["hostname"]
    if item["service_account_email"]:
        resource.service_accounts = [compute_v1.ServiceAccount(email=item["service_account_email"],
                                                               scopes=item["scopes"])]
    if item["metadata_items"]:
        resource.metadata = compute_v1.Metadata(
            items=[compute_v1.Items(key=key, value=value) for key, value in sorted(item["metadata_items"].items())])
    if item["provisioning_model"] == "spot":
        # Spot machines cannot restart themselves or live-migrate; GCE refuses other settings.
        resource.scheduling = compute_v1.Scheduling(
            provisioning_model="SPOT", instance_termination_action=item["spot_termination_action"].upper(),
            automatic_restart=False, on_host_maintenance="TERMINATE")
    else:
        resource.scheduling = compute_v1.Scheduling(provisioning_model="STANDARD")
    return resource


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


# Settings a running machine keeps until it is stopped or recreated; the others change in place
# (setLabels, setTags, setMetadata), which this module does not do either: both are reported.
IMMUTABLE = ("zone", "machine_type", "hostname", "network", "subnetwork", "disk_size_gb", "can_ip_forward",
             "service_account_email", "scopes", "provisioning_model")


def differences(item: dict[str, Any], inst: Any, zone: str) -> list[dict[str, Any]]:
    """[{field, have, want, needs_recreate_or_stop}] where ``inst`` differs from the request."""
    nics = list(inst.network_interfaces)
    nic = nics[0] if nics else compute_v1.NetworkInterface()
    accounts = list(inst.service_accounts)
    account = accounts[0] if accounts else compute_v1.ServiceAccount()
    boot = next((disk for disk in inst.disks if disk.boot), None)
    have: dict[str, Any] = {
        "zone": zone,
        "machine_type": last_segment(inst.machine_type),
        "network": last_segment(nic.network),
        "can_ip_forward": bool(inst.can_ip_forward),
        "service_account_email": account.email or None,
        "scopes": sorted(account.scopes) if accounts else [],
        "provisioning_model": "spot" if inst.scheduling.provisioning_model == "SPOT" else "standard",
        "tags": sorted(inst.tags.items),
        "labels": dict(inst.labels),
        "metadata": {entry.key: entry.value for entry in inst.metadata.items},
    }
    want = {
        "zone": item["zone"],
        "machine_type": last_segment(item["machine_type"]),
        "network": last_segment(item["network"]),
        "can_ip_forward": bool(item["can_ip_forward"]),
        "service_account_email": item["service_account_email"] or None,
        "scopes": item["scopes"] if item["service_account_email"] else [],
        "provisioning_model": item["provisioning_model"],
        "tags": sorted(set(item["tags"] or [])),
        "labels": {str(k): str(v) for k, v in (item["labels"] or {}).items()},
        # only the keys asked for: GCE and guest agents add their own
        "metadata": dict(item["metadata_items"]),
    }
    have["metadata"] = {key: have["metadata"].get(key) for key in want["metadata"]}
    if item["hostname"]:
        have["hostname"], want["hostname"] = inst.hostname or None, item["hostname"]
    if item["subnetwork"]:
        have["subnetwork"], want["subnetwork"] = last_segment(nic.subnetwork) or None, last_segment(item["subnetwork"])
    if boot is not None and boot.disk_size_gb and item["disk_size_gb"]:
        have["disk_size_gb"], want["disk_size_gb"] = int(boot.disk_size_gb), item["disk_size_gb"]
    if want["service_account_email"] == "default" and DEFAULT_ACCOUNT.fullmatch(have["service_account_email"] or ""):
        have["service_account_email"] = "default"
    return [
        {"field": field, "have": have[field], "want": want[field], "needs_recreate_or_stop": field in IMMUTABLE}
        for field in sorted(want) if have.get(field) != want[field]
    ]


def _existing(gce, zones):
    """{(zone, name): Instance} with one list call per zone."""
    found = {}
    for zone in sorted(zones):
        try:
            pager = gce.call(gce.instances.list, project=gce.project, zone=zone)
            for inst in pager:
                found[(zone, inst.name)] = inst
        except GoogleAPICallError as exc:
            raise api_error(exc, "compute.instances.list", f"instances in zone '{zone}'", project=gce.project) from None
    return found


def _locate(items, existing):
    """Point each item at the zone its machine already runs in (an unpinned one may have been spread
    differently last time); returns {name: [zones]} for names found in more than one zone."""
    where = {}
    for zone, name in existing:
        where.setdefault(name, []).append(zone)
    for item in items:
        zones = where.get(item["name"], [])
        if zones and item["zone"] not in zones:
            item["found_in"] = zones[0]
            if not item["pinned"]:
                item["zone"] = zones[0]
    return {name: zones for name, zones in where.items() if len(zones) > 1}


def ensure(gce: Gce, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    items = desired(params)
    zones = {item["zone"] for item in items} | set(params.get("zones") or [])
    existing = _existing(gce, zones)
    _locate(items, existing)
    present = params["state"] == "present"
    todo = [i for i in items if ((i["zone"], i["name"]) in existing) != present]
    if present:  # a pinned instance running in another zone is reported, not recreated
        todo = [i for i in todo if "found_in" not in i]
    names = sorted(i["name"] for i in items if (i["zone"], i["name"]) in existing)
    after = sorted(i["name"] for i in items) if present else []
    result: dict[str, Any] = {"changed": bool(todo), "failures": [], "warnings": [], "differences": [],
                              "diff": {"before": {"instances": names}, "after": {"instances": after}}}
    if present:
        _check_hostname_clashes(items, existing, gce.project)
        for item in items:
            zone = item.get("found_in") or item["zone"]
            inst = existing.get((zone, item["name"]))
            if inst is None:
                continue
            found = differences(item, inst, zone)
            if found:
                result["differences"].append({"name": item["name"], "zone": zone, "fields": found})
                fields = ", ".join(f"{d['field']} (have {d['have']!r}, want {d['want']!r})" for d in found)
                result["warnings"].append(
                    f"Instance '{item['name']}' in {zone} differs from the request and is left as it is: {fields}. "
                    "Machine type, zone, network, service account and provisioning need the machine stopped or "
                    "recreated; delete it (state: absent) and rerun to recreate it with the requested settings.")
    if todo and not check_mode:
        done, result["failures"] = _run_batch(gce, todo, present)
        result["changed"] = bool(done)
        existing = _existing(gce, zones)
    else:
        done = set()
    located: list[tuple[dict[str, Any], str]] = [
        (i, (i.get("found_in") if present else None) or i["zone"]) for i in items]
    result["instances"] = [
        describe(existing[(zone, i["name"])], zone, gce.project, created=i["name"] in done)
        for i, zone in located if (zone, i["name"]) in existing
    ]
    result["created" if present else "deleted"] = sorted(done) if not check_mode else sorted(i["name"] for i in todo)
    return result


def _check_hostname_clashes(items, existing, project):
    taken = {inst.hostname: name for (_unused, name), inst in existing.items() if inst.hostname}
    for item in items:
        owner = taken.get(item["hostname"])
        if item["hostname"] and owner not in (None, item["name"]):
            raise GceInputError(f"hostname '{item['hostname']}' for instance '{item['name']}' is already used by "
                                f"instance '{owner}' in project '{project}': choose another hostname.")


def _run_batch(gce, todo, present):
    """Start every insert/delete, then wait for every operation; per-instance failures.

    Each request carries its own uuid4 ``requestId``, the same on every retry of that request.
    """
    started, failures, done = [], [], set()
    permission = "compute.instances.create" if present else "compute.instances.delete"
    for item in todo:
        request = {"project": gce.project, "zone": item["zone"], "request_id": str(uuid.uuid4())}
        try:
            if present:
                request["instance_resource"] = to_api(item, gce.project)
                op = gce.call(gce.instances.insert_unary, idempotent=True, request=request)
            else:
                request["instance"] = item["name"]
                op = gce.call(gce.instances.delete_unary, idempotent=True, request=request)
            started.append((item, op))
        except GoogleAPICallError as exc:
            if present and is_conflict(exc):
                continue  # created meanwhile by someone else: converged
            if not present and is_not_found(exc):
                continue  # deleted meanwhile: converged
            error = api_error(exc, permission, f"instance '{item['name']}'", network=item["network"],
                              project=gce.project)
            failures.append({"name": item["name"], "msg": error.msg})
        except TRANSPORT_ERRORS as exc:
            failures.append({"name": item["name"], "msg": f"No answer from Compute Engine for instance "
                                                          f"'{item['name']}' after retries: {type(exc).__name__}"})
    for item, op in started:
        try:
            gce.wait_zone(op, item["zone"])
            done.add(item["name"])
        except GceError as exc:
            failures.append({"name": item["name"], "msg": exc.msg})
        except GoogleAPICallError as exc:
            failures.append({"name": item["name"], "msg": api_error(exc, "compute.zoneOperations.get",
                                                                    f"instance '{item['name']}'").msg})
    return done, failures


def list_instances(gce: Gce, zones: Iterable[str]) -> list[dict[str, Any]]:
    """Every instance of `zones` as describe() shows it, plus its labels (read-only)."""
    out = []
    for (zone, _unused), inst in sorted(_existing(gce, set(zones)).items()):
        item = describe(inst, zone, gce.project)
        item.pop("created")
        item["labels"] = dict(inst.labels)
        item["creation_timestamp"] = inst.creation_timestamp or None
        out.append(item)
    return out


TAGS_SPEC = dict(
    tags=dict(type="list", elements="str", required=True),
    zones=dict(type="list", elements="str", required=True),
    instances=dict(type="list", elements="str", default=[]),
    labels=dict(type="dict", default={}),
)


def tag_selection(params: dict[str, Any]) -> None:
    """Validate add_tags' input before any call; raises GceInputError naming what to change."""
    for tag in params["tags"]:
        if not re.fullmatch(NAME, tag or ""):
            raise GceInputError(f"Network tag '{tag}' is invalid: tags match {NAME}.")
    if not params["tags"]:
        raise GceInputError("tags is empty: give the network tags to add (the firewall rules' target tags).")
    if not params["zones"] or not all(params["zones"]):
        raise GceInputError("zones is empty: give the zones the cluster's instances run in.")
    if not params["instances"] and not params["labels"]:
        raise GceInputError("Nothing selects the instances: give instance names (instances) or labels that "
                            "every instance of the cluster carries (labels), e.g. {cluster: k8s-prod}.")
    for name in params["instances"]:
        if not re.fullmatch(NAME, name or ""):
            raise GceInputError(f"Instance name '{name}' is invalid: use 1-63 characters matching {NAME}.")


def add_tags(gce: Gce, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Add ``tags`` to every selected instance (by name or labels), keeping its other tags.

    instances.setTags replaces the whole list and needs the current fingerprint: a change made
    meanwhile (412) is read again and retried once. Returns {changed, tagged, instances, diff}.
    """
    tag_selection(params)
    existing = _existing(gce, set(params["zones"]))
    wanted_labels = {str(k): str(v) for k, v in params["labels"].items()}
    names = set(params["instances"])
    found = {name for _zone, name in existing}
    unknown = sorted(names - found)
    if unknown:
        raise GceInputError(f"Instance(s) {', '.join(unknown)} not found in zone(s) {', '.join(params['zones'])} "
                            f"of project '{gce.project}': check the names and gcp_network_node_zones.")
    selected = [(zone, inst) for (zone, name), inst in sorted(existing.items())
                if name in names or (wanted_labels and wanted_labels.items() <= dict(inst.labels).items())]
    before, after, todo = {}, {}, []
    for zone, inst in selected:
        have = sorted(inst.tags.items)
        want = sorted(set(have) | set(params["tags"]))
        before[inst.name], after[inst.name] = have, want
        if want != have:
            todo.append((zone, inst.name))
    if todo and not check_mode:
        for zone, name in todo:
            _set_tags(gce, zone, name, params["tags"])
    return {"changed": bool(todo), "tagged": sorted(name for _zone, name in todo),
            "instances": sorted(before), "diff": {"before": before, "after": after}}


def _set_tags(gce, zone, name, tags, attempts=2):
    where = f"instance '{name}' in {zone}"
    for attempt in range(attempts):
        try:
            inst = gce.call(gce.instances.get, project=gce.project, zone=zone, instance=name)
            items = sorted(set(inst.tags.items) | set(tags))
            request = {"project": gce.project, "zone": zone, "instance": name, "request_id": str(uuid.uuid4()),
                       "tags_resource": compute_v1.Tags(items=items, fingerprint=inst.tags.fingerprint)}
            op = gce.call(gce.instances.set_tags_unary, idempotent=True, request=request)
        except GoogleAPICallError as exc:
            if getattr(exc, "code", None) == 412 and attempt + 1 < attempts:
                continue  # the tags changed meanwhile: read them again
            raise api_error(exc, "compute.instances.setTags", where, project=gce.project) from None
        gce.wait_zone(op, zone)
        return
