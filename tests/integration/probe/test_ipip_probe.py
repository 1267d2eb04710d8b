"""The IPIP probe between network namespaces, and the ipip_probe module.

Nodes a and b reach each other only through router r (see conftest.py); an
nftables rule in r stands for a cloud firewall that drops IP protocol 4.
"""

import os
import pathlib
import time

import pytest

from plugins.filter.ipip_probe import ipip_probe_matrix
from tests.conftest import run_module

pytestmark = pytest.mark.lab
NODES = ("a", "b")


def probe_round(topo, run_id, wait=3.0):
    """Start on both nodes (a collects), collect on a, then directly on what a names unfinished."""
    peers = [topo.ip[n] for n in NODES]
    state_dirs = {n: topo.tmp / f"state-{n}" for n in NODES}
    for node in NODES:
        state_dirs[node].mkdir(exist_ok=True)
        ok, started = topo.call(node, "start", peers, run_id, 30, node == "a", 0.2, 1, None,
                                str(state_dirs[node]))
        assert ok and started["started"] and started["address"] == topo.ip[node], started
    ok, first = topo.call("a", "collect", peers, run_id, wait, str(state_dirs["a"]))
    assert ok, first
    results = {"a": first}
    if topo.ip["b"] in first["unfinished"]:
        ok, results["b"] = topo.call("b", "collect", peers, run_id, 0, str(state_dirs["b"]))
        assert ok, results["b"]
    for node in NODES:
        # Collected or done means stopped and gone: no process, no file left behind.
        assert wait_until(lambda n=node: not topo.listeners(n)), f"probe still running in {node}"
        assert wait_until(lambda n=node: list(state_dirs[n].iterdir()) == []), list(state_dirs[node].iterdir())
    return results


def matrix_of(results):
    return ipip_probe_matrix(list(results.values()), {"a": "198.18.200.2", "b": "198.18.200.18"})


def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


NAME = {"198.18.200.2": "a", "198.18.200.18": "b"}


def heard(results):
    """{receiver: {sender: bool}} by node name, from the matrix, for readable assertions."""
    matrix = matrix_of(results)["matrix"]
    return {NAME[dst]: {NAME[src]: matrix[src][dst] for src in matrix if src != dst} for dst in matrix}


def test_protocol_4_passes_then_is_dropped_then_passes_again(topology):
    results = probe_round(topology, "pass-1")
    assert heard(results) == {"a": {"b": True}, "b": {"a": True}}
    # All is well: the collector's word is final, b ended by itself.
    assert list(results) == ["a"] and results["a"]["unfinished"] == []
    assert results["a"]["address"] == "198.18.200.2" and results["a"]["listener_expired"] is False

    topology.block_ipip()
    try:
        results = probe_round(topology, "drop-1", wait=1.0)
    finally:
        topology.unblock_ipip()
    assert heard(results) == {"a": {"b": False}, "b": {"a": False}}
    matrix = matrix_of(results)
    assert matrix["failed"] == [["198.18.200.2", "198.18.200.18"], ["198.18.200.18", "198.18.200.2"]]
    assert matrix["unmeasured"] == []

    results = probe_round(topology, "pass-2")
    assert heard(results) == {"a": {"b": True}, "b": {"a": True}}


@pytest.mark.parametrize("blocked, expected", [
    ("ip saddr 198.18.200.2", {"a": {"b": True}, "b": {"a": False}}),
    ("ip saddr 198.18.200.18", {"a": {"b": False}, "b": {"a": True}}),
])
def test_one_way_drop_shows_in_the_right_cell(topology, blocked, expected):
    topology.block_ipip(blocked)
    try:
        results = probe_round(topology, "oneway-" + blocked[-1], wait=1.0)
    finally:
        topology.unblock_ipip()
    assert heard(results) == expected


def test_a_peer_started_late_is_still_heard_both_ways(topology):
    """More nodes than forks: b starts seconds after a; a keeps re-sending until it hears b."""
    state = {n: topology.tmp / f"state-late-{n}" for n in NODES}
    peers = [topology.ip[n] for n in NODES]
    for node in NODES:
        state[node].mkdir()
    assert topology.call("a", "start", peers, "late-1", 30, True, 0.2, 1, None, str(state["a"]))[0]
    time.sleep(2)
    assert topology.call("b", "start", peers, "late-1", 30, False, 0.2, 1, None, str(state["b"]))[0]
    ok, res = topology.call("a", "collect", peers, "late-1", 3.0, str(state["a"]))
    assert ok and res["unfinished"] == [], res
    assert heard({"a": res}) == {"a": {"b": True}, "b": {"a": True}}


def test_other_runs_are_not_counted(topology):
    state = topology.tmp / "state-other"
    state.mkdir()
    peers = [topology.ip[n] for n in NODES]
    assert topology.call("b", "start", peers, "mine", 30, True, 0.2, 1, None, str(state))[0]
    assert topology.call("a", "start", peers, "someone-else", 2, False, 0.2, 1, None, str(state))[0]
    ok, res = topology.call("b", "collect", peers, "mine", 1.0, str(state))
    assert ok and res["received_from"] == {"198.18.200.2": False} and res["unexpected"] == []
    assert wait_until(lambda: not topology.listeners("a"), timeout=5)


def test_probe_stops_by_itself_at_its_deadline(topology):
    """Interrupted: nothing collects; b never answers; the process still ends at its deadline."""
    state = topology.tmp / "state-expire"
    state.mkdir()
    ok, started = topology.call("a", "start", [topology.ip["a"], topology.ip["b"]], "expire-1", 1, False,
                                0.2, 1, None, str(state))
    assert ok and topology.listeners("a") == [str(started["pid"])]
    assert wait_until(lambda: not topology.listeners("a"), timeout=4), "probe outlived its timeout"
    ok, res = topology.call("a", "collect", [topology.ip["a"], topology.ip["b"]], "expire-1", 0, str(state))
    assert ok and res["listener_expired"] is True and res["received_from"] == {"198.18.200.18": False}
    assert list(state.iterdir()) == []


def test_absent_stops_what_an_interrupted_run_left(topology):
    state = topology.tmp / "state-absent"
    state.mkdir()
    ok, started = topology.call("a", "start", [topology.ip["a"], topology.ip["b"]], "left-1", 60, True,
                                0.2, 1, None, str(state))
    assert ok and topology.listeners("a")
    ok, res = topology.call("a", "stop_all", None, str(state))
    assert ok and res == {"stopped": ["left-1"]}
    assert wait_until(lambda: not topology.listeners("a")) and list(state.iterdir()) == []


def test_module_steps_through_ansible_in_check_mode(topology):
    """The module as Ansible runs it on a node: AnsiballZ, system Python 3, check mode.

    Files go to the default directory, which both nodes share here: the
    network namespace in their names keeps them apart.
    """
    peers = [topology.ip[n] for n in NODES]
    run_id = f"ansible-{os.getpid()}"
    for node in NODES:
        res = topology.ansible(node, {"state": "started", "run_id": run_id, "peers": peers, "timeout": 60,
                                      "collector": node == "a"}, check=True)
        assert res.get("failed") is not True and res["changed"] is False and res["started"], res.get("msg")
    res = topology.ansible("a", {"state": "collected", "run_id": run_id, "peers": peers}, check=True)
    assert res["changed"] is False and res["unfinished"] == [], res
    for node in NODES:
        assert wait_until(lambda n=node: not topology.listeners(n))
    assert heard({"a": res}) == {"a": {"b": True}, "b": {"a": True}}
    assert wait_until(lambda: not [p for p in pathlib.Path("/run").iterdir() if run_id in p.name])
    out = matrix_of({"a": res})
    assert out["failed"] == [] and out["unmeasured"] == []
    assert out["table"].splitlines()[2].split() == ["198.18.200.2", "-", "ok"]


def test_bgp_status_call_starts_the_probe_even_where_bird_is_down(topology):
    """Verification starts the probe in its BGP status round: no round of its own.

    No BIRD runs in these namespaces, so the status read fails, as it does on
    a node whose calico-node is down; the probe must have started all the same.
    """
    peers = [topology.ip[n] for n in NODES]
    run_id = f"status-{os.getpid()}"
    for node in NODES:
        res = topology.ansible(node, {"socket": str(topology.tmp / "no-bird.ctl"), "ipip_probe": {
            "run_id": run_id, "peers": peers, "timeout": 60, "collector": node == "a"}},
            module="calico_bgp_status", check=True)
        assert res["failed"] and "BIRD" in res["msg"], res
        assert res["ipip_probe"]["started"] and res["ipip_probe"]["address"] == topology.ip[node], res
    res = topology.ansible("a", {"state": "collected", "run_id": run_id, "peers": peers})
    assert res["unfinished"] == [], res
    assert heard({"a": res}) == {"a": {"b": True}, "b": {"a": True}}
    for node in NODES:
        assert wait_until(lambda n=node: not topology.listeners(n))


def test_bgp_status_says_why_the_probe_did_not_start(topology):
    res = topology.ansible("a", {"socket": str(topology.tmp / "no-bird.ctl"), "ipip_probe": {
        "run_id": "r1", "peers": [topology.ip["a"], topology.ip["b"]], "count": 0}}, module="calico_bgp_status")
    assert res["ipip_probe"] == {"failed": True, "msg": "IPIP probe not started: count=0 is out of range: "
                                                        "use a value from 1 to 100"}
    assert not topology.listeners("a")


def test_module_collect_without_listener_says_what_to_run():
    res = run_module("ipip_probe", {"state": "collected", "run_id": "never-started",
                                    "peers": ["198.18.200.2"], "state_dir": "/nonexistent"})
    assert res["failed"] and "run the module with state=started" in res["msg"]


@pytest.mark.parametrize("args, message", [
    ({"state": "started", "run_id": "r1"}, "peers"),
    ({"state": "started", "run_id": "r1", "peers": ["x"], "count": 0}, "count=0 is out of range"),
    ({"state": "started", "run_id": "r1", "peers": ["x"], "listen_timeout": 7200}, "timeout=7200 is out of range"),
    ({"state": "started", "run_id": "r 1", "peers": ["198.18.200.2"]}, "run_id 'r 1' is invalid"),
    ({"state": "started", "run_id": "r1", "peers": ["node-2"]}, "peer 'node-2' is not an IPv4 address"),
])
def test_module_bad_input_names_what_to_change(args, message):
    res = run_module("ipip_probe", args)
    assert res["failed"] and message in res["msg"], res
