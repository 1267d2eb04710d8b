# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report: one model built from the check's task results.

The drift check (playbooks/drift_check.yml) runs five sections read-only;
the drift_report callback turns every task result into an *observation*
and hands the list to :func:`build`:

    {"sections": ["cloud_rules"], "module": "gcp_firewall_rule", "host": "localhost",
     "task": "Allow IP protocol 4 ...", "status": "ok" | "failed" | "unreachable",
     "result": {...module result...}, "args": {...module arguments...}}

:func:`build` returns the report (a plain dict, documented by
docs/drift-report.schema.json): every check with its status, every drift
item (a ``Finding`` of module_utils/finding.py as a dict, its ``section``
set), everything that could not be checked with the reason, counts per
section and the exit code of ``terraform plan -detailed-exitcode``: 0
everything checked and nothing drifted, 2 drift and everything checked, 1
any part could not be checked.

The cloud rules' findings are made here from the modules' diffs; the Calico
modules and calico_mesh_check return theirs as findings already, with the
fix as data. Nothing edits a fix: the renderers (console.py, markdown.py,
junit.py, prometheus.py, files.py) render each with the report's inventory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import ERROR, WARNING, Finding, Fix

SCHEMA_VERSION = "2.0"

CLOUD_RULES = "cloud_rules"
CALICO_SETTINGS = "calico_settings"
NAMES = "names"
BGP_MESH = "bgp_mesh"
IPIP_UNDERLAY = "ipip_underlay"
SECTIONS = {
    CLOUD_RULES: "Cloud firewall rules / security group",
    CALICO_SETTINGS: "Calico IP pools and network settings",
    NAMES: "Hostnames, node names and registrations",
    BGP_MESH: "BGP mesh",
    IPIP_UNDERLAY: "IPIP underlay",
}

OK, DRIFT, NOT_CHECKED = "ok", "drift", "not_checked"
EXIT_CLEAN, EXIT_NOT_CHECKED, EXIT_DRIFT = 0, 1, 2

KIND_SECTION = {
    "duplicate_nodename": NAMES,
    "nodename_invalid": NAMES,
    "nodename_mismatch": NAMES,
    "duplicate_ip": NAMES,
    "stale_node": NAMES,
    "unregistered_host": NAMES,
    "node_not_joined": NAMES,
    "node_without_machine": NAMES,
    "node_without_kubernetes_node": NAMES,
    "kubernetes_node_without_calico_node": NAMES,
    "ipip_blocked": IPIP_UNDERLAY,
}
MESH_SECTIONS = (NAMES, BGP_MESH, IPIP_UNDERLAY)
# Mesh findings that mean "this host could not be checked", not drift.
NOT_CHECKED_KINDS = ("host_unreachable", "status_failed")

# Firewall rule fields whose difference has no effect on traffic.
WARNING_FIELDS = ("description",)

CALICO_MODULES = ("calico_ippool", "calico_bgp_configuration", "calico_felix_configuration")
CLOUD_MODULES = ("gcp_firewall_rule", "ec2_security_group")
CLUSTER = "cluster"
# The modules whose results check a section: a section is "checked" only when one of them ran.
CHECKED_BY = {
    CLOUD_RULES: CLOUD_MODULES,
    CALICO_SETTINGS: CALICO_MODULES,
    NAMES: ("calico_mesh_check",),
    BGP_MESH: ("calico_mesh_check",),
    IPIP_UNDERLAY: ("calico_mesh_check",),  # and only with the probe's matrix (result "probed")
}
CHECKS_TEXT = {
    CLOUD_RULES: "gcp_firewall_rule / ec2_security_group in check mode",
    CALICO_SETTINGS: "calico_ippool, calico_bgp_configuration, calico_felix_configuration in check mode",
    NAMES: "calico_mesh_check",
    BGP_MESH: "calico_mesh_check",
    IPIP_UNDERLAY: "calico_mesh_check with the IPIP probe",
}


# -- field-level differences ---------------------------------------------------


def field_diff(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """[(field path, before, after)] where two normal-form documents differ, sorted.

    Dicts are walked key by key (``allowed[0].ports``); lists of dicts of
    the same length item by item; other lists and scalars are compared whole.
    """
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            out += field_diff(before.get(key), after.get(key), sub)
        return out
    if (isinstance(before, list) and isinstance(after, list) and len(before) == len(after)
            and all(isinstance(x, dict) for x in before + after)):
        out = []
        for index, (b, a) in enumerate(zip(before, after, strict=True)):
            out += field_diff(b, a, f"{path}[{index}]")
        return out
    return [] if before == after else [(path, before, after)]


# -- observations -> items -------------------------------------------------------


def _module(name):
    return (name or "").rsplit(".", 1)[-1]


def _network_fix(text: str, extra_vars: dict | None = None) -> Fix:
    return Fix(text=text, playbook="scale_out", tags=["network"], extra_vars=extra_vars or {})


def subject(finding: Any) -> str:
    """What a finding is about in the report: its resource, else its hosts, else its node, else the cluster."""
    finding = Finding.from_dict(finding)
    if finding.resource:
        return finding.resource
    if finding.hosts:
        return "host/" + ",".join(finding.hosts)
    if finding.node:
        return f"Node/{finding.node}"
    return CLUSTER


def check_resources(finding: Any) -> list[str]:
    """The checks (section, resource) a finding makes fail: one per host for a finding about hosts."""
    finding = Finding.from_dict(finding)
    if not finding.resource and finding.hosts:
        return [f"host/{h}" for h in finding.hosts]
    return [subject(finding)]


def firewall_findings(result: dict, args: dict) -> list[Finding]:
    """Drift of one gcp_firewall_rule result (check mode with diff)."""
    if not result.get("changed"):
        return []
    diff = result.get("diff") or {}
    before, after = diff.get("before") or {}, diff.get("after") or {}
    name = (after or before).get("name") or args.get("name") or "?"
    resource = f"firewall/{name}"
    if not before:
        return [Finding("firewall_rule_missing", ERROR, section=CLOUD_RULES, resource=resource, expected=after,
                        cause=f"firewall rule {name} does not exist (deleted by hand or never created): the traffic "
                        "it allows between the nodes is dropped.",
                        fix=_network_fix(f"create firewall rule {name} as the inventory declares it"))]
    if not after:
        return [Finding("firewall_rule_unwanted", ERROR, section=CLOUD_RULES, resource=resource, actual=before,
                        cause=f"firewall rule {name} exists but the inventory says it should be absent.",
                        fix=_network_fix(f"delete firewall rule {name}, as the inventory declares"))]
    found = []
    for field, was, wanted in field_diff(before, after):
        warning = field in WARNING_FIELDS
        cause = (f"{field} of firewall rule {name} was edited outside calico-fleet (no effect on traffic)."
                 if warning else
                 f"{field} of firewall rule {name} is {was!r}, expected {wanted!r}: edited outside "
                 "calico-fleet; traffic the mesh needs may be dropped.")
        found.append(Finding("firewall_rule_changed", WARNING if warning else ERROR, section=CLOUD_RULES,
                             resource=resource, field=field, expected=wanted, actual=was, cause=cause,
                             fix=_network_fix(f"set {field} of firewall rule {name} back to the inventory's value")))
    return found


def security_group_findings(result: dict, args: dict) -> list[Finding]:
    """Drift of one amazon.aws.ec2_security_group result (check mode with diff)."""
    if not result.get("changed"):
        return []
    name = args.get("name") or result.get("group_name") or "?"
    resource = f"security_group/{name}"
    fix = _network_fix(f"apply security group {name} as the inventory declares it")
    diffs = result.get("diff") or []
    diffs = diffs if isinstance(diffs, list) else [diffs]
    found = []
    for diff in diffs:
        before, after = diff.get("before") or {}, diff.get("after") or {}
        if not before:
            found.append(Finding("security_group_missing", ERROR, section=CLOUD_RULES, resource=resource,
                                 expected=after, cause=f"security group {name} does not exist.", fix=fix))
            continue
        for field, was, wanted in field_diff(before, after):
            warning = field in WARNING_FIELDS
            found.append(Finding("security_group_changed", WARNING if warning else ERROR, section=CLOUD_RULES,
                                 resource=resource, field=field, expected=wanted, actual=was,
                                 cause=f"{field} of security group {name} is {was!r}, expected {wanted!r}.", fix=fix))
    if not found:
        found.append(Finding("security_group_changed", ERROR, section=CLOUD_RULES, resource=resource,
                             cause=f"security group {name} differs from the inventory.", fix=fix))
    return found


def member_findings(module: str, result: dict, args: dict) -> list[Finding]:
    """Per node: the network tag (gcp_instance_tags) or group membership (aws_security_group_members) the
    cloud rules need and the node lacks (check mode with diff), each with the run that adds just it."""
    if not result.get("changed"):
        return []
    diff = result.get("diff") or {}
    before, after = diff.get("before") or {}, diff.get("after") or {}
    found = []
    for label in sorted(after):
        missing = sorted(set(after[label]) - set(before.get(label) or []))
        if not missing:
            continue
        instance = label.split(" (", 1)[0]
        extra: dict[str, Any]
        if module == "gcp_instance_tags":
            extra = {"gcp_network_node_instances": [label], "gcp_network_node_zones": list(args.get("zones") or [])}
            cause = (f"instance {label} lacks the network tag {', '.join(missing)} the calico firewall rules "
                     "target: IPIP (and BGP from tagged nodes) does not reach it.")
            kind, field, text = "network_tag_missing", "tags", f"add the tag to {instance} (its other tags stay)"
        else:
            instance_id = label.rsplit("(", 1)[-1].rstrip(")")
            extra = {"aws_network_node_filters": {"instance-id": [instance_id]}}
            group = args.get("group") or missing[0]
            cause = (f"instance {label} is not a member of security group {group}: "
                     "its rules (IPIP from the VPC, BGP between members) do not apply to it.")
            kind, field = "security_group_membership_missing", "security_groups"
            text = f"make {instance} a member of {group} (its other groups stay)"
        found.append(Finding(kind, ERROR, section=CLOUD_RULES, resource=f"instance/{instance}", field=field,
                             expected=after[label], actual=before.get(label) or [], cause=cause,
                             fix=_network_fix(text, extra)))
    return found


def module_findings(result: dict, section: str) -> list[Finding]:
    """The findings a module returned (the Calico modules, calico_mesh_check), each with its section."""
    found = []
    for data in result.get("findings") or []:
        finding = Finding.from_dict(data)
        finding.section = finding.section or section
        found.append(finding)
    return found


def mesh_findings(result: dict) -> tuple[list[Finding], list[dict]]:
    """(findings, not checked) of one calico_mesh_check result."""
    found, not_checked = [], []
    for finding in module_findings(result, BGP_MESH):
        if finding.kind in NOT_CHECKED_KINDS:
            reason = "; ".join(finding.evidence[:1]) or finding.cause or finding.kind
            for host in finding.hosts:
                for section in MESH_SECTIONS:
                    not_checked.append({"section": section, "resource": f"host/{host}", "reason": reason})
            continue
        finding.section = KIND_SECTION.get(finding.kind, BGP_MESH)
        found.append(finding)
    return found, not_checked


def _failure_reason(obs):
    result = obs.get("result") or {}
    msg = str(result.get("msg") or "").strip() or "the task failed without a message"
    where = obs.get("host") or "?"
    if obs.get("status") == "unreachable":
        return f"{where} is unreachable: {msg}"[:600]
    return f"{obs.get('task') or 'task'} on {where}: {msg}"[:600]


def _resource_of(obs):
    module = _module(obs.get("module"))
    args = obs.get("args") or {}
    result = obs.get("result") or {}
    if module == "gcp_firewall_rule":
        return f"firewall/{args.get('name') or (result.get('rule') or {}).get('name') or '?'}"
    if module == "ec2_security_group":
        return f"security_group/{args.get('name') or '?'}"
    if module == "calico_ippool":
        return f"IPPool/{args.get('name') or '?'}"
    if module == "calico_bgp_configuration":
        return "BGPConfiguration/default"
    if module == "calico_felix_configuration":
        return "FelixConfiguration/default"
    return None


# -- the report ------------------------------------------------------------------


def build(observations: Iterable[dict], context: dict) -> dict[str, Any]:
    """The report from the run's observations.

    context: {cluster, inventory (list), calico_namespace, started_at, finished_at (ISO 8601),
    duration_seconds, tags, skip_tags}.
    """
    checks: dict[tuple[str, str], dict] = {}  # (section, resource) -> {"status", "reason"}
    items: list[Finding] = []
    not_checked: list[dict] = []
    seen_sections: set[str] = set()
    mesh: dict[str, Any] = {"bgp_sessions": {}, "ipip_blocked_pairs": 0, "hosts": [], "membership_not_compared": []}

    def check(section: str, resource: str, status: str = OK, reason: str | None = None) -> None:
        entry = checks.setdefault((section, resource), {"status": OK, "reason": None})
        rank = {OK: 0, DRIFT: 1, NOT_CHECKED: 2}
        if rank[status] > rank[entry["status"]]:
            entry.update(status=status, reason=reason)

    for obs in observations:
        sections = [s for s in obs.get("sections") or [] if s in SECTIONS]
        if not sections:
            continue
        module = _module(obs.get("module"))
        result = obs.get("result") or {}
        args = obs.get("args") or {}
        found: list[Finding]
        if obs.get("status") in ("failed", "unreachable"):
            reason = _failure_reason(obs)
            host = obs.get("host") or "localhost"
            per_host = obs.get("status") == "unreachable" or not (obs.get("run_once") or host == "localhost")
            resource = _resource_of(obs) or (f"host/{host}" if per_host else CLUSTER)
            for section in sections:
                not_checked.append({"section": section, "resource": resource, "reason": reason})
            continue
        # A section is checked by its own checks only (argument validation and the like run whatever the tags).
        seen_sections.update(s for s in sections if s in CHECKED_BY and module in CHECKED_BY[s])
        if module == "gcp_firewall_rule":
            found = firewall_findings(result, args)
        elif module == "ec2_security_group":
            found = security_group_findings(result, args)
        elif module in ("gcp_instance_tags", "aws_security_group_members"):
            found = member_findings(module, result, args)
        elif module in CALICO_MODULES:
            found = module_findings(result, CALICO_SETTINGS)
        elif module == "calico_mesh_check":
            found, blocked = mesh_findings(result)
            not_checked += blocked
            _mesh_summary(result, found, mesh)
            if result.get("probed") is not True:
                # --skip-tags probe or mesh_verify_probe=false: protocol 4 was not looked at.
                sections = [s for s in sections if s != IPIP_UNDERLAY]
                seen_sections.discard(IPIP_UNDERLAY)
                not_checked.append({"section": IPIP_UNDERLAY, "resource": CLUSTER,
                                    "reason": "the IPIP probe did not run (--skip-tags probe or "
                                              "mesh_verify_probe=false)"})
            for host in mesh["hosts"]:
                for section in sections:
                    check(section, f"host/{host}")
            for section in (NAMES, BGP_MESH):
                check(section, CLUSTER)
        else:
            continue
        resource = _resource_of(obs)
        if resource:
            for section in sections:
                check(section, resource)
        items += found

    for section in SECTIONS:
        # A failed check already says why; a section whose checks never ran says so.
        if section not in seen_sections and not any(n["section"] == section for n in not_checked):
            not_checked.append({"section": section, "resource": CLUSTER, "reason": _skipped_reason(section, context)})
    # A section that could not be checked as a whole says so once, not once per host.
    whole = {n["section"] for n in not_checked if n["resource"] == CLUSTER}
    not_checked = _unique([n for n in not_checked if n["resource"] == CLUSTER or n["section"] not in whole])
    for item in items:
        for resource in check_resources(item):
            check(str(item.section), resource, DRIFT)
    for entry in not_checked:
        check(entry["section"], entry["resource"], NOT_CHECKED, entry["reason"])
    for key in [k for k in checks if k[0] in whole and k[1] != CLUSTER and checks[k]["status"] == NOT_CHECKED]:
        del checks[key]

    items.sort(key=lambda i: (list(SECTIONS).index(str(i.section)), i.severity != ERROR, subject(i), i.kind,
                              i.field or ""))
    check_list = [{"section": s, "resource": r, **v} for (s, r), v in
                  sorted(checks.items(), key=lambda kv: (list(SECTIONS).index(kv[0][0]), kv[0][1]))]
    per_section = {}
    for section, title in SECTIONS.items():
        mine = [i for i in items if i.section == section]
        blocked = [n for n in not_checked if n["section"] == section]
        per_section[section] = {
            "title": title,
            "status": NOT_CHECKED if blocked else DRIFT if mine else OK,
            "checks": sum(1 for c in check_list if c["section"] == section),
            "items": len(mine),
            "errors": sum(1 for i in mine if i.severity == ERROR),
            "warnings": sum(1 for i in mine if i.severity == WARNING),
            "not_checked": len(blocked),
        }
    code = EXIT_NOT_CHECKED if not_checked else EXIT_DRIFT if items else EXIT_CLEAN
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster": context.get("cluster") or "",
        "inventory": list(context.get("inventory") or []),
        "calico_namespace": context.get("calico_namespace") or "kube-system",
        "started_at": context.get("started_at"),
        "finished_at": context.get("finished_at"),
        "duration_seconds": round(float(context.get("duration_seconds") or 0), 3),
        "exit_code": code,
        "status": {EXIT_CLEAN: "clean", EXIT_DRIFT: "drift", EXIT_NOT_CHECKED: "incomplete"}[code],
        "drift": bool(items),
        "counts": {
            "checks": len(check_list),
            "items": len(items),
            "errors": sum(1 for i in items if i.severity == ERROR),
            "warnings": sum(1 for i in items if i.severity == WARNING),
            "not_checked": len(not_checked),
        },
        "sections": per_section,
        "checks": check_list,
        "items": [i.to_dict() for i in items],
        "not_checked": not_checked,
        "mesh": {"bgp_sessions": mesh["bgp_sessions"], "ipip_blocked_pairs": mesh["ipip_blocked_pairs"],
                 "membership_not_compared": mesh["membership_not_compared"]},
    }


def _skipped_reason(section, context):
    """Why a section's checks did not run: the run's --tags / --skip-tags, else a condition."""
    what = f"its checks ({CHECKS_TEXT[section]}) did not run"
    tags = [t for t in context.get("tags") or [] if t != "all"]
    skip = list(context.get("skip_tags") or [])
    if tags:
        return f"{what}: skipped by tags (the run was limited to --tags {','.join(tags)})"
    if skip:
        return f"{what}: skipped by tags (--skip-tags {','.join(skip)})"
    return f"{what}: skipped by a condition (fleet_cloud, a when:) or the play did not start"


def _unique(entries):
    seen, out = set(), []
    for entry in entries:
        key = (entry["section"], entry["resource"])
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return sorted(out, key=lambda e: (list(SECTIONS).index(e["section"]), e["resource"]))


def _mesh_summary(result: dict, items: list[Finding], mesh: dict) -> None:
    hosts = set(result.get("matrix") or {}) | set(result.get("expected_peers") or {})
    for f in result.get("findings") or []:
        hosts.update(f.get("hosts") or [])
    mesh["hosts"] = sorted(hosts)
    mesh["membership_not_compared"] = list(result.get("not_compared") or [])
    for row in (result.get("matrix") or {}).values():
        for cell in row.values():
            state = str(cell).split(" (", maxsplit=1)[0] or "unknown"
            mesh["bgp_sessions"][state] = mesh["bgp_sessions"].get(state, 0) + 1
    pairs = set()
    for item in items:
        if item.kind != "ipip_blocked":
            continue
        for line in item.evidence:
            match = re.match(r"IPIP probe (\S+) \(.*?\) -> (\S+) \(", line)
            if match:
                pairs.add(tuple(sorted(match.groups())))
    mesh["ipip_blocked_pairs"] = len(pairs)


def exit_code(report: dict) -> int:
    return report["exit_code"]


def findings(report: dict, section: str | None = None) -> list[Finding]:
    """The report's drift items as findings (of one section)."""
    return [Finding.from_dict(i) for i in report["items"] if section is None or i["section"] == section]


def not_compared(report: dict) -> str:
    """The membership sources the names section did not compare, as one sentence ('' when none)."""
    missing = (report.get("mesh") or {}).get("membership_not_compared") or []
    if not missing:
        return ""
    return (f"{' and '.join(missing)} not compared (no such source in the inventory): a machine Calico does "
            "not know is not seen without them.")
