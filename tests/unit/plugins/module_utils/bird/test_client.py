"""The BIRD client against real BIRD 1.6 daemons in throw-away network namespaces.

Two namespaces, one real Established session, plus sessions that cannot come
up (Connect/Active, Network is unreachable, Passive, disabled). See
bird_daemon.py. Only the hung-server timeout test uses a fake socket server:
a real BIRD cannot be made to hang.
"""

import os
import socket
import threading
import time

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.client import BirdClient, query
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.errors import (
    BirdNotRunning,
    BirdParseError,
    BirdRuntimeError,
    BirdTimeout,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.protocols import (
    parse_protocol_details,
    parse_protocols,
    parse_status,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.status import (
    collect_bgp_status,
    read_bgp_status,
    wait_for_peers,
)

from tests.unit.plugins.module_utils.bird.bird_daemon import bird_pair, poll


@pytest.fixture(scope="module")
def bird_socket(tmp_path_factory):
    """IPv4 socket of a real BIRD 1.6 (bird6.ctl beside it) peered with a second BIRD."""
    with bird_pair(tmp_path_factory.mktemp("bird")) as sock:
        yield sock


def peers_by_name(sock):
    return {p["name"]: p for p in read_bgp_status(sock, timeout=5)["peers"]}


def test_greeting_and_show_status(bird_socket):
    with BirdClient(bird_socket, timeout=5) as client:
        assert client.greeting == "BIRD 1.6.8 ready."
        assert client.version == "1.6.8"
        status = parse_status(client.command("show status"))
    assert status["bird_version"] == "1.6.8"
    assert status["router_id"] == "198.18.250.1"
    assert status["daemon_status"] == "Daemon is up and running"


def test_real_session_reaches_established(bird_socket):
    peers = poll(lambda: peers_by_name(bird_socket)["Mesh_198_18_250_2"]["established"] and peers_by_name(bird_socket))
    assert peers, "the veth session never reached Established within 20 s"
    mesh = peers["Mesh_198_18_250_2"]
    assert (mesh["address"], mesh["type"], mesh["state"], mesh["info"]) == (
        "198.18.250.2",
        "node-to-node mesh",
        "up",
        "Established",
    )


def test_sessions_that_cannot_come_up_are_reported_with_their_reason(bird_socket):
    def unreachable_seen():
        peers = peers_by_name(bird_socket)
        return "unreachable" in peers["Mesh_198_18_253_9"]["info"] and peers

    peers = poll(unreachable_seen)
    assert peers, "no 'Network is unreachable' error within 20 s"
    assert set(peers) == {
        "Mesh_198_18_250_2",
        "Node_198_18_252_2_port_1790",
        "Mesh_198_18_253_9",
        "Node_198_18_252_4",
        "Global_198_18_252_3",
    }
    unreachable = peers["Mesh_198_18_253_9"]
    assert unreachable["bgp_state"] == "Active"
    assert unreachable["info"] == "Active Socket: Network is unreachable"
    silent = peers["Node_198_18_252_2_port_1790"]
    assert (silent["address"], silent["port"], silent["type"]) == ("198.18.252.2", 1790, "node specific")
    assert silent["bgp_state"] in ("Connect", "Active") and not silent["established"]
    assert peers["Node_198_18_252_4"]["bgp_state"] == "Passive"
    disabled = peers["Global_198_18_252_3"]
    assert (disabled["type"], disabled["state"], disabled["info"], disabled["established"]) == (
        "global",
        "down",
        "",
        False,
    )


def test_show_protocols_all_details(bird_socket):
    lines = query(bird_socket, "show protocols all Global_198_18_252_3", timeout=5)
    details = parse_protocol_details(lines)
    assert details["Global_198_18_252_3"]["BGP state"] == "Down"
    assert details["Global_198_18_252_3"]["Neighbor address"] == "198.18.252.3"
    assert details["Global_198_18_252_3"]["Neighbor AS"] == "64513"


@pytest.mark.parametrize(
    ("command", "cls", "code"),
    [
        ("show protocols Foo", BirdParseError, 9002),
        ("foo bar", BirdParseError, 9001),
        ('show protocols "Zzz*"', BirdRuntimeError, 8003),
    ],
)
def test_error_replies_from_a_real_bird(bird_socket, command, cls, code):
    with pytest.raises(cls) as info:
        query(bird_socket, command, timeout=5)
    assert info.value.code == code
    assert info.value.command == command


def test_one_connection_serves_several_commands_after_an_error(bird_socket):
    with BirdClient(bird_socket, timeout=5) as client:
        with pytest.raises(BirdParseError):
            client.command("show protocols Foo")
        assert parse_protocols(client.command("show protocols"))


def test_ip_version_all_merges_bird_and_bird6(bird_socket):
    result = collect_bgp_status("all", bird_socket, timeout=5)
    names = {p["name"] for p in result["peers"]}
    assert "Mesh_fd80_24e2_f998_72d7__2" in names and "Mesh_198_18_250_2" in names
    assert result["sockets"] == [bird_socket, os.path.join(os.path.dirname(bird_socket), "bird6.ctl")]
    v6 = {p["name"]: p for p in collect_bgp_status("6", bird_socket, timeout=5)["peers"]}
    assert v6["Mesh_fd80_24e2_f998_72d7__2"]["address"] == "fd80:24e2:f998:72d7::2"
    assert v6["Node_fd80_24e2_f998_72d7__3"]["state"] == "down"


def test_wait_for_peers_returns_when_established(bird_socket):
    result = wait_for_peers(["198.18.250.2"], "4", bird_socket, timeout=5, wait_timeout=20, retry_interval=0.2)
    assert result["expected_established"] is True
    assert result["waiting_for"] == []


def test_wait_for_peers_gives_up_after_wait_timeout_without_failing(bird_socket):
    start = time.monotonic()
    result = wait_for_peers(
        ["198.18.253.9", "198.18.250.2"], "4", bird_socket, timeout=5, wait_timeout=1.0, retry_interval=0.3
    )
    assert 0.9 <= time.monotonic() - start < 5
    assert result["expected_established"] is False
    assert result["waiting_for"] == ["198.18.253.9"]


def test_missing_socket_says_bird_is_not_running_and_where_it_looked(tmp_path):
    sock = str(tmp_path / "bird.ctl")
    with pytest.raises(BirdNotRunning) as info:
        collect_bgp_status("4", sock, timeout=2)
    assert "calico-node / BIRD is not running on this host" in str(info.value)
    assert sock in str(info.value)
    assert info.value.paths == [sock]


def test_stale_socket_file_is_bird_not_running(tmp_path):
    """A socket file left by a dead BIRD: connect() is refused."""
    path = str(tmp_path / "bird.ctl")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.close()  # the file stays, nobody listens
    with pytest.raises(BirdNotRunning, match="not running on this host"):
        collect_bgp_status("4", path, timeout=2)


def test_a_server_that_never_answers_times_out(tmp_path):
    """Fake server (accepts, sends the greeting, then nothing): a real BIRD cannot be made to hang."""
    path = str(tmp_path / "hung.ctl")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    conns = []

    def accept():
        conn, _ = server.accept()
        conn.sendall(b"0001 BIRD 1.6.8 ready.\n")
        conns.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        start = time.monotonic()
        with pytest.raises(BirdTimeout):
            query(path, "show protocols", timeout=0.5)
        assert time.monotonic() - start < 3
    finally:
        thread.join(5)
        for conn in conns:
            conn.close()
        server.close()
