# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mesh evaluation: the BGP sessions BIRD reports and the IPIP probe, judged against the expected peers.

The expected peers come from mesh/expected.py (Calico's rules); the identity
checks from identity/checks.py; the cause of blocked IP protocol 4 is chosen
from the cloud's rules (mesh/cloud_rules.py). Every finding is a ``Finding``
whose fix is data (module_utils/finding.py), made with the real names (hosts,
nodes, the Calico namespace, the VPC range) passed in as inputs.

In a cluster with route reflectors (nodes with a cluster ID), a missing
session to or from a reflector is `rr_session_missing`, and so is a node that
the datastore's topology leaves without any reflector session (its BGPPeer
deleted, the reflectors' label gone); the mesh turned back on while
reflectors exist is `mesh_with_route_reflectors`.

Only IPv4 sessions are judged (Calico IPIP is IPv4).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.addresses import node_ipv4, normalize_ip
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import (
    ERROR,
    WARNING,
    Finding,
    Fix,
    is_healthy,
    sort_findings,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.identity.checks import (
    CALICO_NAMESPACE,
    calico_node_restart_command,
    identity_findings,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.cloud_rules import CloudRules
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.expected import (
    MESH,
    Topology,
    bgp_peers_required,
    describe_bgp_peer,
    mesh_enabled,
)

FULL_MESH_LIMIT = 100

# BGP states / error texts that mean "the TCP session to port 179 does not
# come up" rather than "BGP itself disagrees" (AS mismatch, bad OPEN, ...).
_NETWORK_STATES = frozenset(("Connect", "Active", "Passive", "Idle"))
_NETWORK_ERRORS = (
    "connection refused",
    "hold timer expired",
    "timed out",
    "no route to host",
    "network is unreachable",
    "connection reset",
    "connection closed",
)
# A Cease the peer sent when it shut down or restarted (BIRD keeps showing the
# last error): it says nothing about why the session is down now, so such a
# session is judged by its BGP state, like one without an error.
_PEER_SHUTDOWN_ERRORS = (
    "administrative shutdown",
    "administrative reset",
    "peer de-configured",
    "other configuration change",
)

TCP179_TEXT = {
    "gcp": "allow TCP 179 between the nodes in the VPC firewall (rule calico-bgp, role gcp_network)",
    "aws": "allow TCP 179 from the nodes' own security group (role aws_network)",
}


def network_fix(text: str, extra_vars: dict | None = None) -> Fix:
    """The cloud network play (tags network) with a sentence saying what it changes."""
    return Fix(text=text, playbook="scale_out", tags=["network"], extra_vars=extra_vars or {})


def ipip_rule_text(cloud: str, vpc_range: str | None) -> str:
    """What allows IP protocol 4 between the nodes, with the real VPC range when known."""
    if cloud == "aws":
        cidr = vpc_range or "the VPC's CIDR (aws_network_vpc_cidr)"
        return f"add the security group rule {{proto: '4', cidr_ip: {cidr}}} (role aws_network)"
    where = f"the VPC range {vpc_range}" if vpc_range else "the VPC range"
    return f"add the INGRESS firewall rule allowing IP protocol 4 from {where} (rule calico-ipip, role gcp_network)"


def _merge_vars(into: dict, extra: dict) -> dict:
    """Extra variables of several fixes as one run: lists joined (each item once), dicts merged."""
    for key, value in extra.items():
        if isinstance(value, list):
            into[key] = list(dict.fromkeys(list(into.get(key) or []) + value))
        elif isinstance(value, dict):
            into[key] = _merge_vars(dict(into.get(key) or {}), value)
        else:
            into[key] = value
    return into


def _first(item):
    return item[0]


def _is_network_failure(peer):
    info = peer.get("info", "").lower()
    error = info.split(None, 1)[1] if len(info.split(None, 1)) > 1 else ""
    if error and not any(text in error for text in _PEER_SHUTDOWN_ERRORS):
        return any(text in error for text in _NETWORK_ERRORS)
    return peer.get("bgp_state") in _NETWORK_STATES


def _cell(peer):
    if peer is None:
        return "missing"
    if peer["established"]:
        return "Established"
    return peer.get("bgp_state") or peer.get("state") or "?"


def _describe(peer):
    if peer is None:
        return "no BGP protocol configured"
    info = f" {peer['info']!r}" if peer.get("info") else " (empty info)"
    return f"{peer['name']} state {peer['state']}{info}"


class _Evaluation:
    def __init__(self, hosts, nodes, bgp_configuration, probe, cloud, bgp_peers=None, cloud_rules=None,
                 namespace=CALICO_NAMESPACE, vpc_range=None):
        self.hosts = hosts or {}
        self.nodes = nodes or []
        self.bgp = bgp_configuration or {}
        self.bgp_peers = bgp_peers or []
        # BGPPeer sessions are judged both ways (missing and unexpected) when every BGPPeer is understood.
        self.topology = Topology(self.nodes, self.bgp, self.bgp_peers)
        self.peers_known = bgp_peers is not None and not self.topology.unsupported
        self.probe = probe or {}
        self.cloud = cloud if cloud in TCP179_TEXT else "gcp"
        self.namespace = namespace or CALICO_NAMESPACE
        self.vpc_range = vpc_range or None
        self.cloud_rules = CloudRules(cloud_rules) if cloud_rules is not None else None
        self.findings = []
        self.host_ip = {inv: normalize_ip(h.get("ip")) for inv, h in self.hosts.items()}
        self.ip_host = {ip: inv for inv, ip in sorted(self.host_ip.items(), reverse=True) if ip}
        self.node_name = {}
        for node in sorted(self.nodes, key=lambda n: n["name"], reverse=True):
            ip = node_ipv4(node)
            if ip:
                self.node_name[ip] = node["name"]
        self.expected = {}
        self.observed = {}
        self.matrix = {}
        self.down = {}
        self.owners = {}  # host -> the finding that already explains its BGP trouble
        self.reflector_ips = {node_ipv4(n) for n in self.nodes if node_ipv4(n) and n.get("rr_cluster_id")}

    # -- helpers ---------------------------------------------------------
    def label(self, inv):
        return f"{inv} ({self.host_ip.get(inv)})"

    def node_of(self, inv):
        return self.node_name.get(self.host_ip.get(inv))

    def only_node(self, hosts):
        """The Calico node of a finding about one host; None for several."""
        return self.node_of(hosts[0]) if len(hosts) == 1 else None

    def session_missing(self, kind, inv, sources, targets, evidence, cause, fix):
        """An error about the sessions BIRD on `sources` lacks with `targets` (named after `inv`)."""
        return Finding(kind, ERROR, hosts=sorted(set(sources) | set(targets)), node=self.node_of(inv),
                       peer=self.host_ip[targets[0]] if len(targets) == 1 else None, evidence=evidence,
                       cause=cause, fix=fix)

    def peer_finding(self, kind, severity, hosts, peer, evidence, cause, fix):
        """A finding about the sessions of these hosts with one peer address."""
        return Finding(kind, severity, hosts=hosts, node=self.only_node(hosts), peer=peer, evidence=evidence,
                       cause=cause, fix=fix)

    # -- steps -----------------------------------------------------------
    def run(self):
        ident, self.explained = identity_findings(self.hosts, self.nodes, self.namespace)
        self.findings += ident
        self.stale = {f.peer: f for f in ident if f.kind == "stale_node"}
        self.check_answers()
        self.owners = {**self.down, **self.explained}
        self.why = self.topology.by_ip()  # node IP -> {peer IP: mesh or the BGPPeer}
        by_ip = {ip: set(peers) for ip, peers in self.why.items()}
        for inv, ip in self.host_ip.items():
            if ip not in self.why:
                self.why[ip] = self.topology.peers_of(None, ip)
            self.expected[inv] = set(self.why[ip])
        self.check_unsupported_selectors()
        self.judge_sessions()
        self.check_probe()
        self.check_mesh_size(by_ip)
        self.check_reflector_topology(by_ip)
        self.check_mesh_with_route_reflectors()
        self.check_no_bgp_peers(by_ip)
        return sort_findings(self.findings)

    def source(self, inv, addr):
        """' (BGPPeer x)' when a session comes from a BGPPeer, '' for the mesh."""
        why = self.why.get(self.host_ip.get(inv), {}).get(addr)
        return f" ({why})" if why and why != MESH else ""

    def check_unsupported_selectors(self):
        if not self.topology.unsupported:
            return
        self.findings.append(
            Finding(
                kind="bgp_peer_selector_unsupported",
                severity=ERROR,
                evidence=[f"BGPPeer {describe_bgp_peer(peer)}: {reason}" for peer, reason in self.topology.unsupported],
                cause="calico-fleet cannot evaluate these BGPPeers' selectors, so it cannot tell which nodes they "
                "peer: their sessions were not judged (the mesh and the other BGPPeers were), and neither were "
                "route-reflector sessions as a whole nor BGPPeer sessions BIRD has beyond the expected ones.",
                fix=Fix(text="write the selectors with all(), has(k), k == 'v' and k != 'v' joined by && (calicoctl "
                        "get bgppeer <name> -o yaml, edit, calicoctl apply -f), or check these BGPPeers' sessions by "
                        "hand (calicoctl node status on the nodes they select)"),
            )
        )

    def check_reflector_topology(self, by_ip):
        """Nodes the datastore's own topology leaves without a route-reflector session."""
        if not self.reflector_ips or not self.peers_known:
            return
        clients = sorted(ip for ip in by_ip if ip not in self.reflector_ips)
        lacking = [ip for ip in clients if not by_ip[ip] & self.reflector_ips]
        if clients:
            lacking += [ip for ip in sorted(self.reflector_ips) if ip in by_ip and not by_ip[ip] - self.reflector_ips]
        if not lacking:
            return
        reflectors = ", ".join(f"{self.node_name.get(ip, ip)} ({ip})" for ip in sorted(self.reflector_ips))
        evidence = []
        for ip in lacking:
            peers = ", ".join(sorted(by_ip[ip])) or "none"
            what = "a route reflector" if ip not in self.reflector_ips else "any node outside the reflectors"
            evidence.append(f"{self.node_name.get(ip, ip)} ({ip}): no BGPPeer in the datastore peers it with "
                            f"{what} (its expected peers: {peers})")
        evidence.append(f"route reflectors (nodes with a cluster ID): {reflectors}")
        evidence.append("BGPPeers: " + ("; ".join(describe_bgp_peer(p) for p in self.bgp_peers) or "none"))
        hosts = sorted(self.ip_host[ip] for ip in lacking if ip in self.ip_host)
        self.findings.append(
            Finding(
                kind="rr_session_missing",
                severity=ERROR,
                hosts=hosts,
                node=self.node_name.get(lacking[0]) if len(lacking) == 1 else None,
                evidence=evidence,
                cause="the route-reflector topology in the datastore is incomplete: "
                + ("with the mesh off, " if not mesh_enabled(self.bgp) else "")
                + "these nodes have no route-reflector session, so they do not learn the cluster's routes "
                "through the reflectors. The BGPPeer to the reflectors (peer-with-route-reflectors) was deleted "
                "or no longer selects these nodes, or the reflectors lost the label its peerSelector selects.",
                fix=Fix(text="re-apply the route reflectors, which restores the labels, cluster IDs and the BGPPeer",
                        playbook="route_reflectors"),
            )
        )

    def check_answers(self):
        for inv in sorted(self.hosts):
            status = self.hosts[inv].get("status") or {}
            if status and not any(status.get(k) for k in ("failed", "unreachable", "skipped")):
                self.observed[inv] = status.get("peers") or []
                continue
            msg = status.get("msg") or ("the status task was skipped" if status else "no status returned")
            evidence = f"{self.label(inv)} answered nothing: {msg}"
            if inv in self.explained:
                self.explained[inv].evidence.append(evidence)
                continue
            finding = Finding(kind="", severity=ERROR, hosts=[inv], node=self.node_of(inv), evidence=[evidence])
            if status.get("failed") and "not running" in msg:
                finding.kind = "bird_down"
                finding.cause = "calico-node / BIRD is not running on this host, so no node can peer with it."
                if self.hosts[inv].get("joined"):
                    finding.cause = (
                        "the host is joined to Kubernetes but calico-node / BIRD is not running on it (the "
                        "calico-node pod is missing, crashing or not ready), so no node can peer with it."
                    )
                finding.fix = Fix(text=f"restart calico-node on {inv}, then read the new pod's log",
                                  commands=[calico_node_restart_command(self.namespace, self.node_of(inv) or inv)])
            elif status.get("failed"):
                finding.kind = "status_failed"
                finding.cause = "BIRD's status could not be read on this host (see the evidence)."
                finding.fix = Fix(text="fix what the message says, then re-run the check (calico_bgp_status needs "
                                  "become: true)")
            else:
                finding.kind = "host_unreachable"
                finding.cause = "the host could not be reached or was not checked (machine down, SSH, network)."
                finding.fix = Fix(text=f"check the machine and SSH: ansible {inv} -m ansible.builtin.ping (with the "
                                  "inventory in use)")
            self.down[inv] = finding
            self.findings.append(finding)

    def judge_sessions(self):
        failed = {}  # (a, b) directional -> peer dict or None (missing)
        unexpected = {}  # address -> [(host, peer)]
        external = {}  # router address (no Calico node) -> [(host, peer dict or None)]
        for a, peers in self.observed.items():
            row = self.matrix.setdefault(a, {})
            by_addr = {}
            for peer in peers:
                addr = peer.get("address")
                if not addr or ":" in addr:
                    continue
                best = by_addr.get(addr)
                if best is None or (peer["established"] and not best["established"]):
                    by_addr[addr] = peer
            expected = self.expected.get(a, set())
            for addr in expected:
                peer = by_addr.get(addr)
                b = self.ip_host.get(addr)
                row[b or addr] = _cell(peer)
                if peer is not None and peer["established"]:
                    continue
                text = f"{self.label(a)} -> {addr}: {_describe(peer)}"
                if addr in self.stale:
                    self.stale[addr].evidence.append(text)
                elif self.owners.get(a) is not None:
                    self.owners.get(a).evidence.append(text)
                elif b is not None and self.owners.get(b) is not None:
                    self.owners.get(b).evidence.append(text)
                elif b is not None:  # (a registered IP is either a live host or stale)
                    failed[(a, b)] = peer
                elif addr not in self.node_name:
                    external.setdefault(addr, []).append((a, peer))
            for addr, peer in by_addr.items():
                if addr in expected or (peer["type"] != MESH and not self.peers_known):
                    continue
                b = self.ip_host.get(addr)
                row[b or addr] = f"unexpected {_cell(peer)}"
                owner = self.owners.get(a) or (self.owners.get(b) if b else None)
                if owner is not None:
                    owner.evidence.append(f"{self.label(a)} -> {addr}: unexpected {_describe(peer)}")
                else:
                    unexpected.setdefault(addr, []).append((a, peer))
        self.report_unexpected(unexpected)
        self.report_failed(failed)
        self.report_external(external)

    def report_external(self, external):
        for addr, seen in sorted(external.items()):
            invs = sorted(a for a, _unused in seen)
            peerings = sorted({self.source(a, addr).strip(" ()") for a in invs} - {""})
            evidence = [f"{self.label(a)} -> {addr}: {_describe(p)}" for a, p in sorted(seen, key=_first)]
            missing = all(p is None for _unused, p in seen)
            self.findings.append(
                self.peer_finding(
                    "external_peer_not_established", ERROR, invs, addr,
                    evidence + [f"expected from {', '.join(peerings)}"],
                    cause=(
                        f"BIRD on {', '.join(invs)} has no protocol for {addr}, which {', '.join(peerings)} "
                        "asks for (confd has not re-rendered)."
                        if missing
                        else f"the session with {addr}, a BGP peer outside Calico ({', '.join(peerings)}), is not "
                        "Established: the router is down or not configured for these nodes (neighbor addresses, "
                        "AS number), or TCP 179 between the nodes and the router is blocked."
                    ),
                    fix=Fix(text=(
                        f"restart calico-node on {', '.join(invs)} so confd re-renders BIRD's configuration"
                        if missing
                        else f"check the router at {addr} (its neighbors must include {', '.join(invs)} with the "
                        "cluster AS, calicoctl get bgpconfiguration default) and TCP 179 between them"
                    )),
                )
            )

    def report_unexpected(self, unexpected):
        for addr, seen in sorted(unexpected.items()):
            invs = sorted(a for a, _unused in seen)
            mesh = all(p["type"] == MESH for _unused, p in seen)
            self.findings.append(
                self.peer_finding(
                    "unexpected_peer", WARNING, invs, addr,
                    [f"{self.label(a)} -> {addr}: {_describe(p)}" for a, p in sorted(seen, key=_first)],
                    cause=f"BIRD still has a mesh peer {addr} that no registered Calico node expects "
                    "(its configuration was not re-rendered after a node was removed or re-addressed)."
                    if mesh else
                    f"BIRD has a session with {addr} that neither the mesh nor any BGPPeer in the datastore asks "
                    "for (its configuration was not re-rendered after a BGPPeer, a label or a cluster ID changed).",
                    fix=Fix(text=f"restart calico-node on {', '.join(invs)} so confd re-renders BIRD's configuration"),
                )
            )

    def report_failed(self, failed):
        # Pairs: both directions of one failing session become one finding.
        pairs = {}
        for (a, b), peer in failed.items():
            pairs.setdefault(tuple(sorted((a, b))), {})[a] = peer
        missing = {k: v for k, v in pairs.items() if any(p is None for p in v.values())}
        broken = {k: v for k, v in pairs.items() if k not in missing}
        if missing:
            self.report_missing(failed)
        self.report_broken(broken)

    def report_missing(self, failed):
        # Group by the side with more missing peers: one stale BIRD config on A
        # or one node B nobody has picked up yet is one finding, not N.
        by_src, by_dst = {}, {}
        for (a, b), peer in failed.items():
            if peer is None:
                by_src.setdefault(a, []).append(b)
                by_dst.setdefault(b, []).append(a)
        groups = {}
        for (a, b), peer in sorted(failed.items()):
            if peer is not None:
                continue
            if len(by_src[a]) > 1 and len(by_src[a]) >= len(by_dst[b]):
                groups.setdefault(("src", a), []).append((a, b))
            else:
                groups.setdefault(("dst", b), []).append((a, b))
        for (side, inv), members in sorted(groups.items()):
            evidence = []
            for a, b in members:
                why = self.source(a, self.host_ip[b])
                evidence.append(f"{self.label(a)} has no BGP protocol for {self.label(b)}{why}")
                other = failed.get((b, a))
                if other is not None:
                    evidence.append(f"{self.label(b)} -> {self.host_ip[a]}: {_describe(other)}")
            sources = sorted({a for a, _unused in members})
            targets = sorted({b for _unused, b in members})
            if any(self.host_ip.get(h) in self.reflector_ips for h in sources + targets):
                self.findings.append(self.rr_session_missing(inv, side, sources, targets, evidence))
                continue
            self.findings.append(self.session_missing(
                "missing_peer", inv, sources, targets, evidence,
                f"BIRD on {inv} has not been configured with its mesh peers (confd has not re-rendered)."
                if side == "src"
                else f"node {self.node_of(inv) or inv} is registered but BIRD on {', '.join(sources)} has no "
                "protocol for it yet (confd has not picked it up).",
                Fix(text=f"restart calico-node on {', '.join(sources)} so confd re-renders BIRD's configuration; "
                    "new nodes need a few seconds: re-run with a wait")))

    def report_broken(self, broken):
        judged = {}
        for a in self.observed:
            if self.owners.get(a) is not None:
                continue
            judged[a] = {
                self.ip_host[ip]
                for ip in self.expected.get(a, ())
                if ip in self.ip_host and ip not in self.stale and self.owners.get(self.ip_host[ip]) is None
            }
        partners = {}
        for a, b in broken:
            partners.setdefault(a, set()).add(b)
            partners.setdefault(b, set()).add(a)
        isolated = {a for a, p in partners.items() if len(judged.get(a, ())) >= 2 and p >= judged[a]}
        candidates = {a for a, j in judged.items() if j}
        if broken and len(candidates) >= 3 and isolated >= candidates:
            self.report_cluster_wide(broken)
            return
        for a in sorted(isolated):
            views = [(x, y, v) for (x, y), v in broken.items() if a in (x, y)]
            self.findings.append(self.session_finding([a], None, views, isolated=True))
        for (x, y), views in sorted(broken.items()):
            if x in isolated or y in isolated:
                continue
            self.findings.append(self.session_finding([x, y], self.host_ip[y], [(x, y, views)]))

    def report_cluster_wide(self, broken):
        views = list(broken.items())
        hosts = sorted({h for pair, _unused in views for h in pair})
        self.findings.append(
            self.session_finding(hosts, None, [(x, y, v) for (x, y), v in views], cluster=True)
        )

    def session_finding(self, hosts, peer_ip, views, isolated=False, cluster=False):
        evidence, network = [], True
        for x, y, sides in sorted(views, key=lambda v: (v[0], v[1])):
            for src in sorted(sides):
                dst = y if src == x else x
                peer = sides[src]
                network = network and _is_network_failure(peer)
                evidence.append(f"{self.label(src)} -> {self.host_ip[dst]}: {_describe(peer)}")
        where = (
            "between all nodes"
            if cluster
            else f"to and from {hosts[0]} (no session of it is Established)"
            if isolated
            else f"between {hosts[0]} and {hosts[1]} only (their other sessions are Established)"
        )
        if network:
            kind = "tcp179_blocked"
            cause = f"TCP 179 (BGP) is blocked {where}: firewall rule, network tag/security group or host firewall."
            text = TCP179_TEXT[self.cloud]
            if not cluster:
                text += f"; then check host firewalls on {', '.join(hosts)}"
            fix = network_fix(text)
        else:
            kind = "peer_not_established"
            cause = (
                f"BGP sessions {where} do not reach Established although TCP is not refused: "
                "AS number, BGP configuration or a session disabled by hand."
            )
            fix = Fix(text="compare the AS numbers (calicoctl get bgpconfiguration default -o yaml; calicoctl get "
                      f"node -o wide) and restart calico-node on {', '.join(hosts)}")
        return Finding(
            kind=kind,
            severity=ERROR,
            hosts=hosts,
            node=None if cluster else self.node_of(hosts[0]),
            peer=peer_ip,
            evidence=evidence,
            cause=cause,
            fix=fix,
        )

    def check_probe(self):
        if not self.probe:
            return
        results = {}  # unordered pair -> {direction: ok}
        hosts_of = {}  # raw probe key -> host; parsing 22,350 keys with ipaddress would cost ~1 s

        def host_of(raw):
            if raw not in hosts_of:
                hosts_of[raw] = self.ip_host.get(raw) or self.ip_host.get(normalize_ip(raw))
            return hosts_of[raw]

        for src_ip, row in self.probe.items():
            a = host_of(src_ip)
            for dst_ip, ok in (row or {}).items():
                b = host_of(dst_ip)
                if a is None or b is None or a == b:
                    continue
                if self.owners.get(a) is not None or self.owners.get(b) is not None:
                    if not ok:
                        owner = self.owners.get(a) or self.owners.get(b)
                        owner.evidence.append(f"IPIP probe {self.label(a)} -> {self.label(b)} failed")
                    continue
                results.setdefault(tuple(sorted((a, b))), {})[(a, b)] = bool(ok)
        failed = {pair: dirs for pair, dirs in results.items() if not all(dirs.values())}
        if not failed:
            return
        probed, bad = {}, {}
        for a, b in results:
            probed.setdefault(a, set()).add(b)
            probed.setdefault(b, set()).add(a)
        for a, b in failed:
            bad.setdefault(a, set()).add(b)
            bad.setdefault(b, set()).add(a)
        if len(failed) == len(results) and len(probed) >= 3:
            self.findings.append(self.ipip_finding(sorted(probed), failed, "between all nodes"))
            return
        isolated = {h for h, p in bad.items() if len(probed[h]) >= 2 and p >= probed[h]}
        for h in sorted(isolated):
            mine = {pair: d for pair, d in failed.items() if h in pair}
            self.findings.append(self.ipip_finding([h], mine, f"to and from {h}"))
        for pair, dirs in sorted(failed.items()):
            if not set(pair) & isolated:
                self.findings.append(
                    self.ipip_finding(list(pair), {pair: dirs}, f"between {pair[0]} and {pair[1]}")
                )

    def ipip_finding(self, hosts, failed, where):
        evidence, directions = [], []
        for (a, b), dirs in sorted(failed.items()):
            bgp = self.matrix.get(a, {}).get(b, "not expected")
            for (src, dst), ok in sorted(dirs.items()):
                if not ok:
                    directions.append((src, dst))
                    evidence.append(
                        f"IPIP probe {self.label(src)} -> {self.label(dst)} failed (BGP {a} -> {b}: {bgp})"
                    )
        cause, fix, more = self.ipip_cause(directions, where)
        return Finding(
            kind="ipip_blocked",
            severity=ERROR,
            hosts=hosts,
            node=self.node_of(hosts[0]) if len(hosts) <= 2 else None,
            peer=self.host_ip[hosts[1]] if len(hosts) == 2 else None,
            evidence=evidence + more,
            cause=f"IP protocol 4 (IPIP) is blocked {where}: BGP may be Established, but every "
            f"encapsulated pod packet is dropped. {cause}",
            fix=fix,
        )

    def ipip_cause(self, directions, where):
        """(cause, fix, evidence lines) for the failed probe directions, chosen from the cloud's rules."""
        rules = self.cloud_rules
        if rules is None or rules.error:
            why = f"they could not be read ({rules.error})" if rules is not None else "they were not read"
            return (
                f"The cloud's firewall rules were not looked at ({why}), so the cause is not narrowed down: "
                f"{self.suspects(rule_missing=True)}.",
                network_fix(ipip_rule_text(self.cloud, self.vpc_range) + "; " + self.inspect_commands()),
                [],
            )
        verdicts = {}  # kind -> [(src, dst, detail)]
        for src, dst in directions:
            kind, detail = rules.verdict(self.host_ip[src], self.host_ip[dst])
            verdicts.setdefault(kind, []).append((src, dst, detail))
        causes, fixes, extra_vars, network = [], [], {}, False
        more = rules.rules_for(sorted({self.host_ip[d] for _s, d in directions}))
        if "not_applied" in verdicts:
            if rules.provider != "aws":  # the rule that would allow it, though it does not reach these nodes
                more += [line for line in dict.fromkeys(rules.describe_rule(x["rule"])
                                                        for _s, _d, x in verdicts["not_applied"])
                         if line not in more]
            c, f, extra = self.cause_not_applied(verdicts["not_applied"])
            causes.append(c)
            fixes += f
            _merge_vars(extra_vars, extra)
            network = True
        if "no_rule" in verdicts:
            causes.append("No " + ("security group rule" if rules.provider == "aws" else "enabled VPC firewall rule")
                          + " allows IP protocol 4 towards "
                          + ", ".join(sorted({d for _s, d, _x in verdicts["no_rule"]}))
                          + " (the rule is missing: the rules that reach these nodes are in the evidence).")
            fixes.append(ipip_rule_text(self.cloud, self.vpc_range))
            network = True
        if "denied" in verdicts:
            names = sorted({x["rule"]["name"] for _s, _d, x in verdicts["denied"]})
            deny = next(x["rule"] for _s, _d, x in verdicts["denied"])
            causes.append(f"Firewall rule {', '.join(names)} (priority {deny['priority']}) denies IP protocol 4 "
                          "and takes precedence over the rule that allows it (lower number first, deny first at "
                          "equal priority).")
            project = f" --project {rules.project}" if rules.project else ""
            fixes.append(f"if that deny is not wanted: gcloud compute firewall-rules delete {names[0]}{project}; "
                         "otherwise give the calico rules a lower priority number than "
                         f"{deny['priority']} (gcp_network_priority)")
            _merge_vars(extra_vars, {"gcp_network_priority": max(0, deny["priority"] - 1)})
            network = True
        if "allowed" in verdicts:
            what = sorted({x.get("group") or x["rule"]["name"] for _s, _d, x in verdicts["allowed"]})
            noun = "security group" if rules.provider == "aws" else "firewall rule"
            whom = "all nodes" if where == "between all nodes" else "these nodes"
            causes.append(f"{noun.capitalize()}{'s' if len(what) > 1 else ''} {' and '.join(what)} "
                          f"allow{'s' if len(what) == 1 else ''} IP protocol 4 from the other nodes and "
                          f"appl{'ies' if len(what) == 1 else 'y'} to {whom}, "
                          "and no cloud rule of higher precedence denies it: the rule is present, so what still "
                          f"drops the packets is elsewhere: {self.suspects(rule_missing=False)}.")
            fixes.append(self.inspect_commands())
        if "unknown" in verdicts:
            gone = sorted({d for _s, d, _x in verdicts["unknown"]})
            causes.append(f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} not among the cloud's instances "
                          f"({verdicts['unknown'][0][2]['why']}), so the rules there were not judged: "
                          f"{self.suspects(rule_missing=True)}.")
            fixes.append(ipip_rule_text(self.cloud, self.vpc_range) + "; " + self.inspect_commands())
            network = True
        text = "; ".join(dict.fromkeys(fixes))
        fix = network_fix(text, extra_vars) if network else Fix(text=text)
        return " ".join(causes), fix, more

    def cause_not_applied(self, entries):
        """Per node: the network tag (GCP) or security-group membership (AWS) a rule needs, and its fix."""
        rules = self.cloud_rules
        lacking = {}  # (instance name, host, zone) -> (what, [tags or groups], rule or group name)
        for src, dst, detail in entries:
            for side, (name, needed) in sorted(detail["missing"].items()):
                host = src if side == "source" else dst
                inst = rules.instance(self.host_ip[host]) or {}
                what = "member" if side == "member" else side
                rule = detail.get("group") or detail["rule"]["name"]
                lacking.setdefault((name, host, inst.get("zone") or "", inst.get("id") or ""), (what, needed, rule))
        causes, fixes, extra_vars = [], [], {}
        for (name, host, zone, instance_id), (what, needed, rule) in sorted(lacking.items()):
            if what == "member":
                causes.append(f"Instance {name} ({host}, {instance_id}) is not a member of security group "
                              f"{needed[0]}, whose rule allows IP protocol 4, so nothing lets IPIP in.")
                fixes.append(f"make {host} a member of {needed[0]} (role aws_network, its other groups stay)")
                _merge_vars(extra_vars, {"aws_network_node_filters": {"instance-id": [instance_id]}})
            else:
                role = "targets" if what == "target" else "takes as source"
                causes.append(f"Instance {name} ({host}) lacks the network tag {', '.join(needed)} that firewall "
                              f"rule {rule} {role}, so the rule does not apply to it.")
                fixes.append(f"add the tag to {name} (role gcp_network, its other tags stay)")
                _merge_vars(extra_vars, {"gcp_network_node_instances": [name], "gcp_network_node_zones": [zone]})
        return " ".join(causes), fixes, extra_vars

    def suspects(self, rule_missing):
        found = (["a missing rule allowing protocol 4",
                  "a node without the network tag the rule targets" if self.cloud == "gcp"
                  else "a node outside the security group that allows it"] if rule_missing else [])
        if self.cloud == "gcp":
            found += ["a deny rule of higher priority" if rule_missing else None,
                      "a hierarchical firewall policy (organization or folder) or a network firewall policy, "
                      "which GCE evaluates before the VPC rules",
                      "a host firewall on the nodes (iptables or nftables dropping protocol 4)"]
        else:
            found += ["the subnet's network ACL (it can deny what the security groups allow)",
                      "a host firewall on the nodes (iptables or nftables dropping protocol 4)"]
        return ", ".join(s for s in found if s)

    def inspect_commands(self):
        rules = self.cloud_rules
        if self.cloud == "aws":
            vpc = f" Name=vpc-id,Values={rules.vpc_id}" if rules is not None and rules.vpc_id else ""
            cloud = f"aws ec2 describe-network-acls{' --filters' + vpc if vpc else ''}"
        else:
            project = f" --project {rules.project}" if rules is not None and rules.project else ""
            network = rules.network if rules is not None else "default"
            cloud = f"gcloud compute networks get-effective-firewalls {network}{project}"
        return (f"look above the VPC rules with {cloud}, and on the nodes with "
                "sudo iptables-save | grep -Ew 'ipip|4' and sudo nft list ruleset")

    def rr_session_missing(self, inv, side, sources, targets, evidence):
        reflectors = sorted(h for h in set(sources) | set(targets) if self.host_ip.get(h) in self.reflector_ips)
        return self.session_missing(
            "rr_session_missing", inv, sources, targets, evidence,
            cause=f"the route-reflector topology is incomplete: BIRD on {', '.join(sources)} has no protocol "
            f"for the route reflector session(s) with {', '.join(targets)} (reflectors: {', '.join(reflectors)}); "
            + ("with the mesh off, a node without its reflector sessions learns no routes. "
               if not mesh_enabled(self.bgp) else "")
            + "The datastore asks for these sessions (see the evidence), so confd has not re-rendered BIRD's "
            "configuration there (calico-node stuck or restarting).",
            fix=Fix(text=f"restart calico-node on {', '.join(sources)} so confd re-renders BIRD's configuration; if "
                    "the sessions still lack, re-apply the route reflectors", playbook="route_reflectors"),
        )

    def check_mesh_with_route_reflectors(self):
        if not mesh_enabled(self.bgp) or not self.reflector_ips:
            return
        names = sorted(self.node_name.get(ip, ip) for ip in self.reflector_ips)
        self.findings.append(
            Finding(
                kind="mesh_with_route_reflectors",
                severity=WARNING,
                evidence=[f"nodeToNodeMeshEnabled is on (BGPConfiguration default) and {len(names)} node(s) "
                          f"carry a route-reflector cluster ID: {', '.join(names)}"],
                cause="the node-to-node mesh is on in a cluster that uses route reflectors (turned back on by "
                "hand, or a move between the topologies stopped half-way): every non-reflector node keeps a "
                "session to every other one on top of its reflector sessions.",
                fix=Fix(text="finish the move: the route reflectors playbook as below (route reflectors, mesh off), "
                        "or the same with -e '{\"route_reflectors_state\": \"disabled\"}' (back to the full mesh, "
                        "reflectors removed)", playbook="route_reflectors"),
            )
        )

    def check_no_bgp_peers(self, by_ip):
        """Nodes the datastore's topology leaves without any BGP session (no routes at all)."""
        if len(by_ip) < 2 or self.topology.unsupported or (self.reflector_ips and self.peers_known):
            # One node needs no peer; unsupported selectors are reported as such; with route reflectors
            # check_reflector_topology names the nodes without a reflector session.
            return
        lonely = sorted(ip for ip, peers in by_ip.items() if not peers)
        if not lonely:
            return
        mesh = mesh_enabled(self.bgp)
        evidence = [f"{self.node_name.get(ip, ip)} ({ip}): no expected BGP session" for ip in lonely]
        evidence.append("nodeToNodeMeshEnabled: " + ("true" if mesh else "false") + " (BGPConfiguration default)")
        if self.bgp_peers:
            evidence.append("BGPPeers: " + "; ".join(describe_bgp_peer(p) for p in self.bgp_peers))
        else:
            evidence.append("BGPPeers: none" if self.peers_known else "BGPPeers: not read")
        if not mesh and not self.bgp_peers:
            why = ("the node-to-node mesh is off (BGPConfiguration default, nodeToNodeMeshEnabled: false) and no "
                   "BGPPeer exists")
        elif not mesh:
            why = "the node-to-node mesh is off and these nodes are outside every BGPPeer's selectors"
        else:
            why = "these nodes take no part in the node-to-node mesh and no BGPPeer selects them"
        bgp_peer = "add a BGPPeer that selects these nodes (calicoctl apply -f <bgppeer.yaml>)"
        if self.bgp_peers:
            # calico_network refuses to turn the mesh on beside BGPPeers: the peers are the way.
            fix = Fix(text=f"{bgp_peer}, or widen the nodeSelector of the BGPPeer meant for them (calicoctl get "
                      "bgppeer <name> -o yaml, edit, calicoctl apply -f)")
        else:
            fix = Fix(text="turn the node-to-node mesh back on with the run below; set calico_network_mesh_enabled: "
                      f"true in the inventory so that later runs keep it; or {bgp_peer}",
                      playbook="scale_out", tags=["calico_network"], extra_vars={"calico_network_mesh_enabled": True})
        self.findings.append(
            Finding(
                kind="no_bgp_peers",
                severity=ERROR,
                hosts=[self.ip_host[ip] for ip in lonely if ip in self.ip_host],
                node=self.node_name.get(lonely[0]) if len(lonely) == 1 else None,
                evidence=evidence,
                cause=f"{why}: these nodes have no BGP session, so they neither learn nor advertise any pod "
                "route and pods on them cannot reach pods on other nodes.",
                fix=fix,
            )
        )

    def check_mesh_size(self, by_ip):
        reflectors = any(n.get("rr_cluster_id") for n in self.nodes)
        if not mesh_enabled(self.bgp) or reflectors or len(by_ip) <= FULL_MESH_LIMIT:
            return
        sessions = len(by_ip) * (len(by_ip) - 1) // 2
        self.findings.append(
            Finding(
                kind="mesh_too_large",
                severity=WARNING,
                evidence=[f"{len(by_ip)} nodes in full node-to-node mesh ({sessions} BGP sessions)"],
                cause=f"a full mesh is recommended up to about {FULL_MESH_LIMIT} nodes; every node "
                "keeps a session to every other node.",
                fix=Fix(text="use route reflectors: give 2-3 nodes a routeReflectorClusterID and the label "
                        "route-reflector=true, add a BGPPeer from all() to them, then set "
                        "nodeToNodeMeshEnabled: false (calicoctl patch bgpconfiguration default)"),
            )
        )


def input_errors(hosts: Any, nodes: Any, bgp_peers: list | None = None) -> list[str]:
    """Messages naming what to change in the check's input (empty when fine)."""
    errors = []
    required = bgp_peers_required(nodes, bgp_peers)
    if required:
        errors.append(required)
    for index, peer in enumerate(bgp_peers or []):
        if not isinstance(peer, dict) or not peer.get("name"):
            errors.append(f"bgp_peers[{index}] needs a name (pass calico_nodes_info's bgp_peers list)")
    for inv, host in sorted((hosts or {}).items()):
        if not isinstance(host, dict):
            errors.append(f"hosts.{inv} must be a dict with ip, hostname, nodename, status")
        elif not normalize_ip(host.get("ip")):
            errors.append(f"hosts.{inv}.ip must be the node's IPv4 address, got {host.get('ip')!r}")
    for index, node in enumerate(nodes or []):
        if not isinstance(node, dict) or not node.get("name"):
            errors.append(f"nodes[{index}] needs a name (pass calico_nodes_info's nodes list)")
    return errors


def evaluate(hosts: dict, nodes: list, bgp_configuration: dict | None = None, probe: dict | None = None,
             cloud: str = "gcp", bgp_peers: list | None = None, cloud_rules: dict | None = None,
             namespace: str = CALICO_NAMESPACE, vpc_range: str | None = None) -> dict[str, Any]:
    """Judge the mesh. Returns a dict: healthy, findings (Finding objects),
    matrix {host: {peer host or IP: cell}}, expected_peers {host: [IPs]}.

    bgp_peers: calico_nodes_info's BGPPeer rows; None = not known (no BGPPeer is expected, and
    sessions BIRD has from BGPPeers are not judged).
    cloud_rules: the cloud's firewall rules / security groups and instances (cloud_rules.py), from which
    the cause of blocked IP protocol 4 is chosen; None = not read (the cause lists every suspect).
    namespace, vpc_range: the namespace calico-node runs in and the VPC's range, named in the fixes."""
    ev = _Evaluation(hosts, nodes, bgp_configuration, probe, cloud, bgp_peers, cloud_rules, namespace, vpc_range)
    findings = ev.run()
    return {
        "healthy": is_healthy(findings),
        "findings": findings,
        "matrix": ev.matrix,
        "expected_peers": {inv: sorted(peers) for inv, peers in ev.expected.items()},
        "down": {inv: f.kind for inv, f in ev.down.items()},
    }
