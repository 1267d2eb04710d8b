# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node-name remediation plan: which host gets which name, which Calico
Node registration is deleted and which is kept, and why.

Detection is the identity checks of module_utils/identity/checks.py (one finding, one place);
names come from the hostname plan (hostnames.py).

Two hosts, one name (FIELD-NOTES section 3): the established host keeps the
name, with its workloads, address allocations and Kubernetes identity; the
newcomer is renamed. Established = the older machine by the cloud's creation
time, else the host whose BGP sessions were Established first, else the host
the operator names with ``keep``; when the evidence does not decide, the plan
changes nothing and says so (``ambiguous``). Which host wrote the Node last
says nothing about age: the newcomer usually did.

Only the file wrong: where the running hostname, the Calico Node registered
with the host's IP and its Kubernetes node agree and only the nodename file
says something else (identity.checks.nodename_to_write_back), the fix writes the name
back into the file (``write_back``): no drain, no rename, nothing deleted, and
calico-node is restarted only where it does not run.

Nothing is deleted. In Calico's semantics deleting a Node decommissions a host
(its workload endpoints, addresses, block affinities, BGPPeers,
``node.<name>`` FelixConfiguration and BGPConfiguration and HostEndpoints go
with it; calico-node must be stopped first), and a rename is a new Node that
inherits none of that. So a rename that needs a live host's registration gone
(another name registered with the host's IP: calico-node refuses a second name
for one IP) is refused with what to do by hand, as is a rename that would part
the Kubernetes node from Calico's ``orchRefs`` (the host's Kubernetes node is
named after it, as kubeadm joins it, or the Kubernetes node name the run
would drain is not the one Calico records). A Node at an IP no live host has
is reported (stale_node), not deleted. A name a host keeps whose Node points
at another host's address (the newcomer wrote it last) is written back by
restarting the keeper's calico-node (``reclaim``), before the newcomer
restarts under its new name.

Host records: {inventory_host: {ip, hostname, nodename, created,
established_since, kubernetes_node_name}} (nodename = raw content of the
nodename file, None when absent; created = the machine's creation time from
the cloud; established_since = when its BGP sessions were first Established;
both ISO 8601 or epoch seconds, optional; kubernetes_node_name = the name the
run drains, optional). Calico nodes: as calico_nodes_info returns them
(``k8s_node_name`` = the Kubernetes node of their ``orchRefs``).
"""

import datetime

from ansible_collections.calico_fleet.fleet.plugins.module_utils.addresses import node_ipv4, normalize_ip
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import findings_to_dicts, sort_findings
from ansible_collections.calico_fleet.fleet.plugins.module_utils.hostnames import (
    HostnamePlanError,
    is_valid_name,
    plan_hostnames,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.identity.checks import (
    effective_nodename,
    identity_findings,
    nodename_to_write_back,
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


def _when(value):
    """A timestamp as seconds since the epoch (ISO 8601 with or without offset, or a number); None if unknown."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def _keeper(finding, hosts, keep):
    """(host that keeps the name, why) for two hosts with one name; (None, why not) when undecided."""
    group = sorted(finding.hosts)
    if keep in group:
        return keep, f"{keep} named by keep"
    for field, what in (("created", "created first (cloud creation time)"),
                        ("established_since", "BGP sessions Established first")):
        times = {inv: _when(hosts[inv].get(field)) for inv in group}
        if all(t is not None for t in times.values()):
            oldest = min(times.values())
            first = [inv for inv, t in times.items() if t == oldest]
            if len(first) == 1:
                return first[0], f"{first[0]} {what}"
    return None, (f"cannot tell which of {', '.join(group)} is the established host (no creation time or BGP "
                  f"history for every one of them): run again with -e keep=<host> (one of {', '.join(group)})")


def _hosts_to_fix(findings, hosts, keep, settled):
    """({inventory_host: [finding kinds]}, {host: keeper}, [ambiguous]) for the hosts to rename or re-register.

    ``settled`` hosts only need their nodename file written back: they are nobody's conflict.
    """
    to_fix, keepers, ambiguous = {}, {}, []
    for finding in findings:
        if set(finding.hosts) <= settled:
            continue
        if finding.kind == "duplicate_nodename":
            finding = type(finding)(**dict(finding.to_dict(), hosts=[i for i in finding.hosts if i not in settled]))
            if len(finding.hosts) < 2:
                continue
            keeper, why = _keeper(finding, hosts, keep)
            if keeper is None:
                ambiguous.append({"name": finding.node, "hosts": sorted(finding.hosts), "reason": why})
                continue
            targets = [i for i in finding.hosts if i != keeper]
            for inv in targets:
                keepers[inv] = {"host": keeper, "name": finding.node, "reason": why}
        elif finding.kind in RENAME_KINDS + REGISTER_KINDS:
            targets = [i for i in finding.hosts if i not in settled]
        else:
            continue
        for inv in targets:
            to_fix.setdefault(inv, []).append(finding.kind)
    blocked = {inv for a in ambiguous for inv in a["hosts"]}
    return {inv: kinds for inv, kinds in to_fix.items() if inv not in blocked}, keepers, ambiguous


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


def _registrations(inv, hosts, nodes, kept_names, keeper, claimed):
    """(keep, reclaim, in_the_way) for one renamed host: the registrations that stay, the one its keeper
    writes back, and those at this host's IP under a name no host keeps (the rename needs them gone)."""
    ip = normalize_ip(hosts[inv]["ip"])
    old_name = effective_nodename(hosts[inv])
    keep, reclaim, in_the_way = [], [], []
    for node in sorted(nodes, key=lambda n: n["name"]):
        node_ip, name = node_ipv4(node), node["name"]
        if name in claimed:
            continue
        if name in kept_names:
            holder = kept_names[name]
            if keeper and name == keeper["name"] and holder == keeper["host"] and \
                    node_ip != normalize_ip(hosts[holder]["ip"]):
                claimed.add(name)
                reclaim.append({"name": name, "ipv4_address": node_ip, "host": holder,
                                "host_ip": normalize_ip(hosts[holder]["ip"]),
                                "reason": f"the name stays with {holder} ({keeper['reason']}); its calico-node "
                                          f"restarts and registers it again with {hosts[holder]['ip']}"})
            elif holder != inv and (node_ip == ip or name == old_name):
                keep.append({"name": name, "ipv4_address": node_ip, "owner": holder,
                             "reason": f"the name of {holder}, a live host: never deleted"})
            continue
        if node_ip == ip:
            in_the_way.append(name)
    return keep, reclaim, in_the_way


def _kubernetes_node(inv, hosts, nodes):
    """The host's Kubernetes node as Calico records it: the orchRefs of the Node registered with its IP
    under its current name (else of the one Node at its IP); None when Calico records none."""
    ip, name = hosts[inv]["ip"], effective_nodename(hosts[inv])
    at_ip = [n for n in nodes if node_ipv4(n) == ip]
    own = [n for n in at_ip if n["name"] == name] or (at_ip if len(at_ip) == 1 else [])
    return own[0].get("k8s_node_name") if own else None


def _refusals(fix, hosts, nodes, in_the_way):
    """Why a rename is not done, each with what to do by hand; [] when it is safe."""
    inv, old, new = fix["host"], fix["old_name"], fix["new_name"]
    host = hosts[inv]
    hostname = (host.get("hostname") or "").strip().lower()
    k8s = _kubernetes_node(inv, hosts, nodes)
    drained = host.get("kubernetes_node_name")
    reasons = []
    for name in in_the_way:
        reasons.append(
            f"Calico Node {name} is registered with {inv}'s IP {fix['ip']} and no host keeps that name: calico-node "
            f"refuses a second name for one IP, and deleting {name} would decommission a live host (Calico deletes "
            f"its workload endpoints and addresses, BGPPeers, node.{name} FelixConfiguration and BGPConfiguration "
            f"and HostEndpoints with it). By hand: copy what the operator made for {name} (node.{name} "
            f"configurations, HostEndpoints, BGPPeers) to {new}; drain {k8s or drained or inv}; stop calico-node "
            f"on {inv}; calicoctl delete node {name}; then run this playbook again")
    if k8s and drained and k8s != drained:
        reasons.append(
            f"Calico's orchRefs say {inv}'s Kubernetes node is {k8s}, but this run would drain {drained}: set "
            "nodename_conflict_kubernetes_node_name_hostvar to the host variable that holds each host's Kubernetes "
            "node name (kubeadm joins under the node name: inventory_hostname; kubeasz names nodes by their IP: "
            "leave it empty)")
    if k8s and k8s.lower() in {old, hostname, hostname.split(".")[0]} - {None, ""} and k8s != new:
        reasons.append(
            f"{inv}'s Kubernetes node {k8s} is named after the host (Calico's orchRefs name it): renaming the host "
            f"and its Calico Node to {new} would part them, and a Kubernetes node cannot be renamed. By hand: "
            f"kubectl drain {k8s} --ignore-daemonsets --delete-emptydir-data; kubectl delete node {k8s}; kubeadm "
            f"reset on {inv}; set its hostname to {new}; join it again under {new} (role calico_fleet.fleet.node_join, "
            f"node_join_name: {new})")
    return reasons


def remediation_plan(hosts, nodes, plan_options=None, keep=None):
    """The whole remediation, decided before anything changes.

    Returns {findings, fixes, unhandled, ambiguous, refused, healthy, report}:
    ``fixes`` has one entry per host to change, sorted by inventory host, each
    {host, ip, old_name, new_name, fqdn, hostname, write_back, rename, drain,
    kinds, keep, reclaim, keeper, summary}; ``write_back`` fixes only write
    the name back into the nodename file (no drain, no rename); ``ambiguous``
    lists the name conflicts whose established host the evidence does not
    decide and ``refused`` the renames that are not safe, each with what to
    do by hand (nothing of either is in ``fixes``: the caller stops before
    any change); ``unhandled`` are findings this remediation does not fix
    (stale Nodes, two names for one IP); ``report`` is the plan as lines for
    a person.
    """
    _check_inputs(hosts, nodes)
    if keep and keep not in hosts:
        raise RemediationPlanError(f"keep={keep} is not one of the hosts ({', '.join(sorted(hosts))})")
    hosts = {inv: dict(h, ip=normalize_ip(h["ip"])) for inv, h in hosts.items()}
    findings, _unused = identity_findings(hosts, nodes)
    write_back = {inv: name for inv in sorted(hosts) if (name := nodename_to_write_back(inv, hosts, nodes))}
    to_fix, keepers, ambiguous = _hosts_to_fix(findings, hosts, keep, set(write_back))
    names, fqdns = _new_names(to_fix, hosts, nodes, plan_options) if to_fix else ({}, {})
    # The name every host carries after the plan: its new name, the one written back, or the one it has.
    kept_names = {}
    for inv, host in sorted(hosts.items()):
        name = names.get(inv) or write_back.get(inv) or effective_nodename(host)
        if name:
            kept_names.setdefault(name, inv)
    fixes, refused, claimed = [], [], set()
    for inv in sorted(set(to_fix) | set(write_back)):
        host = hosts[inv]
        fix = {
            "host": inv, "ip": host["ip"], "old_name": effective_nodename(host),
            "hostname": (host.get("hostname") or None), "kinds": sorted({f.kind for f in findings if inv in f.hosts}),
            "keep": [], "reclaim": [], "keeper": keepers.get(inv),
        }
        if inv in write_back:
            fix.update(new_name=write_back[inv], fqdn=write_back[inv], write_back=True, rename=False, drain=False)
        else:
            kept, reclaim, in_the_way = _registrations(inv, hosts, nodes, kept_names, keepers.get(inv), claimed)
            fix.update(new_name=names[inv], fqdn=fqdns.get(inv) or names[inv], write_back=False,
                       keep=kept, reclaim=reclaim, kinds=sorted(set(to_fix[inv])))
            fix["rename"] = fix["new_name"] != fix["old_name"] or (host.get("nodename") or "") != fix["new_name"]
            fix["drain"] = True
            reasons = _refusals(fix, hosts, nodes, in_the_way) if fix["rename"] else []
            if reasons:
                refused.append({"host": inv, "ip": host["ip"], "old_name": fix["old_name"],
                                "new_name": fix["new_name"], "reasons": reasons})
                continue
        fix["summary"] = _summary(fix)
        fixes.append(fix)
    unhandled = [f for f in findings if f.kind not in RENAME_KINDS + REGISTER_KINDS]
    report = [f"{len(findings)} identity finding(s); {len(fixes)} host(s) to fix, one at a time, stopping at "
              "the first that does not come back healthy; no Calico Node is deleted"]
    report += [fix["summary"] for fix in fixes]
    report += [f"stop: {a['name']} is carried by {', '.join(a['hosts'])}; {a['reason']}" for a in ambiguous]
    report += [f"refused: {r['host']} ({r['ip']}) rename {r['old_name'] or '(no name)'} -> {r['new_name']}: "
               + " ".join(r["reasons"]) for r in refused]
    report += [f"not fixed here: {f.to_line()}" for f in sort_findings(unhandled)]
    return {
        "findings": findings_to_dicts(findings),
        "fixes": fixes,
        "unhandled": findings_to_dicts(unhandled),
        "ambiguous": ambiguous,
        "refused": refused,
        "healthy": not findings,
        "report": report,
    }


def _summary(fix):
    text = f"{fix['host']} ({fix['ip']}): "
    if fix["write_back"]:
        return text + (f"write {fix['new_name']} back into the nodename file [{', '.join(fix['kinds'])}]; its "
                       f"hostname, Calico Node {fix['new_name']} and Kubernetes node agree: no drain, no rename, "
                       "nothing deleted; calico-node is restarted only if it is not running")
    if fix["rename"]:
        text += f"rename {fix['old_name'] or '(no name)'} -> {fix['new_name']}"
    else:
        text += f"keep the name {fix['new_name']}"
    text += f" [{', '.join(fix['kinds'])}]"
    if fix["keeper"]:
        text += f"; {fix['keeper']['host']} keeps {fix['keeper']['name']} ({fix['keeper']['reason']})"
    if fix["keep"]:
        text += "; keep " + ", ".join(f"{k['name']} ({k['ipv4_address']}, {k['reason']})" for k in fix["keep"])
    for item in fix["reclaim"]:
        text += (f"; restart calico-node on {item['host']} so that {item['name']} is registered with "
                 f"{item['host_ip']} again (now {item['ipv4_address']})")
    return text + "; drain; restart calico-node; wait for this host's peers among the live hosts Established"


def registrations_missing(fix, nodes):
    """The registrations one host's fix waits for that the datastore does not show yet.

    Its new name with its IP, and every name its keeper registers again
    (``reclaim``) with the keeper's IP; as ``name@ip`` strings, sorted.
    """
    wanted = {f"{fix['new_name']}@{normalize_ip(fix['ip'])}"}
    wanted |= {f"{item['name']}@{normalize_ip(item['host_ip'])}" for item in fix.get("reclaim") or []}
    present = {f"{node.get('name')}@{node_ipv4(node)}" for node in nodes or []}
    return sorted(wanted - present)


def findings_left_after_fix(findings, host, fix, unhandled, live_ips):
    """The mesh check's errors that still concern one fixed host, after its fix.

    An error counts when it names this host, a host whose name the fix
    registered again (``reclaim``), or has this host's IP as its peer; not
    when it is of a kind the plan does not fix here (``unhandled``), nor when
    its peer is an IP no live host has (a stale Node's address).
    """
    not_here = {item.get("kind") for item in unhandled or []}
    mine = {host} | {item["host"] for item in fix.get("reclaim") or []}
    live = set(live_ips or [])
    left = []
    for finding in findings or []:
        if finding.get("severity") != "error" or finding.get("kind") in not_here:
            continue
        peer = finding.get("peer")
        if peer != fix["ip"] and not mine & set(finding.get("hosts") or []):
            continue
        if peer is None or peer in live:
            left.append(finding)
    return left
