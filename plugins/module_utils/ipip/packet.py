# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPIP probe's packet codec: an IP protocol 4 packet around an ICMP echo
whose payload carries the run, the sender and its column (a bitmap over the
sorted peer list).

Standard library only: the probe runs on the nodes with their system Python.
"""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Collection, Sequence
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.inputs import RUN_ID_LEN, check_run_id

IPPROTO_IPIP = 4
IPPROTO_ICMP = 1
ICMP_ECHO_REQUEST = 8
MAGIC = b"CFIPIP2\0"
KIND_PROBE, KIND_STOP, KIND_COLLECTOR = 0, 1, 2


_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_ICMP = struct.Struct("!BBHHH")
_PAYLOAD = struct.Struct(f"!8s{RUN_ID_LEN}s4sIBIH")


class BadPacket(ValueError):
    """A received packet is not one of ours."""


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum of ``data`` (bytes)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp_ident(run_id: str) -> int:
    """ICMP echo identifier derived from the run id (same on every node)."""
    return zlib.crc32(run_id.encode()) & 0xFFFF


def ipv4_header(src: str, dst: str, proto: int, payload_len: int, ident: int = 0, ttl: int = 64) -> bytes:
    """A 20-byte IPv4 header with a correct checksum."""
    fields = [0x45, 0, 20 + payload_len, ident, 0, ttl, proto, 0,
              socket.inet_aton(src), socket.inet_aton(dst)]
    fields[7] = checksum(_IPV4.pack(*fields))
    return _IPV4.pack(*fields)


def build_packet(src: str, dst: str, run_id: str, seq: int, kind: int = KIND_PROBE, column: bytes = b"",
                 order_crc: int = 0) -> bytes:
    """Outer IPv4 (proto 4, src -> dst) + inner IPv4 + ICMP echo request.

    The echo payload carries a magic, the run id, the sender's address, the
    sequence number, the kind (probe or stop), a checksum of the peer list
    and the sender's column (bitmap of the peers it has heard from), so a
    listener counts only this run's packets and learns what the sender heard.
    """
    check_run_id(run_id)
    payload = _PAYLOAD.pack(MAGIC, run_id.encode(), socket.inet_aton(src), seq, kind, order_crc,
                            len(column)) + bytes(column)
    ident = icmp_ident(run_id)
    icmp = _ICMP.pack(ICMP_ECHO_REQUEST, 0, 0, ident, seq & 0xFFFF) + payload
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    inner = ipv4_header(src, dst, IPPROTO_ICMP, len(icmp), ident=seq & 0xFFFF) + icmp
    return ipv4_header(src, dst, IPPROTO_IPIP, len(inner), ident=seq & 0xFFFF) + inner


def _split_ipv4(data, proto):
    if len(data) < 20:
        raise BadPacket("short IPv4 header")
    fields = _IPV4.unpack_from(data)
    ihl = (fields[0] & 0x0F) * 4
    if fields[0] >> 4 != 4 or ihl < 20 or len(data) < ihl:
        raise BadPacket("not an IPv4 header")
    if fields[6] != proto:
        raise BadPacket(f"IP protocol {fields[6]}, expected {proto}")
    return socket.inet_ntoa(fields[8]), socket.inet_ntoa(fields[9]), data[ihl:fields[2]]


def parse_packet(data: bytes) -> dict[str, Any]:
    """Parse what a protocol-4 raw socket receives (outer header included).

    Returns a dict (outer_src, outer_dst, inner_src, inner_dst, run_id,
    sender, seq); raises BadPacket for anything that is not our probe.
    """
    outer_src, outer_dst, inner = _split_ipv4(data, IPPROTO_IPIP)
    inner_src, inner_dst, icmp = _split_ipv4(inner, IPPROTO_ICMP)
    if len(icmp) < _ICMP.size + _PAYLOAD.size:
        raise BadPacket("short ICMP message")
    if checksum(icmp) != 0:
        raise BadPacket("bad ICMP checksum")
    icmp_type, _code, _sum, ident, _seq = _ICMP.unpack_from(icmp)
    magic, run_id, sender, seq, kind, order_crc, size = _PAYLOAD.unpack_from(icmp, _ICMP.size)
    if icmp_type != ICMP_ECHO_REQUEST or magic != MAGIC:
        raise BadPacket("not a probe echo")
    run_id = run_id.rstrip(b"\0").decode("ascii", "replace")
    if ident != icmp_ident(run_id):
        raise BadPacket("ICMP identifier does not match the run id")
    column = icmp[_ICMP.size + _PAYLOAD.size:_ICMP.size + _PAYLOAD.size + size]
    if len(column) != size:
        raise BadPacket("short column")
    return {"outer_src": outer_src, "outer_dst": outer_dst, "inner_src": inner_src,
            "inner_dst": inner_dst, "run_id": run_id, "sender": socket.inet_ntoa(sender), "seq": seq,
            "kind": kind, "order_crc": order_crc, "column": column}


def order_checksum(order: Sequence[str]) -> int:
    """Checksum of the sorted peer list: columns are only read against the same list."""
    return zlib.crc32(",".join(order).encode())


def to_bitmap(order: Sequence[str], members: Collection[str]) -> bytes:
    """Bitmap over ``order`` (bit i set = order[i] in ``members``)."""
    bits = bytearray((len(order) + 7) // 8)
    for i, peer in enumerate(order):
        if peer in members:
            bits[i // 8] |= 1 << (i % 8)
    return bytes(bits)


def has_bit(bits: bytes, index: int) -> bool:
    """Whether the peer at ``index`` of the peer list is set in a column."""
    return index // 8 < len(bits) and bool(bits[index // 8] >> (index % 8) & 1)


def from_bitmap(order: Sequence[str], bits: bytes) -> set[str]:
    """The set of peers whose bit is set."""
    return {peer for i, peer in enumerate(order) if has_bit(bits, i)}
