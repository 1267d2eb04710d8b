# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report: one model built from the check's task results, one renderer per format.

The drift check (playbooks/drift_check.yml) runs five sections read-only;
the drift_report callback turns every task result into an *observation*
and hands the list to :func:`build`:

    {"sections": ["cloud_rules"], "module": "gcp_firewall_rule", "host": "localhost",
     "task": "Allow IP protocol 4 ...", "status": "ok" | "failed" | "unreachable",
     "result": {...module result...}, "args": {...module arguments...}}

:func:`build` returns the report (a plain dict, documented by
docs/drift-report.schema.json): every check with its status, every drift
item (section, resource, field, expected, actual, severity, cause, fix),
everything that could not be checked with the reason, counts per section
and the exit code of ``terraform plan -detailed-exitcode``: 0 everything
checked and nothing drifted, 2 drift and everything checked, 1 any part
could not be checked.

Renderers: :func:`to_json`, :func:`to_junit`, :func:`to_markdown`,
:func:`write_metrics` (Prometheus textfile collector) and :func:`to_text`
(the console summary).
"""

import json
import re
from xml.etree import ElementTree

from ansible_collections.calico_fleet.fleet.plugins.module_utils.findings import (
    ERROR,
    FIX_NODENAME_PLAYBOOK,
    WARNING,
    playbook_command,
    with_inventory,
)

SCHEMA_VERSION = "1.0"

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

CALICO_POD_SELECTOR = "-l k8s-app=calico-node --field-selector spec.nodeName={node}"


# -- field-level differences ---------------------------------------------------


def field_diff(before, after, path=""):
    """[(field path, before, after)] where two normal-form documents differ, sorted.

    Dicts are walked key by key (``allowed[0].ports``); lists of dicts of
    the same length item by item; other lists and scalars are compared whole.
    """
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
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


def _cmd(context, text):
    """A fix text whose playbook commands (findings.playbook_command) name the inventory in use."""
    return with_inventory(text, context.get("inventory") or [])


def _item(section, resource, kind, severity, cause, fix, field=None, expected=None, actual=None,
          hosts=(), evidence=(), node=None, peer=None):
    return {"section": section, "resource": resource, "kind": kind, "field": field, "expected": expected,
            "actual": actual, "severity": severity, "cause": cause, "fix": fix, "hosts": sorted(hosts),
            "node": node, "peer": peer, "evidence": list(evidence)}


def firewall_items(result, args, context):
    """Drift items of one gcp_firewall_rule result (check mode with diff)."""
    if not result.get("changed"):
        return []
    diff = result.get("diff") or {}
    before, after = diff.get("before") or {}, diff.get("after") or {}
    name = (after or before).get("name") or args.get("name") or "?"
    resource = f"firewall/{name}"
    fix = playbook_command("scale_out", tags="network", inventory=context.get("inventory"))
    if not before:
        return [_item(CLOUD_RULES, resource, "firewall_rule_missing", ERROR,
                      f"firewall rule {name} does not exist (deleted by hand or never created): the traffic "
                      "it allows between the nodes is dropped.", fix, expected=after)]
    if not after:
        return [_item(CLOUD_RULES, resource, "firewall_rule_unwanted", ERROR,
                      f"firewall rule {name} exists but the inventory says it should be absent.", fix,
                      actual=before)]
    items = []
    for field, was, wanted in field_diff(before, after):
        warning = field in WARNING_FIELDS
        cause = (f"{field} of firewall rule {name} was edited outside calico-fleet (no effect on traffic)."
                 if warning else
                 f"{field} of firewall rule {name} is {was!r}, expected {wanted!r}: edited outside "
                 "calico-fleet; traffic the mesh needs may be dropped.")
        items.append(_item(CLOUD_RULES, resource, "firewall_rule_changed", WARNING if warning else ERROR,
                           cause, fix, field=field, expected=wanted, actual=was))
    return items


def security_group_items(result, args, context):
    """Drift items of one amazon.aws.ec2_security_group result (check mode with diff)."""
    if not result.get("changed"):
        return []
    name = args.get("name") or result.get("group_name") or "?"
    resource = f"security_group/{name}"
    fix = playbook_command("scale_out", tags="network", inventory=context.get("inventory"))
    diffs = result.get("diff") or []
    diffs = diffs if isinstance(diffs, list) else [diffs]
    items = []
    for diff in diffs:
        before, after = diff.get("before") or {}, diff.get("after") or {}
        if not before:
            items.append(_item(CLOUD_RULES, resource, "security_group_missing", ERROR,
                               f"security group {name} does not exist.", fix, expected=after))
            continue
        for field, was, wanted in field_diff(before, after):
            warning = field in WARNING_FIELDS
            items.append(_item(CLOUD_RULES, resource, "security_group_changed", WARNING if warning else ERROR,
                               f"{field} of security group {name} is {was!r}, expected {wanted!r}.", fix,
                               field=field, expected=wanted, actual=was))
    if not items:
        items.append(_item(CLOUD_RULES, resource, "security_group_changed", ERROR,
                           f"security group {name} differs from the inventory.", fix))
    return items


def member_items(module, result, args, context):
    """Per node: the network tag (gcp_instance_tags) or group membership (aws_security_group_members) the
    cloud rules need and the node lacks (check mode with diff), each with the command that adds just it."""
    if not result.get("changed"):
        return []
    diff = result.get("diff") or {}
    before, after = diff.get("before") or {}, diff.get("after") or {}
    items = []
    for label in sorted(after):
        missing = sorted(set(after[label]) - set(before.get(label) or []))
        if not missing:
            continue
        if module == "gcp_instance_tags":
            extra = {"gcp_network_node_instances": [label], "gcp_network_node_zones": list(args.get("zones") or [])}
            cause = (f"instance {label} lacks the network tag {', '.join(missing)} the calico firewall rules "
                     "target: IPIP (and BGP from tagged nodes) does not reach it.")
            kind = "network_tag_missing"
        else:
            instance_id = label.rsplit("(", 1)[-1].rstrip(")")
            extra = {"aws_network_node_filters": {"instance-id": [instance_id]}}
            cause = (f"instance {label} is not a member of security group {args.get('group') or missing[0]}: "
                     "its rules (IPIP from the VPC, BGP between members) do not apply to it.")
            kind = "security_group_membership_missing"
        fix = playbook_command("scale_out", tags="network", extra_vars=extra, inventory=context.get("inventory"))
        items.append(_item(CLOUD_RULES, f"instance/{label.split(' (', 1)[0]}", kind, ERROR, cause, fix,
                           field="tags" if module == "gcp_instance_tags" else "security_groups",
                           expected=after[label], actual=before.get(label) or []))
    return items


def _snake(name):
    """IPPool -> ip_pool, BGPConfiguration -> bgp_configuration."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def calico_items(result, context):
    """Drift items of calico_ippool / calico_bgp_configuration / calico_felix_configuration."""
    fix = playbook_command("scale_out", tags="calico_network", inventory=context.get("inventory"))
    items = []
    for f in result.get("findings") or []:
        if not isinstance(f, dict) or "resource" not in f:
            continue
        kind = _snake(str(f["resource"]).split("/", maxsplit=1)[0])
        kind += "_missing" if f.get("field") is None else "_changed"
        items.append(_item(CALICO_SETTINGS, f["resource"], kind, ERROR, f.get("reason") or "", fix,
                           field=f.get("field"), expected=f.get("expected"), actual=f.get("actual")))
    return items


def _fix_text(finding, context):
    """The finding's fix with real names: the Calico namespace, pod selectors, the inventory."""
    namespace = context.get("calico_namespace") or "kube-system"
    kind, fix = finding.get("kind"), finding.get("fix") or ""
    hosts = finding.get("hosts") or []
    node = finding.get("node") or (hosts[0] if hosts else "")
    if kind == "bird_down":
        fix = (f"restart calico-node on {', '.join(hosts)}: kubectl -n {namespace} delete pod "
               + CALICO_POD_SELECTOR.format(node=node) + ", then read the new pod's log")
    elif kind == "unregistered_host":
        fix = (f"read calico-node's log on {', '.join(hosts)}: kubectl -n {namespace} logs --tail 50 "
               f"$(kubectl -n {namespace} get pod {CALICO_POD_SELECTOR.format(node=node)} -o name), then "
               + FIX_NODENAME_PLAYBOOK.format(host=",".join(hosts)))
    elif "<VPC CIDR>" in fix and context.get("vpc_range"):
        fix = fix.replace("<VPC CIDR>", context["vpc_range"])
    fix = fix.replace("kubectl -n kube-system", f"kubectl -n {namespace}")
    return _cmd(context, fix)


def _finding_resource(finding):
    hosts = finding.get("hosts") or []
    if hosts:
        return "host/" + ",".join(hosts)
    if finding.get("node"):
        return f"Node/{finding['node']}"
    return CLUSTER


def mesh_items(result, context):
    """(items, not checked) of one calico_mesh_check result."""
    items, not_checked = [], []
    for f in result.get("findings") or []:
        if f.get("kind") in NOT_CHECKED_KINDS:
            reason = "; ".join((f.get("evidence") or [])[:1]) or f.get("cause") or f["kind"]
            for host in f.get("hosts") or []:
                for section in MESH_SECTIONS:
                    not_checked.append({"section": section, "resource": f"host/{host}", "reason": reason})
            continue
        section = KIND_SECTION.get(f.get("kind"), BGP_MESH)
        items.append(_item(section, _finding_resource(f), f.get("kind"), f.get("severity") or ERROR,
                           f.get("cause") or "", _fix_text(f, context), hosts=f.get("hosts") or [],
                           evidence=f.get("evidence") or [], node=f.get("node"), peer=f.get("peer")))
    return items, not_checked


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


def build(observations, context):
    """The report from the run's observations.

    context: {cluster, inventory (list), calico_namespace, vpc_range, started_at, finished_at (ISO 8601),
    duration_seconds}.
    """
    checks = {}  # (section, resource) -> {"status", "reason"}
    items, not_checked, seen_sections = [], [], set()
    mesh = {"bgp_sessions": {}, "ipip_blocked_pairs": 0, "hosts": [], "membership_not_compared": []}

    def check(section, resource, status=OK, reason=None):
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
            found = firewall_items(result, args, context)
        elif module == "ec2_security_group":
            found = security_group_items(result, args, context)
        elif module in ("gcp_instance_tags", "aws_security_group_members"):
            found = member_items(module, result, args, context)
        elif module in CALICO_MODULES:
            found = calico_items(result, context)
        elif module == "calico_mesh_check":
            found, blocked = mesh_items(result, context)
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
        for resource in _check_resources(item):
            check(item["section"], resource, DRIFT)
    for entry in not_checked:
        check(entry["section"], entry["resource"], NOT_CHECKED, entry["reason"])
    for key in [k for k in checks if k[0] in whole and k[1] != CLUSTER and checks[k]["status"] == NOT_CHECKED]:
        del checks[key]

    items.sort(key=lambda i: (list(SECTIONS).index(i["section"]), i["severity"] != ERROR, i["resource"],
                              i["kind"], i["field"] or ""))
    check_list = [{"section": s, "resource": r, **v} for (s, r), v in
                  sorted(checks.items(), key=lambda kv: (list(SECTIONS).index(kv[0][0]), kv[0][1]))]
    sections = {}
    for section, title in SECTIONS.items():
        mine = [i for i in items if i["section"] == section]
        blocked = [n for n in not_checked if n["section"] == section]
        sections[section] = {
            "title": title,
            "status": NOT_CHECKED if blocked else DRIFT if mine else OK,
            "checks": sum(1 for c in check_list if c["section"] == section),
            "items": len(mine),
            "errors": sum(1 for i in mine if i["severity"] == ERROR),
            "warnings": sum(1 for i in mine if i["severity"] == WARNING),
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
            "errors": sum(1 for i in items if i["severity"] == ERROR),
            "warnings": sum(1 for i in items if i["severity"] == WARNING),
            "not_checked": len(not_checked),
        },
        "sections": sections,
        "checks": check_list,
        "items": items,
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


def _check_resources(item):
    if item["resource"].startswith("host/"):
        return [f"host/{h}" for h in item["hosts"]]
    return [item["resource"]]


def _unique(entries):
    seen, out = set(), []
    for entry in entries:
        key = (entry["section"], entry["resource"])
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return sorted(out, key=lambda e: (list(SECTIONS).index(e["section"]), e["resource"]))


def _mesh_summary(result, items, mesh):
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
        if item["kind"] != "ipip_blocked":
            continue
        for line in item["evidence"]:
            match = re.match(r"IPIP probe (\S+) \(.*?\) -> (\S+) \(", line)
            if match:
                pairs.add(tuple(sorted(match.groups())))
    mesh["ipip_blocked_pairs"] = len(pairs)


def exit_code(report):
    return report["exit_code"]


# -- renderers -------------------------------------------------------------------


def to_json(report):
    return json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"


def _item_line(item):
    field = f" {item['field']}" if item.get("field") else ""
    return f"[{item['severity']}] {item['section']} {item['resource']}{field}: {item['kind']}"


def to_junit(report):
    """JUnit XML: one testsuite per section, one testcase per check; drift fails, not checked errors."""
    suites = ElementTree.Element("testsuites", name=f"drift check {report['cluster']}".strip(),
                                 tests=str(report["counts"]["checks"]),
                                 failures=str(sum(1 for c in report["checks"] if c["status"] == DRIFT)),
                                 errors=str(sum(1 for c in report["checks"] if c["status"] == NOT_CHECKED)),
                                 time=str(report["duration_seconds"]), timestamp=str(report["finished_at"] or ""))
    for section, title in SECTIONS.items():
        checks = [c for c in report["checks"] if c["section"] == section]
        suite = ElementTree.SubElement(
            suites, "testsuite", name=section,
            tests=str(len(checks)),
            failures=str(sum(1 for c in checks if c["status"] == DRIFT)),
            errors=str(sum(1 for c in checks if c["status"] == NOT_CHECKED)),
            skipped="0", timestamp=str(report["finished_at"] or ""))
        ElementTree.SubElement(ElementTree.SubElement(suite, "properties"), "property", name="title", value=title)
        for c in checks:
            case = ElementTree.SubElement(suite, "testcase", classname=f"drift_check.{section}",
                                          name=c["resource"], time="0")
            if c["status"] == DRIFT:
                mine = [i for i in report["items"] if i["section"] == section
                        and c["resource"] in _check_resources(i)]
                failure = ElementTree.SubElement(case, "failure", type="drift",
                                                 message="; ".join(_item_line(i) for i in mine))
                failure.text = "\n\n".join(
                    f"{_item_line(i)}\ncause: {i['cause']}\nfix: {i['fix']}"
                    + (f"\nexpected: {i['expected']!r}\nactual: {i['actual']!r}" if i.get("field") else "")
                    for i in mine)
            elif c["status"] == NOT_CHECKED:
                error = ElementTree.SubElement(case, "error", type="not_checked", message=c["reason"] or "")
                error.text = c["reason"] or ""
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _md(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report):
    """A summary for a ticket or a chat message."""
    verdict = {"clean": "no drift", "drift": "drift found", "incomplete": "could not check everything"}
    lines = [
        f"# Drift check {report['cluster']}: {verdict[report['status']]} (exit {report['exit_code']})",
        "",
        f"{report['finished_at']}, inventory {', '.join(report['inventory']) or '-'}, "
        f"{report['duration_seconds']:.0f} s, {report['counts']['items']} item(s) "
        f"({report['counts']['errors']} error(s), {report['counts']['warnings']} warning(s)), "
        f"{report['counts']['not_checked']} not checked.",
        "",
        "| section | status | checks | errors | warnings | not checked |",
        "|---|---|---|---|---|---|",
    ]
    for s in report["sections"].values():
        lines.append(f"| {s['title']} | {s['status']} | {s['checks']} | {s['errors']} | {s['warnings']} "
                     f"| {s['not_checked']} |")
    if report["items"]:
        lines += ["", "## Drift", "", "| severity | section | resource | field | cause | fix |",
                  "|---|---|---|---|---|---|"]
        for i in report["items"]:
            lines.append(f"| {i['severity']} | {i['section']} | {_md(i['resource'])} | {_md(i['field'] or '-')} "
                         f"| {_md(i['cause'])} | `{_md(i['fix'])}` |")
    if report["not_checked"]:
        lines += ["", "## Could not be checked", "", "| section | resource | reason |", "|---|---|---|"]
        for n in report["not_checked"]:
            lines.append(f"| {n['section']} | {_md(n['resource'])} | {_md(n['reason'])} |")
    if _not_compared(report):
        lines += ["", f"Names: {_md(_not_compared(report))}"]
    return "\n".join(lines) + "\n"


def _not_compared(report):
    """The membership sources the names section did not compare, as one sentence ('' when none)."""
    missing = (report.get("mesh") or {}).get("membership_not_compared") or []
    if not missing:
        return ""
    return (f"{' and '.join(missing)} not compared (no such source in the inventory): a machine Calico does "
            "not know is not seen without them.")


def to_text(report):
    """Console lines for the end of the run."""
    lines = [f"{report['status'].upper()}: {report['counts']['items']} drift item(s), "
             f"{report['counts']['not_checked']} part(s) not checked (exit {report['exit_code']})"]
    for name, s in report["sections"].items():
        lines.append(f"  {name:<16} {s['status']:<12} {s['items']} item(s), {s['not_checked']} not checked")
    for i in report["items"]:
        lines.append(_item_line(i))
        lines.append(f"    cause: {i['cause']}")
        lines.append(f"    fix:   {i['fix']}")
    for n in report["not_checked"]:
        lines.append(f"[not checked] {n['section']} {n['resource']}: {n['reason']}")
    if _not_compared(report):
        lines.append(f"[not compared] names: {_not_compared(report)}")
    return lines


def metrics_registry(report):
    """The report as Prometheus metrics (a prometheus_client CollectorRegistry)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    cluster = report["cluster"]
    items = Gauge("calico_fleet_drift_items", "Drift items found by the last drift check",
                  ["cluster", "section", "kind", "severity"], registry=registry)
    counted = {}
    for i in report["items"]:
        key = (i["section"], i["kind"], i["severity"])
        counted[key] = counted.get(key, 0) + 1
    for (section, kind, severity), count in sorted(counted.items()):
        items.labels(cluster, section, kind, severity).set(count)
    checked = Gauge("calico_fleet_drift_section_checked",
                    "1 when every check of the section ran, 0 when a part could not be checked",
                    ["cluster", "section"], registry=registry)
    section_items = Gauge("calico_fleet_drift_section_items", "Drift items per section",
                          ["cluster", "section"], registry=registry)
    for section, s in report["sections"].items():
        checked.labels(cluster, section).set(0 if s["status"] == NOT_CHECKED else 1)
        section_items.labels(cluster, section).set(s["items"])
    sessions = Gauge("calico_fleet_bgp_sessions", "Expected BGP sessions seen by the drift check, by state",
                     ["cluster", "state"], registry=registry)
    for state, count in sorted(report["mesh"]["bgp_sessions"].items()):
        sessions.labels(cluster, state).set(count)
    Gauge("calico_fleet_ipip_blocked_pairs", "Node pairs between which IP protocol 4 was dropped",
          ["cluster"], registry=registry).labels(cluster).set(report["mesh"]["ipip_blocked_pairs"])
    Gauge("calico_fleet_drift_check_last_run_timestamp_seconds", "When the last drift check finished",
          ["cluster"], registry=registry).labels(cluster).set(_epoch(report["finished_at"]))
    Gauge("calico_fleet_drift_check_success", "1 when the last drift check could check everything",
          ["cluster"], registry=registry).labels(cluster).set(0 if report["exit_code"] == EXIT_NOT_CHECKED else 1)
    Gauge("calico_fleet_drift_check_exit_code", "Exit code of the last drift check (0 clean, 2 drift, 1 not checked)",
          ["cluster"], registry=registry).labels(cluster).set(report["exit_code"])
    Gauge("calico_fleet_drift_check_duration_seconds", "Duration of the last drift check",
          ["cluster"], registry=registry).labels(cluster).set(report["duration_seconds"])
    return registry


def to_metrics(report):
    from prometheus_client import generate_latest

    return generate_latest(metrics_registry(report)).decode()


def write_metrics(report, path):
    """Write the textfile-collector file atomically (prometheus_client.write_to_textfile)."""
    from prometheus_client import write_to_textfile

    write_to_textfile(str(path), metrics_registry(report))


def _epoch(stamp):
    from datetime import datetime

    if not stamp:
        return 0
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def write_all(report, directory, basename="drift-report"):
    """Every format into `directory`: {format: path}."""
    import os

    os.makedirs(directory, exist_ok=True)
    paths = {fmt: os.path.join(directory, f"{basename}.{ext}")
             for fmt, ext in (("json", "json"), ("junit", "junit.xml"), ("markdown", "md"), ("metrics", "prom"))}
    for fmt, render in (("json", to_json), ("junit", to_junit), ("markdown", to_markdown)):
        tmp = paths[fmt] + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(render(report))
        os.replace(tmp, paths[fmt])
    write_metrics(report, paths["metrics"])
    return paths
