"""The calico_expected_peers filter (plugins/filter/calico_mesh.py), directly and inside Ansible."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.filter.calico_mesh import FilterModule

from tests.conftest import ROOT

NODES = [
    {"name": "rr1", "ipv4_address": "10.0.1.201", "rr_cluster_id": "224.0.0.1", "labels": {"route-reflector": "true"}},
    {"name": "node2", "ipv4_address": "10.0.1.202", "rr_cluster_id": None, "labels": {}},
    {"name": "node3", "ipv4_address": "10.0.1.203", "rr_cluster_id": None, "labels": {}},
    {"name": "node4", "ipv4_address": "10.0.1.204", "rr_cluster_id": None, "labels": {}},
]
# The BGPPeer the route_reflectors role writes, as calico_nodes_info returns it.
PEERS = [{"name": "peer-with-route-reflectors", "node": None, "node_selector": "all()", "peer_ip": None,
          "peer_selector": "route-reflector == 'true'", "as_number": None}]
calico_expected_peers = FilterModule().filters()["calico_expected_peers"]


def test_mesh_member_expects_the_other_members_and_the_reflector():
    assert calico_expected_peers(NODES, {"mesh_enabled": True}, "10.0.1.202", PEERS) == [
        "10.0.1.201",
        "10.0.1.203",
        "10.0.1.204",
    ]


def test_mesh_off_client_expects_only_the_reflector_and_reflector_everyone():
    off = {"exists": True, "mesh_enabled": False}
    assert calico_expected_peers(NODES, off, "10.0.1.203", PEERS) == ["10.0.1.201"]
    assert calico_expected_peers(NODES, off, "10.0.1.201/24", PEERS) == ["10.0.1.202", "10.0.1.203", "10.0.1.204"]


def test_without_the_bgp_peer_the_reflector_has_no_sessions():
    off = {"exists": True, "mesh_enabled": False}
    assert calico_expected_peers(NODES, off, "10.0.1.203", []) == []
    assert calico_expected_peers(NODES, off, "10.0.1.201", []) == []


def test_without_reflectors_the_bgp_peers_may_be_left_out():
    mesh = [dict(n, rr_cluster_id=None) for n in NODES]
    assert calico_expected_peers(mesh, {}, "10.0.1.204") == ["10.0.1.201", "10.0.1.202", "10.0.1.203"]


def test_wrong_input_says_what_to_pass():
    with pytest.raises(AnsibleFilterError, match="host_ip"):
        calico_expected_peers(NODES, {}, "", PEERS)
    with pytest.raises(AnsibleFilterError, match="list calico_nodes_info returns"):
        calico_expected_peers({"nodes": NODES}, {}, "10.0.1.202", PEERS)
    with pytest.raises(AnsibleFilterError, match="nodes rr1 carry a route-reflector cluster ID.*pass bgp_peers"):
        calico_expected_peers(NODES, {}, "10.0.1.202")


def test_filter_loads_inside_ansible(tmp_path):
    """Ansible loads filter plugins without the project's module_utils on its path."""
    (tmp_path / "vars.json").write_text(json.dumps({"nodes": NODES, "peers": PEERS}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-m", "ansible.builtin.debug",
         "-a", "msg={{ nodes | calico_fleet.fleet.calico_expected_peers({'mesh_enabled': false}, '10.0.1.204',"
               " peers) }}",
         "-e", f"@{tmp_path / 'vars.json'}"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["msg"] == ["10.0.1.201"], proc.stdout


def test_cluster_members_reads_the_membership_host_variables():
    cluster_members = FilterModule().filters()["cluster_members"]
    hostvars = {
        "node-1": {"calico_fleet_sources": ["calico", "gcp", "kubernetes"], "calico_fleet_private_ip": "10.0.0.11",
                   "calico_fleet_instance_id": "101", "calico_fleet_instance_name": "node-1",
                   "calico_fleet_zone": "z", "calico_fleet_kubernetes_node": "node-1",
                   "calico_fleet_calico_node": "node-1"},
        "calico-only": {"calico_fleet_sources": ["calico"]},
        "localhost": {},
    }
    records = cluster_members(hostvars, ["node-1", "calico-only", "localhost"])
    assert records == [{"host": "node-1", "ip": "10.0.0.11", "instance_id": "101", "instance_name": "node-1",
                        "zone": "z", "kubernetes_node": "node-1", "calico_node": "node-1",
                        "sources": ["calico", "gcp", "kubernetes"]}]
    with pytest.raises(AnsibleFilterError, match="groups"):
        cluster_members(hostvars, "node-1")
