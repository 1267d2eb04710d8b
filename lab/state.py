"""The lab's state file: what exists, so `lab down` can remove all of it."""

import fcntl
import json
import os
from contextlib import contextmanager


def load(cfg):
    try:
        return json.loads(cfg.state_file.read_text())
    except FileNotFoundError:
        return {"slot": cfg.slot, "vpc": None, "nodes": {}, "firewall": None, "next_index": 1}


def save(cfg, state):
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    tmp = cfg.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    os.replace(tmp, cfg.state_file)


@contextmanager
def locked(cfg):
    """Serialise lab changes (tests, the Compute test server and the CLI may race)."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.state_dir / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = load(cfg)
        try:
            yield state
        finally:
            save(cfg, state)
