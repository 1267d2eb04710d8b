"""Mesh evaluation (mesh/evaluation.py): one exact finding per scenario, its fix as data."""


from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh import evaluation, expected, table

from tests.unit.plugins.module_utils.mesh.mesh_cluster import Cluster, bgp_peer


def only(report):
    assert len(report["findings"]) == 1, [f.to_dict() for f in report["findings"]]
    return report["findings"][0]


# -- healthy ---------------------------------------------------------------


def test_healthy_three_and_five_node_mesh_have_no_findings():
    for count in (3, 5):
        cluster = Cluster(count)
        report = cluster.evaluate(probe=cluster.probe_matrix())
        assert report["findings"] == [] and report["healthy"] is True
        assert report["matrix"]["node1"] == {f"node{i}": "Established" for i in range(2, count + 1)}
        others = sorted(cluster.ip(f"node{i}") for i in range(1, count + 1) if i != 2)
        assert report["expected_peers"]["node2"] == others


def test_healthy_route_reflector_cluster_has_no_findings():
    cluster = Cluster(8, reflectors=("node1", "node2"), mesh_enabled=False)
    report = cluster.evaluate()
    assert report["findings"] == []
    assert set(report["matrix"]["node5"]) == {"node1", "node2"}
    assert len(report["matrix"]["node1"]) == 7


def test_router_sessions_are_not_judged_when_the_bgp_peers_are_not_known():
    cluster = Cluster(3)
    cluster.bgp_peers = None
    cluster.session("node1", "192.0.2.1", "start", "Active Socket: Connection refused", kind="Global")
    assert cluster.evaluate()["findings"] == []


def test_router_of_a_bgp_peer_is_expected_and_judged():
    tor = bgp_peer("tor", node="node1", peer_ip="192.0.2.1", as_number=65001)
    cluster = Cluster(3, bgp_peers=[tor])
    cluster.session("node1", "192.0.2.1", "up", "Established", kind="Node")
    report = cluster.evaluate()
    assert report["findings"] == [] and report["expected_peers"]["node1"] == ["10.0.1.202", "10.0.1.203", "192.0.2.1"]
    assert report["matrix"]["node1"]["192.0.2.1"] == "Established"

    cluster.session("node1", "192.0.2.1", "start", "Active        Socket: Connection refused", kind="Node")
    f = only(cluster.evaluate())
    assert (f.kind, f.severity, f.hosts, f.node, f.peer) == (
        "external_peer_not_established", "error", ["node1"], "node1", "192.0.2.1")
    assert "node1 (10.0.1.201) -> 192.0.2.1: Node_192_0_2_1 state start" in f.evidence[0]
    assert "expected from BGPPeer tor" in f.evidence
    assert "a BGP peer outside Calico (BGPPeer tor)" in f.cause and "check the router at 192.0.2.1" in f.fix.to_text()


def test_session_no_bgp_peer_asks_for_is_unexpected():
    cluster = Cluster(3)
    cluster.session("node1", "192.0.2.1", "start", "Active Socket: Connection refused", kind="Global")
    f = only(cluster.evaluate())
    assert (f.kind, f.severity, f.hosts, f.peer) == ("unexpected_peer", "warning", ["node1"], "192.0.2.1")
    assert "neither the mesh nor any BGPPeer in the datastore asks for" in f.cause


# -- BGP sessions ----------------------------------------------------------


def test_tcp179_blocked_between_two_nodes_hold_timer():
    cluster = Cluster(4)
    cluster.session("node1", cluster.ip("node2"), "start", "Connect       BGP Error: Hold timer expired")
    cluster.session("node2", cluster.ip("node1"), "start", "Passive")
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts, f.node, f.peer) == ("tcp179_blocked", ["node1", "node2"], "node1", "10.0.1.202")
    assert any("Hold timer expired" in line for line in f.evidence)
    assert any("node2 (10.0.1.202) -> 10.0.1.201" in line and "Passive" in line for line in f.evidence)
    assert "between node1 and node2 only" in f.cause
    assert "calico_fleet.fleet.scale_out --tags network" in f.fix.to_text() and "gcp_network" in f.fix.to_text()


def test_tcp179_connection_refused_on_aws_names_the_security_group():
    cluster = Cluster(3)
    cluster.session("node2", cluster.ip("node3"), "start", "Active        Socket: Connection refused")
    cluster.session("node3", cluster.ip("node2"), "start", "Active        Socket: Connection refused")
    f = only(cluster.evaluate(cloud="aws"))
    assert f.kind == "tcp179_blocked" and f.hosts == ["node2", "node3"]
    assert "security group" in f.fix.to_text()


def test_a_leftover_peer_shutdown_error_does_not_hide_a_blocked_tcp179():
    """Seen in the lab: after calico-node restarts behind a TCP 179 block, BIRD keeps the peer's last
    error ('Administrative shutdown') while the session sits in Connect: the state decides."""
    cluster = Cluster(3)
    cluster.session("node1", cluster.ip("node2"), "start", "Connect       Received: Administrative shutdown")
    cluster.session("node2", cluster.ip("node1"), "start", "Passive")
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts) == ("tcp179_blocked", ["node1", "node2"])


def test_tcp179_blocked_everywhere_is_one_finding():
    cluster = Cluster(4)
    for a in cluster.hosts:
        for b in cluster.hosts:
            if a != b:
                cluster.session(a, cluster.ip(b), "start", "Connect")
    f = only(cluster.evaluate())
    assert f.kind == "tcp179_blocked" and f.hosts == ["node1", "node2", "node3", "node4"]
    assert "between all nodes" in f.cause


def test_one_isolated_node_is_one_finding():
    cluster = Cluster(5)
    for b in ("node1", "node2", "node3", "node4"):
        cluster.session("node5", cluster.ip(b), "start", "Active        Socket: Connection refused")
        cluster.session(b, cluster.ip("node5"), "start", "Connect")
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts) == ("tcp179_blocked", ["node5"])
    assert "to and from node5" in f.cause
    assert len(f.evidence) == 8


def test_session_stuck_without_network_error_is_not_established():
    cluster = Cluster(3)
    cluster.session("node1", cluster.ip("node3"), "start", "Idle          BGP Error: Bad peer AS")
    cluster.session("node3", cluster.ip("node1"), "start", "OpenSent")
    f = only(cluster.evaluate())
    assert f.kind == "peer_not_established" and f.hosts == ["node1", "node3"]
    assert any("Bad peer AS" in line for line in f.evidence)


def test_session_disabled_by_hand_with_empty_info():
    cluster = Cluster(3)
    cluster.session("node1", cluster.ip("node2"), "down", "")
    cluster.session("node2", cluster.ip("node1"), "start", "Passive")
    f = only(cluster.evaluate())
    assert f.kind == "peer_not_established"
    assert any("state down (empty info)" in line for line in f.evidence)
    assert only(cluster.evaluate()).to_dict()["hosts"] == ["node1", "node2"]


def test_missing_peer_on_one_node():
    cluster = Cluster(3)
    cluster.drop_session("node1", cluster.ip("node3"))
    cluster.session("node3", cluster.ip("node1"), "start", "Active        Socket: Connection refused")
    f = only(cluster.evaluate())
    assert (f.kind, f.peer) == ("missing_peer", "10.0.1.203")
    assert "node1 (10.0.1.201) has no BGP protocol for node3 (10.0.1.203)" in f.evidence
    assert any("Connection refused" in line for line in f.evidence)
    assert "restart calico-node on node1" in f.fix.to_text()


def test_new_node_nobody_peers_with_yet_is_one_finding():
    cluster = Cluster(4)
    for a in ("node1", "node2", "node3"):
        cluster.drop_session(a, cluster.ip("node4"))
        cluster.session("node4", cluster.ip(a), "start", "Active        Socket: Connection refused")
    f = only(cluster.evaluate())
    assert (f.kind, f.node, f.peer) == ("missing_peer", "node4", "10.0.1.204")
    assert f.hosts == ["node1", "node2", "node3", "node4"]


def test_unexpected_mesh_peer():
    cluster = Cluster(3)
    cluster.session("node1", "10.0.1.250", "start", "Active        Socket: Connection refused")
    cluster.session("node2", "10.0.1.250", "start", "Active        Socket: Connection refused")
    report = cluster.evaluate()
    f = only(report)
    assert (f.kind, f.severity, f.peer, f.hosts) == ("unexpected_peer", "warning", "10.0.1.250", ["node1", "node2"])
    assert report["healthy"] is True
    assert report["matrix"]["node1"]["10.0.1.250"] == "unexpected Active"


# -- hosts that answered nothing, identity ----------------------------------


def test_bird_down_on_one_node():
    cluster = Cluster(4)
    cluster.fail_host("node3")
    for a in ("node1", "node2", "node4"):
        cluster.session(a, cluster.ip("node3"), "start", "Active        Socket: Connection refused")
    f = only(cluster.evaluate(probe=cluster.probe_matrix()))
    assert (f.kind, f.hosts, f.node) == ("bird_down", ["node3"], "node3")
    assert "calico-node / BIRD is not running on this host" in f.evidence[0]
    assert len(f.evidence) == 4
    assert "restart calico-node on node3" in f.fix.to_text()


def test_unreachable_host():
    cluster = Cluster(3)
    cluster.fail_host("node2", msg="Failed to connect to the host via ssh", unreachable=True)
    for a in ("node1", "node3"):
        cluster.session(a, cluster.ip("node2"), "start", "Connect")
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts) == ("host_unreachable", ["node2"])
    assert "ansible node2 -m ansible.builtin.ping" in f.fix.to_text()


def test_stale_node_left_behind_by_a_removed_machine():
    cluster = Cluster(4)
    del cluster.hosts["node4"]
    for a in cluster.hosts:
        cluster.session(a, "10.0.1.204", "start", "Active        Socket: Connection refused")
    report = cluster.evaluate()
    f = only(report)
    assert (f.kind, f.node, f.peer, f.fix.commands) == (
        "stale_node", "node4", "10.0.1.204", ["calicoctl delete node node4"])
    assert len(f.evidence) == 4  # the registration + one failing session per live node
    assert report["matrix"]["node1"]["10.0.1.204"] == "Active"


def test_two_hosts_sharing_a_name():
    """node3 came up with node2's name: it overwrote node2's Node, which node2 won back."""
    cluster = Cluster(3)
    cluster.hosts["node3"].update(hostname="node2", nodename="node2")
    cluster.nodes = [n for n in cluster.nodes if n["name"] != "node3"]
    for a in ("node1", "node2"):
        cluster.drop_session(a, cluster.ip("node3"))
    cluster.drop_session("node3", cluster.ip("node2"))  # confd skips "self" by the Node's IP
    cluster.session("node3", cluster.ip("node1"), "start", "Active        Socket: Connection refused")
    f = only(cluster.evaluate(probe=cluster.probe_matrix()))
    assert (f.kind, f.hosts, f.node) == ("duplicate_nodename", ["node2", "node3"], "node2")
    assert f.fix.command() == "ansible-playbook calico_fleet.fleet.fix_nodename_conflict --limit node3"
    assert any("Connection refused" in line for line in f.evidence)


def test_nodename_file_with_trailing_newline_and_calico_node_refusing_to_start():
    cluster = Cluster(3)
    cluster.hosts["node2"]["nodename"] = "node2\n"
    cluster.fail_host("node2")
    for a in ("node1", "node3"):
        cluster.session(a, cluster.ip("node2"), "start", "Connect")
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts) == ("nodename_invalid", ["node2"])
    assert any("answered nothing" in line for line in f.evidence)


# -- IPIP probe --------------------------------------------------------------


def test_ipip_blocked_between_two_nodes_with_bgp_established():
    cluster = Cluster(4)
    f = only(cluster.evaluate(probe=cluster.probe_matrix(blocked={("node1", "node2")})))
    assert (f.kind, f.hosts, f.peer) == ("ipip_blocked", ["node1", "node2"], "10.0.1.202")
    assert f.evidence == [
        "IPIP probe node1 (10.0.1.201) -> node2 (10.0.1.202) failed (BGP node1 -> node2: Established)"
    ]
    assert "calico-ipip" in f.fix.to_text() and "calico_fleet.fleet.scale_out --tags network" in f.fix.to_text()


def test_ipip_blocked_everywhere_is_the_gcp_incident():
    cluster = Cluster(4)
    blocked = {(a, b) for a in cluster.hosts for b in cluster.hosts}
    for cloud, text in (("gcp", "protocol 4 from the VPC range"),
                        ("aws", "{proto: '4', cidr_ip: the VPC's CIDR (aws_network_vpc_cidr)}")):
        f = only(cluster.evaluate(probe=cluster.probe_matrix(blocked), cloud=cloud))
        assert f.kind == "ipip_blocked" and f.hosts == ["node1", "node2", "node3", "node4"]
        assert "between all nodes" in f.cause
        assert text in f.fix.to_text()
        assert len(f.evidence) == 12


def test_ipip_blocked_to_one_node():
    cluster = Cluster(4)
    blocked = {("node4", b) for b in cluster.hosts} | {(b, "node4") for b in cluster.hosts}
    f = only(cluster.evaluate(probe=cluster.probe_matrix(blocked)))
    assert (f.kind, f.hosts) == ("ipip_blocked", ["node4"])


# -- size, rendering, speed ------------------------------------------------


def test_full_mesh_above_100_nodes_recommends_route_reflectors():
    report = Cluster(101).evaluate()
    f = only(report)
    assert (f.kind, f.severity) == ("mesh_too_large", "warning")
    assert "5050 BGP sessions" in f.evidence[0]
    assert "route reflectors" in f.fix.to_text()
    assert report["healthy"] is True


def test_150_node_full_mesh_is_judged_whole_with_only_the_size_warning():
    # How long this takes is measured by bench/bench_mesh_check.py, not here.
    cluster = Cluster(150)
    args = cluster.check_input()
    report = evaluation.evaluate(args["hosts"], args["nodes"], args["bgp_configuration"])
    table.render_table(args["hosts"], report["matrix"], report["findings"], report["down"])
    assert sum(len(row) for row in report["matrix"].values()) == 22350
    assert [f.kind for f in report["findings"]] == ["mesh_too_large"]


def test_status_that_could_not_be_read_is_not_called_bird_down():
    cluster = Cluster(3)
    cluster.down["node1"] = {"failed": True, "msg": "reading BIRD's BGP status failed: permission denied on "
                             "/var/run/calico/bird.ctl: the BIRD socket needs root"}
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts) == ("status_failed", ["node1"])
    assert "permission denied" in f.evidence[0] and "become: true" in f.fix.to_text()


def test_skipped_status_counts_as_no_answer():
    cluster = Cluster(3)
    cluster.down["node3"] = {"skipped": True, "changed": False}
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts) == ("host_unreachable", ["node3"])
    assert "the status task was skipped" in f.evidence[0]


# -- new nodes not joined to Kubernetes ---------------------------------------


def _add_unjoined(cluster, inv, ip, joined=False):
    """A new machine with its identity written but no Calico Node (calico-node never ran there)."""
    cluster.hosts[inv] = {"ip": ip, "hostname": inv, "nodename": inv, "joined": joined}
    cluster.rows[inv] = {}
    cluster.fail_host(inv)


def test_new_nodes_not_joined_are_named_as_such_not_as_a_bgp_fault():
    cluster = Cluster(3)
    for host in cluster.hosts.values():
        host["joined"] = True
    _add_unjoined(cluster, "node4", "10.0.1.204")
    _add_unjoined(cluster, "node5", "10.0.1.205")
    report = cluster.evaluate(probe=cluster.probe_matrix())
    assert [(f.kind, f.hosts, f.node) for f in report["findings"]] == [
        ("node_not_joined", ["node4"], "node4"),
        ("node_not_joined", ["node5"], "node5"),
    ]
    f = report["findings"][0]
    assert "is not joined to Kubernetes: no kubelet kubeconfig" in f.evidence[0]
    assert "calico-node / BIRD is not running" in f.evidence[1]
    assert "not a BGP fault" in f.cause and "--node-name node4" in f.fix.to_text()
    assert report["healthy"] is False


def test_joined_node_without_calico_node_is_not_called_unjoined():
    cluster = Cluster(3)
    cluster.hosts["node3"]["joined"] = True
    cluster.fail_host("node3")
    for a in ("node1", "node2"):
        cluster.session(a, cluster.ip("node3"), "start", "Active        Socket: Connection refused")
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts) == ("bird_down", ["node3"])
    assert f.cause.startswith("the host is joined to Kubernetes but calico-node / BIRD is not running")


def test_unknown_membership_keeps_the_old_findings():
    cluster = Cluster(3)
    _add_unjoined(cluster, "node4", "10.0.1.204", joined=None)
    assert [f.kind for f in cluster.evaluate()["findings"]] == ["unregistered_host"]


# -- route reflectors --------------------------------------------------------


def test_client_without_its_reflector_sessions_is_rr_session_missing():
    cluster = Cluster(6, reflectors=("node1", "node2"), mesh_enabled=False)
    for rr in ("node1", "node2"):
        cluster.drop_session("node5", cluster.ip(rr))
        cluster.session(rr, cluster.ip("node5"), "start", "Active        Socket: Connection refused")
    f = only(cluster.evaluate())
    assert (f.kind, f.severity, f.node) == ("rr_session_missing", "error", "node5")
    assert f.hosts == ["node1", "node2", "node5"]
    assert "route-reflector topology is incomplete" in f.cause and "learns no routes" in f.cause
    assert "calico_fleet.fleet.route_reflectors" in f.fix.to_text()


def test_missing_mesh_peer_between_clients_stays_missing_peer():
    cluster = Cluster(5, reflectors=("node1",), mesh_enabled=True)
    cluster.drop_session("node3", cluster.ip("node4"))
    cluster.session("node4", cluster.ip("node3"), "start", "Active        Socket: Connection refused")
    kinds = sorted(f.kind for f in cluster.evaluate()["findings"])
    assert kinds == ["mesh_with_route_reflectors", "missing_peer"]


def test_mesh_turned_back_on_with_reflectors_is_a_warning():
    cluster = Cluster(5, reflectors=("node1", "node2"), mesh_enabled=True)
    report = cluster.evaluate()
    f = only(report)
    assert (f.kind, f.severity) == ("mesh_with_route_reflectors", "warning")
    assert "node1, node2" in f.evidence[0]
    assert "{\"route_reflectors_state\": \"disabled\"}" in f.fix.text and f.fix.playbook == "route_reflectors"
    assert report["healthy"] is True
    assert Cluster(5, reflectors=("node1", "node2"), mesh_enabled=False).evaluate()["findings"] == []


def test_deleted_bgp_peer_leaves_every_client_without_reflector_sessions():
    """The BGPPeer deleted by hand: BIRD follows the datastore and drops the sessions; the
    topology itself is the finding, naming every client left without a reflector and the
    reflectors left without a client."""
    cluster = Cluster(6, reflectors=("node1", "node2"), mesh_enabled=False)
    cluster.bgp_peers = []
    for inv in cluster.hosts:
        cluster.rows[inv] = {}
    f = only(cluster.evaluate())
    assert (f.kind, f.severity, f.node, f.peer) == ("rr_session_missing", "error", None, None)
    assert f.hosts == ["node1", "node2", "node3", "node4", "node5", "node6"]
    assert "node1 (10.0.1.201): no BGPPeer in the datastore peers it with any node outside the reflectors " \
           "(its expected peers: none)" in f.evidence
    assert "node3 (10.0.1.203): no BGPPeer in the datastore peers it with a route reflector (its expected " \
           "peers: none)" in f.evidence
    assert "route reflectors (nodes with a cluster ID): node1 (10.0.1.201), node2 (10.0.1.202)" in f.evidence
    assert "BGPPeers: none" in f.evidence
    assert "with the mesh off" in f.cause and "calico_fleet.fleet.route_reflectors" in f.fix.to_text()


def test_reflector_without_its_label_is_left_out_and_named():
    cluster = Cluster(5, reflectors=("node1", "node2"), mesh_enabled=False)
    cluster.nodes[1]["labels"] = {}
    report = cluster.evaluate()
    f = next(f for f in report["findings"] if f.kind == "rr_session_missing" and f.peer is None)
    assert (f.hosts, f.node) == (["node2"], "node2")
    assert "node2 (10.0.1.202): no BGPPeer in the datastore peers it with any node outside the reflectors " \
           "(its expected peers: 10.0.1.201)" in f.evidence
    assert "BGPPeers: peer-with-route-reflectors: all() -> route-reflector == 'true'" in f.evidence


def test_missing_reflector_session_names_the_bgp_peer_that_asks_for_it():
    cluster = Cluster(5, reflectors=("node1", "node2"), mesh_enabled=False)
    cluster.drop_session("node4", cluster.ip("node1"))
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts) == ("rr_session_missing", ["node1", "node4"])
    assert ("node4 (10.0.1.204) has no BGP protocol for node1 (10.0.1.201) (BGPPeer peer-with-route-reflectors)"
            in f.evidence)
    assert "restart calico-node on node4" in f.fix.to_text()


def test_stale_reflector_session_after_the_bgp_peer_is_gone_is_unexpected():
    cluster = Cluster(4, reflectors=("node1",), mesh_enabled=True)
    cluster.bgp_peers = []  # deleted; node4's BIRD was not re-rendered
    for inv in ("node1", "node2", "node3"):
        cluster.rows[inv] = {ip: row for ip, row in cluster.rows[inv].items()
                             if cluster.ip("node1") not in (ip, cluster.ip(inv))}
    report = cluster.evaluate()
    kinds = sorted((f.kind, tuple(f.hosts)) for f in report["findings"])
    assert ("unexpected_peer", ("node4",)) in kinds
    assert report["matrix"]["node4"]["node1"] == "unexpected Established"


def test_unsupported_selector_is_an_error_naming_the_bgp_peer():
    odd = bgp_peer("odd", node_selector="rack in {'r1', 'r2'}", peer_ip="192.0.2.1")
    cluster = Cluster(3, bgp_peers=[odd])
    cluster.session("node1", "192.0.2.1", "up", "Established", kind="Node")
    report = cluster.evaluate()
    f = only(report)
    assert (f.kind, f.severity) == ("bgp_peer_selector_unsupported", "error")
    assert f.evidence == ["BGPPeer odd: rack in {'r1', 'r2'} -> peerIP 192.0.2.1: \"rack in {'r1', 'r2'}\" is not "
                          "understood by calico-fleet (it evaluates all(), has(k), k == 'v', k != 'v', joined by &&)"]
    assert report["healthy"] is False


def test_bgp_peers_are_required_where_route_reflectors_exist():
    cluster = Cluster(4, reflectors=("node1",), mesh_enabled=False)
    args = cluster.check_input()
    assert evaluation.input_errors(args["hosts"], args["nodes"], None) == [
        "nodes node1 carry a route-reflector cluster ID, so who peers with whom is set by the BGPPeers: "
        "pass bgp_peers (the bgp_peers calico_nodes_info returns)"]
    assert evaluation.input_errors(args["hosts"], args["nodes"], []) == []


# -- no BGP session at all ---------------------------------------------------


def test_mesh_off_without_bgp_peers_is_no_bgp_peers_naming_every_node():
    cluster = Cluster(3, mesh_enabled=False)
    report = cluster.evaluate(probe=cluster.probe_matrix())
    f = only(report)
    assert (f.kind, f.severity, f.hosts, f.node) == ("no_bgp_peers", "error", ["node1", "node2", "node3"], None)
    assert f.evidence[:3] == [f"node{i} ({cluster.ip(f'node{i}')}): no expected BGP session" for i in (1, 2, 3)]
    assert "nodeToNodeMeshEnabled: false (BGPConfiguration default)" in f.evidence
    assert "BGPPeers: none" in f.evidence
    assert "mesh is off" in f.cause and "no BGPPeer exists" in f.cause
    assert f.fix.extra_vars == {"calico_network_mesh_enabled": True} and f.fix.tags == ["calico_network"]
    assert "BGPPeer" in f.fix.text
    assert report["healthy"] is False


def test_node_outside_every_bgp_peer_selector_is_named_alone():
    rack = bgp_peer("rack-a", node_selector="rack == 'a'", peer_selector="rack == 'a'")
    cluster = Cluster(3, mesh_enabled=False, bgp_peers=[rack])
    for n in cluster.nodes[:2]:
        n["labels"] = {"rack": "a"}
    for inv in cluster.hosts:  # BIRD as the datastore's topology has it
        peers = expected.expected_peers_for(cluster.nodes, cluster.bgp, cluster.ip(inv), cluster.bgp_peers)
        cluster.rows[inv] = {ip: cluster._row(inv, ip, "up", "Established", kind="Node") for ip in peers}
    f = only(cluster.evaluate())
    assert (f.kind, f.hosts, f.node) == ("no_bgp_peers", ["node3"], "node3")
    assert "outside every BGPPeer's selectors" in f.cause
    assert any("rack-a" in line for line in f.evidence)


def test_single_node_without_peers_is_healthy():
    assert Cluster(1, mesh_enabled=False).evaluate()["findings"] == []


def test_route_reflector_cluster_is_not_no_bgp_peers():
    assert Cluster(6, reflectors=("node1", "node2"), mesh_enabled=False).evaluate()["findings"] == []
    # Reflectors without their BGPPeer: rr_session_missing explains it, not a second finding.
    cluster = Cluster(6, reflectors=("node1", "node2"), mesh_enabled=False, bgp_peers=[])
    kinds = [f.kind for f in cluster.evaluate()["findings"]]
    assert "no_bgp_peers" not in kinds and "rr_session_missing" in kinds


def test_no_bgp_peers_beside_bgp_peers_does_not_ask_for_the_mesh():
    """calico_network refuses the mesh beside BGPPeers: the fix is a BGPPeer that selects the node."""
    rack = bgp_peer("rack-a", node_selector="rack == 'a'", peer_selector="rack == 'a'")
    cluster = Cluster(3, mesh_enabled=False, bgp_peers=[rack])
    f = next(f for f in cluster.evaluate()["findings"] if f.kind == "no_bgp_peers")
    assert f.hosts == ["node1", "node2", "node3"]
    assert "calico_network_mesh_enabled" not in f.fix.to_text() and f.fix.text.startswith("add a BGPPeer that selects")
