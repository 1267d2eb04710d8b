# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPIP probe's process handling on a node: start the detached process
(the raw socket opened first), collect its result, stop it.

Standard library only: the probe runs on the nodes with their system Python.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.errors import (
    NeedsRootError,
    NoListenerError,
    ProbeError,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.files import (
    FILE_PREFIX,
    default_state_dir,
    netns_id,
    open_write,
    probe_files,
    process_start,
    read_pidfile,
    read_status,
    remove_stale,
    write_status,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.inputs import check_peers, out_of_range
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.packet import (
    IPPROTO_IPIP,
    KIND_STOP,
    build_packet,
    from_bitmap,
    order_checksum,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.prober import Prober, run_probe


def source_for(peer: str) -> str:
    """The local address the kernel would use to reach ``peer`` (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((peer, 9))
        return sock.getsockname()[0]


def _safe_source(peer):
    try:
        return source_for(peer)
    except OSError:
        return None


def open_raw_socket() -> socket.socket:
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


def own_address(peers: Sequence[str], source: str | None = None) -> str:
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


def start(peers: Iterable[object], run_id: str, timeout: float = 300, collector: bool = False, interval: float = 0.5,
          count: int = 1, source: str | None = None, state_dir: str | None = None) -> dict[str, Any]:
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
    running = read_pidfile(files["pid"])
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
    with open_write(files["pid"]) as fh:
        fh.write(f"{pid} {process_start(pid) or 0}\n")
    return {"pid": pid, "started": True, "address": address, "result_file": files["result"]}


def start_quietly(run_id: str, peers: Iterable[object], collector: bool = False, count: int = 1,
                  timeout: float = 300) -> dict[str, Any]:
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


def _daemonize(work: Callable[[], None], keep: tuple[int, ...]) -> int:
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


def stop_process(files: dict[str, str]) -> bool:
    """Stop the run's process if it still runs and remove its files; True if it ran."""
    pid = read_pidfile(files["pid"])
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


def send_stop(peers: Sequence[str], run_id: str, address: str, order_crc: int) -> None:
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


def collect(peers: Iterable[object], run_id: str, wait: float = 5.0, state_dir: str | None = None,
            poll: float = 0.1) -> dict[str, Any]:
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
    running = read_pidfile(files["pid"]) is not None
    while running and not status.get("done") and time.monotonic() < end:
        time.sleep(poll)
        status = read_status(files["result"]) or status
        running = read_pidfile(files["pid"]) is not None
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


def stop_all(run_id: str | None = None, state_dir: str | None = None) -> dict[str, list[str]]:
    """Stop every probe process of this host (of one run, or of any run) and remove the files."""
    directory = state_dir or default_state_dir()
    prefix = FILE_PREFIX + (f"{run_id}-" if run_id else "")
    suffix = f"-{netns_id()}.pid"
    stopped = []
    for name in sorted(os.listdir(directory)):
        if name.startswith(prefix) and name.endswith(suffix):
            base = os.path.join(directory, name[:-len(".pid")])
            if stop_process({"result": base + ".json", "pid": base + ".pid"}):
                stopped.append(name[len(FILE_PREFIX):-len(suffix)])
    return {"stopped": stopped}
