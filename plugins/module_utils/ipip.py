# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPIP underlay probe: packets, the probe process, collection and the matrix.

Calico in IPIP mode needs IP protocol 4 between every pair of nodes. A cloud
firewall that allows tcp/udp/icmp only lets BGP come up while every IPIP
packet is dropped. This probe proves protocol 4 passes, independently of
Calico's routes and of any tunl0 device: each node sends raw protocol-4
packets (an IPIP-encapsulated ICMP echo) to each peer, and a raw listener on
the peer records who it heard from.

Two Ansible rounds at most, with any number of forks:

1. ``start`` on every node (verification does it inside its BGP status
   call): a detached process with a hard deadline opens the raw socket (so
   it listens from the moment the call returns) and sends one packet to
   every peer. Every packet carries the sender's column (a bitmap of the
   peers it has heard from, over the sorted peer list). A node answers a
   packet whose column lacks it (that sender has not heard it yet), and
   sends its column to the collector whenever the column grows (the
   collector marks its packets, so every node learns which one it is). To
   peers it has not heard it re-sends every ``interval`` for the first
   bursts, then every ``8 * interval``, a safety net for lost packets: a
   node that starts late is answered at once by every node that hears it.
   So a healthy run costs a few packets per pair, not a storm of N^2 per
   interval.
2. ``collect`` on ONE node (the collector): it waits until its process has
   heard every peer and every peer's full column (or ``wait`` seconds),
   reads the whole matrix, sends a stop packet to the peers that can hear
   it (they exit and remove their files), stops its own process and removes
   its files. Only the nodes that cannot hear it (as their column says, or
   whose column never arrived) are collected directly, with the same call.

Why this is correct when round 1 takes longer than any timer: a sender keeps
re-sending to a peer until it has heard that peer (whose listener was
therefore up), and a listener answers every packet that shows its sender
has not heard it; a sender that has not heard a peer keeps sending until
stopped or its deadline. Collection starts after round 1 has reached every
node, so every listener is up by then.
Standard library only: this file runs on the nodes with their system Python.
"""

import errno
import ipaddress
import json
import os
import re
import select
import socket
import struct
import tempfile
import time
import zlib

IPPROTO_IPIP = 4
IPPROTO_ICMP = 1
ICMP_ECHO_REQUEST = 8
MAGIC = b"CFIPIP2\0"
KIND_PROBE, KIND_STOP, KIND_COLLECTOR = 0, 1, 2
# Bursts after the first that re-send to every peer not heard yet; later
# re-sends come every RESEND_EVERY bursts only (lost packets, late starters
# that nobody could answer).
EAGER_BURSTS = 3
RESEND_EVERY = 8
RUN_ID_LEN = 32
RUN_ID_RE = re.compile(rf"^[A-Za-z0-9_.-]{{1,{RUN_ID_LEN}}}$")
FILE_PREFIX = "calico-fleet-ipip-probe-"
# Packets read per wake-up at most: a flood cannot hold off bursts or the deadline.
MAX_BATCH = 1000
# Files of listeners that died without being collected are removed by the
# next listener once they are this old.
STALE_AFTER = 3600

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_ICMP = struct.Struct("!BBHHH")
_PAYLOAD = struct.Struct(f"!8s{RUN_ID_LEN}s4sIBIH")
# Most peers one probe takes part in (the column bitmap stays within one packet).
MAX_PEERS = 8000


class ProbeError(Exception):
    """Base class; ``context`` goes to fail_json as extra keys."""

    def __init__(self, msg, **context):
        super().__init__(msg)
        self.context = context


class NeedsRootError(ProbeError):
    """The raw socket could not be opened (EPERM / EACCES)."""


class NoListenerError(ProbeError):
    """collect() found no probe files for the run."""


class BadPacket(ValueError):
    """A received packet is not one of ours."""


# --- packets -------------------------------------------------------------


def checksum(data):
    """RFC 1071 Internet checksum of ``data`` (bytes)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def icmp_ident(run_id):
    """ICMP echo identifier derived from the run id (same on every node)."""
    return zlib.crc32(run_id.encode()) & 0xFFFF


def ipv4_header(src, dst, proto, payload_len, ident=0, ttl=64):
    """A 20-byte IPv4 header with a correct checksum."""
    fields = [0x45, 0, 20 + payload_len, ident, 0, ttl, proto, 0,
              socket.inet_aton(src), socket.inet_aton(dst)]
    fields[7] = checksum(_IPV4.pack(*fields))
    return _IPV4.pack(*fields)


def build_packet(src, dst, run_id, seq, kind=KIND_PROBE, column=b"", order_crc=0):
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


def parse_packet(data):
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


# --- inputs --------------------------------------------------------------


def check_run_id(run_id):
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        raise ProbeError(f"run_id {run_id!r} is invalid: use 1-{RUN_ID_LEN} characters from "
                         "A-Z a-z 0-9 _ . -", run_id=run_id)


def check_peers(peers):
    """Return peers as sorted, unique IPv4 strings; raise on anything else."""
    out = set()
    for peer in peers:
        try:
            out.add(str(ipaddress.IPv4Address(str(peer).strip())))
        except ValueError:
            raise ProbeError(f"peer {peer!r} is not an IPv4 address: list the nodes' private IPv4 "
                             "addresses in peers", peer=peer) from None
    if len(out) > MAX_PEERS:
        raise ProbeError(f"{len(out)} peers: the probe takes at most {MAX_PEERS}", peers=len(out))
    return sorted(out, key=ipaddress.IPv4Address)


def order_checksum(order):
    """Checksum of the sorted peer list: columns are only read against the same list."""
    return zlib.crc32(",".join(order).encode())


def to_bitmap(order, members):
    """Bitmap over ``order`` (bit i set = order[i] in ``members``)."""
    bits = bytearray((len(order) + 7) // 8)
    for i, peer in enumerate(order):
        if peer in members:
            bits[i // 8] |= 1 << (i % 8)
    return bytes(bits)


def has_bit(bits, index):
    """Whether the peer at ``index`` of the peer list is set in a column."""
    return index // 8 < len(bits) and bool(bits[index // 8] >> (index % 8) & 1)


def from_bitmap(order, bits):
    """The set of peers whose bit is set."""
    return {peer for i, peer in enumerate(order) if has_bit(bits, i)}


def source_for(peer):
    """The local address the kernel would use to reach ``peer`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((peer, 9))
        return sock.getsockname()[0]


def open_raw_socket():
    """A raw IPv4 socket for protocol 4; NeedsRootError when not permitted."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_IPIP)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise NeedsRootError(
                f"opening a raw IP protocol 4 socket was refused ({exc.strerror}): the IPIP probe "
                "needs root; run the task with become: true") from None
        raise ProbeError(f"cannot open a raw IP protocol 4 socket: {exc}") from None
    return sock


# --- files ---------------------------------------------------------------


def default_state_dir():
    """/run when we may write there (root only, no other user can plant a
    symlink in it), else the temporary directory."""
    return "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()


def _netns_id():
    """Identity of our network namespace (constant on a host).

    Part of the file names: namespace nodes that share one /run (a lab)
    must not take each other's listener for their own.
    """
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return 0


def probe_files(run_id, state_dir=None):
    """Paths of the status and pid files of a run."""
    check_run_id(run_id)
    name = f"{FILE_PREFIX}{run_id}-{_netns_id()}"
    base = os.path.join(state_dir or default_state_dir(), name)
    return {"result": base + ".json", "pid": base + ".pid"}


def _process_start(pid):
    """Start time of a process (clock ticks since boot), None if it is gone.

    A zombie (ended, not yet reaped by init) counts as gone.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _read_pidfile(path):
    try:
        with open(path) as fh:
            pid, start = (int(x) for x in fh.read().split())
    except (OSError, ValueError):
        return None
    # A recycled pid belongs to another process: the start time tells.
    return pid if _process_start(pid) == start else None


def remove_stale(state_dir=None):
    """Remove files of listeners that ended long ago and were never collected."""
    directory = state_dir or default_state_dir()
    now = time.time()
    for name in os.listdir(directory):
        if not name.startswith(FILE_PREFIX):
            continue
        path = os.path.join(directory, name)
        if _read_pidfile(os.path.splitext(path)[0] + ".pid") is not None:
            continue
        try:
            if now - os.stat(path).st_mtime > STALE_AFTER:
                os.unlink(path)
        except OSError:
            pass


def _open_write(path):
    """Open for writing without following a symlink someone put there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    return os.fdopen(os.open(path, flags, 0o600), "w")


# --- the probe process ----------------------------------------------------


class Prober:
    """What one node's probe process knows and decides; no sockets, no clock.

    ``order`` is the sorted peer list (this node included), the same on every
    node. ``owed`` holds the peers owed a packet at the next burst: every peer
    at the start, a peer whose packet shows it has not heard us, and the
    collector whenever our column grows. Peers not heard yet are re-sent to
    as well, every burst at first, then every RESEND_EVERY bursts.
    """

    def __init__(self, order, address, collector=False):
        self.order = order
        self.address = address
        self.collector = collector
        self.others = [p for p in order if p != address]
        self.crc = order_checksum(order)
        self.own_index = order.index(address)
        self.heard = {}
        self.columns = {}
        self.owed = set(self.others)
        self.collector_address = address if collector else None
        self.bursts = 0
        self.stopped = False
        self.changed = True

    def column(self):
        return to_bitmap(self.order, set(self.heard) | {self.address})

    def kind(self):
        """Kind of our probe packets: the collector marks its own."""
        return KIND_COLLECTOR if self.collector else KIND_PROBE

    def column_readers(self):
        """Who needs our column when it grows: the collector (everyone until we know it)."""
        if self.collector:
            return set()
        return {self.collector_address} if self.collector_address else set(self.others)

    def on_packet(self, packet):
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

    def burst(self):
        """Peers to send to now: those owed a packet, and (re-sends) those not heard yet."""
        self.bursts += 1
        targets = set(self.owed)
        if self.bursts <= 1 + EAGER_BURSTS or self.bursts % RESEND_EVERY == 0:
            targets |= {p for p in self.others if p not in self.heard}
        self.owed = set()
        return sorted(targets, key=ipaddress.IPv4Address)

    def full_columns(self):
        full = set(self.order)
        return [p for p in self.others if from_bitmap(self.order, self.columns.get(p, b"")) >= full]

    def done(self):
        """Heard everyone and owe nobody; the collector also waits for every full column."""
        if self.stopped:
            return True
        if len(self.heard.keys() & set(self.others)) < len(self.others) or self.owed:
            return False
        return not self.collector or len(self.full_columns()) == len(self.others)

    def status(self, finished=None):
        return {"address": self.address, "order_crc": self.crc, "collector": self.collector,
                "heard": dict(sorted(self.heard.items())),
                "columns": {p: bits.hex() for p, bits in sorted(self.columns.items())},
                "done": self.done(), "stopped": self.stopped, "finished": finished}


def write_status(path, status):
    """Replace the status file atomically (a collector never reads half of it)."""
    tmp = path + ".tmp"
    with _open_write(tmp) as fh:
        json.dump(status, fh, sort_keys=True)
    os.replace(tmp, path)


def run_probe(sock, prober, run_id, deadline, status_path, interval=0.5, count=1, clock=time.monotonic):
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


def own_address(peers, source=None):
    """This node's address among ``peers`` (the kernel's source address toward them)."""
    if source:
        return str(ipaddress.IPv4Address(source))
    found = {_safe_source(p) for p in peers} - {None}
    for addr in found:
        if addr in peers:
            return addr
    if len(found) == 1:
        return found.pop()
    raise ProbeError("cannot tell this node's own address among the peers: set source to the node's "
                     "private IPv4 address", sources=sorted(found))


def start(peers, run_id, timeout=300, collector=False, interval=0.5, count=1, source=None, state_dir=None):
    """Start this node's probe process; it ends by itself after ``timeout`` s at the latest.

    The socket is opened here, before forking, so a missing privilege fails
    this call and packets are received from the moment it returns.
    """
    order = check_peers(peers)
    files = probe_files(run_id, state_dir)
    remove_stale(state_dir)
    address = own_address(order, source)
    if address not in order:
        order = check_peers(order + [address])
    running = _read_pidfile(files["pid"])
    if running is not None:
        return {"pid": running, "started": False, "address": address, "result_file": files["result"]}
    sock = open_raw_socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    prober = Prober(order, address, collector)
    write_status(files["result"], prober.status())
    deadline = time.monotonic() + timeout
    pid = _daemonize(lambda: run_probe(sock, prober, run_id, deadline, files["result"], interval, count),
                     keep=(sock.fileno(),))
    sock.close()
    with _open_write(files["pid"]) as fh:
        fh.write(f"{pid} {_process_start(pid) or 0}\n")
    return {"pid": pid, "started": True, "address": address, "result_file": files["result"]}


# Ranges of the probe's numeric options: {name: (lowest, highest)}.
LIMITS = {"count": (1, 100), "interval": (0.1, 5), "timeout": (1, 3600), "wait": (0, 600)}


def out_of_range(values):
    """Message naming the first option outside LIMITS and what to use, or None."""
    for name, (low, high) in LIMITS.items():
        if name in values and not low <= values[name] <= high:
            return f"{name}={values[name]} is out of range: use a value from {low} to {high}"
    return None


def start_quietly(run_id, peers, collector=False, count=1, timeout=300):
    """start(), but a probe that cannot start is described ({failed, msg}), not raised.

    For a call whose own job goes on without the probe (reading BGP status):
    the matrix then shows this node as not measured, with the reason.
    """
    problem = out_of_range({"count": count, "timeout": timeout})
    if problem:
        return {"failed": True, "msg": f"IPIP probe not started: {problem}"}
    try:
        return start(peers, run_id, timeout, collector, count=count)
    except ProbeError as exc:
        return {"failed": True, "msg": f"IPIP probe not started: {exc}", **exc.context}


def _daemonize(work, keep):
    """Run ``work`` in a detached grandchild; return the grandchild's pid.

    Double fork + setsid: the listener outlives the module, holds no terminal
    and none of the caller's pipes (an SSH session would otherwise wait for
    it). It leaves with os._exit so no cleanup of the caller runs twice.
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() == 0:
                # Hold no directory (Ansible removes its temporary one).
                os.chdir("/")
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.write(write_end, b"%d\n" % os.getpid())
                for fd in [int(n) for n in os.listdir("/proc/self/fd")]:
                    if fd > 2 and fd not in keep:
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                work()
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(child, 0)
    with os.fdopen(read_end) as fh:
        text = fh.read().strip()
    if not text:
        raise ProbeError("the listener process did not start")
    return int(text)


# --- collection -------------------------------------------------------------


def read_status(path):
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def stop_process(files):
    """Stop the run's process if it still runs and remove its files; True if it ran."""
    pid = _read_pidfile(files["pid"])
    if pid is not None:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    for path in list(files.values()) + [files["result"] + ".tmp"]:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return pid is not None


def send_stop(peers, run_id, address, order_crc):
    """Tell the peers' processes to end (each exits at its deadline anyway)."""
    if not peers:
        return
    sock = open_raw_socket()
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    try:
        for peer in peers:
            for seq in range(2):
                try:
                    sock.sendto(build_packet(address, peer, run_id, seq, KIND_STOP, b"", order_crc), (peer, 0))
                except OSError:
                    pass
    finally:
        sock.close()


def collect(peers, run_id, wait=5.0, state_dir=None, poll=0.1):
    """Read this node's probe: its own column and every column it learnt.

    Waits up to ``wait`` s for the process to finish (heard everyone; the
    collector also every full column), then stops it, removes its files and
    sends a stop packet to every peer that hears this node. Returns
    {address, received_from, packets, columns: {peer: {peer: bool}},
    unfinished: [peers whose process may still run], unexpected, listener_expired}.
    """
    order = check_peers(peers)
    files = probe_files(run_id, state_dir)
    status = read_status(files["result"])
    if status is None:
        raise NoListenerError(
            f"no IPIP probe for run {run_id} on this host: run the module with state=started "
            "(same run_id) on every node first", run_id=run_id)
    address = status["address"]
    if address not in order:
        order = check_peers(order + [address])
    end = time.monotonic() + wait
    running = _read_pidfile(files["pid"]) is not None
    while running and not status.get("done") and time.monotonic() < end:
        time.sleep(poll)
        status = read_status(files["result"]) or status
        running = _read_pidfile(files["pid"]) is not None
    expired = status.get("finished") == "deadline"
    stop_process(files)
    others = [p for p in order if p != address]
    heard = status.get("heard") or {}
    columns = {}
    if status.get("order_crc") == order_checksum(order):
        for peer, bits in (status.get("columns") or {}).items():
            members = from_bitmap(order, bytes.fromhex(bits))
            columns[peer] = {p: p in members for p in order if p != peer}
    # A peer whose column says it hears us gets our stop packet; any other
    # peer must be collected directly (its process and files are still there).
    hears_us = [p for p in others if columns.get(p, {}).get(address)]
    unfinished = [p for p in others if p not in hears_us]
    send_stop(hears_us, run_id, address, order_checksum(order))
    return {"address": address,
            "received_from": {p: p in heard for p in others},
            "packets": {p: heard.get(p, 0) for p in others},
            "columns": columns,
            "unfinished": unfinished,
            "unexpected": sorted(set(heard) - set(others)),
            "listener_expired": expired}


def stop_all(run_id=None, state_dir=None):
    """Stop every probe process of this host (of one run, or of any run) and remove the files."""
    directory = state_dir or default_state_dir()
    prefix = FILE_PREFIX + (f"{run_id}-" if run_id else "")
    suffix = f"-{_netns_id()}.pid"
    stopped = []
    for name in sorted(os.listdir(directory)):
        if name.startswith(prefix) and name.endswith(suffix):
            base = os.path.join(directory, name[:-len(".pid")])
            if stop_process({"result": base + ".json", "pid": base + ".pid"}):
                stopped.append(name[len(FILE_PREFIX):-len(suffix)])
    return {"stopped": stopped}


def _safe_source(peer):
    try:
        return source_for(peer)
    except OSError:
        return None


# --- matrix (controller side) --------------------------------------------


def probe_matrix(results, hosts=None):
    """Directional matrix from ``collected`` results.

    ``results`` is a {host: result} dict or a list of results. A result's own
    ``received_from`` is the receiver's column; its ``columns`` are the ones
    it learnt from its peers (a direct result wins). ``hosts`` ({host: ip})
    names the hosts nothing is known about. A result missing, failed or
    skipped counts as not measured. Returns {matrix: {src_ip: {dst_ip:
    true|false|null}}, failed: [[src, dst]], unmeasured: [host], table: str}.
    A cell is null when nothing is known about the receiver.
    """
    items = sorted(results.items()) if isinstance(results, dict) else [(None, r) for r in results or []]
    received, learnt, unmeasured, addresses = {}, {}, [], set()
    for host, res in items:
        if not isinstance(res, dict) or res.get("failed") or res.get("skipped") \
                or not isinstance(res.get("received_from"), dict) or not res.get("address"):
            if host is not None:
                unmeasured.append(host)
            continue
        received[res["address"]] = res["received_from"]
        addresses.add(res["address"])
        addresses.update(res["received_from"])
        for peer, column in (res.get("columns") or {}).items():
            learnt.setdefault(peer, column)
            addresses.add(peer)
    for peer, column in learnt.items():
        received.setdefault(peer, column)
    if hosts:
        addresses.update(hosts.values())
        unmeasured = sorted(set(unmeasured) | {h for h, ip in hosts.items() if ip not in received})
    order = sorted(addresses, key=ipaddress.IPv4Address)
    matrix = {src: {dst: (received[dst].get(src) if dst in received else None)
                    for dst in order if dst != src} for src in order}
    failed = [[s, d] for s in order for d in order if s != d and matrix[s][d] is False]
    return {"matrix": matrix, "failed": failed, "unmeasured": unmeasured,
            "table": format_matrix(matrix)}


def format_matrix(matrix):
    """Readable table: rows send, columns receive; ok / FAIL / ? (not measured)."""
    order = list(matrix)
    if not order:
        return "IPIP probe: no results"
    width = max(len(a) for a in order) + 2
    marks = {True: "ok", False: "FAIL", None: "?"}
    lines = ["IPIP probe (protocol 4): row = sender, column = receiver",
             "from \\ to".ljust(width) + "".join(d.ljust(width) for d in order)]
    for src in order:
        cells = ("-" if dst == src else marks[matrix[src].get(dst)] for dst in order)
        lines.append(src.ljust(width) + "".join(c.ljust(width) for c in cells))
    return "\n".join(line.rstrip() for line in lines)
