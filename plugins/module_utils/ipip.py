# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPIP underlay probe: packets, listener, sender and collector.

Calico in IPIP mode needs IP protocol 4 between every pair of nodes. A cloud
firewall that allows tcp/udp/icmp only lets BGP come up while every IPIP
packet is dropped. This probe proves protocol 4 passes, independently of
Calico's routes and of any tunl0 device: each node sends raw protocol-4
packets (an IPIP-encapsulated ICMP echo) to each peer, and a raw listener on
the peer records who it heard from.

The probe runs in three steps so that Ansible can run it host by host with
any number of forks: ``start_listener`` (a detached background process with a
deadline), ``send_probes``, then ``collect``. Standard library only: this file
runs on the nodes with their system Python.
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
MAGIC = b"CFIPIP1\0"
RUN_ID_LEN = 32
RUN_ID_RE = re.compile(rf"^[A-Za-z0-9_.-]{{1,{RUN_ID_LEN}}}$")
FILE_PREFIX = "calico-fleet-ipip-probe-"
# A listener records at most this many packets: the result file stays small
# even when a peer floods us.
MAX_RECORDS = 10000
# Files of listeners that died without being collected are removed by the
# next listener once they are this old.
STALE_AFTER = 3600

_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_ICMP = struct.Struct("!BBHHH")
_PAYLOAD = struct.Struct(f"!8s{RUN_ID_LEN}s4sI")


class ProbeError(Exception):
    """Base class; ``context`` goes to fail_json as extra keys."""

    def __init__(self, msg, **context):
        super().__init__(msg)
        self.context = context


class NeedsRootError(ProbeError):
    """The raw socket could not be opened (EPERM / EACCES)."""


class NoListenerError(ProbeError):
    """collect() found no listener files for the run."""


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


def build_packet(src, dst, run_id, seq):
    """Outer IPv4 (proto 4, src -> dst) + inner IPv4 + ICMP echo request.

    The echo payload carries a magic, the run id, the sender's address and
    the sequence number, so a listener counts only this run's packets.
    """
    check_run_id(run_id)
    payload = _PAYLOAD.pack(MAGIC, run_id.encode(), socket.inet_aton(src), seq)
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
    magic, run_id, sender, seq = _PAYLOAD.unpack_from(icmp, _ICMP.size)
    if icmp_type != ICMP_ECHO_REQUEST or magic != MAGIC:
        raise BadPacket("not a probe echo")
    run_id = run_id.rstrip(b"\0").decode("ascii", "replace")
    if ident != icmp_ident(run_id):
        raise BadPacket("ICMP identifier does not match the run id")
    return {"outer_src": outer_src, "outer_dst": outer_dst, "inner_src": inner_src,
            "inner_dst": inner_dst, "run_id": run_id, "sender": socket.inet_ntoa(sender), "seq": seq}


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
    return sorted(out, key=ipaddress.IPv4Address)


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
    """Paths of the result and pid files of a run."""
    check_run_id(run_id)
    name = f"{FILE_PREFIX}{run_id}-{_netns_id()}"
    base = os.path.join(state_dir or default_state_dir(), name)
    return {"result": base + ".jsonl", "pid": base + ".pid"}


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


# --- listener ------------------------------------------------------------


def listen(sock, out, run_id, deadline):
    """Record this run's probes from ``sock`` into ``out`` until ``deadline``.

    ``out`` is a text file; one JSON line per packet, flushed at once so a
    collector can read it while we run. Returns the number of records.
    """
    records = 0
    while records < MAX_RECORDS:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([sock], [], [], min(left, 1.0))
        if not ready:
            continue
        data = sock.recv(65535)
        try:
            packet = parse_packet(data)
        except BadPacket:
            continue
        if packet["run_id"] != run_id:
            continue
        out.write(json.dumps(packet, sort_keys=True) + "\n")
        out.flush()
        records += 1
    return records


def start_listener(run_id, listen_timeout, state_dir=None):
    """Start a detached listener that ends by itself after ``listen_timeout`` s.

    The socket is opened here, before forking, so a missing privilege fails
    this call and packets are queued from the moment it returns.
    """
    files = probe_files(run_id, state_dir)
    remove_stale(state_dir)
    running = _read_pidfile(files["pid"])
    if running is not None:
        return {"pid": running, "started": False, "result_file": files["result"]}
    sock = open_raw_socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    out = _open_write(files["result"])
    pid = _daemonize(lambda: listen(sock, out, run_id, time.monotonic() + listen_timeout),
                     keep=(sock.fileno(), out.fileno()))
    sock.close()
    out.close()
    with _open_write(files["pid"]) as fh:
        fh.write(f"{pid} {_process_start(pid) or 0}\n")
    return {"pid": pid, "started": True, "result_file": files["result"]}


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


# --- sender --------------------------------------------------------------


def send_probes(peers, run_id, count=3, interval=0.05, source=None):
    """Send ``count`` probes to every peer but ourselves.

    Returns {source, sent: {peer: n}, errors: {peer: message}}; a send error
    for one peer (no route, firewall reject) is a result, not a failure.
    """
    check_run_id(run_id)
    peers = check_peers(peers)
    sock = open_raw_socket()
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    sent, errors, sources = {}, {}, set()
    try:
        targets = []
        for peer in peers:
            try:
                src = source or source_for(peer)
            except OSError as exc:
                errors[peer] = str(exc)
                continue
            if src == peer:
                continue
            sources.add(src)
            targets.append((peer, src))
        for seq in range(count):
            for peer, src in targets:
                try:
                    sock.sendto(build_packet(src, peer, run_id, seq), (peer, 0))
                    sent[peer] = sent.get(peer, 0) + 1
                except OSError as exc:
                    errors[peer] = str(exc)
            if seq + 1 < count:
                time.sleep(interval)
    finally:
        sock.close()
    return {"source": source or (sorted(sources)[0] if len(sources) == 1 else None),
            "sent": sent, "errors": errors}


# --- collector -----------------------------------------------------------


def read_results(path):
    """{sender: packets} from a listener's result file."""
    heard = {}
    try:
        with open(path) as fh:
            for line in fh:
                try:
                    packet = json.loads(line)
                except ValueError:
                    continue  # the listener may be writing this line right now
                heard[packet["outer_src"]] = heard.get(packet["outer_src"], 0) + 1
    except FileNotFoundError:
        pass
    return heard


def stop_listener(files):
    """Stop the run's listener if it still runs and remove its files."""
    pid = _read_pidfile(files["pid"])
    if pid is not None:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
    for path in files.values():
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return pid is not None


def collect(peers, run_id, wait=2.0, state_dir=None, address=None, poll=0.1):
    """Wait up to ``wait`` s for every peer, then stop the listener and clean up.

    Returns {address, received_from: {peer: bool}, packets: {peer: n},
    listener_expired}; peers equal to this node's own address are left out.
    """
    peers = check_peers(peers)
    files = probe_files(run_id, state_dir)
    if not os.path.exists(files["result"]):
        raise NoListenerError(
            f"no IPIP probe listener for run {run_id} on this host: run the module with "
            "state=listening (same run_id) before sending", run_id=run_id)
    sources = {p: _safe_source(p) for p in peers}
    if address is None:
        locals_ = set(sources.values()) - {None}
        address = sorted(locals_)[0] if len(locals_) == 1 else None
    others = [p for p in peers if p != address and sources[p] != p]
    deadline = time.monotonic() + wait
    heard = read_results(files["result"])
    while not all(p in heard for p in others) and time.monotonic() < deadline:
        time.sleep(poll)
        heard = read_results(files["result"])
    running = stop_listener(files)
    return {"address": address,
            "received_from": {p: p in heard for p in others},
            "packets": {p: heard.get(p, 0) for p in others},
            "unexpected": sorted(set(heard) - set(others)),
            "listener_expired": not running}


def _safe_source(peer):
    try:
        return source_for(peer)
    except OSError:
        return None


# --- matrix (controller side) --------------------------------------------


def probe_matrix(results):
    """Pairwise matrix from the ``collected`` results of every node.

    ``results`` maps a host name to its ``collected`` result; a host whose
    result is missing, failed or skipped counts as not measured. Returns
    {matrix: {src_ip: {dst_ip: true|false|null}}, failed: [[src, dst]],
    unmeasured: [host], table: str}. A cell is null when the receiver has no
    result (its listener never answered), so nothing is known about it.
    """
    received, unmeasured, addresses = {}, [], set()
    for host, res in sorted((results or {}).items()):
        if not isinstance(res, dict) or res.get("failed") or res.get("skipped") \
                or not isinstance(res.get("received_from"), dict) or not res.get("address"):
            unmeasured.append(host)
            continue
        received[res["address"]] = res["received_from"]
        addresses.add(res["address"])
        addresses.update(res["received_from"])
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
