"""Benchmark: how long `lab up --nodes N` takes and what the lab costs in memory.

Run: `.venv/bin/python bench/lab_up.py 3 20` (root; uses lab slot 7 unless
LAB_SLOT is set). For each N it brings a fresh lab up, waits for the full BGP
mesh, measures the resident memory (PSS where the kernel offers it) of every
lab process, and takes the lab down again.
"""

import os
import sys
import time

os.environ.setdefault("LAB_SLOT", "7")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lab import api, config  # noqa: E402
from lab.sh import netns_pids  # noqa: E402
from lab.state import load  # noqa: E402


def lab_pids(cfg, state_nodes):
    namespaces = [cfg.vpc_netns] + [n["netns"] for n in state_nodes]
    return {pid for ns in namespaces for pid in netns_pids(ns)}


def memory_kib(pid):
    for name in ("smaps_rollup", "status"):
        try:
            with open(f"/proc/{pid}/{name}") as f:
                for line in f:
                    if line.startswith("Pss:" if name == "smaps_rollup" else "VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def measure(n):
    cfg = config.current()
    api.down()
    start = time.monotonic()
    api.up(n, wait=False)
    booted = time.monotonic() - start
    api.wait_for_mesh(timeout=300)
    meshed = time.monotonic() - start
    pids = lab_pids(cfg, list(load(cfg)["nodes"].values()))
    mem = sum(memory_kib(p) for p in pids) / 1024
    api.down()
    return booted, meshed, len(pids), mem


def main(argv):
    sizes = [int(a) for a in argv] or [3, 20]
    print(f"{'nodes':>5} {'booted (s)':>11} {'full mesh (s)':>14} {'processes':>10} {'memory (MiB, PSS)':>18}")
    for n in sizes:
        booted, meshed, procs, mem = measure(n)
        print(f"{n:>5} {booted:>11.1f} {meshed:>14.1f} {procs:>10} {mem:>18.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
