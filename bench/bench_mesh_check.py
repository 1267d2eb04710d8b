"""Time calico_mesh_check's logic on synthetic clusters.

Scenarios: 150 nodes in full mesh (22,350 sessions), with and without the
IPIP probe matrix, and 1,000 nodes with 3 route reflectors (mesh off), each
healthy and with a few problems injected (TCP 179 blocked on one pair, BIRD
down on one node, IPIP probe failing on one pair). Times evaluation.evaluate +
table.render_table, the work the module does. Each scenario also states the
findings it must produce; a run that finds others fails like a slow one.

    .venv/bin/python bench/bench_mesh_check.py [--repeat 5]
"""

import argparse
import ipaddress
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "collections"))

from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh import evaluation, expected, table  # noqa: E402


def peer(ip, established=True, kind="Mesh"):
    return {
        "name": f"{kind}_{ip.replace('.', '_')}",
        "address": ip,
        "port": None,
        "type": "node-to-node mesh" if kind == "Mesh" else "node specific",
        "state": "up" if established else "start",
        "since": "12:49:54",
        "bgp_state": "Established" if established else "Active",
        "info": "Established" if established else "Active Socket: Connection refused",
        "established": established,
    }


def synthetic(count, reflectors=0, problems=False, probed=True):
    ips = [str(ipaddress.ip_address("10.0.0.10") + i) for i in range(count)]
    names = [f"node{i + 1}" for i in range(count)]
    nodes = [
        {"name": n, "ipv4_address": ip, "ipv4_network": f"{ip}/16", "ipv6_address": None,
         "rr_cluster_id": "224.0.0.1" if i < reflectors else "", "ipip_tunnel_addr": None, "asn": None,
         "labels": {"route-reflector": "true"} if i < reflectors else {}}
        for i, (n, ip) in enumerate(zip(names, ips, strict=True))
    ]
    bgp = {"exists": bool(reflectors), "mesh_enabled": not reflectors, "as_number": 64512}
    # The BGPPeer roles/route_reflectors writes, as calico_nodes_info returns it.
    bgp_peers = [{"name": "peer-with-route-reflectors", "node": None, "node_selector": "all()", "peer_ip": None,
                  "peer_selector": "route-reflector == 'true'", "as_number": None}] if reflectors else []
    wanted = expected.expected_peers_by_ip(nodes, bgp, bgp_peers)
    kind = "Node" if reflectors else "Mesh"
    hosts = {}
    for n, ip in zip(names, ips, strict=True):
        peers = [peer(p, True, kind) for p in sorted(wanted[ip])]
        hosts[n] = {"ip": ip, "hostname": n, "nodename": n, "status": {"changed": False, "peers": peers}}
    probe = {a: {b: True for b in ips if b != a} for a in ips} if probed and count <= 200 else None
    if problems:
        # a session that exists in both layouts: two clients, or a client and a reflector
        a, b = names[-1], (names[0] if reflectors else names[-2])
        for x, y in ((a, b), (b, a)):
            for p in hosts[x]["status"]["peers"]:
                if p["address"] == hosts[y]["ip"]:
                    p.update(peer(p["address"], False, kind))
        hosts[names[-3]]["status"] = {"failed": True, "msg": "calico-node / BIRD is not running on this host"}
        if probe:
            probe[ips[-4]][ips[-5]] = False
    sessions = sum(len(v) for v in wanted.values())
    return hosts, nodes, bgp, bgp_peers, probe, sessions


def run(count, reflectors, problems, repeat, probed=True):
    hosts, nodes, bgp, bgp_peers, probe, sessions = synthetic(count, reflectors, problems, probed)
    times, report = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        report = evaluation.evaluate(hosts, nodes, bgp, probe, "gcp", bgp_peers)
        table.render_table(hosts, report["matrix"], report["findings"], report["down"])
        times.append(time.perf_counter() - start)
    return sessions, times, [f.kind for f in report["findings"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    # label, nodes, reflectors, problems injected, probe matrix given, the findings it must produce
    scenarios = [
        ("150 nodes, full mesh, healthy", 150, 0, False, True, {"mesh_too_large"}),
        ("150 nodes, full mesh, healthy, no probe", 150, 0, False, False, {"mesh_too_large"}),
        ("150 nodes, full mesh, 3 problems", 150, 0, True, True,
         {"bird_down", "ipip_blocked", "tcp179_blocked", "mesh_too_large"}),
        ("1000 nodes, 3 route reflectors, healthy", 1000, 3, False, False, set()),
        ("1000 nodes, 3 route reflectors, 2 problems", 1000, 3, True, False, {"bird_down", "tcp179_blocked"}),
    ]
    print(f"{'scenario':<44}{'sessions':>9}{'median s':>10}{'max s':>8}  findings")
    worst, wrong = 0.0, []
    for label, count, reflectors, problems, probed, must_find in scenarios:
        sessions, times, kinds = run(count, reflectors, problems, args.repeat, probed)
        worst = max(worst, max(times))
        if set(kinds) != must_find:
            wrong.append(f"{label}: found {sorted(kinds)}, expected {sorted(must_find)}")
        print(f"{label:<44}{sessions:>9}{statistics.median(times):>10.3f}{max(times):>8.3f}  {', '.join(kinds) or '-'}")
    print(f"target: well under 1 s per run; worst run {worst:.3f} s")
    for line in wrong:
        print(f"WRONG FINDINGS: {line}")
    return 0 if worst < 1.0 and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
