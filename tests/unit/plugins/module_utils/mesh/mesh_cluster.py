"""Build calico_mesh_check input the way the verify play gathers it.

Node statuses are produced by parsing BIRD 1.6 `show protocols` replies
(parse_protocols), so they have exactly the shape calico_bgp_status
returns. `Cluster.session(a, b, ...)` rewrites one row of a node's reply.
"""

import ipaddress

from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.protocols import parse_protocols
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh import evaluation, expected

HEADER = "2002-name     proto    table    state  since       info"


# The BGPPeer the route_reflectors role writes, as calico_nodes_info returns it.
RR_PEER = {"name": "peer-with-route-reflectors", "node": None, "node_selector": "all()", "peer_ip": None,
           "peer_selector": "route-reflector == 'true'", "as_number": None}


def node(name, ip, rr="", labels=None):
    return {"name": name, "ipv4_address": ip, "rr_cluster_id": rr, "labels": labels or {}}


def bgp_peer(name, node=None, node_selector=None, peer_ip=None, peer_selector=None, as_number=None):
    return {"name": name, "node": node, "node_selector": node_selector, "peer_ip": peer_ip,
            "peer_selector": peer_selector, "as_number": as_number}


class Cluster:
    """`reflectors` get a cluster ID and the label route-reflector=true, and the cluster the role's
    BGPPeer (bgp_peers; pass your own list to replace it)."""

    def __init__(self, count, reflectors=(), mesh_enabled=True, first="10.0.1.201", bgp_peers=None):
        self.bgp = {"exists": not mesh_enabled, "mesh_enabled": mesh_enabled, "as_number": 64512}
        self.bgp_peers = list(bgp_peers) if bgp_peers is not None else ([dict(RR_PEER)] if reflectors else [])
        self.hosts, self.nodes, self.rows = {}, [], {}
        for i in range(count):
            inv, ip = f"node{i + 1}", str(ipaddress.ip_address(first) + i)
            self.hosts[inv] = {"ip": ip, "hostname": inv, "nodename": inv}
            self.nodes.append(
                {
                    "name": inv,
                    "ipv4_address": ip,
                    "ipv4_network": f"{ip}/24",
                    "ipv6_address": None,
                    "rr_cluster_id": "224.0.0.1" if inv in reflectors else "",
                    "ipip_tunnel_addr": f"172.20.{i}.0",
                    "asn": None,
                    "labels": {"route-reflector": "true"} if inv in reflectors else {},
                }
            )
        for inv, host in self.hosts.items():
            peers = expected.expected_peers_for(self.nodes, self.bgp, host["ip"], self.bgp_peers)
            self.rows[inv] = {ip: self._row(inv, ip, "up", "Established") for ip in peers}
        self.down = {}

    def ip(self, inv):
        return self.hosts[inv]["ip"]

    def _row(self, inv, peer_ip, state, info, kind=None):
        if kind is None:
            reflector = any(n["rr_cluster_id"] for n in self.nodes if n["ipv4_address"] in (peer_ip, self.ip(inv)))
            kind = "Node" if reflector else "Mesh"
        return f" {kind}_{peer_ip.replace('.', '_')} BGP      master   {state}  12:49:54    {info}"

    def session(self, inv, peer_ip, state="start", info="Active        Socket: Connection refused", kind=None):
        self.rows[inv][peer_ip] = self._row(inv, peer_ip, state, info, kind)

    def drop_session(self, inv, peer_ip):
        self.rows[inv].pop(peer_ip, None)

    def fail_host(self, inv, msg=None, unreachable=False):
        self.down[inv] = {"unreachable": True} if unreachable else {"failed": True}
        self.down[inv]["msg"] = msg or (
            "calico-node / BIRD is not running on this host: no BIRD control socket answers at "
            "/var/run/calico/bird.ctl, /var/run/bird/bird.ctl (no socket file)"
        )

    def reply(self, inv):
        rows = [" kernel1  Kernel   master   up     12:49:50", " device1  Device   master   up     12:49:50"]
        rows += [self.rows[inv][ip] for ip in sorted(self.rows[inv])]
        return [HEADER, "1002-" + rows[0][1:], *rows[1:], "0000 "]

    def status(self, inv):
        if inv in self.down:
            return dict(self.down[inv])
        return {"changed": False, "bird_version": "1.6.8", "router_id": self.ip(inv),
                "peers": parse_protocols(self.reply(inv))}

    def check_input(self, probe=None, cloud="gcp", cloud_rules=None):
        hosts = {inv: dict(host, status=self.status(inv)) for inv, host in self.hosts.items()}
        out = {"hosts": hosts, "nodes": self.nodes, "bgp_configuration": self.bgp, "bgp_peers": self.bgp_peers,
               "cloud": cloud}
        if probe is not None:
            out["probe"] = probe
        if cloud_rules is not None:
            out["cloud_rules"] = cloud_rules
        return out

    def evaluate(self, probe=None, cloud="gcp", cloud_rules=None):
        args = self.check_input(probe, cloud)
        return evaluation.evaluate(args["hosts"], args["nodes"], args["bgp_configuration"], probe, cloud,
                             args["bgp_peers"], cloud_rules)

    def probe_matrix(self, blocked=()):
        """Full probe matrix; `blocked` holds (src_inv, dst_inv) pairs that fail."""
        ips = {inv: self.ip(inv) for inv in self.hosts}
        return {
            ips[a]: {ips[b]: (a, b) not in blocked for b in self.hosts if b != a} for a in self.hosts
        }
