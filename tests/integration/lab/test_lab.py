"""The lab behaves like a small cloud: isolated machines on an L3 VPC with a
GCP-style firewall, reachable over SSH, running a Calico BGP mesh."""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import pytest

from lab import config, etcd
from tests.integration.conftest import recap, run_playbook

HERE = pathlib.Path(__file__).parent
RAW = HERE / "raw_ipip.py"
pytestmark = pytest.mark.lab


def _nodes(lab):
    return {n["name"]: n for n in lab.status()["nodes"]}


def test_nodes_are_isolated_machines(lab):
    nodes = _nodes(lab)
    hostnames = {name: lab.node_exec(name, ["cat", "/etc/hostname"]).stdout.strip() for name in nodes}
    assert len(set(hostnames.values())) == len(nodes)
    assert socket.gethostname() not in hostnames.values()
    assert {n["hostname"] for n in nodes.values()} == set(hostnames.values())
    marker = f"/var/lib/calico-fleet-isolation-{os.getpid()}"
    lab.node_exec("node-1", ["sh", "-c", f"echo one > {marker}; echo one > /etc/fleet-marker"], check=True)
    try:
        for other in ("node-2", "node-3"):
            assert lab.node_exec(other, ["test", "-e", marker]).returncode == 1
            assert lab.node_exec(other, ["test", "-e", "/etc/fleet-marker"]).returncode == 1
        assert not pathlib.Path(marker).exists() and not pathlib.Path("/etc/fleet-marker").exists()
    finally:
        lab.node_exec("node-1", ["rm", "-f", marker, "/etc/fleet-marker"])


def test_inventory_lists_every_node(lab):
    st = lab.status()
    out = subprocess.run([str(config.REPO / ".venv/bin/ansible-inventory"), "--list"], cwd=config.REPO,
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "ANSIBLE_CONFIG": str(config.REPO / "ansible.cfg")}).stdout
    inv = json.loads(out)
    assert sorted(inv["calico_nodes"]["hosts"]) == [n["name"] for n in st["nodes"]]
    hostvars = inv["_meta"]["hostvars"]
    assert {h: v["ansible_host"] for h, v in hostvars.items()} == {n["name"]: n["ip"] for n in st["nodes"]}
    for n in st["nodes"]:
        assert n["ssh"]["port"] == 22 and pathlib.Path(n["ssh"]["key"]).exists()


def test_status_json_cli(lab):
    out = subprocess.run([sys.executable, "-m", "lab", "status", "--json"], cwd=config.REPO,
                         capture_output=True, text=True, check=True).stdout
    st = json.loads(out)
    assert st["up"] and [n["calico_node_name"] for n in st["nodes"]] == ["node-1", "node-2", "node-3"]
    assert all(n["bgp_established"] == 2 for n in st["nodes"])


def test_ansible_changes_a_hostname_idempotently(dirty_lab, tmp_path):
    play = tmp_path / "hostname.yml"
    play.write_text(
        "- name: Rename node-2\n  hosts: node-2\n  gather_facts: false\n  tasks:\n"
        "    - name: Set the hostname\n      ansible.builtin.hostname:\n        name: renamed-2\n"
    )
    first = recap(run_playbook(play).stdout)
    assert first["node-2"]["changed"] == 1
    second = recap(run_playbook(play).stdout)
    assert second["node-2"]["changed"] == 0
    assert dirty_lab.node_exec("node-2", ["hostname"]).stdout.strip() == "renamed-2"
    assert dirty_lab.node_exec("node-2", ["cat", "/etc/hostname"]).stdout.strip() == "renamed-2"
    assert dirty_lab.node_exec("node-1", ["hostname"]).stdout.strip() == "node-1"


def test_ansible_reaches_every_node_over_ssh(lab):
    proc = subprocess.run([str(config.REPO / ".venv/bin/ansible"), "all", "-m", "ansible.builtin.ping", "-o"],
                          cwd=config.REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ANSIBLE_CONFIG": str(config.REPO / "ansible.cfg")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == 3


def test_three_nodes_reach_full_mesh(lab):
    for name in ("node-1", "node-2", "node-3"):
        sessions = lab.bgp_sessions(name)
        assert len(sessions) == 2 and all(k.startswith("Mesh_") for k in sessions)
        assert all(v.startswith("Established") for v in sessions.values()), sessions


def _ipip_passes(lab, src, dst_name, dst_ip):
    listener = subprocess.Popen(
        lab.node_argv(dst_name, ["python3", str(RAW), "listen", "2"]), stdout=subprocess.PIPE, text=True
    )
    assert listener.stdout.readline().strip() == "ready"
    lab.node_exec(src, ["python3", str(RAW), "send", dst_ip], check=True)
    out, _ = listener.communicate(timeout=10)
    return lab.get_node(src)["ip"] in out.split()


def test_firewall_passes_bgp_and_drops_ipip_until_allowed(dirty_lab):
    lab = dirty_lab
    n2 = lab.get_node("node-2")
    # TCP 179 passes: BIRD on node-2 accepts a connection from node-1.
    probe = f"import socket; socket.create_connection(('{n2['ip']}', 179), timeout=3).close(); print('open')"
    assert lab.node_exec("node-1", ["python3", "-c", probe]).stdout.strip() == "open"
    # IP protocol 4 is dropped by GCP's default-allow-internal equivalent.
    assert not _ipip_passes(lab, "node-1", "node-2", n2["ip"])
    rules = lab.get_firewall()
    allow = {"name": "allow-ipip", "priority": 1000, "direction": "INGRESS",
             "sourceRanges": [lab.status()["vpc"]["range"]], "allowed": [{"IPProtocol": "4"}]}
    lab.set_firewall(rules + [allow])
    assert _ipip_passes(lab, "node-1", "node-2", n2["ip"])
    lab.set_firewall(rules)
    assert not _ipip_passes(lab, "node-1", "node-2", n2["ip"])


def test_two_nodes_one_hostname_reproduces_the_incident(dirty_lab):
    lab = dirty_lab
    # A scale-out reuses an existing hostname: a new machine called node-1.
    new = lab.add_node("node-4", hostname="node-1", joined=True)
    time.sleep(8)

    nodes = etcd.resources(lab.etcd_endpoint(), "nodes")
    assert sorted(nodes) == ["node-1", "node-2", "node-3"]  # one Calico Node for two machines
    assert nodes["node-1"]["spec"]["bgp"]["ipv4Address"] == f"{new['ip']}/32"  # last writer wins
    old = lab.bgp_sessions("node-1")
    assert old and not any(v.startswith("Established") for v in old.values()), old
    for name in ("node-2", "node-3", "node-4"):
        sessions = lab.bgp_sessions(name)
        assert len(sessions) == 2 and all(v.startswith("Established") for v in sessions.values()), (name, sessions)


def test_lab_down_after_a_killed_lab_up_leaves_nothing():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    cfg = config.LabConfig(9)
    env = {**os.environ, "LAB_SLOT": "9"}
    proc = subprocess.Popen([sys.executable, "-m", "lab", "up", "--nodes", "3"], cwd=config.REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (cfg.state_dir / "nodes").exists():
        time.sleep(0.05)
    time.sleep(0.5)
    proc.kill()
    proc.wait()
    for _ in range(2):  # running it twice is harmless
        subprocess.run([sys.executable, "-m", "lab", "down"], cwd=config.REPO, env=env, check=True,
                       capture_output=True)
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert cfg.prefix + "-" not in netns
    links = subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    assert cfg.mgmt_host_if not in links
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    assert str(cfg.vpc_range) not in routes
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(cfg.state_dir) not in ps and cfg.prefix + "-" not in ps
    assert str(cfg.state_dir) not in pathlib.Path("/proc/mounts").read_text()
    assert not cfg.state_dir.exists() or not any(cfg.state_dir.iterdir())
