"""The lab resolver answers lab names and refuses everything else at once."""

import struct

from lab import resolver


def query(name, qtype=1):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00" + struct.pack("!HH", qtype, 1)
    return struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + q


def test_known_name_gets_an_a_record():
    reply = resolver.answer(query("node-2"), {"node-2": "198.18.0.12"})
    qid, flags, _, ancount, _, _ = struct.unpack("!HHHHHH", reply[:12])
    assert qid == 0x1234 and flags & 0xF == 0 and ancount == 1
    assert reply[-4:] == bytes([198, 18, 0, 12])


def test_unknown_name_is_nxdomain():
    reply = resolver.answer(query("www.example.com"), {"node-2": "198.18.0.12"})
    _, flags, _, ancount, _, _ = struct.unpack("!HHHHHH", reply[:12])
    assert flags & 0xF == 3 and ancount == 0
