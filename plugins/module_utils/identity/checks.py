# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The identity checks: live hosts related to the registered Calico nodes.

Each check returns ``Finding``s (module_utils/finding.py) whose fix is data:
the remediation playbook limited to the host, or the commands to run, built
with the real names (host, node, Calico namespace) when the finding is made.

Host records: {inventory_host: {ip, hostname, nodename, joined}}, where
nodename is the raw content of /var/lib/calico/nodename (None when unknown)
and joined says whether the host has a kubelet kubeconfig (None when
unknown). Calico nodes: [{name, ipv4_address, ...}] as calico_nodes_info
returns them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.addresses import node_ipv4, normalize_ip
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import ERROR, WARNING, Finding, Fix

NODENAME_FILE = "/var/lib/calico/nodename"
# The kubelet's kubeconfig a join writes (kubeadm and kubespray; kubeasz).
KUBELET_KUBECONFIGS = ("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/kubelet.kubeconfig")
CALICO_NAMESPACE = "kube-system"
REMEDIATION = "fix_nodename_conflict"

Hosts = dict[str, dict[str, Any]]
Nodes = Sequence[dict[str, Any]]


def calico_pod(namespace: str, node: str) -> str:
    """The kubectl arguments that select the calico-node pod of one Kubernetes node."""
    return f"-n {namespace} get pod -l k8s-app=calico-node --field-selector spec.nodeName={node} -o name"


def calico_node_log_command(namespace: str, node: str) -> str:
    """The command that prints the last lines of calico-node's log on one node."""
    return f"kubectl -n {namespace} logs --tail 50 $(kubectl {calico_pod(namespace, node)})"


def calico_node_restart_command(namespace: str, node: str) -> str:
    """The command that restarts calico-node on one node (its DaemonSet starts a new pod)."""
    return f"kubectl -n {namespace} delete pod -l k8s-app=calico-node --field-selector spec.nodeName={node}"


def remediation_fix(text: str, hosts: Iterable[str], commands: Iterable[str] = ()) -> Fix:
    """The node-name remediation for these hosts, after the commands, with a sentence."""
    return Fix(text=text, playbook=REMEDIATION, limit=sorted(hosts), commands=list(commands))


def host_finding(kind: str, severity: str, inv: str, node: str | None, evidence: str, cause: str, fix: Fix,
                 peer: str | None = None) -> Finding:
    """A finding about one inventory host, with one piece of evidence."""
    return Finding(kind, severity, hosts=[inv], node=node, peer=peer, evidence=[evidence], cause=cause, fix=fix)


def effective_nodename(host: dict) -> str | None:
    """The node name calico-node would register, normalised for comparison.

    The nodename file wins over the hostname (REFERENCE.md); names are
    compared trimmed and lower-cased because Kubernetes and Calico lower-case
    them, so `AWS-na-k8s-temp1` and `aws-na-k8s-temp1` collide.
    """
    raw = host.get("nodename")
    if raw is not None and raw.strip():
        return raw.strip().lower()
    return (host.get("hostname") or "").strip().lower() or None


def nodename_to_write_back(inv: str, hosts: Hosts, nodes: Nodes) -> str | None:
    """The name to write back into a host's nodename file when only the file is wrong, else None.

    Only the file is wrong when the running hostname names a Calico Node
    registered with the host's IP, that Node's Kubernetes node (its orchRefs
    entry for k8s, when it has one) is the host's own (named like the Node,
    by the host's IP as kubeasz does, or as the host's ``kubernetes_node_name``
    says), no other host has that hostname, and the file says something else.
    calico-node then already runs under that name; the file is read at its
    next start, so writing the name back is the whole fix.
    """
    host = hosts[inv]
    raw = host.get("nodename")
    hostname = (host.get("hostname") or "").strip().lower()
    if raw is None or not hostname:
        return None
    short = hostname.split(".")[0]
    ip = normalize_ip(host.get("ip"))
    mine = [n for n in nodes if node_ipv4(n) == ip and n.get("name") in (hostname, short)]
    if len(mine) != 1 or raw == mine[0]["name"]:
        return None
    name, k8s = mine[0]["name"], mine[0].get("k8s_node_name")
    if k8s and k8s not in (name, ip, host.get("kubernetes_node_name")):
        return None
    for other, record in hosts.items():
        if other != inv and (record.get("hostname") or "").strip().lower().split(".")[0] == short:
            return None
    return name


def _write_back_text(inv: str, name: str) -> str:
    return (f"printf '%s' {name} > {NODENAME_FILE} on {inv}: its hostname, Calico Node {name} and Kubernetes "
            "node agree, so only the file is wrong (no drain, no rename, nothing deleted); or run the "
            "remediation, which writes just that file")


def _name_fix(inv: str, hosts: Hosts, nodes: Nodes, text: str) -> Fix:
    """The remediation of one host: the write-back when only its nodename file is wrong, else `text`."""
    name = nodename_to_write_back(inv, hosts, nodes)
    return remediation_fix(_write_back_text(inv, name) if name else text, [inv])


def check_duplicate_nodenames(hosts: Hosts, nodes: Nodes) -> tuple[list[Finding], set[str]]:
    """Two hosts, one Calico node name (field notes, incident 3).

    The registration's IP tells which host holds the name now; the other
    host is the one to rename. Returns (findings, involved inventory hosts).
    """
    by_name: dict[str, list[str]] = {}
    for inv, host in hosts.items():
        name = effective_nodename(host)
        if name:
            by_name.setdefault(name, []).append(inv)
    registered_ip = {n["name"]: node_ipv4(n) for n in nodes}
    findings, involved = [], set()
    for name, invs in sorted(by_name.items()):
        if len(invs) < 2:
            continue
        invs = sorted(invs)
        involved.update(invs)
        holder = [i for i in invs if normalize_ip(hosts[i].get("ip")) == registered_ip.get(name)]
        to_fix = [i for i in invs if i not in holder] or invs
        evidence = [
            f"{i} ({hosts[i].get('ip')}, hostname {hosts[i].get('hostname')!r}) uses node name {name!r}"
            for i in invs
        ]
        if name in registered_ip:
            evidence.append(f"Calico Node {name!r} is registered with IPv4 {registered_ip[name]}")
        findings.append(
            Finding(
                kind="duplicate_nodename",
                severity=ERROR,
                hosts=invs,
                node=name,
                evidence=evidence,
                cause=(
                    f"{len(invs)} hosts register as the same Calico node; the last writer wins, the "
                    "Node's IP flips and only one of them gets BGP peers."
                ),
                fix=remediation_fix(
                    "; ".join([_write_back_text(i, back) for i in to_fix
                               if (back := nodename_to_write_back(i, hosts, nodes))]
                              or [f"give {', '.join(to_fix)} a name of its own (the remediation drains, renames "
                                  "and restarts calico-node; the host holding the name keeps it)"]),
                    to_fix),
            )
        )
    return findings, involved


def check_nodename_files(hosts: Hosts, nodes: Nodes = ()) -> list[Finding]:
    """Nodename file with a trailing newline / whitespace or upper case."""
    findings = []
    for inv, host in sorted(hosts.items()):
        raw = host.get("nodename")
        if raw is None:
            continue
        problems = []
        if raw != raw.strip():
            problems.append("leading/trailing whitespace or newline")
        if raw != raw.lower():
            problems.append("upper case")
        if not raw.strip():
            problems.append("empty file")
        if not problems:
            continue
        good = raw.strip().lower() or (host.get("hostname") or "").strip().lower()
        findings.append(host_finding(
            "nodename_invalid", ERROR, inv, raw.strip() or None,
            f"{NODENAME_FILE} on {inv} contains {raw!r} ({', '.join(problems)})",
            "calico-node reads the file as is, so the node name it registers is invalid.",
            _name_fix(inv, hosts, nodes, f"printf '%s' {good} > {NODENAME_FILE} on {inv} and restart calico-node, "
                      "or run the remediation")))
    return findings


def check_nodename_vs_hostname(hosts: Hosts, nodes: Nodes = ()) -> list[Finding]:
    """Nodename file that names another host than the hostname (warning)."""
    findings = []
    for inv, host in sorted(hosts.items()):
        raw, hostname = host.get("nodename"), (host.get("hostname") or "").strip().lower()
        if raw is None or not raw.strip() or not hostname:
            continue
        name = raw.strip().lower()
        if name in (hostname, hostname.split(".")[0]):
            continue
        findings.append(host_finding(
            "nodename_mismatch", WARNING, inv, name,
            f"{NODENAME_FILE} on {inv} says {name!r}, the hostname is {hostname!r}",
            "the host was renamed without updating Calico's node name (or the reverse), or something wrote "
            "another name into the file.",
            _name_fix(inv, hosts, nodes, f"give {inv} one name (the remediation renames the host or writes its name "
                      "back)")))
    return findings


def check_duplicate_ips(hosts: Hosts, nodes: Nodes) -> list[Finding]:
    """Two registered Calico node names with one IPv4 address."""
    by_ip: dict[str, list[str]] = {}
    for node in nodes:
        ip = node_ipv4(node)
        if ip:
            by_ip.setdefault(ip, []).append(node["name"])
    host_at = {normalize_ip(h.get("ip")): inv for inv, h in hosts.items()}
    findings = []
    for ip, names in sorted(by_ip.items()):
        if len(names) < 2:
            continue
        names = sorted(names)
        inv = host_at.get(ip)
        own = effective_nodename(hosts[inv]) if inv else None
        stale = [n for n in names if n != own] if own in names else names
        findings.append(
            Finding(
                kind="duplicate_ip",
                severity=ERROR,
                hosts=[inv] if inv else [],
                node=", ".join(names),
                peer=ip,
                evidence=[f"Calico Nodes {', '.join(names)} are all registered with IPv4 {ip}"]
                + ([f"host {inv} at {ip} uses node name {own!r}"] if inv else []),
                cause=(
                    "an old registration was left behind when the machine was renamed or its IP reused; "
                    "calico-node refuses to start with an IP another node uses."
                ),
                fix=Fix(text="delete the registration left behind",
                        commands=[f"calicoctl delete node {n}" for n in stale]),
            )
        )
    return findings


def check_stale_nodes(hosts: Hosts, nodes: Nodes) -> list[Finding]:
    """Registered Nodes whose IPv4 address belongs to no live host."""
    live = {normalize_ip(h.get("ip")) for h in hosts.values()}
    findings = []
    for node in sorted(nodes, key=lambda n: n["name"]):
        ip = node_ipv4(node)
        if not ip or ip in live:
            continue
        findings.append(
            Finding(
                kind="stale_node",
                severity=ERROR,
                node=node["name"],
                peer=ip,
                evidence=[f"Calico Node {node['name']!r} is registered with IPv4 {ip}; no inventory host has it"],
                cause="the machine was removed but its Calico Node registration was not, so every node "
                "keeps trying to peer with it.",
                fix=Fix(text="delete the registration of the removed machine",
                        commands=[f"calicoctl delete node {node['name']}"]),
            )
        )
    return findings


def check_unregistered_hosts(hosts: Hosts, nodes: Nodes, skip: Iterable[str] = (),
                             namespace: str = CALICO_NAMESPACE) -> list[Finding]:
    """Live hosts whose IP no Calico Node carries."""
    registered = {node_ipv4(n) for n in nodes}
    findings = []
    for inv, host in sorted(hosts.items()):
        ip = normalize_ip(host.get("ip"))
        if inv in skip or ip in registered:
            continue
        name = effective_nodename(host)
        findings.append(host_finding(
            "unregistered_host", ERROR, inv, name,
            f"no Calico Node is registered with IPv4 {ip} (host {inv}, node name {name!r})",
            "calico-node on this host has not registered (not started, not joined, or its name is used by another "
            "host).",
            remediation_fix(f"read calico-node's log on {inv}, then give it a valid, unique node name", [inv],
                            [calico_node_log_command(namespace, name or inv)]),
            peer=ip))
    return findings


def bird_answered(host: dict) -> bool:
    """Whether the host's BGP status was read (BIRD answered)."""
    status = host.get("status") or {}
    return bool(status) and not any(status.get(k) for k in ("failed", "unreachable", "skipped"))


def check_not_joined(hosts: Hosts) -> list[Finding]:
    """Hosts not joined to Kubernetes (no kubelet kubeconfig) where BIRD does not answer.

    The calico-node DaemonSet only lands on a node the kubelet has registered,
    so such a host is a membership problem, not a BGP fault."""
    findings = []
    for inv, host in sorted(hosts.items()):
        status = host.get("status") or {}
        if host.get("joined") is not False or bird_answered(host) or status.get("unreachable"):
            continue
        name = effective_nodename(host) or inv
        findings.append(host_finding(
            "node_not_joined", ERROR, inv, name,
            f"{inv} ({host.get('ip')}) is not joined to Kubernetes: no kubelet kubeconfig "
            f"({' or '.join(KUBELET_KUBECONFIGS)}), so calico-node is not running there",
            "the machine was never joined to Kubernetes (the join was skipped, node_join_method is none and nobody "
            "joined it, or the join failed), so the calico-node DaemonSet never landed on it; not a BGP fault.",
            Fix(text=f"join {inv} with node name {name}: re-run the scale-out with node_join_method set (the same "
                "scale_out_batch reuses its machines and joins only what is not joined), or on "
                f"{inv}: kubeadm join <endpoint> --token <token> --discovery-token-ca-cert-hash <hash> "
                f"--node-name {name}", playbook="scale_out")))
    return findings


def identity_findings(hosts: Hosts, nodes: Nodes, namespace: str = CALICO_NAMESPACE
                      ) -> tuple[list[Finding], dict[str, Finding]]:
    """All identity checks.

    Returns (findings, explained): explained maps an inventory host to the
    identity finding that explains its BGP trouble (BIRD down, no peers,
    peers failing towards it), so the mesh evaluation adds that evidence to
    this finding instead of reporting the same problem again, peer by peer.
    """
    findings: list[Finding] = []
    explained: dict[str, Finding] = {}

    def explain(found: Iterable[Finding]) -> None:
        for finding in found:
            findings.append(finding)
            for inv in finding.hosts:
                explained.setdefault(inv, finding)

    duplicates, involved = check_duplicate_nodenames(hosts, nodes)
    explain(duplicates)
    explain(check_nodename_files(hosts, nodes))
    findings.extend(f for f in check_nodename_vs_hostname(hosts, nodes) if not set(f.hosts) & set(explained))
    explain(check_duplicate_ips(hosts, nodes))
    findings.extend(check_stale_nodes(hosts, nodes))
    explain(check_not_joined({k: v for k, v in hosts.items() if k not in explained}))
    explain(check_unregistered_hosts(hosts, nodes, skip=set(explained), namespace=namespace))
    return findings, explained
