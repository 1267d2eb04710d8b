# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Expected BGP peers by Calico's rules (REFERENCE.md, "calico-node semantics").

Read from the datastore's Nodes, BGPConfiguration `default` and BGPPeers as
calico_nodes_info returns them - the topology is read, never guessed:
- node-to-node mesh, unless BGPConfiguration `default` sets
  nodeToNodeMeshEnabled: false: every node without a route-reflector cluster
  ID peers with every other such node that has a BGP IPv4 address, self
  skipped BY IP; a node with a cluster ID has no mesh at all;
- BGPPeers: one with `node` is for that node, one with `nodeSelector` for the
  nodes it selects, one with neither is global (every node). The peers are
  `peerIP` (a Calico node or a router outside Calico) or the Calico nodes
  `peerSelector` selects, self skipped by IP;
- reverse peerings, as confd adds them between Calico nodes: a node selected
  by a BGPPeer's peerSelector (or whose IP is its peerIP) also peers with the
  nodes that BGPPeer is for.
Selectors are evaluated by mesh/selector.py (all(), has(k), k == 'v',
k != 'v', &&); a BGPPeer with a selector it cannot evaluate is left out of
the expected peers (``Topology.unsupported``).

Everything is dict/set based so that 150 nodes in full mesh (22,350
sessions) or 1,000 nodes with route reflectors are computed in milliseconds.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.addresses import node_ipv4, normalize_ip
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.selector import (
    SelectorError,
    matches,
    parse,
)

MESH = "node-to-node mesh"


def mesh_enabled(bgp_configuration: dict | None) -> bool:
    """Mesh is on unless BGPConfiguration `default` turns it off."""
    return (bgp_configuration or {}).get("mesh_enabled") is not False


def _peer_ipv4(text):
    """A BGPPeer's peerIP as an IPv4 address ('10.0.1.5:179' -> '10.0.1.5'); None for IPv6."""
    text = str(text or "").strip()
    if text.startswith("[") or text.count(":") > 1:
        return None
    return normalize_ip(text.split(":", 1)[0])


def describe_bgp_peer(peer: dict) -> str:
    """`name: <for whom> -> <peers>` as a user reads a BGPPeer."""
    whom = (f"node {peer['node']}" if peer.get("node") else peer.get("node_selector") or "every node (global)")
    to = f"peerIP {peer['peer_ip']}" if peer.get("peer_ip") else peer.get("peer_selector")
    return f"{peer.get('name')}: {whom} -> {to}"


class _Peering:
    """One BGPPeer with its selectors parsed."""

    def __init__(self, peer):
        self.name = peer.get("name") or "?"
        self.node = peer.get("node") or None
        self.node_terms = parse(peer["node_selector"]) if peer.get("node_selector") else None
        self.peer_terms = parse(peer["peer_selector"]) if peer.get("peer_selector") else None
        self.peer_ip = _peer_ipv4(peer.get("peer_ip")) if self.peer_terms is None else None

    def is_for(self, name, labels):
        if self.node:
            return name == self.node
        return self.node_terms is None or matches(self.node_terms, labels)


class Topology:
    """Who peers with whom by Calico's rules (module docstring), read from the datastore's resources."""

    def __init__(self, nodes: list, bgp_configuration: dict | None, bgp_peers: list | None = None) -> None:
        self.mesh = mesh_enabled(bgp_configuration)
        self.members = []  # (name, ip, labels, cluster ID) of every node with a BGP IPv4 address
        for node in sorted(nodes or [], key=lambda n: (node_ipv4(n) or "", n.get("name") or "")):
            ip = node_ipv4(node)
            if ip:
                self.members.append((node.get("name"), ip, node.get("labels") or {}, node.get("rr_cluster_id") or ""))
        self.peerings, self.unsupported = [], []
        for peer in sorted(bgp_peers or [], key=lambda p: p.get("name") or ""):
            try:
                self.peerings.append(_Peering(peer))
            except SelectorError as exc:
                self.unsupported.append((peer, str(exc)))
        # Per BGPPeer, once: the Calico nodes its peerSelector selects, and the nodes it is for.
        self.targets = [[m[1] for m in self.members if matches(p.peer_terms, m[2])] if p.peer_terms is not None
                        else [p.peer_ip] if p.peer_ip else [] for p in self.peerings]
        self.local = [[m[1] for m in self.members if p.is_for(m[0], m[2])] for p in self.peerings]

    def peers_of(self, name: str | None, ip: str | None, labels: dict | None = None,
                 cluster_id: str = "") -> dict[str, str]:
        """{peer IPv4: why it is expected} for the node `name` at `ip` (name None: not registered)."""
        labels = labels or {}
        out: dict[str, str] = {}
        if self.mesh and not cluster_id:
            for other in self.members:
                if other[1] != ip and not other[3]:
                    out.setdefault(other[1], MESH)
        for peering, targets in zip(self.peerings, self.targets, strict=True):
            if peering.is_for(name, labels):
                for target in targets:
                    if target != ip:
                        out.setdefault(target, f"BGPPeer {peering.name}")
        for peering, local in zip(self.peerings, self.local, strict=True):
            selected = (matches(peering.peer_terms, labels) if peering.peer_terms is not None
                        else peering.peer_ip == ip)
            if selected:
                for local_ip in local:
                    if local_ip != ip:
                        out.setdefault(local_ip, f"BGPPeer {peering.name} (reverse peering)")
        return out

    def by_ip(self) -> dict[str, dict[str, str]]:
        """{node IPv4: {peer IPv4: why}} for every registered node with a BGP address."""
        out: dict[str, dict[str, str]] = {}
        for name, ip, labels, cluster_id in self.members:
            for peer, why in self.peers_of(name, ip, labels, cluster_id).items():
                out.setdefault(ip, {}).setdefault(peer, why)
            out.setdefault(ip, {})
        return out


def expected_peers_by_ip(nodes: list, bgp_configuration: dict | None, bgp_peers: list | None = None
                         ) -> dict[str, set[str]]:
    """{node IPv4: set of peer IPv4s} for every registered node with a BGP address."""
    return {ip: set(peers) for ip, peers in Topology(nodes, bgp_configuration, bgp_peers).by_ip().items()}


def expected_peers_for(nodes: list, bgp_configuration: dict | None, host_ip: Any,
                       bgp_peers: list | None = None) -> list[str]:
    """Sorted peer IPs one host must have (an unregistered host counts as a node without labels or
    cluster ID). BGPPeers whose selectors cannot be evaluated are left out (Topology.unsupported)."""
    ip = normalize_ip(host_ip)
    topology = Topology(nodes, bgp_configuration, bgp_peers)
    # Only this host's peers: every host of a play asks, so the whole topology per call would be N^2.
    member = next((m for m in topology.members if m[1] == ip), None)
    if member is None:
        return sorted(topology.peers_of(None, ip))
    return sorted(topology.peers_of(*member))


def bgp_peers_required(nodes: Any, bgp_peers: list | None) -> str | None:
    """The message when BGPPeers are needed but were not passed (route reflectors exist), else None."""
    if bgp_peers is not None:
        return None
    reflectors = sorted(n.get("name") or "?" for n in nodes or [] if isinstance(n, dict) and n.get("rr_cluster_id"))
    if not reflectors:
        return None
    return (f"nodes {', '.join(reflectors)} carry a route-reflector cluster ID, so who peers with whom is set by "
            "the BGPPeers: pass bgp_peers (the bgp_peers calico_nodes_info returns)")
