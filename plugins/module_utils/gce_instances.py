"""A batch of Compute Engine instances, ensured by name.

All missing instances are inserted first, then every operation is waited
for, so a batch takes about as long as one instance. A failed insert or
operation is recorded for that instance only; the others go on, and a rerun
creates just what is still missing. Existing instances are never changed.
"""

import re

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gce import (
    GceError,
    GceInputError,
    api_error,
    is_conflict,
    last_segment,
)

try:
    from google.api_core.exceptions import GoogleAPICallError
    from google.cloud import compute_v1
except ImportError:  # gce.Gce reports the missing library
    GoogleAPICallError = Exception

NAME = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
# Per-instance settings; each falls back to the module option of the same name.
SHARED = ("zone", "machine_type", "image", "disk_size_gb", "network", "subnetwork", "tags", "labels",
          "can_ip_forward")

INSTANCES_SPEC = dict(
    instances=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True),
        hostname=dict(type="str"),
        zone=dict(type="str"),
        machine_type=dict(type="str"),
        image=dict(type="str"),
        disk_size_gb=dict(type="int"),
        network=dict(type="str"),
        subnetwork=dict(type="str"),
        tags=dict(type="list", elements="str"),
        labels=dict(type="dict"),
        can_ip_forward=dict(type="bool"),
    )),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    zone=dict(type="str"),
    machine_type=dict(type="str", default="e2-standard-2"),
    image=dict(type="str", default="projects/debian-cloud/global/images/family/debian-12"),
    disk_size_gb=dict(type="int", default=20),
    network=dict(type="str", default="default"),
    subnetwork=dict(type="str"),
    tags=dict(type="list", elements="str", default=[]),
    labels=dict(type="dict", default={}),
    can_ip_forward=dict(type="bool", default=False),
)


def valid_hostname(value):
    labels = value.split(".")
    return len(value) <= 253 and len(labels) >= 2 and all(re.fullmatch(LABEL, label) for label in labels)


def desired(params):
    """The requested instances with defaults filled in; raises GceInputError on bad input."""
    out, seen_hostnames = [], {}
    for entry in params["instances"]:
        item = {key: entry.get(key) if entry.get(key) is not None else params.get(key) for key in SHARED}
        item.update(name=entry["name"], hostname=entry.get("hostname"))
        name = item["name"]
        if not re.fullmatch(NAME, name or ""):
            raise GceInputError(f"Instance name '{name}' is invalid: use 1-63 characters matching {NAME}.")
        if any(other["name"] == name for other in out):
            raise GceInputError(f"Instance '{name}' is listed twice in instances.")
        if not item["zone"]:
            raise GceInputError(f"No zone for instance '{name}': set zone on the module or the instance.")
        if params["state"] == "present":
            _validate_present(item, seen_hostnames)
        out.append(item)
    return out


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


def describe(inst, zone, project, created=False):
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


def to_api(item, project):
    zone = item["zone"]
    nic = compute_v1.NetworkInterface(network=f"projects/{project}/global/networks/{last_segment(item['network'])}")
    if item["subnetwork"]:
        region = zone.rsplit("-", 1)[0]
        nic.subnetwork = f"projects/{project}/regions/{region}/subnetworks/{last_segment(item['subnetwork'])}"
    params = compute_v1.AttachedDiskInitializeParams(source_image=item["image"], disk_size_gb=item["disk_size_gb"])
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
    return resource


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


def ensure(gce, params, check_mode):
    items = desired(params)
    existing = _existing(gce, {item["zone"] for item in items})
    present = params["state"] == "present"
    todo = [i for i in items if ((i["zone"], i["name"]) in existing) != present]
    names = sorted(i["name"] for i in items if (i["zone"], i["name"]) in existing)
    after = sorted(i["name"] for i in items) if present else []
    result = {"changed": bool(todo), "failures": [],
              "diff": {"before": {"instances": names}, "after": {"instances": after}}}
    if present:
        _check_hostname_clashes(items, existing, gce.project)
    if todo and not check_mode:
        done, result["failures"] = _run_batch(gce, todo, present)
        result["changed"] = bool(done)
        existing = _existing(gce, {item["zone"] for item in items})
    else:
        done = set()
    result["instances"] = [
        describe(existing[(i["zone"], i["name"])], i["zone"], gce.project, created=i["name"] in done)
        for i in items if (i["zone"], i["name"]) in existing
    ]
    result["created" if present else "deleted"] = sorted(done) if not check_mode else sorted(i["name"] for i in todo)
    return result


def _check_hostname_clashes(items, existing, project):
    taken = {inst.hostname: name for (_, name), inst in existing.items() if inst.hostname}
    for item in items:
        owner = taken.get(item["hostname"])
        if item["hostname"] and owner not in (None, item["name"]):
            raise GceInputError(f"hostname '{item['hostname']}' for instance '{item['name']}' is already used by "
                                f"instance '{owner}' in project '{project}': choose another hostname.")


def _run_batch(gce, todo, present):
    """Start every insert/delete, then wait for every operation; per-instance failures."""
    started, failures, done = [], [], set()
    permission = "compute.instances.create" if present else "compute.instances.delete"
    for item in todo:
        try:
            if present:
                op = gce.call(gce.instances.insert_unary, project=gce.project, zone=item["zone"],
                              instance_resource=to_api(item, gce.project))
            else:
                op = gce.call(gce.instances.delete_unary, project=gce.project, zone=item["zone"],
                              instance=item["name"])
            started.append((item, op))
        except GoogleAPICallError as exc:
            if present and is_conflict(exc):
                continue  # created meanwhile (or by an insert whose answer was lost): converged
            error = api_error(exc, permission, f"instance '{item['name']}'", network=item["network"],
                              project=gce.project)
            failures.append({"name": item["name"], "msg": error.msg})
    for item, op in started:
        try:
            gce.wait_zone(op, item["zone"])
            done.add(item["name"])
        except GoogleAPICallError as exc:
            failures.append({"name": item["name"], "msg": api_error(exc, "compute.zoneOperations.get",
                                                                    f"instance '{item['name']}'").msg})
        except GceError as exc:
            failures.append({"name": item["name"], "msg": exc.msg})
    return done, failures


def list_instances(gce, zones):
    """Every instance of `zones` as describe() shows it, plus its labels (read-only)."""
    out = []
    for (zone, _), inst in sorted(_existing(gce, set(zones)).items()):
        item = describe(inst, zone, gce.project)
        item.pop("created")
        item["labels"] = dict(inst.labels)
        out.append(item)
    return out
