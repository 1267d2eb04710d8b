"""Parser tests for plugins/module_utils/bird/, from captured BIRD output."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.errors import (
    BirdParseError,
    BirdReplyError,
    BirdRuntimeError,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.protocols import (
    decode_peer_name,
    parse_protocol_details,
    parse_protocols,
    parse_status,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.reply import split_reply
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.status import normalize_peers, socket_candidates

# Raw socket reply from BIRD 1.6.8 in a three-node mesh (REFERENCE.md).
RAW_16 = """\
2002-name     proto    table    state  since       info
1002-kernel1  Kernel   master   up     17:18:21
 device1  Device   master   up     17:18:21
 Mesh_198_18_0_12 BGP      master   up     17:18:23    Established
 Mesh_198_18_0_13 BGP      master   up     17:18:23    Established
0000
""".splitlines()

# Captured from BIRD 1.6.8 with unreachable peers, a custom port and a disabled peer.
RAW_16_TROUBLE = [
    "2002-name     proto    table    state  since       info",
    "1002-device1  Device   master   up     17:48:59    ",
    " Mesh_198_18_7_2 BGP      master   start  17:48:59    Active        Socket: Connection refused",
    " Node_198_18_7_3_port_1790 BGP      master   start  17:48:59    Connect       "
    "BGP Error: Hold timer expired",
    " Global_198_18_7_4 BGP      master   down   17:48:59    ",
    "0000 ",
]

# BIRD 2.x: capitalised heading, `---` table, ISO date + time in `since`.
RAW_2X = [
    "2002-Name       Proto      Table      State  Since         Info",
    "1002-device1    Device     ---        up     2024-05-01 10:11:12  ",
    " kernel1    Kernel     master4    up     2024-05-01 10:11:12  ",
    " Mesh_10_0_1_203 BGP        ---        up     2024-05-01 10:11:14  Established   ",
    " Mesh_fd80_24e2_f998_72d7__2 BGP        ---        start  10:11:15.123  Active        "
    "Socket: Connection refused",
    "0000 ",
]

# What `birdc show protocols` prints (codes stripped by birdc).
BIRDC_OUTPUT = """\
BIRD 1.6.8 ready.
name     proto    table    state  since       info
kernel1  Kernel   master   up     12:49:50
device1  Device   master   up     12:49:50
direct1  Direct   master   up     12:49:50
Mesh_10_0_1_202 BGP      master   up     12:49:54    Established
Mesh_10_0_1_203 BGP      master   up     12:49:54    Established
Mesh_10_0_1_204 BGP      master   up     12:49:54    Established
""".splitlines()


def by_name(peers):
    return {p["name"]: p for p in peers}


def test_reference_reply_gives_the_two_mesh_peers_only():
    peers = parse_protocols(RAW_16)
    assert [p["name"] for p in peers] == ["Mesh_198_18_0_12", "Mesh_198_18_0_13"]
    assert peers[0] == {
        "name": "Mesh_198_18_0_12",
        "address": "198.18.0.12",
        "port": None,
        "type": "node-to-node mesh",
        "state": "up",
        "since": "17:18:23",
        "bgp_state": "Established",
        "info": "Established",
        "established": True,
    }


def test_continuation_lines_carry_the_1002_code():
    pairs = split_reply(RAW_16)
    assert pairs[0][0] == 2002
    assert all(code == 1002 for code, _ in pairs[1:5])
    assert pairs[-1] == (0, "")


def test_failing_sessions_keep_state_error_text_port_and_type():
    peers = by_name(parse_protocols(RAW_16_TROUBLE))
    mesh = peers["Mesh_198_18_7_2"]
    assert (mesh["state"], mesh["bgp_state"], mesh["established"]) == ("start", "Active", False)
    assert mesh["info"] == "Active Socket: Connection refused"
    node = peers["Node_198_18_7_3_port_1790"]
    assert (node["address"], node["port"], node["type"]) == ("198.18.7.3", 1790, "node specific")
    assert node["info"] == "Connect BGP Error: Hold timer expired"


def test_down_session_with_empty_info_is_reported_not_dropped():
    peers = by_name(parse_protocols(RAW_16_TROUBLE))
    glob = peers["Global_198_18_7_4"]
    assert glob["type"] == "global"
    assert (glob["state"], glob["since"], glob["info"], glob["bgp_state"]) == ("down", "17:48:59", "", "")
    assert glob["established"] is False


def test_bird_2x_layout_with_dates_and_ipv6_names():
    peers = by_name(parse_protocols(RAW_2X))
    assert set(peers) == {"Mesh_10_0_1_203", "Mesh_fd80_24e2_f998_72d7__2"}
    v4 = peers["Mesh_10_0_1_203"]
    assert (v4["since"], v4["established"]) == ("2024-05-01 10:11:14", True)
    v6 = peers["Mesh_fd80_24e2_f998_72d7__2"]
    assert v6["address"] == "fd80:24e2:f998:72d7::2"
    assert (v6["since"], v6["bgp_state"]) == ("10:11:15.123", "Active")


def test_birdc_printed_output_parses_too():
    peers = parse_protocols(BIRDC_OUTPUT)
    assert [p["address"] for p in peers] == ["10.0.1.202", "10.0.1.203", "10.0.1.204"]
    assert all(p["established"] for p in peers)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Mesh_10_0_1_202", ("10.0.1.202", None, "node-to-node mesh")),
        ("Node_172_31_3_33", ("172.31.3.33", None, "node specific")),
        ("Global_192_0_2_1_port_1790", ("192.0.2.1", 1790, "global")),
        ("Mesh_fd80_24e2_f998_72d7__2", ("fd80:24e2:f998:72d7::2", None, "node-to-node mesh")),
        ("Node_2001_db8__1_port_179", ("2001:db8::1", 179, "node specific")),
        ("Mesh_garbage", (None, None, "node-to-node mesh")),
        ("kernel1", None),
        ("Local_Workload_10_0_0_1", None),
    ],
)
def test_peer_names_decode(name, expected):
    assert decode_peer_name(name) == expected


def test_only_established_counts_as_established():
    rows = ["2002-name proto table state since info"]
    states = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Close", "Passive", "Down"]
    for i, state in enumerate(states):
        rows.append(f"1002-Mesh_10_0_0_{i + 1} BGP master start 10:00:00 {state}")
    rows.append("0000 ")
    peers = parse_protocols(rows)
    assert [p["bgp_state"] for p in peers] == states
    assert not any(p["established"] for p in peers)


@pytest.mark.parametrize(
    ("line", "cls", "code"),
    [
        ("9001 syntax error", BirdParseError, 9001),
        ("9002 Foo is not a protocol", BirdParseError, 9002),
        ("8003 No protocols match", BirdRuntimeError, 8003),
        ("8001 Network not in table", BirdRuntimeError, 8001),
    ],
)
def test_error_replies_raise_typed_exceptions(line, cls, code):
    with pytest.raises(cls) as info:
        parse_protocols([line])
    assert info.value.code == code
    assert line[5:] in str(info.value)
    assert isinstance(info.value, BirdReplyError)


def test_show_status_gives_version_and_router_id():
    status = parse_status(
        [
            "1000-BIRD 1.6.8",
            "1011-Router ID is 198.18.5.1",
            " Current server time is 2026-11-26 17:49:01",
            " Last reboot on 2026-11-26 17:48:59",
            "0013 Daemon is up and running",
        ]
    )
    assert status == {
        "bird_version": "1.6.8",
        "router_id": "198.18.5.1",
        "daemon_status": "Daemon is up and running",
        "status_code": 13,
    }


def test_graceful_restart_status_code_is_kept():
    status = parse_status(["1000-BIRD 2.0.12", "1011-Router ID is 10.0.0.1", "0024 Graceful restart"])
    assert status["status_code"] == 24


def test_show_protocols_all_details_per_protocol():
    lines = [
        "2002-name     proto    table    state  since       info",
        "1002-Mesh_198_18_7_2 BGP      master   start  17:48:59    Active        ",
        "1006-  Preference:     100",
        "   Input filter:   ACCEPT",
        "   Routes:         0 imported, 0 exported, 0 preferred",
        "   Route change stats:     received   rejected   filtered    ignored   accepted",
        "     Import updates:              0          0          0          0          0",
        "   BGP state:          Active",
        "     Neighbor address: 198.18.7.2",
        "     Neighbor AS:      64512",
        "     Last error:       Socket: Connection refused",
        " ",
        "0000 ",
    ]
    details = parse_protocol_details(lines)["Mesh_198_18_7_2"]
    assert details["BGP state"] == "Active"
    assert details["Neighbor address"] == "198.18.7.2"
    assert details["Last error"] == "Socket: Connection refused"
    assert "Route change stats" not in details
    # the plain row parser ignores the 1006 detail lines
    assert [p["name"] for p in parse_protocols(lines)] == ["Mesh_198_18_7_2"]


def test_async_lines_are_ignored():
    lines = [
        "+Reconfigured",
        "2002-name proto table state since info",
        "1002-Mesh_10_0_0_2 BGP master up 1:00 Established",
        "0000 ",
    ]
    assert len(parse_protocols(lines)) == 1


def test_expect_peers_must_be_ips():
    assert normalize_peers(["10.0.1.3/32", "10.0.1.2", "10.0.1.2"]) == ["10.0.1.2", "10.0.1.3"]
    with pytest.raises(ValueError, match="expect_peers: 'node2' is not an IP address"):
        normalize_peers(["node2"])


def test_socket_candidates():
    assert socket_candidates(4) == ["/var/run/calico/bird.ctl", "/var/run/bird/bird.ctl"]
    assert socket_candidates(6) == ["/var/run/calico/bird6.ctl", "/var/run/bird/bird6.ctl"]
    assert socket_candidates(6, "/run/x/bird.ctl") == ["/run/x/bird6.ctl"]
    assert socket_candidates(4, "/run/x/my.ctl") == ["/run/x/my.ctl"]
