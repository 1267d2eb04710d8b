# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One VPC firewall rule: validate, normalise, compare, apply.

Rules are compared in a normal form (module option names): protocol numbers
and names are one value ("4" == "ipip"), the network is its name whatever URL
form the API returns, server defaults are filled on both sides, lists are
sorted. PATCH cannot clear a list (empty repeated fields are not sent), so
a change that empties something is sent as update (PUT).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp import errors
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.client import Gce, compute_v1, last_segment
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.ipip_sources import (
    lets_ipip_in,
    public_sources,
)

NAME = r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?"
PROTOCOLS = {"1": "icmp", "4": "ipip", "6": "tcp", "17": "udp", "50": "esp", "51": "ah", "132": "sctp"}
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "all"}
LISTS = ("source_ranges", "destination_ranges", "source_tags", "target_tags", "target_service_accounts")

RULE_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    network=dict(type="str", default="default"),
    description=dict(type="str", default=""),
    direction=dict(type="str", default="INGRESS", choices=["INGRESS", "EGRESS"]),
    priority=dict(type="int", default=1000),
    disabled=dict(type="bool", default=False),
    allowed=dict(type="list", elements="dict", default=[], options=dict(
        protocol=dict(type="str", required=True), ports=dict(type="list", elements="str", default=[]))),
    denied=dict(type="list", elements="dict", default=[], options=dict(
        protocol=dict(type="str", required=True), ports=dict(type="list", elements="str", default=[]))),
    source_ranges=dict(type="list", elements="str", default=[]),
    destination_ranges=dict(type="list", elements="str", default=[]),
    source_tags=dict(type="list", elements="str", default=[]),
    target_tags=dict(type="list", elements="str", default=[]),
    target_service_accounts=dict(type="list", elements="str", default=[]),
    allow_public_sources=dict(type="bool", default=False),
)


def protocol_name(value: object) -> str:
    value = str(value).strip().lower()
    return PROTOCOLS.get(value, value)


def _port_key(port):
    return [int(part) for part in port.split("-") if part.isdigit()] or [0]


def _entries(entries):
    out = []
    for entry in entries or []:
        ports = sorted({str(p).strip() for p in entry.get("ports") or []}, key=_port_key)
        out.append({"protocol": protocol_name(entry["protocol"]), "ports": ports})
    return sorted(out, key=lambda e: (e["protocol"], e["ports"]))


def _cidr(value):
    return str(ipaddress.ip_network(value.strip(), strict=False))


def normalise(rule: dict[str, Any]) -> dict[str, Any]:
    """Normal form of a rule given with module option names."""
    out = {
        "name": rule["name"],
        "network": last_segment(rule.get("network") or "default"),
        "description": rule.get("description") or "",
        "direction": rule.get("direction") or "INGRESS",
        "priority": 1000 if rule.get("priority") is None else rule["priority"],
        "disabled": bool(rule.get("disabled")),
        "allowed": _entries(rule.get("allowed")),
        "denied": _entries(rule.get("denied")),
    }
    for key in LISTS:
        values = {_cidr(v) if key.endswith("ranges") else v for v in rule.get(key) or []}
        out[key] = sorted(values)
    # GCE's own defaults: no source at all means every address (and the same for EGRESS targets).
    if out["direction"] == "INGRESS" and not (out["source_ranges"] or out["source_tags"]):
        out["source_ranges"] = ["0.0.0.0/0"]
    if out["direction"] == "EGRESS" and not out["destination_ranges"]:
        out["destination_ranges"] = ["0.0.0.0/0"]
    return out


def from_api(fw: Any) -> dict[str, Any]:
    """Normal form of a compute_v1.Firewall as GET returns it."""
    return normalise({
        "name": fw.name,
        "network": fw.network,
        "description": fw.description,
        "direction": fw.direction or "INGRESS",
        "priority": fw.priority if "priority" in fw else None,
        "disabled": fw.disabled,
        "allowed": [{"protocol": a.I_p_protocol, "ports": list(a.ports)} for a in fw.allowed],
        "denied": [{"protocol": d.I_p_protocol, "ports": list(d.ports)} for d in fw.denied],
        **{key: list(getattr(fw, key)) for key in LISTS},
    })


def to_api(rule: dict[str, Any], project: str) -> Any:
    """compute_v1.Firewall for a normal-form rule (network as a partial URL)."""
    return compute_v1.Firewall(
        name=rule["name"],
        network=f"projects/{project}/global/networks/{rule['network']}",
        description=rule["description"],
        direction=rule["direction"],
        priority=rule["priority"],
        disabled=rule["disabled"],
        allowed=[compute_v1.Allowed(I_p_protocol=e["protocol"], ports=e["ports"]) for e in rule["allowed"]],
        denied=[compute_v1.Denied(I_p_protocol=e["protocol"], ports=e["ports"]) for e in rule["denied"]],
        **{key: rule[key] for key in LISTS},
    )


def validate(params: dict[str, Any]) -> None:
    """Raise GceInputError naming the option to change; no API call is made before this passes."""
    def fail(msg):
        raise errors.GceInputError(msg, rule=params.get("name"))

    if not re.fullmatch(NAME, params["name"] or ""):
        fail(f"name '{params['name']}' is invalid: use 1-63 characters matching {NAME} (lower case, digits, '-').")
    if params.get("state", "present") == "absent":
        return
    if not re.fullmatch(NAME, last_segment(params.get("network") or "default")):
        fail(f"network '{params['network']}' is not a network name or URL.")
    if not 0 <= params.get("priority", 1000) <= 65535:
        fail(f"priority {params['priority']} is out of range: use 0 to 65535 (lower wins).")
    if bool(params.get("allowed")) == bool(params.get("denied")):
        fail("Give exactly one of allowed or denied (a list of {protocol, ports}).")
    for entry in (params.get("allowed") or []) + (params.get("denied") or []):
        protocol = protocol_name(entry["protocol"])
        if not (protocol in PORT_PROTOCOLS | set(PROTOCOLS.values()) or
                (protocol.isdigit() and 0 <= int(protocol) <= 255)):
            fail(f"protocol '{entry['protocol']}' is unknown: use a name (tcp, udp, icmp, ipip, ...) or 0-255.")
        if entry.get("ports") and protocol not in PORT_PROTOCOLS:
            fail(f"ports are only valid for tcp, udp, sctp or all, not for protocol '{entry['protocol']}'.")
        for port in entry.get("ports") or []:
            low, _unused, high = str(port).partition("-")
            if not (low.isdigit() and (high or low).isdigit() and int(low) <= int(high or low) <= 65535):
                fail(f"port '{port}' is invalid: use a number or a range like 30000-32767.")
    for key in ("source_ranges", "destination_ranges"):
        for value in params.get(key) or []:
            try:
                _cidr(value)
            except ValueError:
                fail(f"{key} entry '{value}' is not a CIDR range such as 10.128.0.0/9.")
    for key in ("source_tags", "target_tags"):
        for tag in params.get(key) or []:
            if not re.fullmatch(NAME, tag):
                fail(f"{key} entry '{tag}' is invalid: tags match {NAME}.")
    if params.get("target_tags") and params.get("target_service_accounts"):
        fail("Use target_tags or target_service_accounts, not both (GCE refuses the combination).")
    public = public_ipip_sources(normalise(params))
    if public and not params.get("allow_public_sources"):
        fail(f"Refusing an IPIP (protocol 4) rule open to public sources {public}: anyone there could inject "
             "packets into the pod network. Limit source_ranges to the VPC range, or set "
             "allow_public_sources: true if this is really intended.")


def public_ipip_sources(rule: dict[str, Any]) -> list[str]:
    """Source ranges outside internal space for an INGRESS rule that lets protocol 4 in."""
    if rule["direction"] != "INGRESS":
        return []
    protocols = [e["protocol"] for e in rule["allowed"] if lets_ipip_in(e["protocol"])]
    return public_sources(protocols[0], rule["source_ranges"]) if protocols else []


def plan(current: dict[str, Any] | None, desired: dict[str, Any] | None) -> str | None:
    """None, 'create', 'delete', 'patch' or 'update' (PUT: something must be cleared)."""
    if desired is None:
        return "delete" if current else None
    if current is None:
        return "create"
    if current == desired:
        return None
    if current["network"] != desired["network"]:
        raise errors.GceInputError(
            f"Rule '{desired['name']}' is on network '{current['network']}', not '{desired['network']}': "
            "a rule cannot move between networks. Delete it first or choose another name.")
    cleared = [key for key, value in current.items() if value not in ("", [], False) and not desired[key]]
    return "update" if cleared else "patch"


def ensure(gce: Gce, params: dict[str, Any], check_mode: bool) -> dict[str, Any]:
    """Bring the rule to the requested state; returns the module result."""
    validate(params)
    name = params["name"]
    try:
        current = from_api(gce.call(gce.firewalls.get, project=gce.project, firewall=name))
    except errors.GoogleAPICallError as exc:
        if not errors.is_not_found(exc):
            raise errors.api_error(exc, "compute.firewalls.get", f"firewall rule '{name}'",
                                   project=gce.project) from None
        current = None
    desired = normalise(params) if params["state"] == "present" else None
    action = plan(current, desired)
    result = {"changed": action is not None, "action": action or "none", "rule": desired or current or {},
              "diff": {"before": current or {}, "after": desired or {}}}
    if action and not check_mode:
        _apply(gce, action, current, desired)
    return result


def _apply(gce, action, current, desired):
    name = (desired or current)["name"]
    calls = {
        "create": (gce.firewalls.insert_unary, "compute.firewalls.create", {}),
        "update": (gce.firewalls.update_unary, "compute.firewalls.update", {"firewall": name}),
        "patch": (gce.firewalls.patch_unary, "compute.firewalls.update", {"firewall": name}),
        "delete": (gce.firewalls.delete_unary, "compute.firewalls.delete", {"firewall": name}),
    }
    method, permission, kwargs = calls[action]
    if action == "patch":
        # Normal-form keys are the proto field names: send only what changed.
        full, patch = to_api(desired, gce.project), compute_v1.Firewall(name=name)
        for key in desired:
            if current.get(key) != desired[key]:
                setattr(patch, key, getattr(full, key))
        kwargs["firewall_resource"] = patch
    elif action != "delete":
        kwargs["firewall_resource"] = to_api(desired, gce.project)
    network = (desired or current)["network"]
    try:
        op = gce.call(method, project=gce.project, **kwargs)
        gce.wait_global(op)
    except errors.GceError as exc:
        exc.context.setdefault("rule", name)
        raise
    except errors.GoogleAPICallError as exc:
        raise errors.api_error(exc, permission, f"firewall rule '{name}'", network=network,
                               project=gce.project) from None


def list_rules(gce: Gce, network: str | None = None) -> list[dict[str, Any]]:
    """Every firewall rule of the project (of ``network`` when given), in normal form, by name (read-only)."""
    try:
        rules = [from_api(fw) for fw in gce.call(gce.firewalls.list, project=gce.project)]
    except errors.GoogleAPICallError as exc:
        raise errors.api_error(exc, "compute.firewalls.list", "the firewall rules", project=gce.project) from None
    except errors.TRANSPORT_ERRORS as exc:
        raise errors.GceError(
            f"No answer from Compute Engine listing the firewall rules: {type(exc).__name__}") from None
    wanted = last_segment(network) if network else None
    return sorted((r for r in rules if wanted in (None, r["network"])), key=lambda r: r["name"])
