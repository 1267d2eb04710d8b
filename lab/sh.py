"""Running commands, in the root namespace or inside a lab namespace."""

import os
import signal
import subprocess
import time


class LabError(RuntimeError):
    """A lab operation failed; the message says what and how to fix it."""


def run(argv, check=True, input=None, timeout=60, capture=True):
    proc = subprocess.run(
        [str(a) for a in argv], input=input, capture_output=capture, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise LabError(f"command failed ({proc.returncode}): {' '.join(map(str, argv))}\n{proc.stderr.strip()}")
    return proc


def in_netns(netns, argv):
    return ["ip", "netns", "exec", netns, *argv]


def netns_pids(ns):
    """Every process in network namespace `ns` (none if it does not exist)."""
    proc = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in proc.stdout.split()] if proc.returncode == 0 else []


def in_node(holder_pid, argv):
    """argv run inside a node: its network, UTS and mount namespaces."""
    return ["nsenter", "-t", str(holder_pid), "-m", "-u", "-n", "--", *argv]


def spawn(argv, log_path, env=None):
    """Start a long-running process detached from us; returns its PID."""
    log = open(log_path, "ab")
    proc = subprocess.Popen(
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
        close_fds=True,
    )
    log.close()
    return proc.pid


def alive(pid):
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def stop(pids, timeout=5.0):
    """SIGTERM, then SIGKILL whatever is left after `timeout` seconds."""
    pids = [p for p in pids if alive(p)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        _reap()
        time.sleep(0.05)
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _reap()


def _reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def wait_until(predicate, timeout, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
