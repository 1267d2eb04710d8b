"""The IPIP probe's packets (plugins/module_utils/ipip/packet.py)."""

import socket
import struct

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import errors
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import packet as codec

SRC, DST = "198.18.0.11", "198.18.0.12"


def test_checksum_matches_rfc1071_example():
    # RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    assert codec.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2


def test_checksum_matches_a_known_ipv4_header():
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert codec.checksum(header) == 0xB861
    assert codec.checksum(header[:10] + b"\xb8\x61" + header[12:]) == 0


def test_checksum_pads_odd_length():
    assert codec.checksum(b"\x01") == codec.checksum(b"\x01\x00")


def test_packet_is_ipip_around_an_icmp_echo():
    packet = codec.build_packet(SRC, DST, "nightly-42", 7)
    outer, inner = packet[:20], packet[20:40]
    assert outer[0] == 0x45 and outer[9] == 4
    assert struct.unpack("!H", outer[2:4])[0] == len(packet)
    assert socket.inet_ntoa(outer[12:16]) == SRC and socket.inet_ntoa(outer[16:20]) == DST
    assert codec.checksum(outer) == 0 and codec.checksum(inner) == 0
    assert inner[9] == 1 and struct.unpack("!H", inner[2:4])[0] == len(packet) - 20
    icmp = packet[40:]
    assert icmp[0] == 8 and icmp[1] == 0 and codec.checksum(icmp) == 0
    assert struct.unpack("!HH", icmp[4:8]) == (codec.icmp_ident("nightly-42"), 7)


def test_build_and_parse_roundtrip():
    parsed = codec.parse_packet(codec.build_packet(SRC, DST, "nightly-42", 70000))
    assert parsed == {"outer_src": SRC, "outer_dst": DST, "inner_src": SRC, "inner_dst": DST,
                      "run_id": "nightly-42", "sender": SRC, "seq": 70000, "kind": codec.KIND_PROBE,
                      "order_crc": 0, "column": b""}


def test_packet_carries_the_senders_column():
    order = ["198.18.0.11", "198.18.0.12", "198.18.0.13"]
    column = codec.to_bitmap(order, {"198.18.0.11", "198.18.0.13"})
    crc = codec.order_checksum(order)
    parsed = codec.parse_packet(codec.build_packet(SRC, DST, "r1", 3, codec.KIND_PROBE, column, crc))
    assert parsed["order_crc"] == crc and codec.from_bitmap(order, parsed["column"]) == {order[0], order[2]}


def test_parse_accepts_ip_options_in_the_outer_header():
    packet = codec.build_packet(SRC, DST, "r1", 1)
    outer = bytearray(packet[:20])
    outer[0] = 0x46
    outer[2:4] = struct.pack("!H", len(packet) + 4)
    assert codec.parse_packet(bytes(outer) + b"\x01\x01\x01\x00" + packet[20:])["sender"] == SRC


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p[:9] + b"\x11" + p[10:], "protocol 17"),
    (lambda p: p[:-1] + bytes([p[-1] ^ 0xFF]), "checksum"),
    (lambda p: p[:30], "short"),
    (lambda p: b"\x60" + p[1:], "not an IPv4"),
])
def test_parse_rejects_what_is_not_a_probe(damage, reason):
    with pytest.raises(codec.BadPacket, match=reason):
        codec.parse_packet(damage(codec.build_packet(SRC, DST, "r1", 1)))


def test_parse_rejects_an_echo_without_the_magic():
    packet = bytearray(codec.build_packet(SRC, DST, "r1", 1))
    packet[48] ^= 0xFF  # first byte of the magic
    icmp = bytes(packet[40:42]) + b"\0\0" + bytes(packet[44:])
    packet[42:44] = struct.pack("!H", codec.checksum(icmp))
    with pytest.raises(codec.BadPacket, match="not a probe"):
        codec.parse_packet(bytes(packet))


@pytest.mark.parametrize("run_id", ["", "a" * 33, "has space", "semi;colon", None])
def test_bad_run_id_names_the_option(run_id):
    with pytest.raises(errors.ProbeError, match="run_id .* is invalid: use 1-32 characters"):
        codec.build_packet(SRC, DST, run_id, 1)
