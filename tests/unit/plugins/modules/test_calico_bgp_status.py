"""calico_bgp_status run as Ansible runs it, against real BIRD 1.6 daemons
in throw-away network namespaces (see tests/unit/module_utils/bird_daemon.py)."""

import os

import pytest

from tests.conftest import run_module
from tests.unit.plugins.module_utils.bird.bird_daemon import bird_pair


@pytest.fixture(scope="module")
def bird_socket(tmp_path_factory):
    """IPv4 socket of a real BIRD 1.6 (bird6.ctl beside it) peered with a second BIRD."""
    with bird_pair(tmp_path_factory.mktemp("bird")) as sock:
        yield sock


@pytest.mark.parametrize("check", [False, True])
def test_reads_peers_and_never_changes(bird_socket, check):
    result = run_module("calico_bgp_status", {"socket": bird_socket}, check=check)
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    assert (result["bird_version"], result["router_id"]) == ("1.6.8", "198.18.250.1")
    peers = {p["name"]: p for p in result["peers"]}
    assert peers["Global_198_18_252_3"]["info"] == ""  # down with empty info: reported, not dropped
    assert peers["Node_198_18_252_2_port_1790"]["port"] == 1790
    assert result["expected_established"] is True and result["waiting_for"] == []


def test_waits_for_expected_peers(bird_socket):
    args = {"socket": bird_socket, "expect_peers": ["198.18.250.2"], "wait_timeout": 20, "retry_interval": 0.2}
    result = run_module("calico_bgp_status", args)
    assert result["expected_established"] is True
    peer = next(p for p in result["peers"] if p["address"] == "198.18.250.2")
    assert peer["established"] is True and peer["type"] == "node-to-node mesh"


def test_does_not_fail_for_a_peer_that_never_comes_up(bird_socket):
    args = {"socket": bird_socket, "expect_peers": ["198.18.253.9"], "wait_timeout": 1, "retry_interval": 0.3}
    result = run_module("calico_bgp_status", args, check=True)
    assert result.get("failed") is not True and result["changed"] is False
    assert result["expected_established"] is False
    assert result["waiting_for"] == ["198.18.253.9"]
    assert result["waited"] >= 0.9


def test_ip_version_all_merges_ipv6(bird_socket):
    result = run_module("calico_bgp_status", {"socket": bird_socket, "ip_version": "all"})
    addresses = {p["address"] for p in result["peers"]}
    assert {"198.18.250.2", "fd80:24e2:f998:72d7::2"} <= addresses
    assert len(result["sockets"]) == 2


def test_bird_not_running_names_the_host_problem_and_the_paths(tmp_path):
    sock = str(tmp_path / "calico" / "bird.ctl")
    result = run_module("calico_bgp_status", {"socket": sock})
    assert result["failed"] is True
    assert "calico-node / BIRD is not running on this host" in result["msg"]
    assert sock in result["msg"]
    assert result["paths"] == [sock]


@pytest.mark.skipif(
    any(os.path.exists(p) for p in ("/var/run/calico/bird.ctl", "/var/run/bird/bird.ctl")),
    reason="a BIRD socket exists on this machine",
)
def test_default_paths_are_named_when_nothing_answers():
    result = run_module("calico_bgp_status", {})
    assert result["failed"] is True
    assert "/var/run/calico/bird.ctl, /var/run/bird/bird.ctl" in result["msg"]


def test_bad_expect_peers_is_refused_before_reading():
    result = run_module("calico_bgp_status", {"socket": "/nonexistent/bird.ctl", "expect_peers": ["node2"]})
    assert result["failed"] is True
    assert result["msg"].startswith("expect_peers: 'node2' is not an IP address")
