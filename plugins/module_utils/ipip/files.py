# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPIP probe's files on a node: where they live, the pid file that tells
a running process from a recycled pid, the status file a collector reads.

Standard library only: the probe runs on the nodes with their system Python.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import IO, Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.inputs import check_run_id

FILE_PREFIX = "calico-fleet-ipip-probe-"
# Files of listeners that died without being collected are removed by the
# next listener once they are this old.
STALE_AFTER = 3600


def default_state_dir() -> str:
    """/run when we may write there (root only, no other user can plant a
    symlink in it), else the temporary directory."""
    return "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()


def netns_id() -> int:
    """Identity of our network namespace (constant on a host).

    Part of the file names: namespace nodes that share one /run (a lab)
    must not take each other's listener for their own.
    """
    try:
        return os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return 0


def probe_files(run_id: str, state_dir: str | None = None) -> dict[str, str]:
    """Paths of the status and pid files of a run."""
    check_run_id(run_id)
    name = f"{FILE_PREFIX}{run_id}-{netns_id()}"
    base = os.path.join(state_dir or default_state_dir(), name)
    return {"result": base + ".json", "pid": base + ".pid"}


def process_start(pid: int) -> int | None:
    """Start time of a process (clock ticks since boot), None if it is gone.

    A zombie (ended, not yet reaped by init) counts as gone.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def read_pidfile(path: str) -> int | None:
    try:
        with open(path) as fh:
            pid, start = (int(x) for x in fh.read().split())
    except (OSError, ValueError):
        return None
    # A recycled pid belongs to another process: the start time tells.
    return pid if process_start(pid) == start else None


def remove_stale(state_dir: str | None = None) -> None:
    """Remove files of listeners that ended long ago and were never collected."""
    directory = state_dir or default_state_dir()
    now = time.time()
    for name in os.listdir(directory):
        if not name.startswith(FILE_PREFIX):
            continue
        path = os.path.join(directory, name)
        if read_pidfile(os.path.splitext(path)[0] + ".pid") is not None:
            continue
        try:
            if now - os.stat(path).st_mtime > STALE_AFTER:
                os.unlink(path)
        except OSError:
            pass


def open_write(path: str) -> IO[str]:
    """Open for writing without following a symlink someone put there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    return os.fdopen(os.open(path, flags, 0o600), "w")


def write_status(path: str, status: dict[str, Any]) -> None:
    """Replace the status file atomically (a collector never reads half of it)."""
    tmp = path + ".tmp"
    with open_write(tmp) as fh:
        json.dump(status, fh, sort_keys=True)
    os.replace(tmp, path)


def read_status(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None
