"""The VPC's DNS resolver: answers every query at once.

Nodes have no route to the internet, so a real resolver would make every
lookup wait for its timeout. This one answers A queries for lab node names
(hostnames and lab names, from the lab's hosts file) and NXDOMAIN for the
rest, immediately. Runs in the VPC namespace on the gateway address.
"""

import argparse
import socket
import struct
import time
from pathlib import Path


def parse_question(packet):
    labels, pos = [], 12
    while pos < len(packet) and packet[pos]:
        length = packet[pos]
        labels.append(packet[pos + 1:pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    qtype = struct.unpack("!H", packet[pos + 1:pos + 3])[0] if pos + 3 <= len(packet) else 0
    return ".".join(labels).lower().rstrip("."), qtype, pos + 5


def answer(packet, hosts):
    if len(packet) < 12:
        return None
    name, qtype, end = parse_question(packet)
    (qid,) = struct.unpack("!H", packet[:2])
    ip = hosts.get(name) or hosts.get(name.split(".")[0] if name.endswith(".internal") else "")
    question = packet[12:end]
    if ip and qtype == 1:
        header = struct.pack("!HHHHHH", qid, 0x8580, 1, 1, 0, 0)
        record = struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(ip)
        return header + question + record
    rcode = 0 if ip else 3  # name exists but no record of that type, else NXDOMAIN
    return struct.pack("!HHHHHH", qid, 0x8580 | rcode, 1, 0, 0, 0) + question


def load_hosts(path):
    hosts = {}
    try:
        for line in Path(path).read_text().splitlines():
            fields = line.split()
            for name in fields[1:]:
                hosts[name.lower()] = fields[0]
    except FileNotFoundError:
        pass
    return hosts


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", required=True)
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--lifetime", type=float, default=6 * 3600)
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.listen, 53))
    sock.settimeout(1.0)
    deadline = time.monotonic() + args.lifetime
    hosts, mtime = {}, None
    while time.monotonic() < deadline:
        try:
            packet, peer = sock.recvfrom(512)
        except TimeoutError:
            continue
        try:
            current = Path(args.hosts).stat().st_mtime
        except FileNotFoundError:
            current = None
        if current != mtime:
            hosts, mtime = load_hosts(args.hosts), current
        reply = answer(packet, hosts)
        if reply:
            sock.sendto(reply, peer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
