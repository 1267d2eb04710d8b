"""BIRD 1.6 configuration rendered the way Calico's confd renders it.

Rules reproduced (see REFERENCE.md, "calico-node semantics"):
- one `Mesh_<ip>` protocol per other registered node with a BGP IPv4 address;
- self is skipped BY IP, using this node's IP as the datastore has it;
- nodes with a route-reflector cluster ID are not in the mesh;
- the local side is `passive on` when the peer's IP, as a string, is greater;
- no mesh at all when BGPConfiguration `default` disables it;
- AS number: BGPConfiguration asNumber, else 64512;
- a node with a route-reflector cluster ID renders no mesh at all;
- BGPPeers: one that names a node (spec.node) or selects nodes
  (spec.nodeSelector) is node-specific, its protocols are `Node_<ip>`; one
  with neither is global, `Global_<ip>`. Peers come from spec.peerIP or from
  spec.peerSelector over the Calico Nodes (self skipped by IP); a peer
  already configured keeps its first protocol;
- reverse peerings, as confd adds them for symmetry between Calico nodes: a
  node selected by a BGPPeer's peerSelector (or whose IP is its peerIP)
  also peers (`Node_<ip>`) with the nodes that BGPPeer is for (node,
  nodeSelector, or every node for a global one);
- on a reflector (own cluster ID set), a peer in the same AS whose cluster ID
  differs (a client, or a reflector of another cluster) gets
  `rr client; rr cluster id <own ID>;`.
Selectors understood: `all()`, `has(k)`, `k == 'v'`, `k != 'v'`, joined by `&&`.
The lab shortens BIRD's connect/retry timers so sessions come up in seconds.
"""

import re

DEFAULT_AS = 64512


def node_ip(node):
    addr = ((node.get("spec") or {}).get("bgp") or {}).get("ipv4Address")
    return addr.split("/")[0] if addr else None


def cluster_id(node):
    return (((node or {}).get("spec") or {}).get("bgp") or {}).get("routeReflectorClusterID") or ""


def labels(node):
    return ((node or {}).get("metadata") or {}).get("labels") or {}


_TERM = re.compile(r"""^(?:all\(\)|has\((?P<has>[^)]+)\)"""
                   r"""|(?P<key>[\w./-]+)\s*(?P<op>==|!=)\s*(?P<q>['"])(?P<val>.*)(?P=q))$""")


def selects(selector, node_labels):
    """Whether a Calico selector (the subset above) matches a node's labels."""
    for term in (t.strip() for t in (selector or "").split("&&")):
        if not term:
            continue
        m = _TERM.match(term)
        if not m:
            raise ValueError(f"selector term not understood by the lab: {term!r}")
        if m.group("has") and m.group("has").strip() not in node_labels:
            return False
        if m.group("key"):
            equal = node_labels.get(m.group("key")) == m.group("val")
            if equal != (m.group("op") == "=="):
                return False
    return True


def bgp_peers(own_name, own_ip, nodes, peers):
    """[(protocol name prefix, peer ip, peer node or None, as number or None)] for this node."""
    own = nodes.get(own_name) or {}
    out, seen = [], set()
    for _name, peer in sorted((peers or {}).items()):
        spec = peer.get("spec") or {}
        if spec.get("node"):
            if spec["node"] != own_name:
                continue
            prefix = "Node"
        elif spec.get("nodeSelector"):
            if not selects(spec["nodeSelector"], labels(own)):
                continue
            prefix = "Node"
        else:
            prefix = "Global"
        targets = []
        if spec.get("peerIP"):
            ip = spec["peerIP"].split(":")[0]
            targets.append((ip, next((n for n in nodes.values() if node_ip(n) == ip), None)))
        elif spec.get("peerSelector"):
            for other in sorted(nodes.values(), key=lambda n: node_ip(n) or ""):
                if node_ip(other) and selects(spec["peerSelector"], labels(other)):
                    targets.append((node_ip(other), other))
        for ip, node in targets:
            if ip == own_ip or ip in seen:
                continue
            seen.add(ip)
            out.append((prefix, ip, node, spec.get("asNumber")))
    for _name, peer in sorted((peers or {}).items()):
        spec = peer.get("spec") or {}
        if spec.get("peerSelector"):
            if not selects(spec["peerSelector"], labels(own)):
                continue
        elif not spec.get("peerIP") or spec["peerIP"].split(":")[0] != own_ip:
            continue
        for other in sorted(nodes.values(), key=lambda n: node_ip(n) or ""):
            name = (other.get("metadata") or {}).get("name")
            if spec.get("node"):
                if name != spec["node"]:
                    continue
            elif spec.get("nodeSelector") and not selects(spec["nodeSelector"], labels(other)):
                continue
            ip = node_ip(other)
            if not ip or ip == own_ip or ip in seen:
                continue
            seen.add(ip)
            out.append(("Node", ip, other, None))
    return out


def mesh_peers(own_ip, nodes, bgp_config, own_cluster_id=""):
    spec = (bgp_config or {}).get("spec") or {}
    if spec.get("nodeToNodeMeshEnabled") is False or own_cluster_id:
        return []
    peers = set()
    for node in nodes.values():
        ip = node_ip(node)
        bgp = (node.get("spec") or {}).get("bgp") or {}
        if not ip or ip == own_ip or bgp.get("routeReflectorClusterID"):
            continue
        peers.add(ip)
    return sorted(peers)


def as_number(bgp_config):
    return int(((bgp_config or {}).get("spec") or {}).get("asNumber") or DEFAULT_AS)


def render(own_ip, nodes, bgp_config, peers=None, own_name=None):
    asn = as_number(bgp_config)
    own_cid = cluster_id(nodes.get(own_name)) if own_name else ""
    out = [
        "# Generated by the lab's calico-node stand-in from the Calico datastore.",
        f"router id {own_ip};",
        "log stderr { warning, error, fatal };",
        "protocol kernel { learn; persist; scan time 10; import all; export none; graceful restart; }",
        "protocol device { scan time 10; }",
        'protocol direct { interface -"cali*", "*"; }',
        "template bgp bgp_template {",
        f"  local as {asn};",
        "  multihop;",
        "  gateway recursive;",
        "  import all;",
        "  export none;",
        "  add paths on;",
        "  graceful restart;",
        "  connect delay time 1;",
        "  connect retry time 3;",
        "  error wait time 2,10;",
        "}",
    ]
    mesh = mesh_peers(own_ip, nodes, bgp_config, own_cid)
    for ip in mesh:
        out += [
            f"protocol bgp Mesh_{ip.replace('.', '_')} from bgp_template {{",
            f"  neighbor {ip} as {asn};",
            f"  source address {own_ip};",
        ]
        if ip > own_ip:
            out.append("  passive on;")
        out.append("}")
    for prefix, ip, node, peer_as in bgp_peers(own_name, own_ip, nodes, peers):
        if ip in mesh:
            continue
        peer_as = int(peer_as or asn)
        out += [
            f"protocol bgp {prefix}_{ip.replace('.', '_')} from bgp_template {{",
            f"  neighbor {ip} as {peer_as};",
            f"  source address {own_ip};",
        ]
        if own_cid and peer_as == asn and cluster_id(node) != own_cid:
            out += ["  rr client;", f"  rr cluster id {own_cid};"]
        out.append("}")
    return "\n".join(out) + "\n"
