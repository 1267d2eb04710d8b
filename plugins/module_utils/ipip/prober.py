# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPIP probe process: what one node knows and decides (``Prober``, no
sockets, no clock) and the loop that listens, sends and re-sends
(``run_probe``).

Standard library only: the probe runs on the nodes with their system Python.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import socket as socket_module
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.files import write_status
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.packet import (
    KIND_COLLECTOR,
    KIND_PROBE,
    KIND_STOP,
    BadPacket,
    build_packet,
    from_bitmap,
    has_bit,
    order_checksum,
    parse_packet,
    to_bitmap,
)

# Bursts after the first that re-send to every peer not heard yet; later
# re-sends come every RESEND_EVERY bursts only (lost packets, late starters
# that nobody could answer).
EAGER_BURSTS = 3
RESEND_EVERY = 8
# Packets read per wake-up at most: a flood cannot hold off bursts or the deadline.
MAX_BATCH = 1000


class Prober:
    """What one node's probe process knows and decides; no sockets, no clock.

    ``order`` is the sorted peer list (this node included), the same on every
    node. ``owed`` holds the peers owed a packet at the next burst: every peer
    at the start, a peer whose packet shows it has not heard us, and the
    collector whenever our column grows. Peers not heard yet are re-sent to
    as well, every burst at first, then every RESEND_EVERY bursts.
    """

    def __init__(self, order: list[str], address: str, collector: bool = False) -> None:
        self.order = order
        self.address = address
        self.collector = collector
        self.others = [p for p in order if p != address]
        self.crc = order_checksum(order)
        self.own_index = order.index(address)
        self.heard: dict[str, int] = {}
        self.columns: dict[str, bytes] = {}
        self.owed = set(self.others)
        self.collector_address = address if collector else None
        self.bursts = 0
        self.stopped = False
        self.changed = True

    def column(self) -> bytes:
        return to_bitmap(self.order, set(self.heard) | {self.address})

    def kind(self) -> int:
        """Kind of our probe packets: the collector marks its own."""
        return KIND_COLLECTOR if self.collector else KIND_PROBE

    def column_readers(self) -> set[str]:
        """Who needs our column when it grows: the collector (everyone until we know it)."""
        if self.collector:
            return set()
        return {self.collector_address} if self.collector_address else set(self.others)

    def on_packet(self, packet: dict[str, Any]) -> None:
        """Take one parsed packet of this run."""
        src = packet["outer_src"]
        if packet["kind"] == KIND_STOP:
            self.stopped = src in self.others
            return
        if packet["kind"] == KIND_COLLECTOR and src in self.others:
            self.collector_address = src
        first = src not in self.heard
        self.heard[src] = self.heard.get(src, 0) + 1
        if first:
            self.changed = True
            self.owed |= self.column_readers()
        if packet["order_crc"] == self.crc and src in self.others:
            bits = bytes(packet["column"])
            if self.columns.get(src) != bits:
                self.columns[src] = bits
                self.changed = True
            if not has_bit(bits, self.own_index):
                self.owed.add(src)  # it has not heard us yet: answer
        elif first and src in self.others:
            self.owed.add(src)

    def burst(self) -> list[str]:
        """Peers to send to now: those owed a packet, and (re-sends) those not heard yet."""
        self.bursts += 1
        targets = set(self.owed)
        if self.bursts <= 1 + EAGER_BURSTS or self.bursts % RESEND_EVERY == 0:
            targets |= {p for p in self.others if p not in self.heard}
        self.owed = set()
        return sorted(targets, key=ipaddress.IPv4Address)

    def full_columns(self) -> list[str]:
        full = set(self.order)
        return [p for p in self.others if from_bitmap(self.order, self.columns.get(p, b"")) >= full]

    def done(self) -> bool:
        """Heard everyone and owe nobody; the collector also waits for every full column."""
        if self.stopped:
            return True
        if len(self.heard.keys() & set(self.others)) < len(self.others) or self.owed:
            return False
        return not self.collector or len(self.full_columns()) == len(self.others)

    def status(self, finished: str | None = None) -> dict[str, Any]:
        return {"address": self.address, "order_crc": self.crc, "collector": self.collector,
                "heard": dict(sorted(self.heard.items())),
                "columns": {p: bits.hex() for p, bits in sorted(self.columns.items())},
                "done": self.done(), "stopped": self.stopped, "finished": finished}


def run_probe(sock: socket_module.socket, prober: Prober, run_id: str, deadline: float, status_path: str,
              interval: float = 0.5, count: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
    """The detached process: listen, send, re-send, until stopped or ``deadline``.

    Once done (heard everyone, owes nobody) it only listens, for the
    collector's stop packet; its status file stays for a direct collection.
    """
    seq, next_burst = 0, clock()
    finished = "deadline"
    while clock() < deadline:
        if prober.stopped:
            finished = "stopped"
            break
        if clock() >= next_burst:
            column = prober.column()
            for peer in prober.burst():
                for _unused in range(count):
                    seq += 1
                    try:
                        sock.sendto(build_packet(prober.address, peer, run_id, seq, prober.kind(), column,
                                                 prober.crc), (peer, 0))
                    except OSError:
                        pass  # no route, firewall reject: the peer's column shows it
            next_burst = clock() + interval
        if prober.changed:
            write_status(status_path, prober.status())
            prober.changed = False
        wait = max(0.0, min(next_burst, deadline) - clock())
        ready, _w, _x = select.select([sock], [], [], wait)
        for _unused in range(MAX_BATCH if ready else 0):
            try:
                data = sock.recv(65535, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            try:
                packet = parse_packet(data)
            except BadPacket:
                continue
            if packet["run_id"] == run_id:
                prober.on_packet(packet)
    if finished == "stopped":
        # The collector holds this node's column and told it to stop.
        for path in (status_path, os.path.splitext(status_path)[0] + ".pid"):
            try:
                os.unlink(path)
            except OSError:
                pass
    else:
        write_status(status_path, prober.status(finished))
