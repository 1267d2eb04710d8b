"""The node-name remediation plan: which host gets which name, which Calico
Node registration is deleted and which is kept, and why.

Detection is the identity checks of findings.py (one finding, one place);
names come from the hostname plan (hostnames.py). The rule that makes the
fix safe: a registration is deleted only when its IPv4 address is the
address of the host being renamed, or of no live host at all. The
registration a live host holds (the winner of "last writer wins") is never
deleted: the host that lost the name is renamed instead.

Host records: {inventory_host: {ip, hostname, nodename}} (nodename = raw
content of the nodename file, None when absent). Calico nodes: as
calico_nodes_info returns them.
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.findings import (
    effective_nodename,
    findings_to_dicts,
    identity_findings,
    node_ipv4,
    normalize_ip,
    sort_findings,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.hostnames import (
    HostnamePlanError,
    is_valid_name,
    plan_hostnames,
)

# Findings the remediation fixes by renaming a host and restarting calico-node.
RENAME_KINDS = ("duplicate_nodename", "nodename_invalid", "nodename_mismatch")
# A host no registration points at: restart calico-node under a valid, unique name.
REGISTER_KINDS = ("unregistered_host",)
PLAN_OPTIONS = ("scheme", "prefix", "template", "separator", "variables", "domain", "cloud")


class RemediationPlanError(ValueError):
    """The plan cannot be made safely; the message says what to change."""


def _check_inputs(hosts, nodes):
    if not isinstance(hosts, dict) or not hosts:
        raise RemediationPlanError("hosts must be a mapping {inventory_host: {ip, hostname, nodename}}")
    for inv, host in hosts.items():
        if not isinstance(host, dict) or normalize_ip(host.get("ip")) is None:
            raise RemediationPlanError(
                f"host {inv} has no valid IPv4 address ({host.get('ip') if isinstance(host, dict) else host!r}); "
                "set the host variable named by nodename_conflict_ip_hostvar to its private IP")
    if not isinstance(nodes, list) or any(not isinstance(n, dict) or "name" not in n for n in nodes):
        raise RemediationPlanError("nodes must be the `nodes` list that calico_nodes_info returns")


def _owner(ip, hosts):
    for inv, host in sorted(hosts.items()):
        if normalize_ip(host.get("ip")) == ip:
            return inv
    return None


def _hosts_to_fix(findings, hosts, registered_ip):
    """{inventory_host: [finding kinds]} for the hosts the remediation renames or re-registers."""
    to_fix = {}
    for finding in findings:
        if finding.kind == "duplicate_nodename":
            holder = [i for i in finding.hosts if normalize_ip(hosts[i]["ip"]) == registered_ip.get(finding.node)]
            targets = [i for i in finding.hosts if i not in holder] or finding.hosts
        elif finding.kind in RENAME_KINDS + REGISTER_KINDS:
            targets = finding.hosts
        else:
            continue
        for inv in targets:
            to_fix.setdefault(inv, []).append(finding.kind)
    return to_fix


def _keeps_its_name(inv, kinds, hosts, nodes):
    """A host that is only unregistered keeps a valid name nobody else uses."""
    if set(kinds) - set(REGISTER_KINDS):
        return None
    name = effective_nodename(hosts[inv])
    ip = normalize_ip(hosts[inv]["ip"])
    if not name or not is_valid_name(name) or name != (hosts[inv].get("hostname") or "").strip().lower():
        return None
    if any(n["name"].lower() == name and node_ipv4(n) != ip for n in nodes):
        return None
    if any(o != inv and effective_nodename(h) == name for o, h in hosts.items()):
        return None
    return name


def _new_names(to_fix, hosts, nodes, plan_options):
    fix_ips = {normalize_ip(hosts[i]["ip"]) for i in to_fix}
    names = {}
    for inv, kinds in to_fix.items():
        kept = _keeps_its_name(inv, kinds, hosts, nodes)
        if kept:
            names[inv] = kept
    renamed = sorted(i for i in to_fix if i not in names)
    if not renamed:
        return names, {}
    existing = {
        # Registrations at a renamed host's IP are its own and go away with the rename.
        "calico_node": [{"name": n["name"], "ip": node_ipv4(n)} for n in nodes if node_ipv4(n) not in fix_ips],
        "inventory": sorted({
            name for inv, host in hosts.items() if inv not in renamed
            for name in (effective_nodename(host), (host.get("hostname") or "").strip().lower()) if name
        } | set(names.values())),
    }
    options = {k: v for k, v in (plan_options or {}).items() if k in PLAN_OPTIONS and v is not None}
    try:
        plan = plan_hostnames([{"ip": hosts[i]["ip"]} for i in renamed], existing=existing, **options)
    except HostnamePlanError as exc:
        raise RemediationPlanError(f"hostname plan: {exc}") from None
    by_ip = {normalize_ip(entry["ip"]): entry for entry in plan}
    for inv in renamed:
        entry = by_ip[normalize_ip(hosts[inv]["ip"])]
        names[inv] = entry["name"]
    return names, {inv: by_ip[normalize_ip(hosts[inv]["ip"])]["hostname"] for inv in renamed}


def _registrations(inv, new_name, kinds, hosts, nodes, stale_claimed):
    """(delete, keep) for one host: what its rename removes, and what it must leave alone."""
    ip = normalize_ip(hosts[inv]["ip"])
    old_name = effective_nodename(hosts[inv])
    delete, keep = [], []
    for node in sorted(nodes, key=lambda n: n["name"]):
        node_ip = node_ipv4(node)
        if node_ip == ip and node["name"] != new_name:
            delete.append({"name": node["name"], "ipv4_address": node_ip,
                           "reason": f"registered with this host's IP {ip}; calico-node refuses a second name "
                                     "for one IP"})
        elif node["name"] == old_name and node_ip != ip:
            owner = _owner(node_ip, hosts)
            if owner is None and "duplicate_nodename" in kinds and node["name"] not in stale_claimed:
                stale_claimed.add(node["name"])
                delete.append({"name": node["name"], "ipv4_address": node_ip,
                               "reason": f"the conflicting name is registered with {node_ip}, an IP no live "
                                         "host has"})
            elif owner is not None:
                keep.append({"name": node["name"], "ipv4_address": node_ip, "owner": owner,
                             "reason": f"held by {owner}, a live host: never deleted"})
    return delete, keep


def remediation_plan(hosts, nodes, plan_options=None):
    """The whole remediation, decided before anything changes.

    Returns {findings, fixes, unhandled, healthy, report}: ``fixes`` has one
    entry per host to change, sorted by inventory host, each {host, ip,
    old_name, new_name, fqdn, hostname, rename, kinds, delete, keep, summary};
    ``unhandled`` are findings this remediation does not fix (stale Nodes,
    two names for one IP); ``report`` is the plan as lines for a person.
    """
    _check_inputs(hosts, nodes)
    hosts = {inv: dict(h, ip=normalize_ip(h["ip"])) for inv, h in hosts.items()}
    findings, _ = identity_findings(hosts, nodes)
    registered_ip = {n["name"]: node_ipv4(n) for n in nodes}
    to_fix = _hosts_to_fix(findings, hosts, registered_ip)
    names, fqdns = _new_names(to_fix, hosts, nodes, plan_options) if to_fix else ({}, {})
    fixes, stale_claimed = [], set()
    for inv in sorted(to_fix):
        host = hosts[inv]
        delete, keep = _registrations(inv, names[inv], to_fix[inv], hosts, nodes, stale_claimed)
        live_elsewhere = [d for d in delete if _owner(d["ipv4_address"], hosts) not in (None, inv)]
        if live_elsewhere:  # cannot happen by construction; the guard of last resort
            raise RemediationPlanError(f"refusing a plan that deletes {live_elsewhere}, held by a live host")
        fix = {
            "host": inv, "ip": host["ip"], "old_name": effective_nodename(host),
            "hostname": (host.get("hostname") or None), "new_name": names[inv],
            "fqdn": fqdns.get(inv) or names[inv], "kinds": sorted(set(to_fix[inv])),
            "delete": delete, "keep": keep,
        }
        fix["rename"] = fix["new_name"] != fix["old_name"] or (host.get("nodename") or "") != fix["new_name"]
        fix["summary"] = _summary(fix)
        fixes.append(fix)
    unhandled = [f for f in findings if f.kind not in RENAME_KINDS + REGISTER_KINDS]
    report = [f"{len(findings)} identity finding(s); {len(fixes)} host(s) to fix, one at a time, stopping at "
              "the first that does not come back healthy"]
    report += [fix["summary"] for fix in fixes]
    report += [f"not fixed here: {f.summary()}" for f in sort_findings(unhandled)]
    return {
        "findings": findings_to_dicts(findings),
        "fixes": fixes,
        "unhandled": findings_to_dicts(unhandled),
        "healthy": not findings,
        "report": report,
    }


def _summary(fix):
    text = f"{fix['host']} ({fix['ip']}): "
    if fix["rename"]:
        text += f"rename {fix['old_name'] or '(no name)'} -> {fix['new_name']}"
    else:
        text += f"keep the name {fix['new_name']}"
    text += f" [{', '.join(fix['kinds'])}]"
    text += "; delete Calico Node " + (", ".join(f"{d['name']} ({d['ipv4_address']})" for d in fix["delete"])
                                       if fix["delete"] else "none")
    if fix["keep"]:
        text += "; keep " + ", ".join(f"{k['name']} ({k['ipv4_address']}, {k['reason']})" for k in fix["keep"])
    return text + "; restart calico-node; wait for every expected peer Established"
