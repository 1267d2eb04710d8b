# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a scale-out: what a run would change, as a JSON document a
team can review and a later run can be held to.

Built from what the roles return in check mode: the naming plan (names, and
which machines would be created), the cloud network modules (firewall rules /
security group and its members, before and after) and the Calico modules
(IP pools, BGPConfiguration, FelixConfiguration: the datastore key and the
fields written). Only what would change is listed, plus every planned name.

A section the run did not plan (skipped by tags, or not this cloud) is
``None``: "not planned", never "nothing to do".

``plan_differences(saved, current)`` says, one line per difference, where
a new plan departs from a saved one; empty means they agree.
``findings_would_fix`` marks the verification findings a planned network
change would fix (an IPIP rule about to be created fixes ``ipip_blocked``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.etcd import etcd_key
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Finding

PLAN_VERSION = 1
IPIP_BLOCKED = "ipip_blocked"
TCP179_BLOCKED = "tcp179_blocked"


class PlanError(ValueError):
    """A saved plan that cannot be compared (not a plan, another version)."""


def _results(registered):
    """The per-item results of a registered task (a loop or not), without the skipped ones."""
    if not isinstance(registered, dict) or registered.get("skipped"):
        return []
    items = registered.get("results") if "results" in registered else [registered]
    return [r for r in items if isinstance(r, dict) and not r.get("skipped")]


def _ran(registered):
    """True when the task ran (for at least one item): its section was planned."""
    return bool(_results(registered)) or (isinstance(registered, dict) and registered.get("results") == [])


# --- names and machines ---------------------------------------------------

def plan_names(naming_plan):
    if naming_plan is None:
        return None, None
    names = [{"name": e["name"], "hostname": e["hostname"], "reused": bool(e.get("reused"))} for e in naming_plan]
    create = [{"name": e["name"], "hostname": e["hostname"]} for e in names if not e["reused"]]
    return names, create


# --- cloud network --------------------------------------------------------

def _rule_protocols(rule):
    """{'ipip', 'tcp179'} as far as a GCP normal-form rule allows them."""
    out = set()
    for allowed in (rule or {}).get("allowed") or []:
        proto = str(allowed.get("protocol", "")).lower()
        ports = [str(p) for p in allowed.get("ports") or []]
        if proto in ("ipip", "4", "all"):
            out.add(IPIP_BLOCKED)
        if proto in ("tcp", "all") and (not ports or "179" in ports or any(_in_range("179", p) for p in ports)):
            out.add(TCP179_BLOCKED)
    return out


def _in_range(port, spec):
    if "-" not in spec:
        return False
    low, high = spec.split("-", 1)
    return low.isdigit() and high.isdigit() and int(low) <= int(port) <= int(high)


def _sg_protocols(group):
    out = set()
    for perm in (group or {}).get("ip_permissions") or []:
        proto = str(perm.get("ip_protocol", ""))
        if proto in ("4", "-1"):
            out.add(IPIP_BLOCKED)
        if proto in ("tcp", "-1"):
            low, high = perm.get("from_port"), perm.get("to_port")
            if low is None or (int(low) <= 179 <= int(high if high is not None else low)):
                out.add(TCP179_BLOCKED)
    return out


def plan_gcp_rules(registered_rules):
    """Firewall rule changes from gcp_firewall_rule results (run with diff)."""
    out, fixes = [], []
    for result in registered_rules:
        for r in _results(result):
            if not r.get("changed"):
                continue
            diff = r.get("diff") or {}
            before, after = diff.get("before") or {}, diff.get("after") or {}
            name = (r.get("rule") or after or before).get("name")
            action = r.get("action") or "change"
            out.append({"resource": "gcp_firewall_rule", "name": name, "action": action,
                        "before": before, "after": after})
            kinds = _rule_protocols(after)
            if action != "delete" and kinds:
                fixes.append({"kinds": sorted(kinds), "by": f"{action} firewall rule {name}"})
    return out, fixes


def plan_aws_group(group_result, members_result):
    """Security group and membership changes from ec2_security_group / aws_security_group_members."""
    out, fixes = [], []
    for r in _results(group_result):
        if not r.get("changed"):
            continue
        diff = r.get("diff") or {}
        if isinstance(diff, list):
            diff = diff[0] if diff else {}
        before, after = diff.get("before") or {}, diff.get("after") or {}
        name = after.get("group_name") or before.get("group_name") or r.get("group_name")
        action = "create" if not before else "delete" if not after else "update"
        out.append({"resource": "ec2_security_group", "name": name, "action": action,
                    "before": before, "after": after})
        kinds = _sg_protocols(after)
        if action != "delete" and kinds:
            fixes.append({"kinds": sorted(kinds), "by": f"{action} security group {name}"})
    for r in _results(members_result):
        added = sorted(r.get("added_to") or [])
        if not r.get("changed") or not added:
            continue
        group = (r.get("invocation") or {}).get("module_args", {}).get("group") or r.get("group")
        out.append({"resource": "ec2_security_group_members", "name": group, "action": "add", "instances": added})
        fixes.append({"kinds": [IPIP_BLOCKED, TCP179_BLOCKED],
                      "by": f"add security group {group} to {len(added)} existing instance(s)"})
    return out, fixes


# --- Calico ---------------------------------------------------------------

def _key(kind, name, datastore):
    key = etcd_key(kind, name)
    if datastore == "kubernetes":
        plural = key.rsplit("/", 2)[-2]
        return f"{plural}.crd.projectcalico.org/{name}"
    return key


def _changes(findings):
    return [{"field": f.get("field"), "from": f.get("actual"), "to": f.get("expected")}
            for f in findings or [] if f.get("field") is not None]


def plan_calico(ippools, bgp_configuration, felix_configuration, datastore="etcdv3"):
    out = []
    for r in _results(ippools):
        if not r.get("changed"):
            continue
        findings = r.get("findings") or []
        name = (r.get("item") or {}).get("name") or str(findings[0]["resource"]).split("/", 1)[-1]
        whole = [f for f in findings if f.get("field") is None]
        action = ("create" if whole and whole[0].get("actual") is None else "delete") if whole else "update"
        entry = {"kind": "IPPool", "name": name, "key": _key("IPPool", name, datastore), "action": action}
        if action == "create":
            entry["resource"] = whole[0].get("expected")
        else:
            entry["changes"] = _changes(findings)
        out.append(entry)
    for kind, registered in (("BGPConfiguration", bgp_configuration), ("FelixConfiguration", felix_configuration)):
        for r in _results(registered):
            if r.get("changed"):
                out.append({"kind": kind, "name": "default", "key": _key(kind, "default", datastore),
                            "action": "update", "changes": _changes(r.get("findings"))})
    return out


# --- the plan -------------------------------------------------------------

def build_plan(cloud, batch, naming_plan=None, gcp_rules=None, aws_group=None, aws_members=None,
               ippools=None, bgp_configuration=None, felix_configuration=None, datastore="etcdv3"):
    """The plan document (see the module docstring). Registered results are passed as Ansible gives them."""
    names, create = plan_names(naming_plan)
    network, fixes = None, []
    if cloud == "gcp" and any(_ran(r) for r in gcp_rules or []):
        network, fixes = plan_gcp_rules(gcp_rules or [])
    elif cloud == "aws" and _ran(aws_group):
        network, fixes = plan_aws_group(aws_group, aws_members)
    calico = None
    if any(_ran(r) for r in (ippools, bgp_configuration, felix_configuration)):
        calico = plan_calico(ippools, bgp_configuration, felix_configuration, datastore)
    return {
        "version": PLAN_VERSION,
        "cloud": cloud,
        "batch": batch,
        "names": names,
        "instances_to_create": create,
        "network": network,
        "calico": calico,
        "fixes": fixes,
    }


def normalise(plan):
    """The plan as it compares: JSON round trip (tuples, unsafe strings), sorted keys."""
    return json.loads(json.dumps(plan, sort_keys=True, default=str))


def _label(item):
    if isinstance(item, dict):
        what = item.get("resource") or item.get("kind")
        if "name" in item:
            return f"{what} {item['name']}" if what else str(item["name"])
    return None


def _walk_entries(saved, current, order, name, out, show_values):
    """Entries of two plans by key: one only in the saved plan, one only in this run's, or both compared."""
    for key in order:
        sub = name(key)
        if key not in current:
            value = f" ({_short(saved[key])})" if show_values else ""
            out.append(f"{sub}: in the saved plan{value}, not in this run's")
        elif key not in saved:
            value = f" ({_short(current[key])})" if show_values else ""
            out.append(f"{sub}: in this run's plan{value}, not in the saved one")
        else:
            _walk(sub, saved[key], current[key], out)


def _walk(path, saved, current, out):
    if isinstance(saved, dict) and isinstance(current, dict):
        _walk_entries(saved, current, sorted(set(saved) | set(current)),
                      lambda key: f"{path}.{key}" if path else key, out, show_values=True)
        return
    if isinstance(saved, list) and isinstance(current, list):
        labels_s, labels_c = [_label(i) for i in saved], [_label(i) for i in current]
        if None not in labels_s and None not in labels_c and len(set(labels_s)) == len(labels_s) \
                and len(set(labels_c)) == len(labels_c):
            by_s, by_c = dict(zip(labels_s, saved, strict=True)), dict(zip(labels_c, current, strict=True))
            _walk_entries(by_s, by_c, labels_s + [x for x in labels_c if x not in by_s],
                          lambda label: f"{path}[{label}]", out, show_values=False)
            return
        if saved != current:
            out.append(f"{path}: saved {_short(saved)}, now {_short(current)}")
        return
    if saved != current:
        out.append(f"{path}: saved {_short(saved)}, now {_short(current)}")


def _short(value, limit=160):
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_saved(saved):
    if not isinstance(saved, dict) or "version" not in saved or "names" not in saved:
        raise PlanError("the saved plan is not a scale-out plan (a JSON object with version, names, network, "
                        "calico): save one with a check run and -e scale_out_plan_file=<file>")
    if saved["version"] != PLAN_VERSION:
        raise PlanError(f"the saved plan has version {saved['version']!r}, this collection writes "
                        f"{PLAN_VERSION}: make a new one with a check run")


def plan_differences(saved, current):
    """One line per difference between a saved plan and this run's; empty when they agree."""
    check_saved(saved)
    out = []
    _walk("", normalise(saved), normalise(current), out)
    return out


def plan_summary(plan):
    """Lines a reviewer reads: what the run would create and change, and what it would fix."""
    lines = []
    if plan.get("names") is None:
        lines.append("names: not planned (skipped by tags)")
    else:
        reused = [n["name"] for n in plan["names"] if n["reused"]]
        create = [n["name"] for n in plan.get("instances_to_create") or []]
        lines.append(f"instances to create: {', '.join(create) or 'none'}"
                     + (f" (already created in this batch: {', '.join(reused)})" if reused else ""))
    for section, what in (("network", "cloud network"), ("calico", "Calico datastore")):
        entries = plan.get(section)
        if entries is None:
            lines.append(f"{what}: not planned (skipped by tags)")
        elif not entries:
            lines.append(f"{what}: no change")
        for e in entries or []:
            target = e.get("key") or ""
            detail = ", ".join(f"{c['field']} {c['from']!r} -> {c['to']!r}" for c in e.get("changes") or [])
            if e.get("instances"):
                detail = ", ".join(e["instances"])
            lines.append(f"{what}: {e['action']} {e.get('resource') if section == 'network' else e['kind']} "
                         f"{e['name']}{' (' + target + ')' if target else ''}{': ' + detail if detail else ''}")
    for fix in plan.get("fixes") or []:
        lines.append(f"would fix {', '.join(fix['kinds'])}: {fix['by']}")
    return lines


def findings_would_fix(findings: Iterable[dict] | None, fixes: Iterable[dict] | None) -> list[dict]:
    """Each finding with ``would_fix``: the planned change that fixes it, or None."""
    out = []
    for finding in findings or []:
        finding = dict(finding)
        by = [f["by"] for f in fixes or [] if finding.get("kind") in (f.get("kinds") or [])]
        finding["would_fix"] = "; ".join(by) or None
        out.append(finding)
    return out


def would_fix_report(findings: Iterable[dict] | None, inventory: Sequence[str] = ()) -> list[str]:
    """Lines for check mode: how many findings the run would fix, then each finding and its fate."""
    findings = list(findings or [])
    fixed = [f for f in findings if f.get("would_fix")]
    lines = [f"Check mode: the run would fix {len(fixed)} of {len(findings)} finding(s); "
             f"{len(findings) - len(fixed)} would remain."]
    for f in findings:
        finding = Finding.from_dict(f)
        if f.get("would_fix"):
            lines.append(f"{finding.kind} on {finding.where()}: the run would fix it ({f['would_fix']})")
        else:
            lines.append(f"{finding.kind} on {finding.where()}: would remain; fix: {finding.fix.to_text(inventory)}")
    return lines
