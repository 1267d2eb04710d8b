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


def probe_round(topo, run_id, wait=2.0):
    """Listen on both nodes, send from both, collect from both: the real step order."""
    peers = [topo.ip[n] for n in NODES]
    state_dirs = {n: topo.tmp / f"state-{n}" for n in NODES}
    for node in NODES:
        state_dirs[node].mkdir(exist_ok=True)
        ok, started = topo.call(node, "start_listener", run_id, 30, str(state_dirs[node]))
        assert ok and started["started"], started
    for node in NODES:
        ok, sent = topo.call(node, "send_probes", peers, run_id)
        other = topo.ip["b" if node == "a" else "a"]
        assert ok and sent == {"source": topo.ip[node], "sent": {other: 3}, "errors": {}}, sent
    results = {}
    for node in NODES:
        ok, results[node] = topo.call(node, "collect", peers, run_id, wait, str(state_dirs[node]))
        assert ok, results[node]
        # Collected means stopped and gone: no process, no file left behind.
        assert list(state_dirs[node].iterdir()) == []
    for node in NODES:
        assert wait_until(lambda n=node: not topo.listeners(n)), f"listener still running in {node}"
    return results


def wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def heard(results):
    """{receiver: {sender: bool}} by node name, for readable assertions."""
    name = {ip: n for n, ip in (("a", "198.18.200.2"), ("b", "198.18.200.18"))}
    return {node: {name[ip]: ok for ip, ok in res["received_from"].items()} for node, res in results.items()}


def test_protocol_4_passes_then_is_dropped_then_passes_again(topology):
    results = probe_round(topology, "pass-1")
    assert heard(results) == {"a": {"b": True}, "b": {"a": True}}
    assert results["a"]["packets"] == {"198.18.200.18": 3}
    assert results["a"]["address"] == "198.18.200.2" and results["a"]["listener_expired"] is False

    topology.block_ipip()
    try:
        results = probe_round(topology, "drop-1", wait=1.0)
    finally:
        topology.unblock_ipip()
    assert heard(results) == {"a": {"b": False}, "b": {"a": False}}
    matrix = ipip_probe_matrix(results)
    assert matrix["failed"] == [["198.18.200.2", "198.18.200.18"], ["198.18.200.18", "198.18.200.2"]]

    results = probe_round(topology, "pass-2")
    assert heard(results) == {"a": {"b": True}, "b": {"a": True}}


def test_one_way_drop_shows_in_the_right_cell(topology):
    topology.block_ipip("ip saddr 198.18.200.2")
    try:
        results = probe_round(topology, "oneway-1", wait=1.0)
    finally:
        topology.unblock_ipip()
    assert heard(results) == {"a": {"b": True}, "b": {"a": False}}
    out = ipip_probe_matrix(results)
    assert out["matrix"] == {"198.18.200.2": {"198.18.200.18": False},
                             "198.18.200.18": {"198.18.200.2": True}}


def test_other_runs_are_not_counted(topology):
    state = topology.tmp / "state-other"
    state.mkdir()
    peers = [topology.ip[n] for n in NODES]
    assert topology.call("b", "start_listener", "mine", 30, str(state))[0]
    assert topology.call("a", "send_probes", peers, "someone-else")[0]
    ok, res = topology.call("b", "collect", peers, "mine", 1.0, str(state))
    assert ok and res["received_from"] == {"198.18.200.2": False} and res["unexpected"] == []


def test_listener_stops_by_itself_after_listen_timeout(topology):
    state = topology.tmp / "state-expire"
    state.mkdir()
    ok, started = topology.call("a", "start_listener", "expire-1", 1, str(state))
    assert ok and topology.listeners("a") == [str(started["pid"])]
    assert wait_until(lambda: not topology.listeners("a"), timeout=4), "listener outlived listen_timeout"
    ok, res = topology.call("a", "collect", [topology.ip["a"], topology.ip["b"]], "expire-1", 0, str(state))
    assert ok and res["listener_expired"] is True and res["received_from"] == {"198.18.200.18": False}
    assert list(state.iterdir()) == []


def test_module_steps_through_ansible_in_check_mode(topology):
    """The module as Ansible runs it on a node: AnsiballZ, system Python 3, check mode.

    Files go to the default directory, which both nodes share here: the
    network namespace in their names keeps them apart.
    """
    peers = [topology.ip[n] for n in NODES]
    run_id = f"ansible-{os.getpid()}"
    for node in NODES:
        res = topology.ansible(node, {"state": "listening", "run_id": run_id, "listen_timeout": 60},
                               check=True)
        assert res.get("failed") is not True and res["changed"] is False and res["started"], res
        # Ansible has returned while the detached listener keeps running.
        assert topology.listeners(node) == [str(res["pid"])]
    for node in NODES:
        res = topology.ansible(node, {"state": "sent", "run_id": run_id, "peers": peers}, check=True)
        assert res["changed"] is False and sum(res["sent"].values()) == 3, res
    results = {}
    for node in NODES:
        results[node] = topology.ansible(node, {"state": "collected", "run_id": run_id, "peers": peers},
                                         check=True)
        assert results[node]["changed"] is False
        assert wait_until(lambda n=node: not topology.listeners(n))
    assert heard(results) == {"a": {"b": True}, "b": {"a": True}}
    assert not [p for p in pathlib.Path("/run").iterdir() if run_id in p.name]
    out = ipip_probe_matrix(results)
    assert out["failed"] == [] and out["unmeasured"] == []
    assert out["table"].splitlines()[2].split() == ["198.18.200.2", "-", "ok"]


def test_module_collect_without_listener_says_what_to_run():
    res = run_module("ipip_probe", {"state": "collected", "run_id": "never-started",
                                    "peers": ["198.18.200.2"], "state_dir": "/nonexistent"})
    assert res["failed"] and "run the module with state=listening" in res["msg"]


@pytest.mark.parametrize("args, message", [
    ({"state": "sent", "run_id": "r1"}, "peers"),
    ({"state": "sent", "run_id": "r1", "peers": ["x"], "count": 0}, "count=0 is out of range"),
    ({"state": "listening", "run_id": "r1", "listen_timeout": 7200}, "listen_timeout=7200 is out of range"),
    ({"state": "listening", "run_id": "r 1"}, "run_id 'r 1' is invalid"),
    ({"state": "sent", "run_id": "r1", "peers": ["node-2"]}, "peer 'node-2' is not an IPv4 address"),
])
def test_module_bad_input_names_what_to_change(args, message):
    res = run_module("ipip_probe", args)
    assert res["failed"] and message in res["msg"], res
