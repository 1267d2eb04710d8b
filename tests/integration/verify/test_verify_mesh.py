"""playbooks/verify-mesh.yml against the lab: each broken mesh gives exactly
its finding (kind, hosts, node, peer) and nothing else; verification writes
nothing. The drift check's tests are in tests/integration/drift.

Tests that leave the lab as they found it use `lab` / `open_lab`; tests that
break it use `dirty_lab` (rebuilt afterwards). Where a session is meant to
stay down, the tests wait for the lab to settle themselves and then pass a
short mesh_verify_wait_timeout, so the run does not wait 30 s for a peer
that cannot come up.
"""

import json

import pytest

from tests.integration.conftest import recap, run_playbook
from tests.integration.verify.conftest import (
    HERE,
    allow_ipip,
    deny,
    established,
    etcd_state,
    ip,
    printed_fix,
    summary,
    verify,
    wait,
)

pytestmark = pytest.mark.lab
SHORT_WAIT = ("-e", "mesh_verify_wait_timeout=5")
NODENAME_FILE = "/var/lib/calico/nodename"


def full_mesh(lab, names):
    return all(established(lab, n) == {ip(lab, o) for o in names if o != n} for n in names)


# -- healthy meshes; TCP 179 blocked between two nodes ---------------------------

def test_healthy_three_node_mesh_has_no_findings_and_verification_writes_nothing(open_lab):
    # As a user runs it: the play fails on any finding. verify() also checks that the run
    # changed nothing (recap, etcd revision, VPC firewall, hostnames, nodename files), as it
    # does for every scenario below.
    result = verify(open_lab, report_only=False)
    assert result["healthy"] is True
    assert result["findings"] == []
    names = ("node-1", "node-2", "node-3")
    assert result["matrix"] == {a: {b: "Established" for b in names if b != a} for a in names}


def test_five_node_mesh_is_healthy_until_tcp179_is_blocked_between_two_nodes(dirty_lab):
    """Scale to five nodes (healthy), then block TCP 179 between node-4 and node-5 only:
    one finding for that pair. One test, so the five-node lab is built once."""
    lab = dirty_lab
    allow_ipip(lab)
    # Tags make the deny rules below select exactly one pair (targetTags pick the receiving node).
    lab.add_node("node-4", tags=["pair-a"], joined=True)
    lab.add_node("node-5", tags=["pair-b"], joined=True)
    names = [f"node-{i}" for i in range(1, 6)]
    wait(lambda: full_mesh(lab, names), "a full 5-node mesh")
    healthy = verify(lab)
    assert healthy["findings"] == [] and healthy["healthy"] is True
    assert sorted(healthy["matrix"]) == names
    assert all(len(row) == 4 and set(row.values()) == {"Established"} for row in healthy["matrix"].values())

    n4, n5 = ip(lab, "node-4"), ip(lab, "node-5")
    lab.set_firewall(lab.get_firewall() + [
        deny("deny-bgp-4-to-5", "tcp", n4, ["179"], ["pair-b"]),
        deny("deny-bgp-5-to-4", "tcp", n5, ["179"], ["pair-a"]),
    ])
    # The firewall is stateful for tcp: reconnect the sessions into the block.
    lab.restart_calico_node("node-4")
    others = {ip(lab, n) for n in ("node-1", "node-2", "node-3")}
    wait(lambda: established(lab, "node-4") == others and n4 not in established(lab, "node-5"),
         "node-4 to peer with node-1..3 but not with node-5")

    result = verify(lab, *SHORT_WAIT)
    assert summary(result) == [("tcp179_blocked", ("node-4", "node-5"), "node-4", n5)]
    finding = result["findings"][0]
    assert "TCP 179" in finding["cause"] and "between node-4 and node-5 only" in finding["cause"]
    assert finding["fix"]["text"].startswith("allow TCP 179")
    assert printed_fix(result["printed"], "tcp179_blocked") == [
        "ansible-playbook -i inventories/lab calico_fleet.fleet.scale_out --tags network"]
    assert result["matrix"]["node-4"]["node-5"] != "Established"
    assert result["matrix"]["node-1"] == {n: "Established" for n in ("node-2", "node-3", "node-4", "node-5")}


# -- IP protocol 4 blocked ----------------------------------------------------

def test_default_firewall_blocks_ipip_between_all_nodes_with_the_gcp_fix(lab):
    assert [r["name"] for r in lab.get_firewall()] == ["default-allow-internal"]
    result = verify(lab)
    assert result["healthy"] is False
    assert summary(result) == [("ipip_blocked", ("node-1", "node-2", "node-3"), None, None)]
    finding = result["findings"][0]
    assert finding["severity"] == "error"
    # No Compute API here: the cause says the rules were not read and names every suspect
    # (test_ipip_cause.py reads them).
    assert "not looked at" in finding["cause"] and "a missing rule allowing protocol 4" in finding["cause"]
    assert finding["fix"]["text"].startswith(
        f"add the INGRESS firewall rule allowing IP protocol 4 from the VPC range {lab.status()['vpc']['range']}")
    assert "calico-ipip" in finding["fix"]["text"]
    assert printed_fix(result["printed"], "ipip_blocked") == [
        "ansible-playbook -i inventories/lab calico_fleet.fleet.scale_out --tags network"]
    assert len(finding["evidence"]) == 6  # every direction of every pair
    # BGP itself is fine: the mesh is Established while every encapsulated packet is dropped.
    assert all(set(row.values()) == {"Established"} for row in result["matrix"].values())


def test_ipip_blocked_from_one_node_names_that_nodes_pairs(open_lab):
    lab = open_lab
    n3 = ip(lab, "node-3")
    lab.set_firewall(lab.get_firewall() + [deny("deny-ipip-from-node-3", "4", n3)])
    result = verify(lab)
    assert summary(result) == [("ipip_blocked", ("node-3",), "node-3", None)]
    finding = result["findings"][0]
    assert "to and from node-3" in finding["cause"]
    n1, n2 = ip(lab, "node-1"), ip(lab, "node-2")
    assert [e.split(" (BGP")[0] for e in finding["evidence"]] == [
        f"IPIP probe node-3 ({n3}) -> node-1 ({n1}) failed",
        f"IPIP probe node-3 ({n3}) -> node-2 ({n2}) failed",
    ]


# -- BIRD / calico-node down --------------------------------------------------

def test_calico_node_stopped_on_one_node_is_bird_down_there(dirty_lab):
    lab = dirty_lab
    allow_ipip(lab)
    lab.stop_calico_node("node-2")
    n2 = ip(lab, "node-2")
    wait(lambda: not lab.bgp_sessions("node-2") and all(n2 not in established(lab, n) for n in ("node-1", "node-3")),
         "BIRD on node-2 to stop and its peers to notice")
    result = verify(lab, *SHORT_WAIT)
    assert summary(result) == [("bird_down", ("node-2",), "node-2", None)]
    finding = result["findings"][0]
    assert "restart calico-node on node-2" in finding["fix"]["text"]
    assert printed_fix(result["printed"], "bird_down") == [
        "kubectl -n kube-system delete pod -l k8s-app=calico-node --field-selector spec.nodeName=node-2"]
    # The failing sessions towards node-2 are evidence of this one finding, not findings of their own.
    assert any(e.startswith(f"node-1 ({ip(lab, 'node-1')}) -> {n2}") for e in finding["evidence"])


# -- two hosts, one name (the field-notes incident) ---------------------------

def test_two_hosts_sharing_a_name_is_one_duplicate_nodename_finding(dirty_lab):
    lab = dirty_lab
    allow_ipip(lab)
    new = lab.add_node("node-4", hostname="node-1", joined=True)
    old_ip = ip(lab, "node-1")
    # Last writer wins: node-4 takes Calico Node node-1 and the old node-1 loses its mesh.
    wait(lambda: established(lab, "node-4") == {ip(lab, "node-2"), ip(lab, "node-3")}
         and not established(lab, "node-1"), "node-4 to take over the name node-1")
    result = verify(lab, *SHORT_WAIT)
    assert summary(result) == [("duplicate_nodename", ("node-1", "node-4"), "node-1", None)]
    finding = result["findings"][0]
    assert f"Calico Node 'node-1' is registered with IPv4 {new['ip']}" in finding["evidence"]
    assert any(e.startswith(f"node-1 ({old_ip}, hostname 'node-1')") for e in finding["evidence"])
    # The host to rename is the one that lost the name, not the live holder.
    assert printed_fix(result["printed"], "duplicate_nodename") == [
        "ansible-playbook -i inventories/lab calico_fleet.fleet.fix_nodename_conflict --limit node-1"]


# -- a stale Node of a removed machine -------------------------------------------

def test_removed_machine_leaves_a_stale_node(dirty_lab):
    lab = dirty_lab
    allow_ipip(lab)
    n3 = ip(lab, "node-3")
    lab.remove_node("node-3")
    wait(lambda: all(n3 not in established(lab, n) for n in ("node-1", "node-2")), "node-3's sessions to drop")
    result = verify(lab, *SHORT_WAIT)
    assert summary(result) == [("stale_node", (), "node-3", n3)]
    assert result["findings"][0]["fix"]["commands"] == ["calicoctl delete node node-3"]


# -- a nodename file with a trailing newline ------------------------------------

def test_nodename_with_trailing_newline_is_nodename_invalid(dirty_lab):
    lab = dirty_lab
    allow_ipip(lab)
    lab.node_exec("node-2", ["sh", "-c", f"printf 'node-2\\n' > {NODENAME_FILE}"], check=True)
    lab.restart_calico_node("node-2")
    wait(lambda: "Metadata.Name" in (lab.status()["nodes"][1]["calico_node_error"] or ""),
         "calico-node on node-2 to refuse the name")
    result = verify(lab, *SHORT_WAIT)
    assert summary(result) == [("nodename_invalid", ("node-2",), "node-2", None)]
    finding = result["findings"][0]
    assert f"{NODENAME_FILE} on node-2 contains 'node-2\\n'" in finding["evidence"][0]
    assert finding["fix"]["text"].startswith(f"printf '%s' node-2 > {NODENAME_FILE} on node-2")


# -- calico_network writes pools the lab's calico-node still reads -----------------

def test_calico_node_reads_the_datastore_after_calico_network_writes_a_pool(dirty_lab, tmp_path):
    lab = dirty_lab
    pools = [
        {"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16", "ipip_mode": "Always", "nat_outgoing": True},
        {"name": "extra-ipv4-ippool", "cidr": "172.21.0.0/16", "ipip_mode": "Always", "nat_outgoing": True},
    ]
    extra = tmp_path / "pools.json"
    extra.write_text(json.dumps({"calico_network_ippools": pools}))
    revision = etcd_state(lab)[0]
    proc = run_playbook(HERE / "playbooks" / "calico_network.yml", "-e", f"@{extra}")
    assert recap(proc.stdout)["localhost"]["changed"] >= 1
    keys = etcd_state(lab)[1]
    assert keys["/calico/resources/v3/projectcalico.org/ippools/extra-ipv4-ippool"] > revision

    lab.restart_calico_node("node-1")  # the lab's `kubectl delete pod calico-node-...`
    lab.wait_for_mesh(timeout=60)
    node = lab.status()["nodes"][0]
    assert node["calico_node_running"] and node["calico_node_error"] is None
    assert node["calico_node_name"] == "node-1" and node["bgp_established"] == 2
