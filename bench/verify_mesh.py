"""Benchmark: verify-mesh.yml against the floor Ansible itself sets.

Run: `.venv/bin/python bench/verify_mesh.py 50 100` (root; lab slot 7 unless
LAB_SLOT is set). For each size it brings up a lab of N nodes and times, side
by side and alternating (so machine noise hits both alike), `ansible all -m
ping` (the floor: one SSH round per host), `verify-mesh.yml --skip-tags probe`
and `verify-mesh.yml` with the IPIP probe. Reports medians and ratios to the
floor. Targets: verify without probe <= 1.3x the floor, with the IPIP probe
<= 2.0x. The lab gets an allow rule for IP protocol 4, so the probe takes its
healthy path (one round over the nodes, one call on the collecting node).
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("LAB_SLOT", "7")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab import api  # noqa: E402

ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
BIN = ROOT / ".venv" / "bin"
COMMANDS = {
    "ping (floor)": [str(BIN / "ansible"), "all", "-m", "ansible.builtin.ping"],
    "verify, no probe": [str(BIN / "ansible-playbook"), "playbooks/verify-mesh.yml", "--skip-tags", "probe"],
    "verify + probe": [str(BIN / "ansible-playbook"), "playbooks/verify-mesh.yml"],
}


def timed(argv):
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def main(argv):
    sizes = [int(a) for a in argv] or [10, 30]
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    print(f"{'nodes':>5}  {'command':<18} {'median (s)':>10} {'x floor':>8}")
    for n in sizes:
        api.down()
        api.up(n)
        api.set_firewall(api.get_firewall() + [{"name": "allow-ipip", "priority": 1000,
                                                 "sourceRanges": [api.status()["vpc"]["range"]],
                                                 "allowed": [{"IPProtocol": "4"}]}])
        samples = {name: [] for name in COMMANDS}
        timed(COMMANDS["ping (floor)"])  # warm the SSH control sockets for every command alike
        for _ in range(rounds):
            for name, cmd in COMMANDS.items():
                samples[name].append(timed(cmd))
        floor = statistics.median(samples["ping (floor)"])
        for name, values in samples.items():
            med = statistics.median(values)
            print(f"{n:>5}  {name:<18} {med:>10.1f} {med / floor:>8.2f}")
        api.down()


if __name__ == "__main__":
    main(sys.argv[1:])
