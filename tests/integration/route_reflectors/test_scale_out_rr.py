"""Scale-out into a route-reflector cluster, on a 5-node lab with 2 reflectors, 2 nodes added.

The lab's cluster is moved to route reflectors by playbooks/route-reflectors.yml, then
playbooks/scale-out.yml adds two machines through the Compute test server. Afterwards the
mesh must still be off, each new node's BIRD must have Established sessions with exactly the
reflectors (no Mesh_ protocol), and verification must expect exactly that topology, read from
the datastore. Then what an operator may do by hand: the BGPPeer to the reflectors deleted
(verification names the nodes left without a reflector session, rr_session_missing) and the
node-to-node mesh turned back on (the drift check reports mesh_with_route_reflectors).

The lab is read and changed with its own API and etcd's JSON gateway, never with the code
under test.
"""

import os

import pytest

from lab import api
from tests.integration.conftest import ROOT, run_playbook
from tests.integration.drift.conftest import drift_check, etcd_delete, etcd_get, etcd_put
from tests.integration.join.conftest import output, scale_out
from tests.integration.route_reflectors.test_route_reflectors_lab import calico_nodes, calico_resources
from tests.integration.verify.conftest import established, ip, verify, wait

# The module builds its own lab (5 nodes, route reflectors) before the first test: more than the
# default 600 s per test when other labs share the machine.
pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]

NODES = 5
NEW = ("node-6", "node-7")
PLAYBOOK = ROOT / "playbooks" / "route-reflectors.yml"
CALICO = "/calico/resources/v3/projectcalico.org/"
BGPPEER_KEY = f"{CALICO}bgppeers/peer-with-route-reflectors"
BGPCONFIG_KEY = f"{CALICO}bgpconfigurations/default"


@pytest.fixture(scope="module")
def rr_lab():
    """Five joined nodes with the Compute test server, moved to two route reflectors."""
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    api.down()
    api.up(NODES)
    api.wait_for_mesh(timeout=180)
    api.cloud_start()
    run_playbook(PLAYBOOK, "-e", "route_reflectors_count=2", timeout=900)
    yield api
    api.cloud_stop()
    api.down()


def reflectors(lab):
    return sorted(name for name, obj in calico_nodes(lab).items()
                  if obj["spec"]["bgp"].get("routeReflectorClusterID"))


def names(lab):
    return [n["name"] for n in lab.status()["nodes"]]


def mesh_enabled(lab):
    spec = (etcd_get(lab, BGPCONFIG_KEY) or {}).get("spec") or {}
    return spec.get("nodeToNodeMeshEnabled") is not False


def test_scale_out_peers_the_new_nodes_with_the_reflectors_only(rr_lab, tmp_path):
    lab = rr_lab
    rrs = reflectors(lab)
    assert len(rrs) == 2 and not mesh_enabled(lab)
    proc = scale_out("-e", "scale_out_batch=rr-1", log=tmp_path / "scale-out.log")
    assert proc.returncode == 0, output(proc)

    assert names(lab) == [f"node-{i}" for i in range(1, NODES + 3)]
    assert not mesh_enabled(lab), "the scale-out turned the node-to-node mesh back on"
    assert reflectors(lab) == rrs
    rr_ips = {ip(lab, r) for r in rrs}
    for name in NEW:
        sessions = lab.bgp_sessions(name)
        assert not any(p.startswith("Mesh_") for p in sessions), (name, sessions)
        assert established(lab, name) == rr_ips, (name, sessions)
        assert len(sessions) == len(rr_ips), (name, sessions)
    # The reflectors peer with every node, old and new; the old clients still only with the reflectors.
    for name in rrs:
        assert established(lab, name) == {ip(lab, n) for n in names(lab) if n != name}
    for name in set(names(lab)) - set(rrs):
        assert established(lab, name) == rr_ips, name

    # The scale-out's own verification expected exactly that, and said so.
    assert "Healthy: 7 nodes, every expected BGP peer Established" in proc.stdout, output(proc)
    result = verify(lab, "--skip-tags", "probe", report_only=False)
    assert result["healthy"] is True and result["findings"] == []
    for name in NEW:
        assert result["expected_peers"][name] == sorted(rr_ips)
        assert result["matrix"][name] == {r: "Established" for r in rrs}
    for name in rrs:
        assert result["expected_peers"][name] == sorted(ip(lab, n) for n in names(lab) if n != name)



def test_bgp_peer_deleted_by_hand_names_the_nodes_without_reflector_sessions(rr_lab):
    lab = rr_lab
    if len(names(lab)) != NODES + 2:
        pytest.skip("needs the scale-out of the test before")
    rrs = reflectors(lab)
    peer = etcd_get(lab, BGPPEER_KEY)
    assert peer is not None
    etcd_delete(lab, BGPPEER_KEY)
    try:
        wait(lambda: all(not lab.bgp_sessions(n) for n in NEW), "the new nodes' BIRD to drop the sessions")
        result = verify(lab, "--skip-tags", "probe", "-e", "mesh_verify_wait_timeout=5")
    finally:
        etcd_put(lab, BGPPEER_KEY, peer)
        wait(lambda: all(established(lab, n) == {ip(lab, r) for r in rrs} for n in NEW),
             "the reflector sessions to come back", timeout=90)
    assert result["healthy"] is False
    assert [f["kind"] for f in result["findings"]] == ["rr_session_missing"], result["findings"]
    finding = result["findings"][0]
    assert finding["hosts"] == sorted(names(lab))  # clients without reflectors, reflectors without clients
    for name in NEW:
        assert any(line.startswith(f"{name} ({ip(lab, name)}): no BGPPeer in the datastore peers it with a route "
                                   "reflector") for line in finding["evidence"]), finding["evidence"]
    assert "BGPPeers: none" in finding["evidence"]
    assert finding["fix"]["playbook"] == "route_reflectors"


def test_mesh_turned_back_on_by_hand_is_drift(rr_lab, tmp_path):
    lab = rr_lab
    config = etcd_get(lab, BGPCONFIG_KEY)
    assert config["spec"]["nodeToNodeMeshEnabled"] is False
    clients = sorted(set(names(lab)) - set(reflectors(lab)))
    etcd_put(lab, BGPCONFIG_KEY, {**config, "spec": {**config["spec"], "nodeToNodeMeshEnabled": True}})
    try:
        wait(lambda: all(ip(lab, other) in established(lab, name) for name in clients for other in clients
                         if other != name), "the clients' mesh sessions", timeout=90)
        run = drift_check(lab, tmp_path)
    finally:
        etcd_put(lab, BGPCONFIG_KEY, config)
        wait(lambda: not any(p.startswith("Mesh_") for n in clients for p in lab.bgp_sessions(n)),
             "the mesh to go again", timeout=90)
    assert run.rc == 2, run
    assert run.items() == [("bgp_mesh", "cluster", "mesh_with_route_reflectors", None, "warning")]
    item = run.report["items"][0]
    assert "nodeToNodeMeshEnabled is on" in item["evidence"][0]
    assert """-e '{"route_reflectors_state": "disabled"}'""" in item["fix"]["text"]
    assert item["fix"]["playbook"] == "route_reflectors"
    assert calico_resources(lab, "bgppeers")  # the reflectors' BGPPeer is still there
