"""Firewall and Instance resources: the checks and defaults GCE applies.

The discovery schema says which fields exist; these are the rules it cannot
express (one of allowed/denied, valid CIDRs, ports only for port protocols,
URL-shaped references) and the server defaults GET returns.
"""

import copy
import ipaddress
import re

from lab.compute.errors import invalid

BASE = "https://www.googleapis.com/compute/v1"
PROTOCOL_NAMES = {"tcp", "udp", "icmp", "esp", "ah", "sctp", "ipip", "all"}
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "all", "6", "17", "132"}
OUTPUT_ONLY = {"id", "kind", "creationTimestamp", "selfLink", "selfLinkWithId", "params"}
LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"


def _field_error(field, value, why):
    return invalid(f"Invalid value for field 'resource.{field}': '{value}'. {why}")


def strip_output_only(body):
    return {key: value for key, value in body.items() if key not in OUTPUT_ONLY}


def network_name(project, value, field):
    """The network named by a full or partial URL; GCE refuses a bare name."""
    match = re.fullmatch(r"(?:(?:https?://[^/]+)?/compute/v1/)?(?:projects/([^/]+)/)?global/networks/([^/]+)", value)
    if not match or (match.group(1) not in (None, project)):
        raise _field_error(field, value, "The URL is malformed.")
    return match.group(2)


def check_firewall(body):
    """Semantic checks GCE applies to a Firewall body (after schema checks)."""
    allowed, denied = body.get("allowed") or [], body.get("denied") or []
    if bool(allowed) == bool(denied):
        raise _field_error("allowed", "", "Exactly one of 'allowed' or 'denied' must be specified.")
    for field, rules in (("allowed", allowed), ("denied", denied)):
        for index, rule in enumerate(rules):
            _check_protocol_rule(f"{field}[{index}]", rule)
    priority = body.get("priority", 1000)
    if not 0 <= priority <= 65535:
        raise _field_error("priority", priority, "Must be between 0 and 65535.")
    for field in ("sourceRanges", "destinationRanges"):
        for value in body.get(field) or []:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise _field_error(field, value, "Must be a valid CIDR range.") from None
    if body.get("targetTags") and body.get("targetServiceAccounts"):
        raise _field_error("targetTags", "", "targetTags and targetServiceAccounts are mutually exclusive.")
    if body.get("sourceTags") and body.get("sourceServiceAccounts"):
        raise _field_error("sourceTags", "", "sourceTags and sourceServiceAccounts are mutually exclusive.")
    if body.get("direction") == "EGRESS" and (body.get("sourceTags") or body.get("sourceServiceAccounts")):
        raise _field_error("sourceTags", "", "Source tags cannot be set for an EGRESS rule.")


def _check_protocol_rule(where, rule):
    protocol = str(rule.get("IPProtocol", "")).lower()
    if not protocol:
        raise _field_error(f"{where}.IPProtocol", "", "The protocol is required.")
    if protocol not in PROTOCOL_NAMES and not (protocol.isdigit() and 0 <= int(protocol) <= 255):
        raise _field_error(f"{where}.IPProtocol", protocol, "Unknown protocol.")
    ports = rule.get("ports") or []
    if ports and protocol not in PORT_PROTOCOLS:
        raise _field_error(f"{where}.ports", ports, "Ports may only be given for tcp, udp, sctp or all.")
    for port in ports:
        match = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", port)
        low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (1, 0)
        if not (match and 0 <= low <= high <= 65535):
            raise _field_error(f"{where}.ports", port, "Must be a port or a port range.")


def firewall_defaults(project, body, stamp):
    """Stored Firewall = request + GCE's server defaults."""
    rule = copy.deepcopy(strip_output_only(body))
    rule.setdefault("network", "global/networks/default")
    rule["network"] = f"{BASE}/projects/{project}/global/networks/{rule['network'].rsplit('/', 1)[-1]}"
    rule.setdefault("priority", 1000)
    rule.setdefault("direction", "INGRESS")
    rule.setdefault("disabled", False)
    rule.setdefault("description", "")
    rule.setdefault("logConfig", {"enable": False})
    sources = ("sourceRanges", "sourceTags", "sourceServiceAccounts")
    # GCE: an INGRESS rule with no source at all applies to every address.
    if rule["direction"] == "INGRESS" and not any(rule.get(key) for key in sources):
        rule["sourceRanges"] = ["0.0.0.0/0"]
    if rule["direction"] == "EGRESS" and not rule.get("destinationRanges"):
        rule["destinationRanges"] = ["0.0.0.0/0"]
    for key in [key for key, value in rule.items() if value == [] or value is None]:
        del rule[key]  # GCE never echoes empty lists
    rule.update(
        kind="compute#firewall",
        id=stamp["id"],
        creationTimestamp=stamp["time"],
        selfLink=f"{BASE}/projects/{project}/global/firewalls/{rule['name']}",
    )
    return rule


def valid_hostname(value):
    labels = value.split(".")
    return len(value) <= 253 and len(labels) >= 2 and all(re.fullmatch(LABEL, label) for label in labels)


def check_instance(project, body):
    """Semantic checks for an Instance body; returns its network name."""
    machine_type = body.get("machineType", "")
    if not re.search(r"(?:^|/)zones/[^/]+/machineTypes/[^/]+$", machine_type):
        raise _field_error("machineType", machine_type, "The URL is malformed.")
    if "hostname" in body and not valid_hostname(body["hostname"]):
        raise _field_error("hostname", body["hostname"], "Supplied hostname is not a valid fully qualified name.")
    disks = body.get("disks") or []
    if not any(disk.get("boot") for disk in disks):
        raise _field_error("disks", "", "Boot disk must be specified.")
    for index, disk in enumerate(disks):
        params = disk.get("initializeParams") or {}
        if not (disk.get("source") or params.get("sourceImage")):
            raise _field_error(f"disks[{index}]", "", "Source image or source disk must be specified.")
    interfaces = body.get("networkInterfaces") or []
    if len(interfaces) != 1:
        raise _field_error("networkInterfaces", "", "Exactly one network interface is supported.")
    return network_name(project, interfaces[0].get("network", ""), "networkInterfaces[0].network")


def instance_defaults(project, zone, body, network, ip, stamp):
    """Stored Instance = request + the fields GCE fills in."""
    instance = copy.deepcopy(strip_output_only(body))
    name = instance["name"]
    zone_url = f"{BASE}/projects/{project}/zones/{zone}"
    machine = instance["machineType"].rsplit("/", 1)[-1]
    nic = dict(instance["networkInterfaces"][0])
    nic.update(
        kind="compute#networkInterface",
        name="nic0",
        network=f"{BASE}/projects/{project}/global/networks/{network}",
        networkIP=ip,
        fingerprint=stamp["id"][-8:],
    )
    disks = []
    for index, disk in enumerate(instance.get("disks", [])):
        device = disk.get("deviceName") or (name if index == 0 else f"{name}-{index}")
        disks.append(
            {
                "kind": "compute#attachedDisk",
                "type": disk.get("type", "PERSISTENT"),
                "mode": disk.get("mode", "READ_WRITE"),
                "boot": bool(disk.get("boot", False)),
                "autoDelete": bool(disk.get("autoDelete", False)),
                "deviceName": device,
                "index": index,
                "source": disk.get("source") or f"{zone_url}/disks/{device}",
            }
        )
        size = (disk.get("initializeParams") or {}).get("diskSizeGb") or disk.get("diskSizeGb")
        if size:  # GCE reports the disk's size on the attached disk
            disks[-1]["diskSizeGb"] = str(size)
    tags = instance.get("tags") or {}
    instance.update(
        kind="compute#instance",
        id=stamp["id"],
        creationTimestamp=stamp["time"],
        selfLink=f"{zone_url}/instances/{name}",
        zone=zone_url,
        machineType=f"{zone_url}/machineTypes/{machine}",
        status="PROVISIONING",
        networkInterfaces=[nic],
        disks=disks,
        canIpForward=bool(instance.get("canIpForward", False)),
        tags={"items": list(tags.get("items", [])), "fingerprint": stamp["id"][-8:]},
        labels=dict(instance.get("labels") or {}),
        labelFingerprint=stamp["id"][-8:],
    )
    if not instance["tags"]["items"]:
        del instance["tags"]["items"]
    return instance
