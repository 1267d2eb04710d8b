"""The IPIP probe through verify-mesh.yml on a 25-node lab with 5 forks.

More nodes than forks: round 1 reaches the nodes in five batches, so early
nodes start seconds before late ones; the matrix must still be complete and
directional. Interrupted after round 1, nothing may stay running on a node
past the probe's deadline, nor after a cleanup run with state=absent.
"""

import os
import signal
import subprocess
import time

import pytest

from lab import api, config
from lab.state import load
from tests.integration.conftest import ROOT, ansible_env, run_playbook

pytestmark = pytest.mark.lab
NODES = 25
FORKS = "5"
ALLOW_IPIP = "allow-ipip-probe-test"


@pytest.fixture(scope="module")
def big_lab():
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    before = len(api.status().get("nodes") or []) if api.status().get("up") else 0
    if before != NODES:
        api.down()
        api.up(NODES)
    rules = [r for r in api.get_firewall() if r["name"] != ALLOW_IPIP]
    api.set_firewall(rules + [{"name": ALLOW_IPIP, "priority": 1000, "sourceRanges": [api.status()["vpc"]["range"]],
                               "allowed": [{"IPProtocol": "4"}]}])
    yield api
    api.set_firewall(rules)
    if before != NODES:
        api.down()
        if before:
            api.up(before)


def probe_leftovers():
    """{node: [pids of probe processes]} and {node: [probe files]} on every lab node."""
    processes, files = {}, {}
    for name, node in load(config.current())["nodes"].items():
        pids = subprocess.run(["ip", "netns", "pids", node["netns"]], capture_output=True, text=True).stdout.split()
        known = set(map(str, node["pids"].values()))
        for pid in pids:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            # Every lab daemon runs from the venv (-m lab...), sshd or bird; a probe is the system python.
            if pid not in known and argv[0] == b"/usr/bin/python3":
                processes.setdefault(name, []).append(pid)
        listing = api.node_exec(name, ["ls", "/run"], capture_output=True, text=True).stdout.split()
        left = [f for f in listing if f.startswith("calico-fleet-ipip-probe-")]
        if left:
            files[name] = left
    return processes, files


def test_full_directional_matrix_with_fewer_forks_than_nodes(big_lab):
    proc = run_playbook(ROOT / "playbooks" / "verify-mesh.yml", "-f", FORKS)
    assert f"Healthy: {NODES} nodes" in proc.stdout and "IP protocol 4 passes between every pair" in proc.stdout
    assert "FAIL" not in proc.stdout and " ? " not in proc.stdout
    assert probe_leftovers() == ({}, {})


def test_one_way_block_is_reported_in_its_cell(big_lab):
    """Drop protocol 4 from node-25 to node-1 only: exactly that cell fails."""
    ips = {n: node["ip"] for n, node in load(config.current())["nodes"].items()}
    rules = api.get_firewall()
    deny = {"name": "deny-ipip-25-to-1", "priority": 900, "sourceRanges": [ips["node-25"] + "/32"],
            "destinationRanges": [ips["node-1"] + "/32"], "denied": [{"IPProtocol": "4"}]}
    api.set_firewall(rules + [deny])
    try:
        proc = run_playbook(ROOT / "playbooks" / "verify-mesh.yml", "-f", FORKS,
                            "-e", "mesh_verify_fail_on_findings=false")
    finally:
        api.set_firewall(rules)
    rows = {line.split()[0].strip('"'): line.split()[1:] for line in proc.stdout.splitlines()
            if line.strip().startswith('"198.') and ("ok" in line or "FAIL" in line)}
    order = sorted(ips.values(), key=lambda ip: tuple(map(int, ip.split("."))))
    failed = [(src, order[i]) for src, cells in rows.items() for i, cell in enumerate(cells) if "FAIL" in cell]
    assert failed == [(ips["node-25"], ips["node-1"])], rows.get(ips["node-25"])
    assert not [c for cells in rows.values() for c in cells if "?" in c]
    assert probe_leftovers() == ({}, {})


def start_and_interrupt(timeout):
    """verify-mesh.yml killed as soon as the collecting step begins (round 1 done)."""
    argv = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "playbooks/verify-mesh.yml", "-f", FORKS,
            "-e", f"mesh_verify_probe_listen_timeout={timeout}"]
    play = subprocess.Popen(argv, cwd=ROOT, env=ansible_env(), stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        for line in play.stdout:
            if "Collect the whole matrix" in line or time.monotonic() > deadline:
                break
    finally:
        os.killpg(play.pid, signal.SIGKILL)
        play.wait(30)
    processes, _files = probe_leftovers()
    assert processes, "the interrupted run should have left probes running until their deadline"


def test_interrupted_probe_ends_by_its_deadline(big_lab):
    start_and_interrupt(timeout=20)
    end = time.monotonic() + 40
    while probe_leftovers()[0] and time.monotonic() < end:
        time.sleep(2)
    assert probe_leftovers()[0] == {}
    # A cleanup run removes the files the expired processes kept.
    subprocess.run([str(ROOT / ".venv" / "bin" / "ansible"), "all", "-f", FORKS, "-m",
                    "calico_fleet.fleet.ipip_probe", "-a", "state=absent"], cwd=ROOT, env=ansible_env(),
                   capture_output=True, timeout=300, check=True)
    assert probe_leftovers() == ({}, {})


def test_cleanup_run_stops_an_interrupted_probe_at_once(big_lab):
    start_and_interrupt(timeout=600)
    subprocess.run([str(ROOT / ".venv" / "bin" / "ansible"), "all", "-f", FORKS, "-m",
                    "calico_fleet.fleet.ipip_probe", "-a", "state=absent"], cwd=ROOT, env=ansible_env(),
                   capture_output=True, timeout=300, check=True)
    assert probe_leftovers() == ({}, {})
