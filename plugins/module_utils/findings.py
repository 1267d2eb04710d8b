# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The findings model shared by mesh verification, the drift check and the
node-name remediation, plus the identity checks that relate live hosts to
registered Calico nodes.

A finding says what is wrong (kind), where (hosts, node, peer), what was
seen (evidence), why it probably happened (cause) and the command that
fixes it (fix).

Host records used by the identity checks: {inventory_host: {ip, hostname,
nodename, joined}}, where nodename is the raw content of /var/lib/calico/nodename
(None when unknown) and joined says whether the host has a kubelet kubeconfig
(None when unknown). Calico nodes: [{name, ipv4_address, ...}] as
calico_nodes_info returns them.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
from dataclasses import asdict, dataclass, field

ERROR = "error"
WARNING = "warning"
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1}

NODENAME_FILE = "/var/lib/calico/nodename"
# The kubelet's kubeconfig a join writes (kubeadm and kubespray; kubeasz).
KUBELET_KUBECONFIGS = ("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/kubelet.kubeconfig")
COLLECTION = "calico_fleet.fleet"


def playbook_command(playbook, limit=None, tags=None, extra_vars=None, inventory=None):
    """The one way a fix names a playbook run, so that it runs as printed: the playbook by its
    collection name (``ansible-playbook calico_fleet.fleet.scale_out``, which works installed and,
    through ansible.cfg's collections path, from a checkout), ``-i`` for each inventory source
    when known (see with_inventory), then the limit, the tags and extra variables as JSON."""
    parts = ["ansible-playbook"] + _inventory_args(inventory) + [f"{COLLECTION}.{playbook}"]
    if limit:
        parts += ["--limit", ",".join(limit) if isinstance(limit, (list, tuple)) else str(limit)]
    if tags:
        parts += ["--tags", ",".join(tags) if isinstance(tags, (list, tuple)) else str(tags)]
    if extra_vars:
        parts += ["-e", shlex.quote(json.dumps(extra_vars, sort_keys=True))]
    return " ".join(parts)


def _inventory_args(inventory):
    out = []
    for source in inventory or []:
        path = str(source)
        if os.path.isabs(path):  # as the user typed it when it is under the working directory
            relative = os.path.relpath(path)
            path = path if relative.startswith("..") else relative
        out += ["-i", shlex.quote(path)]
    return out


_PLAYBOOK_RUN = re.compile(r"ansible-playbook (?!-i )")


def with_inventory(text, inventory):
    """A fix text whose playbook commands (from playbook_command) name the inventory in use."""
    args = " ".join(_inventory_args(inventory))
    if not args or not text:
        return text
    return _PLAYBOOK_RUN.sub(lambda _m: f"ansible-playbook {args} ", text)


FIX_NODENAME_PLAYBOOK = playbook_command("fix_nodename_conflict", limit="{host}")


@dataclass
class Finding:
    kind: str
    severity: str
    hosts: list = field(default_factory=list)
    node: str | None = None
    peer: str | None = None
    evidence: list = field(default_factory=list)
    cause: str = ""
    fix: str = ""

    def __post_init__(self):
        self.hosts = sorted(set(self.hosts))

    def to_dict(self):
        return asdict(self)

    def sort_key(self):
        return (
            _SEVERITY_ORDER.get(self.severity, 9),
            self.kind,
            self.hosts,
            self.node or "",
            self.peer or "",
        )

    def summary(self):
        """One line for a failure message: what, where, why, fix."""
        where = ", ".join(self.hosts) or "cluster"
        bits = [f"[{self.severity}] {self.kind} on {where}"]
        if self.node:
            bits.append(f"node {self.node}")
        if self.peer:
            bits.append(f"peer {self.peer}")
        text = " ".join(bits)
        if self.evidence:
            text += f": {self.evidence[0]}"
            if len(self.evidence) > 1:
                text += f" (+{len(self.evidence) - 1} more)"
        return f"{text}. Likely cause: {self.cause} Fix: {self.fix}"


def sort_findings(findings):
    return sorted(findings, key=Finding.sort_key)


def findings_to_dicts(findings):
    return [f.to_dict() for f in sort_findings(findings)]


def is_healthy(findings):
    """Healthy = no finding of severity error (warnings are advice)."""
    return not any(f.severity == ERROR for f in findings)


def normalize_ip(value):
    """'10.0.1.202/24' or '10.0.1.202' -> '10.0.1.202'; None/'' -> None."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value).split("/", maxsplit=1)[0].strip()))
    except ValueError:
        return None


def node_ipv4(node):
    return normalize_ip(node.get("ipv4_address") or node.get("ipv4_network"))


def effective_nodename(host):
    """The node name calico-node would register, normalised for comparison.

    The nodename file wins over the hostname (REFERENCE.md); names are
    compared trimmed and lower-cased because Kubernetes and Calico lower-case
    them, so `AWS-na-k8s-temp1` and `aws-na-k8s-temp1` collide.
    """
    raw = host.get("nodename")
    if raw is not None and raw.strip():
        return raw.strip().lower()
    return (host.get("hostname") or "").strip().lower() or None


def nodename_to_write_back(inv, hosts, nodes):
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


def _write_back_fix(inv, name):
    return (f"printf '%s' {name} > {NODENAME_FILE} on {inv}: its hostname, Calico Node {name} and Kubernetes "
            "node agree, so only the file is wrong (no drain, no rename, nothing deleted); or "
            + FIX_NODENAME_PLAYBOOK.format(host=inv) + ", which writes just that file")


def check_duplicate_nodenames(hosts, nodes):
    """Two hosts, one Calico node name (field notes, incident 3).

    The registration's IP tells which host holds the name now; the other
    host is the one to rename. Returns (findings, involved inventory hosts).
    """
    by_name = {}
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
                fix="; ".join(_write_back_fix(i, nodename_to_write_back(i, hosts, nodes))
                              if nodename_to_write_back(i, hosts, nodes) else FIX_NODENAME_PLAYBOOK.format(host=i)
                              for i in to_fix),
            )
        )
    return findings, involved


def check_nodename_files(hosts, nodes=()):
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
        findings.append(
            Finding(
                kind="nodename_invalid",
                severity=ERROR,
                hosts=[inv],
                node=raw.strip() or None,
                evidence=[f"{NODENAME_FILE} on {inv} contains {raw!r} ({', '.join(problems)})"],
                cause="calico-node reads the file as is, so the node name it registers is invalid.",
                fix=(
                    _write_back_fix(inv, nodename_to_write_back(inv, hosts, nodes))
                    if nodename_to_write_back(inv, hosts, nodes) else
                    f"printf '%s' {good} > {NODENAME_FILE} on {inv} and restart calico-node, or "
                    + FIX_NODENAME_PLAYBOOK.format(host=inv)
                ),
            )
        )
    return findings


def check_nodename_vs_hostname(hosts, nodes=()):
    """Nodename file that names another host than the hostname (warning)."""
    findings = []
    for inv, host in sorted(hosts.items()):
        raw, hostname = host.get("nodename"), (host.get("hostname") or "").strip().lower()
        if raw is None or not raw.strip() or not hostname:
            continue
        name = raw.strip().lower()
        if name in (hostname, hostname.split(".")[0]):
            continue
        findings.append(
            Finding(
                kind="nodename_mismatch",
                severity=WARNING,
                hosts=[inv],
                node=name,
                evidence=[f"{NODENAME_FILE} on {inv} says {name!r}, the hostname is {hostname!r}"],
                cause="the host was renamed without updating Calico's node name (or the reverse), or "
                "something wrote another name into the file.",
                fix=(_write_back_fix(inv, nodename_to_write_back(inv, hosts, nodes))
                     if nodename_to_write_back(inv, hosts, nodes) else FIX_NODENAME_PLAYBOOK.format(host=inv)),
            )
        )
    return findings


def check_duplicate_ips(hosts, nodes):
    """Two registered Calico node names with one IPv4 address."""
    by_ip = {}
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
                fix="; ".join(f"calicoctl delete node {n}" for n in stale),
            )
        )
    return findings


def check_stale_nodes(hosts, nodes):
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
                fix=f"calicoctl delete node {node['name']}",
            )
        )
    return findings


def check_unregistered_hosts(hosts, nodes, skip=()):
    """Live hosts whose IP no Calico Node carries."""
    registered = {node_ipv4(n) for n in nodes}
    findings = []
    for inv, host in sorted(hosts.items()):
        ip = normalize_ip(host.get("ip"))
        if inv in skip or ip in registered:
            continue
        name = effective_nodename(host)
        findings.append(
            Finding(
                kind="unregistered_host",
                severity=ERROR,
                hosts=[inv],
                node=name,
                peer=ip,
                evidence=[f"no Calico Node is registered with IPv4 {ip} (host {inv}, node name {name!r})"],
                cause="calico-node on this host has not registered (not started, not joined, or its "
                "name is used by another host).",
                fix=f"check calico-node on {inv} (kubectl -n kube-system logs <calico-node pod>), then "
                + FIX_NODENAME_PLAYBOOK.format(host=inv),
            )
        )
    return findings


def bird_answered(host):
    """Whether the host's BGP status was read (BIRD answered)."""
    status = host.get("status") or {}
    return bool(status) and not any(status.get(k) for k in ("failed", "unreachable", "skipped"))


def check_not_joined(hosts):
    """Hosts not joined to Kubernetes (no kubelet kubeconfig) where BIRD does not answer.

    The calico-node DaemonSet only lands on a node the kubelet has registered,
    so such a host is a membership problem, not a BGP fault."""
    findings = []
    for inv, host in sorted(hosts.items()):
        status = host.get("status") or {}
        if host.get("joined") is not False or bird_answered(host) or status.get("unreachable"):
            continue
        name = effective_nodename(host) or inv
        findings.append(
            Finding(
                kind="node_not_joined",
                severity=ERROR,
                hosts=[inv],
                node=name,
                evidence=[
                    f"{inv} ({host.get('ip')}) is not joined to Kubernetes: no kubelet kubeconfig "
                    f"({' or '.join(KUBELET_KUBECONFIGS)}), so calico-node is not running there"
                ],
                cause="the machine was never joined to Kubernetes (the join was skipped, node_join_method is "
                "none and nobody joined it, or the join failed), so the calico-node DaemonSet never landed on "
                "it; not a BGP fault.",
                fix=f"join {inv} with node name {name}: re-run {playbook_command('scale_out')} with "
                "node_join_method set (the same scale_out_batch reuses its machines and joins only what is not "
                "joined), or on "
                f"{inv}: kubeadm join <endpoint> --token <token> --discovery-token-ca-cert-hash <hash> "
                f"--node-name {name}",
            )
        )
    return findings


def identity_findings(hosts, nodes):
    """All identity checks.

    Returns (findings, explained): explained maps an inventory host to the
    identity finding that explains its BGP trouble (BIRD down, no peers,
    peers failing towards it), so the mesh evaluation adds that evidence to
    this finding instead of reporting the same problem again, peer by peer.
    """
    findings, explained = [], {}

    def explain(found):
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
    explain(check_unregistered_hosts(hosts, nodes, skip=set(explained)))
    return findings, explained


# -- cluster membership: the cloud's machines, the Kubernetes Nodes, the Calico Nodes ---------------------

MEMBER_SOURCES_CLOUD = ("gcp", "aws")


def members_read(members):
    """The sources every member record says were read (calico_fleet_sources of the inventory plugin)."""
    read = None
    for member in members or []:
        sources = set(member.get("sources") or [])
        read = sources if read is None else read & sources
    return read or set()


def membership_not_compared(members):
    """The membership sources that were not compared (no record lists them as read), as words for a report.

    Without them a machine Calico does not know, or a Kubernetes Node without a Calico Node, cannot be
    seen: a healthy verdict must say so instead of implying that every machine was looked at."""
    read = members_read(members)
    missing = []
    if not read & set(MEMBER_SOURCES_CLOUD):
        missing.append("cloud machines")
    if "kubernetes" not in read:
        missing.append("Kubernetes Nodes")
    return missing


def check_membership(members, nodes, hosts, explained=()):
    """Compare the cloud's machines, the Kubernetes Nodes and the Calico Nodes, by private IPv4 address.

    members: [{host, ip, instance_id, instance_name, zone, kubernetes_node, calico_node, sources}], one per
    inventory host of the ``calico_nodes`` inventory plugin (its ``calico_fleet_*`` host variables); only
    the sources every record lists as read are compared. Returns (findings, nodes reported as without a
    machine), so that the same Node is not reported as ``stale_node`` too. A host already explained by an
    identity finding is not reported again.
    """
    read = members_read(members)
    cloud = next((s for s in MEMBER_SOURCES_CLOUD if s in read), None)
    machines = {normalize_ip(m.get("ip")): m for m in members or [] if m.get("instance_id")}
    kube = {normalize_ip(m.get("ip")): m for m in members or [] if m.get("kubernetes_node")}
    host_at = {normalize_ip(h.get("ip")): inv for inv, h in (hosts or {}).items()}
    findings, without_machine = [], set()
    for node in sorted(nodes, key=lambda n: n["name"]):
        ip = node_ipv4(node)
        if cloud and ip not in machines:
            without_machine.add(node["name"])
            where = "labelled instance" if cloud == "gcp" else "tagged instance"
            listing = (f"gcloud compute instances list --filter=networkInterfaces.networkIP={ip}" if cloud == "gcp"
                       else f"aws ec2 describe-instances --filters Name=private-ip-address,Values={ip}")
            findings.append(Finding(
                kind="node_without_machine",
                severity=ERROR,
                node=node["name"],
                peer=ip,
                evidence=[f"Calico Node {node['name']!r} is registered with IPv4 {ip}; no {where} of the "
                          f"cluster has that address"],
                cause="the machine was deleted but its Calico Node was not (every node keeps trying to peer "
                "with it), or the machine lacks the cluster's label or tag.",
                fix=(f"{listing} (a machine there: give it the cluster's label or tag; none: calicoctl delete node "
                     f"{node['name']})"),
            ))
        elif "kubernetes" in read and ip and ip not in kube and ip in host_at:
            # (A Node no host carries is stale_node already.)
            inv = host_at[ip]
            findings.append(Finding(
                kind="node_without_kubernetes_node",
                severity=ERROR,
                hosts=[inv],
                node=node["name"],
                peer=ip,
                evidence=[f"Calico Node {node['name']!r} is registered with IPv4 {ip}; no Kubernetes Node has "
                          "that InternalIP"],
                cause="the Kubernetes Node was deleted (kubectl delete node, a failed join) while the machine or "
                "its Calico Node stayed; with the etcdv3 datastore Calico does not remove the Node itself.",
                fix=(f"join the machine at {ip} again (re-run {playbook_command('scale_out')} with the same "
                     "scale_out_batch), or remove it: "
                     + playbook_command("scale_in", extra_vars={"scale_in_nodes": [inv]})),
            ))
    calico_ips = {node_ipv4(n) for n in nodes}
    for ip, member in sorted(kube.items(), key=lambda item: item[1]["kubernetes_node"]):
        inv = host_at.get(ip) or member.get("host")
        if "kubernetes" not in read or ip in calico_ips or inv in explained:
            continue
        name = member["kubernetes_node"]
        findings.append(Finding(
            kind="kubernetes_node_without_calico_node",
            severity=ERROR,
            hosts=[inv] if inv else [],
            node=name,
            peer=ip,
            evidence=[f"Kubernetes Node {name!r} (InternalIP {ip}) has no Calico Node registered with that "
                      "address" + (f"; machine {member['instance_name']} ({member['instance_id']})"
                                   if member.get("instance_id") else "")],
            cause="calico-node on this machine has not registered, or another machine's calico-node took its "
            "Calico Node name (two machines with one hostname): its pods have no routes.",
            fix=(f"read calico-node's log on {name}: kubectl -n kube-system logs --tail 50 $(kubectl -n kube-system "
                 f"get pod -l k8s-app=calico-node --field-selector spec.nodeName={name} -o name), then "
                 + FIX_NODENAME_PLAYBOOK.format(host=inv or ip)),
        ))
    return findings, without_machine
