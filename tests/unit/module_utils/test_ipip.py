"""Packets, inputs and the matrix of the IPIP probe (plugins/module_utils/ipip.py)."""

import os
import pathlib
import shutil
import socket
import struct
import subprocess

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils import ipip

ROOT = pathlib.Path(__file__).resolve().parents[3]
SRC, DST = "198.18.0.11", "198.18.0.12"


def test_checksum_matches_rfc1071_example():
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    assert ipip.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


def test_checksum_matches_a_known_ipv4_header():
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert ipip.checksum(header) == 0xB861
    assert ipip.checksum(header[:10] + b"\xb8\x61" + header[12:]) == 0


def test_checksum_pads_odd_length():
    assert ipip.checksum(b"\x01") == ipip.checksum(b"\x01\x00")


def test_packet_is_ipip_around_an_icmp_echo():
    packet = ipip.build_packet(SRC, DST, "nightly-42", 7)
    outer, inner = packet[:20], packet[20:40]
    assert outer[0] == 0x45 and outer[9] == 4
    assert struct.unpack("!H", outer[2:4])[0] == len(packet)
    assert socket.inet_ntoa(outer[12:16]) == SRC and socket.inet_ntoa(outer[16:20]) == DST
    assert ipip.checksum(outer) == 0 and ipip.checksum(inner) == 0
    assert inner[9] == 1 and struct.unpack("!H", inner[2:4])[0] == len(packet) - 20
    icmp = packet[40:]
    assert icmp[0] == 8 and icmp[1] == 0 and ipip.checksum(icmp) == 0
    assert struct.unpack("!HH", icmp[4:8]) == (ipip.icmp_ident("nightly-42"), 7)


def test_build_and_parse_roundtrip():
    parsed = ipip.parse_packet(ipip.build_packet(SRC, DST, "nightly-42", 70000))
    assert parsed == {"outer_src": SRC, "outer_dst": DST, "inner_src": SRC, "inner_dst": DST,
                      "run_id": "nightly-42", "sender": SRC, "seq": 70000, "kind": ipip.KIND_PROBE,
                      "order_crc": 0, "column": b""}


def test_packet_carries_the_senders_column():
    order = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]
    column = ipip.to_bitmap(order, {"198.18.0.11", "198.18.0.13"})
    crc = ipip.order_checksum(order)
    parsed = ipip.parse_packet(ipip.build_packet(SRC, DST, "r1", 3, ipip.KIND_PROBE, column, crc))
    assert parsed["order_crc"] == crc and ipip.from_bitmap(order, parsed["column"]) == {order[0], order[2]}


def test_parse_accepts_ip_options_in_the_outer_header():
    packet = ipip.build_packet(SRC, DST, "r1", 1)
    outer = bytearray(packet[:20])
    outer[0] = 0x46
    outer[2:4] = struct.pack("!H", len(packet) + 4)
    assert ipip.parse_packet(bytes(outer) + b"\x01\x01\x01\x00" + packet[20:])["sender"] == SRC


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p[:9] + b"\x11" + p[10:], "protocol 17"),
    (lambda p: p[:-1] + bytes([p[-1] ^ 0xFF]), "checksum"),
    (lambda p: p[:30], "short"),
    (lambda p: b"\x60" + p[1:], "not an IPv4"),
])
def test_parse_rejects_what_is_not_a_probe(damage, reason):
    with pytest.raises(ipip.BadPacket, match=reason):
        ipip.parse_packet(damage(ipip.build_packet(SRC, DST, "r1", 1)))


def test_parse_rejects_an_echo_without_the_magic():
    packet = bytearray(ipip.build_packet(SRC, DST, "r1", 1))
    packet[48] ^= 0xFF  # first byte of the magic
    icmp = bytes(packet[40:42]) + b"\0\0" + bytes(packet[44:])
    packet[42:44] = struct.pack("!H", ipip.checksum(icmp))
    with pytest.raises(ipip.BadPacket, match="not a probe"):
        ipip.parse_packet(bytes(packet))


@pytest.mark.parametrize("run_id", ["", "a" * 33, "has space", "semi;colon", None])
def test_bad_run_id_names_the_option(run_id):
    with pytest.raises(ipip.ProbeError, match="run_id .* is invalid: use 1-32 characters"):
        ipip.build_packet(SRC, DST, run_id, 1)


def test_peers_are_normalised_and_bad_ones_named():
    assert ipip.check_peers([" 198.18.0.12", "198.18.0.9", "198.18.0.12"]) == ["198.18.0.9", "198.18.0.12"]
    with pytest.raises(ipip.ProbeError, match="peer 'node-2' is not an IPv4 address"):
        ipip.check_peers(["node-2"])


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_without_root_the_error_says_root_is_needed():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import ipip\n"
            "try:\n    ipip.start(['198.18.0.12'], 'r1', 5, source='198.18.0.11', state_dir='/tmp')\n"
            "except ipip.NeedsRootError as exc:\n    print(exc)\n")
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "/usr/bin/python3", "-c", code, str(ROOT / "plugins" / "module_utils")],
                          capture_output=True, text=True, timeout=30)
    assert "needs root" in proc.stdout and "become: true" in proc.stdout, proc.stderr


def collected(address, **heard):
    return {"changed": False, "address": address,
            "received_from": {ip.replace("_", "."): ok for ip, ok in heard.items()}}


def test_matrix_orients_rows_as_senders():
    # .12 heard .11, but .11 did not hear .12: the path .12 -> .11 is broken.
    out = ipip.probe_matrix({"n1": collected("198.18.0.11", **{"198_18_0_12": False}),
                             "n2": collected("198.18.0.12", **{"198_18_0_11": True})})
    assert out["matrix"] == {"198.18.0.11": {"198.18.0.12": True}, "198.18.0.12": {"198.18.0.11": False}}
    assert out["failed"] == [["198.18.0.12", "198.18.0.11"]]
    assert out["unmeasured"] == []


def test_matrix_marks_receivers_without_result_unknown():
    out = ipip.probe_matrix({
        "n1": collected("198.18.0.9", **{"198_18_0_10": True, "198_18_0_11": True}),
        "n2": {"unreachable": True, "failed": True},
        "n3": collected("198.18.0.11", **{"198_18_0_9": True, "198_18_0_10": True}),
    })
    assert out["unmeasured"] == ["n2"]
    assert list(out["matrix"]) == ["198.18.0.9", "198.18.0.10", "198.18.0.11"]
    assert out["matrix"]["198.18.0.9"] == {"198.18.0.10": None, "198.18.0.11": True}
    assert out["failed"] == []
    lines = out["table"].splitlines()
    assert lines[2].split() == ["198.18.0.9", "-", "?", "ok"]
    assert lines[3].split() == ["198.18.0.10", "ok", "-", "ok"]


def test_matrix_table_shows_failures():
    out = ipip.probe_matrix({"a": collected("198.18.0.11", **{"198_18_0_12": False}),
                             "b": collected("198.18.0.12", **{"198_18_0_11": False})})
    assert out["table"].splitlines()[1:] == [
        "from \\ to    198.18.0.11  198.18.0.12",
        "198.18.0.11  -            FAIL",
        "198.18.0.12  FAIL         -",
    ]


def test_matrix_of_nothing():
    assert ipip.probe_matrix({}) == {"matrix": {}, "failed": [], "unmeasured": [],
                                     "table": "IPIP probe: no results"}


# --- the probe process's decisions (Prober), driven by hand ------------------

ORDER = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]


def packet_from(prober_or_src, dst, order=ORDER, heard=(), kind=ipip.KIND_PROBE):
    src = prober_or_src
    column = ipip.to_bitmap(order, set(heard) | {src})
    return ipip.parse_packet(ipip.build_packet(src, dst, "r1", 1, kind, column, ipip.order_checksum(order)))


def test_prober_sends_to_everyone_once_then_backs_off_for_the_unheard():
    me = ipip.Prober(ORDER, ORDER[0])
    assert me.burst() == ORDER[1:]  # everyone at the start
    me.on_packet(packet_from(ORDER[1], ORDER[0], heard=[ORDER[0]]))
    assert me.burst() == ORDER[1:]  # our column grew and the collector is not known yet: everyone
    for _unused in range(ipip.EAGER_BURSTS - 1):
        assert me.burst() == [ORDER[2]]  # .12 heard us and we heard it; .13 still unheard
    quiet = [me.burst() for _unused in range(ipip.EAGER_BURSTS + 1, ipip.RESEND_EVERY - 1)]
    assert quiet == [[]] * len(quiet)  # then only every RESEND_EVERY bursts
    assert me.burst() == [ORDER[2]]
    assert not me.done()


def test_prober_answers_a_peer_that_has_not_heard_it():
    me = ipip.Prober(ORDER, ORDER[1])
    me.burst()
    me.on_packet(packet_from(ORDER[2], ORDER[1]))  # .13 started late: its column lacks .12
    assert ORDER[2] in me.burst()
    me.on_packet(packet_from(ORDER[2], ORDER[1], heard=[ORDER[1]]))  # now it has heard us: no answer
    assert ORDER[2] not in me.burst()


def test_a_grown_column_goes_to_the_collector_only_once_it_is_known():
    me = ipip.Prober(ORDER, ORDER[2])
    me.burst()
    # Before the collector is known, a grown column goes to everyone.
    me.on_packet(packet_from(ORDER[1], ORDER[2], heard=[ORDER[2]]))
    assert me.burst() == ORDER[:2]
    collector = ipip.parse_packet(ipip.build_packet(ORDER[0], ORDER[2], "r1", 1, ipip.KIND_COLLECTOR,
                                                    ipip.to_bitmap(ORDER, set(ORDER)), ipip.order_checksum(ORDER)))
    me.on_packet(collector)
    assert me.collector_address == ORDER[0]
    # Hearing the collector grew our column: it goes to the collector, nobody else.
    assert me.burst() == [ORDER[0]]
    assert me.done()


def test_collector_waits_for_every_full_column():
    col = ipip.Prober(ORDER, ORDER[0], collector=True)
    col.on_packet(packet_from(ORDER[1], ORDER[0], heard=[ORDER[0]]))
    col.on_packet(packet_from(ORDER[2], ORDER[0], heard=[ORDER[0]]))
    col.burst()
    assert not col.done() and col.full_columns() == []
    col.on_packet(packet_from(ORDER[1], ORDER[0], heard=ORDER))
    col.on_packet(packet_from(ORDER[2], ORDER[0], heard=ORDER))
    col.burst()
    assert col.done() and col.full_columns() == ORDER[1:]
    status = col.status()
    assert status["heard"] == {ORDER[1]: 2, ORDER[2]: 2} and status["done"] is True


def test_columns_over_another_peer_list_are_ignored_and_stop_ends():
    me = ipip.Prober(ORDER, ORDER[0])
    me.on_packet(packet_from(ORDER[1], ORDER[0], order=ORDER[:2], heard=ORDER[:2]))
    assert ORDER[1] in me.heard and me.columns == {}
    me.on_packet(packet_from(ORDER[1], ORDER[0], kind=ipip.KIND_STOP))
    assert me.done() and me.status()["stopped"] is True


def test_matrix_fills_columns_learnt_by_the_collector():
    collector = {"address": ORDER[0], "received_from": {ORDER[1]: True, ORDER[2]: True},
                 "columns": {ORDER[1]: {ORDER[0]: True, ORDER[2]: False}}}
    out = ipip.probe_matrix([collector], {"n1": ORDER[0], "n2": ORDER[1], "n3": ORDER[2]})
    assert out["matrix"][ORDER[2]] == {ORDER[0]: True, ORDER[1]: False}
    assert out["matrix"][ORDER[0]][ORDER[2]] is None  # nothing known about .13's column
    assert out["unmeasured"] == ["n3"] and out["failed"] == [[ORDER[2], ORDER[1]]]
    direct = {"address": ORDER[2], "received_from": {ORDER[0]: True, ORDER[1]: True}}
    out = ipip.probe_matrix([collector, direct], {"n1": ORDER[0], "n2": ORDER[1], "n3": ORDER[2]})
    assert out["unmeasured"] == [] and out["matrix"][ORDER[0]][ORDER[2]] is True
