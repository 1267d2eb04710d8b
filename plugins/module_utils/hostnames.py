# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostname plan: unique, lower-case, deterministic names for new machines.

Calico registers a node under its hostname and Kubernetes lower-cases node
names, so two machines whose names differ only in case, or only after the
first dot, are one node to them. The plan compares every candidate with the
names that already exist anywhere (cloud, datastore, cluster, inventory) and
refuses, before any machine is created, what it cannot make unique.

Names follow the rules of ``validation/names.py``: a node name is an RFC 1123
label (a digit may come first), and on GCP, where it is the instance name as
well, an RFC 1035 one (a letter first).

Plain Python; the filter plugin ``fleet_hostnames`` is a thin wrapper.
"""

from __future__ import annotations

import ipaddress
import re
import string
from collections import namedtuple
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import names as rules

MAX_LABEL = rules.MAX_LABEL
MAX_FQDN = rules.MAX_HOSTNAME
# Bound for the search of a free index: a plan never loops forever.
MAX_INDEX_TRIES = 10000
MAX_MACHINES = 10000

SCHEMES = ("ip", "prefix", "template")
PLACEHOLDERS = ("cluster", "role", "index", "ip")
SEPARATORS = ("-", "")

# source -> (what it is, where it lives by default, how to clear a stale entry)
SOURCES = {
    "cloud_instance": ("cloud instance", "cloud", "rename or delete that instance if it is not in use"),
    "cloud_hostname": ("cloud instance hostname", "cloud", "change that instance's hostname if it is wrong"),
    "calico_node": ("Calico Node", "datastore", "if that machine is gone, delete the stale registration: "
                    "calicoctl delete node {name}"),
    "kubernetes_node": ("Kubernetes node", "cluster", "if that machine is gone: kubectl delete node {name}"),
    "inventory": ("inventory host", "inventory", "remove it from the inventory if the machine is gone"),
}
_SOURCE_RANK = {source: rank for rank, source in enumerate(SOURCES)}


class HostnamePlanError(ValueError):
    """Base class: the plan cannot be made; the message says what to change."""


class InvalidSchemeError(HostnamePlanError):
    """The scheme, prefix, separator, template or template variables are invalid."""


class InvalidInputError(HostnamePlanError):
    """New machines, existing names, names already given, or the domain are malformed."""


class NameCollisionError(HostnamePlanError):
    """A name the plan must use is already used elsewhere."""

    def __init__(self, name, other, detail="", origin=""):
        self.name = name
        self.other = other
        message = f"{name}{origin} is already used by {other.describe()}"
        if detail:
            message += f"; {detail}"
        super().__init__(message)


class ExistingName(namedtuple("ExistingName", "key name source location ip")):
    """A name that lives somewhere already; ``key`` is what names are compared by."""

    __slots__ = ()

    def describe(self):
        what = SOURCES[self.source][0]
        text = f"{what} {self.name} ({self.location})"
        if self.ip:
            text += f" with IP {self.ip}"
        return text

    def remedy(self):
        return SOURCES[self.source][2].format(name=self.name)


def name_key(name: Any) -> str:
    """What names are compared by: lower case, and the first label of an FQDN.

    IP addresses (kubeasz names Kubernetes nodes by IP) are kept whole.
    """
    text = str(name).strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.split(".", 1)[0]


def label_problem(name: Any, cloud: str | None = None) -> str | None:
    """Why ``name`` is not a valid node name on ``cloud``, or None when it is."""
    return rules.node_name_problem(name, cloud)


def is_valid_name(name: Any, cloud: str | None = None) -> bool:
    """True for a node name on ``cloud``: an RFC 1123 label; on GCP (the instance name) starting with a letter."""
    return label_problem(name, cloud) is None


def fqdn_problem(fqdn: Any, rfc1035: bool = False) -> str | None:
    """Why ``fqdn`` is not a valid fully qualified hostname, or None.

    Two or more labels, total at most 253 characters, each label lower case;
    ``rfc1035`` additionally wants every label to start with a letter (GCP).
    """
    return rules.hostname_problem(fqdn, fqdn=True, rfc1035=rfc1035)


def is_valid_fqdn(fqdn: Any, rfc1035: bool = False) -> bool:
    return fqdn_problem(fqdn, rfc1035) is None


def ip_name(ip: Any) -> str:
    """The IP-derived name: 172.31.7.227 -> ip-172-31-7-227 (IPv6: all eight groups, exploded)."""
    return "ip-" + _ip_dashed(ipaddress.ip_address(str(ip)))


def _ip_dashed(addr):
    if addr.version == 4:
        return str(addr).replace(".", "-")
    # Exploded, so that '::' never leaves an empty or trailing '-' group.
    return addr.exploded.replace(":", "-")


def _parse_ip(value, what):
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"{what}: {value!r} is not an IP address") from None


def _ip_sort_key(ip):
    return (0, ip.version, int(ip)) if ip is not None else (1, 0, 0)


# --- naming schemes ---------------------------------------------------------------------------


def parse_template(template: Any) -> tuple:
    """Split a template into (literal, placeholder) parts; refuse what cannot give valid, unique names."""
    if not isinstance(template, str) or not template.strip():
        raise InvalidSchemeError("scheme template needs a template, for example '{cluster}-{role}-{index}'")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidSchemeError(
            f"template {template!r} is not valid ({exc}); write placeholders as {{index}}") from None
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    parts: list[tuple[str, str | None]] = []
    for literal, field, spec, conversion in parsed:
        if literal:
            if literal != literal.lower():
                raise InvalidSchemeError(
                    f"template {template!r} has upper-case letters; use lower case: {template.lower()!r} "
                    "(Kubernetes and Calico lower-case node names)")
            if not rules.label_characters_only(literal):
                raise InvalidSchemeError(
                    f"template {template!r}: {literal!r} is not allowed; outside placeholders use only "
                    f"a-z, 0-9 and '-'; placeholders are {allowed}")
        if field is None:
            parts.append((literal, None))
            continue
        if field not in PLACEHOLDERS:
            raise InvalidSchemeError(
                f"template {template!r}: unknown placeholder {{{field}}}; use {allowed}")
        if spec or conversion:
            raise InvalidSchemeError(
                f"template {template!r}: placeholder {{{field}}} takes no format spec or conversion")
        parts.append((literal, field))
    fields = {field for _unused, field in parts}
    if not fields & {"index", "ip"}:
        raise InvalidSchemeError(
            f"template {template!r} would give every machine the same name; include {{index}} or {{ip}}")
    if "index" in fields and [field for _unused, field in parts].count("index") > 1:
        raise InvalidSchemeError(f"template {template!r}: use {{index}} once")
    return tuple(parts)


def prefix_parts(prefix: Any, separator: Any = "-", cloud: str | None = None) -> tuple:
    """The prefix scheme as template parts: ``<prefix><separator><index>``."""
    if separator not in SEPARATORS:
        raise InvalidSchemeError(f"separator {separator!r} is not allowed; use '-' or ''")
    if not isinstance(prefix, str) or not prefix:
        raise InvalidSchemeError("scheme prefix needs a prefix, for example 'aws-na-k8s-temp'")
    if prefix != prefix.lower():
        raise InvalidSchemeError(
            f"prefix {prefix!r} has upper-case letters; use lower case: {prefix.lower()!r}. Kubernetes and "
            f"Calico lower-case node names, so {prefix + separator + '1'!r} and "
            f"{prefix.lower() + separator + '1'!r} would be the same node")
    problem = label_problem(prefix + "a", cloud)
    if problem or prefix.endswith("-"):
        problem = problem or "it must not end with '-' (the separator is added)"
        raise InvalidSchemeError(f"prefix {prefix!r} is not valid: {problem}")
    if separator == "" and prefix[-1].isdigit():
        raise InvalidSchemeError(
            f"prefix {prefix!r} ends with a digit, so without a separator its index is ambiguous; "
            "use separator '-' or end the prefix with a letter")
    room = MAX_LABEL - len(separator) - 1
    if len(prefix) > room:
        raise InvalidSchemeError(
            f"prefix {prefix!r} has {len(prefix)} characters; at most {room} leave room for the index "
            f"within the {MAX_LABEL}-character limit")
    return ((prefix + separator, "index"),)


def check_variables(variables: Any) -> dict:
    """The template variables (cluster, role), each a value that may go inside a name."""
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise InvalidSchemeError("template variables must be a mapping such as {cluster: na, role: worker}")
    checked = {}
    for key, value in variables.items():
        if key not in ("cluster", "role"):
            raise InvalidSchemeError(f"template variable {key!r} is unknown; use cluster and role")
        checked[key] = _check_value(key, value)
    return checked


def _check_value(key, value):
    text = str(value)
    if text != text.lower():
        raise InvalidSchemeError(f"{key} {text!r} has upper-case letters; use lower case: {text.lower()!r}")
    if rules.name_part_problem(text):
        raise InvalidSchemeError(
            f"{key} {text!r} is not valid in a name: use a-z, 0-9 and '-', not at the start or end")
    return text


def _render(parts, values, index_regex=False):
    out = []
    for literal, field in parts:
        out.append(re.escape(literal) if index_regex else literal)
        if field == "index" and index_regex:
            out.append(r"(\d+)")
        elif field is not None:
            value = values[field]
            out.append(re.escape(value) if index_regex else value)
    return "".join(out)


# --- inputs -----------------------------------------------------------------------------------


def _normalise_machines(new_machines):
    if isinstance(new_machines, str) and new_machines.strip().isdigit():
        new_machines = int(new_machines)
    if isinstance(new_machines, int) and not isinstance(new_machines, bool):
        if not 0 <= new_machines <= MAX_MACHINES:
            raise InvalidInputError(f"count {new_machines} is out of range 0..{MAX_MACHINES}")
        return [{"ip": None, "role": None} for _unused in range(new_machines)]
    if not isinstance(new_machines, (list, tuple)):
        raise InvalidInputError(
            "new machines must be a count or a list of {ip: <private IP>, role: <optional>} mappings")
    machines = []
    for number, item in enumerate(new_machines, 1):
        if isinstance(item, str):
            item = {"ip": item}
        if not isinstance(item, dict):
            raise InvalidInputError(f"new machine #{number} must be a mapping with 'ip', got {item!r}")
        ip = item.get("ip")
        ip = _parse_ip(ip, f"new machine #{number} ip") if ip not in (None, "") else None
        role = item.get("role")
        role = _check_value("role", role) if role not in (None, "") else None
        machines.append({"ip": ip, "role": role})
    seen = {}
    for machine in machines:
        if machine["ip"] is not None:
            if machine["ip"] in seen:
                raise InvalidInputError(f"IP {machine['ip']} is listed for two new machines")
            seen[machine["ip"]] = True
    machines.sort(key=lambda m: (_ip_sort_key(m["ip"]), m["role"] or ""))
    return machines


def _normalise_existing(existing):
    """Accept a list of {name, source, location?, ip?} or a mapping source -> list of names/dicts."""
    if existing is None:
        return []
    items = []
    if isinstance(existing, dict):
        for source, entries in existing.items():
            if entries is None:
                continue
            if isinstance(entries, (str, dict)) or not isinstance(entries, (list, tuple)):
                raise InvalidInputError(f"existing names of {source!r} must be a list")
            for entry in entries:
                entry = {"name": entry} if isinstance(entry, str) else dict(entry)
                entry.setdefault("source", source)
                items.append(entry)
    elif isinstance(existing, (list, tuple)):
        items = list(existing)
    else:
        raise InvalidInputError(
            "existing names must be a list of {name, source} or a mapping source -> names")
    names = []
    for entry in items:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise InvalidInputError(
                f"existing name {entry!r} must be a mapping with a non-empty 'name' and a 'source'")
        source = entry.get("source")
        if source not in SOURCES:
            raise InvalidInputError(
                f"existing name {entry['name']!r} has source {source!r}; use one of {', '.join(SOURCES)}")
        location = str(entry.get("location") or SOURCES[source][1])
        ip = entry.get("ip")
        ip = _parse_ip(ip, f"existing name {entry['name']!r} ip") if ip not in (None, "") else None
        names.append(ExistingName(name_key(entry["name"]), entry["name"].strip(), source, location, ip))
    names.sort(key=lambda e: (e.key, _SOURCE_RANK[e.source], e.name, e.location, _ip_sort_key(e.ip)))
    return names


def _normalise_given(assigned, cloud=None):
    """Names already given to machines of this batch that exist: a list of names or {name, ip}."""
    given = []
    for entry in assigned or ():
        entry = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InvalidInputError(f"name already given {entry!r} must be a name or a mapping {{name, ip}}")
        name = entry["name"].strip()
        problem = label_problem(name, cloud)
        if problem:
            raise InvalidInputError(
                f"name already given {name!r} is not a valid node name: {problem}; rename that machine")
        ip = entry.get("ip")
        ip = _parse_ip(ip, f"name already given {name!r} ip") if ip not in (None, "") else None
        given.append({"name": name, "ip": ip})
    given.sort(key=lambda g: (_natural_key(g["name"]), _ip_sort_key(g["ip"])))
    keys = [g["name"] for g in given]
    for name in keys:
        if keys.count(name) > 1:
            raise InvalidInputError(f"name already given {name!r} is listed twice")
    return given


def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def check_domain(domain: Any, cloud: str | None) -> str | None:
    """The domain of the hostnames, checked for ``cloud`` (GCP needs one, every label a letter first)."""
    if cloud not in (None, "", "gcp", "aws"):
        raise InvalidInputError(f"cloud {cloud!r} is unknown; use gcp or aws")
    if domain in (None, ""):
        if cloud == "gcp":
            raise InvalidInputError(
                "GCP needs a fully qualified hostname: pass domain '<zone>.c.<project>.internal' "
                "(the default guest domain) or your own domain")
        return None
    domain = str(domain).strip().rstrip(".")
    if domain != domain.lower():
        raise InvalidInputError(
            f"domain {domain!r} has upper-case letters; use lower case: {domain.lower()!r}")
    for label in domain.split("."):
        if rules.gce_name_problem(label) if cloud == "gcp" else rules.dns_label_problem(label):
            raise InvalidInputError(f"domain {domain!r}: label {label!r} is not a valid lower-case DNS label")
    return domain


# --- the plan ---------------------------------------------------------------------------------


def plan_hostnames(new_machines: Any, existing: Any = None, scheme: str = "ip", prefix: Any = None,
                   template: Any = None, separator: Any = "-", variables: Any = None, domain: Any = None,
                   assigned: Any = None, cloud: str | None = None) -> list:
    """Decide names for new machines.

    Returns a list of {name, hostname, ip, reused}, in a stable order
    (machines sorted by IP; names already given first). Raises a
    HostnamePlanError subclass whose message names what to change.
    """
    if scheme not in SCHEMES:
        raise InvalidSchemeError(f"scheme {scheme!r} is unknown; use one of {', '.join(SCHEMES)}")
    if scheme == "prefix":
        parts = prefix_parts(prefix, separator, cloud)
    elif scheme == "template":
        parts = parse_template(template)
    else:
        parts = (("ip-", "ip"),)
    values = check_variables(variables)
    fields = {field for _unused, field in parts if field}
    if "cluster" in fields and "cluster" not in values:
        raise InvalidSchemeError(f"template {template!r} uses {{cluster}}: set variables.cluster")
    machines = _normalise_machines(new_machines)
    if "ip" in fields:
        for machine in machines:
            if machine["ip"] is None:
                raise InvalidInputError(
                    f"scheme {scheme} derives names from private IPs: give each new machine its 'ip', "
                    "or use scheme prefix or template with {index}")
    domain = check_domain(domain, cloud)
    existing_names = _normalise_existing(existing)
    given = _normalise_given(assigned, cloud)
    by_key: dict[str, list[ExistingName]] = {}
    for entry in existing_names:
        by_key.setdefault(entry.key, []).append(entry)

    slots = _place_given(machines, given)
    planned = {}  # key -> description of the machine in this batch that holds it
    for slot in slots:
        if slot is not None:
            planned[slot["name"]] = f"a machine of this batch ({slot['name']})"

    plan = []
    for machine, slot in zip(machines, slots, strict=True):
        if slot is not None:
            ip = slot["ip"] or machine["ip"]
            other = _clash(slot["name"], by_key, ip, lenient=True)
            if other:
                raise NameCollisionError(slot["name"], other, other.remedy())
            plan.append(_entry(slot["name"], ip, domain, cloud, reused=True))
            continue
        name = _fresh_name(parts, values, machine, by_key, planned, scheme, prefix, template, cloud)
        planned[name] = f"another new machine ({name})"
        plan.append(_entry(name, machine["ip"], domain, cloud, reused=False))
    plan.sort(key=lambda e: (not e["reused"], _natural_key(e["name"])))
    return plan


def _place_given(machines, given):
    if len(given) > len(machines):
        raise InvalidInputError(
            f"{len(given)} names were already given but only {len(machines)} machines are planned; "
            "ask for at least as many machines as already exist in this batch")
    slots = [None] * len(machines)
    by_ip = {m["ip"]: i for i, m in enumerate(machines) if m["ip"] is not None}
    rest = []
    for entry in given:
        if entry["ip"] is not None and by_ip:
            if entry["ip"] not in by_ip:
                raise InvalidInputError(
                    f"name already given {entry['name']!r} belongs to IP {entry['ip']}, "
                    "which is not among the new machines")
            slots[by_ip[entry["ip"]]] = entry
        else:
            rest.append(entry)
    free = iter(i for i, slot in enumerate(slots) if slot is None)
    for entry in rest:
        slots[next(free)] = entry
    return slots


def _clash(name, by_key, ip, lenient=False):
    """The existing entry that ``name`` collides with, or None.

    An entry with the machine's own IP is the machine itself. ``lenient`` (for
    names already given to machines that exist) also lets entries through when
    either IP is unknown: such a machine is its own cloud instance, inventory
    host and, once joined, Calico and Kubernetes node.
    """
    for other in by_key.get(name_key(name), ()):
        if ip is not None and other.ip == ip:
            continue
        if lenient and (ip is None or other.ip is None):
            continue
        return other
    return None


def _fresh_name(parts, values, machine, by_key, planned, scheme, prefix, template, cloud=None):
    values = dict(values)
    if machine["role"] is not None:
        values["role"] = machine["role"]
    if "role" in {f for _unused, f in parts} and "role" not in values:
        raise InvalidSchemeError(
            f"template {template!r} uses {{role}}: set variables.role or each machine's role")
    if machine["ip"] is not None:
        values["ip"] = _ip_dashed(machine["ip"])
    source = f"prefix {prefix!r}" if scheme == "prefix" else f"template {template!r}"
    if "index" not in {f for _unused, f in parts}:
        name = _render(parts, values)
        _check_name(name, source if scheme == "template" else f"IP {machine['ip']}", cloud)
        if name in planned:
            raise InvalidInputError(f"{name} would be given to two new machines: {planned[name]}")
        other = _clash(name, by_key, machine["ip"])
        if other:
            raise NameCollisionError(name, other, other.remedy(), origin=f" (from IP {machine['ip']})")
        return name
    family = re.compile(_render(parts, values, index_regex=True))
    used = [int(m.group(1)) for key in list(by_key) + list(planned) if (m := family.fullmatch(key))]
    index = max(used, default=0) + 1
    for _unused in range(MAX_INDEX_TRIES):
        name = _render(parts, dict(values, index=str(index)))
        _check_name(name, source, cloud)
        if name not in planned and not _clash(name, by_key, machine["ip"]):
            return name
        index += 1
    raise InvalidSchemeError(f"{source}: no free index found after {MAX_INDEX_TRIES} tries")


def _check_name(name, source, cloud=None):
    problem = label_problem(name, cloud)
    if problem:
        raise InvalidSchemeError(f"{source} gives {name!r}, which is not a valid node name: {problem}")


def _entry(name, ip, domain, cloud, reused):
    hostname = f"{name}.{domain}" if domain else name
    if domain:
        problem = fqdn_problem(hostname, rfc1035=cloud == "gcp")
        if problem:
            raise InvalidInputError(f"hostname {hostname!r} is not a valid fully qualified name: {problem}")
    return {"name": name, "hostname": hostname, "ip": str(ip) if ip is not None else None, "reused": reused}
