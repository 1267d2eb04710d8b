"""Benchmark: the collection's playbooks on a lab of 10 to 200 nodes.

Run: `.venv/bin/python bench/scale.py 10 50 100 200 --json scale.json` (root;
lab slot 7 unless LAB_SLOT is set). For each size N it

1. brings up a lab of N joined nodes with the Compute test server and an
   allow rule for IP protocol 4 (time to booted nodes and to a full mesh,
   lab processes and memory, PSS), then applies the cloud rules and the IP
   pools as the scale-out leaves them (the drift tests' baseline playbook),
   so the drift check starts from a healthy cluster;
2. from `--rr-from` nodes on (default 200, env BENCH_RR_FROM) moves the
   cluster to 3 route reflectors (`route-reflectors.yml`);
3. times side by side, alternating within each round (BENCH_ROUNDS, default
   1), `ansible all -m ping` (the floor), `verify-mesh.yml --skip-tags probe`,
   `verify-mesh.yml` and the drift check (`scripts/drift-check.sh`, exit 0:
   no drift, 2: drift; both are reported, not failures);
4. scales out by `--scale-out` nodes (default 10, `scale-out.yml`), then times
   the ping floor and `verify-mesh.yml` again on N+10.

For every command: seconds (median), the ratio to the ping floor of the same
lab, the exit code, and the controller's memory: the peak of the summed PSS
of the command's process tree (ansible, its forks, their ssh clients),
sampled every 0.5 s, and the largest single process's peak RSS (rusage of
the command's tree). The ssh ControlPersist masters outlive the commands and
are counted apart (`ssh masters`), from a control path directory of this run.
Forks: ansible.cfg's unless `--forks` is given. Every command has a timeout
(`--timeout`, default 600 s + 6 s per node). The lab is taken down at the end,
also on an error or Ctrl-C. `--json FILE` writes every number (after each
size, so a long run keeps what it measured).
"""

import argparse
import configparser
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("LAB_SLOT", "7")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.lab_up import lab_pids, memory_kib  # noqa: E402
from lab import api, config  # noqa: E402
from lab.state import load  # noqa: E402

BIN = ROOT / ".venv" / "bin"
PING = "ping (floor)"
UNEXPECTED = "unexpected_exit_logs"


def ansible_cfg_forks():
    parser = configparser.RawConfigParser()
    parser.read(ROOT / "ansible.cfg")
    return parser.getint("defaults", "forks", fallback=5)


def commands(n, forks, scale_out):
    """{name: (argv, exit codes that are results, not failures)} of one size."""
    fork_args = ["--forks", str(forks)] if forks else []
    playbook = [str(BIN / "ansible-playbook"), *fork_args]
    return {
        # The drift tests' healthy baseline: the cloud rules and the Calico network as the scale-out leaves them.
        "network + pools": ([*playbook, "tests/integration/drift/playbooks/baseline.yml"], {0}),
        "route reflectors": ([*playbook, "playbooks/route-reflectors.yml", "-e", "route_reflectors_state=enabled",
                              "-e", "route_reflectors_count=3"], {0}),
        PING: ([str(BIN / "ansible"), "all", "-m", "ansible.builtin.ping", *fork_args], {0}),
        "verify, no probe": ([*playbook, "playbooks/verify-mesh.yml", "--skip-tags", "probe"], {0}),
        "verify + probe": ([*playbook, "playbooks/verify-mesh.yml"], {0}),
        "drift check": (["bash", "scripts/drift-check.sh", *fork_args], {0, 2}),
        f"scale-out +{scale_out}": ([*playbook, "playbooks/scale-out.yml", "-e", f"scale_out_count={scale_out}",
                                     "-e", f"scale_out_batch=scale-{n}"], {0}),
    }


def descendants(root_pid):
    """root_pid and every process below it, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class TreeMemory(threading.Thread):
    """Peak of the summed PSS (KiB) of a process tree, sampled every 0.5 s until stopped."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak_kib = max(self.peak_kib, sum(memory_kib(p) for p in descendants(self.pid)))
            self.done.wait(0.5)


class Runner:
    """Runs the commands with a timeout, a log file each and their memory; kills what is left on exit."""

    def __init__(self, env, logs, timeout):
        self.env, self.logs, self.timeout = env, logs, timeout
        self.current = None

    def run(self, name, argv, n, tag):
        log = self.logs / f"{n:03d}-{tag}-{name.replace(' ', '_').replace(',', '').replace('+', 'plus')}.log"
        start = time.monotonic()
        with open(log, "w") as out:
            proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.current = proc
        sampler = TreeMemory(proc.pid)
        sampler.start()
        timer = threading.Timer(self.timeout, self.kill)
        timer.start()
        try:
            # wait4, not Popen.wait: its rusage is the tree's (the command and every descendant it waited for).
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
            sampler.done.set()
            sampler.join()
        elapsed = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        self.current = None
        code = "timeout" if proc.returncode == -signal.SIGKILL else proc.returncode
        return {"seconds": elapsed, "exit": code, "pss_mib": sampler.peak_kib / 1024,
                "max_rss_mib": usage.ru_maxrss / 1024, "log": str(log)}

    def kill(self):
        proc = self.current
        if proc is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def ssh_masters(control_dir):
    """pids of the ssh ControlPersist masters whose sockets live in this run's control path directory."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(control_dir) in cmdline and cmdline.startswith("ssh"):
            pids.append(int(entry))
    return pids


def stop_ssh_masters(control_dir):
    for pid in ssh_masters(control_dir):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def lab_memory():
    pids = lab_pids(config.current(), list(load(config.current())["nodes"].values()))
    return {"processes": len(pids), "pss_mib": sum(memory_kib(p) for p in pids) / 1024}


def lab_up(n, timeout):
    api.down()
    start = time.monotonic()
    api.up(n, wait=False)
    booted = time.monotonic() - start
    api.wait_for_mesh(timeout=timeout)
    meshed = time.monotonic() - start
    api.set_firewall(api.get_firewall() + [{"name": "allow-ipip", "priority": 1000,
                                             "sourceRanges": [api.status()["vpc"]["range"]],
                                             "allowed": [{"IPProtocol": "4"}]}])
    api.cloud_start()  # adopts the nodes and rules as they are, allow-ipip included
    return {"booted_s": booted, "mesh_s": meshed, **lab_memory()}


def measure(n, args, runner, rounds):
    cmds = commands(n, args.forks, args.scale_out)
    rows = []

    def record(name, nodes, results):
        ok = cmds[name][1]
        values = [r["seconds"] for r in results]
        rows.append({"nodes": nodes, "command": name, "seconds": statistics.median(values), "samples": values,
                     "exit": sorted({r["exit"] for r in results}, key=str),
                     "pss_mib": max(r["pss_mib"] for r in results),
                     "max_rss_mib": max(r["max_rss_mib"] for r in results),
                     UNEXPECTED: [r["log"] for r in results if r["exit"] not in ok]})

    def once(name, nodes, tag):
        result = runner.run(name, cmds[name][0], nodes, tag)
        record(name, nodes, [result])
        return result

    lab = lab_up(n, timeout=120 + 3 * n)
    once("network + pools", n, "setup")
    if n >= args.rr_from:
        once("route reflectors", n, "setup")
    runner.run(PING, cmds[PING][0], n, "warm")  # warm the SSH control sockets for every command alike
    timed = [PING, "verify, no probe", "verify + probe", "drift check"]
    samples = {name: [] for name in timed}
    for i in range(rounds):
        for name in timed:
            samples[name].append(runner.run(name, cmds[name][0], n, f"r{i + 1}"))
    for name in timed:
        record(name, n, samples[name])
    scale_name = f"scale-out +{args.scale_out}"
    once(scale_name, n, "scale")
    bigger = n + args.scale_out
    runner.run(PING, cmds[PING][0], bigger, "warm")  # the new nodes' control sockets, as above
    after = {name: [] for name in (PING, "verify + probe")}
    for i in range(rounds):
        for name in after:
            after[name].append(runner.run(name, cmds[name][0], bigger, f"r{i + 1}"))
    for name in after:
        record(name, bigger, after[name])
    masters = ssh_masters(runner.env["ANSIBLE_SSH_CONTROL_PATH_DIR"])
    lab_after = {**lab_memory(), "ssh_masters": len(masters),
                 "ssh_masters_pss_mib": sum(memory_kib(p) for p in masters) / 1024}
    floors = {row["nodes"]: row["seconds"] for row in rows if row["command"] == PING}
    for row in rows:
        row["x_floor"] = row["seconds"] / floors[row["nodes"]]
    return {"nodes": n, "route_reflectors": n >= args.rr_from, "lab": lab,
            "lab_after_scale_out": {"nodes": bigger, **lab_after}, "commands": rows}


def print_size(size):
    lab, after = size["lab"], size["lab_after_scale_out"]
    print(f"\n{'nodes':>5}  {'command':<18} {'seconds':>8} {'x floor':>8} {'exit':>5} "
          f"{'controller PSS MiB':>18} {'max RSS MiB':>11}")
    for row in size["commands"]:
        print(f"{row['nodes']:>5}  {row['command']:<18} {row['seconds']:>8.1f} {row['x_floor']:>8.2f} "
              f"{','.join(map(str, row['exit'])):>5} {row['pss_mib']:>18.0f} {row['max_rss_mib']:>11.0f}")
    print(f"\n{'nodes':>5} {'booted (s)':>11} {'full mesh (s)':>14} {'processes':>10} {'lab MiB (PSS)':>14} "
          f"{'ssh masters':>12} {'their MiB':>10}")
    print(f"{size['nodes']:>5} {lab['booted_s']:>11.1f} {lab['mesh_s']:>14.1f} {lab['processes']:>10} "
          f"{lab['pss_mib']:>14.0f}")
    print(f"{after['nodes']:>5} {'':>11} {'':>14} {after['processes']:>10} {after['pss_mib']:>14.0f} "
          f"{after['ssh_masters']:>12} {after['ssh_masters_pss_mib']:>10.0f}")
    sys.stdout.flush()


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10], help="lab sizes (joined nodes)")
    parser.add_argument("--rr-from", type=int, default=int(os.environ.get("BENCH_RR_FROM", "200")),
                        help="move to route reflectors from this many nodes on (default 200, env BENCH_RR_FROM)")
    parser.add_argument("--scale-out", type=int, default=10, help="nodes added by the scale-out (default 10)")
    parser.add_argument("--forks", type=int, default=0, help="forks for every command (default: ansible.cfg's)")
    parser.add_argument("--timeout", type=int, default=0,
                        help="seconds per command (default 600 + 6 per node)")
    parser.add_argument("--json", type=Path, help="write every number to this file")
    parser.add_argument("--logs", type=Path, help="directory for each command's output (default: a new temporary one)")
    return parser.parse_args(argv)


def main(argv):
    args = parse(argv)
    rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
    logs = args.logs or Path(tempfile.mkdtemp(prefix="calico-fleet-scale-"))
    logs.mkdir(parents=True, exist_ok=True)
    control_dir = Path(tempfile.mkdtemp(prefix="cfs-cp-"))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "PATH": f"{BIN}:{os.environ['PATH']}",
           "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir), "ANSIBLE_FORCE_COLOR": "0",
           "DRIFT_REPORT_DIR": str(logs / "drift-report")}
    report = {"date": datetime.date.today().isoformat(), "forks": args.forks or ansible_cfg_forks(),
              "rounds": rounds, "rr_from": args.rr_from, "scale_out": args.scale_out,
              "cpus": os.cpu_count(), "sizes": []}
    print(f"forks {report['forks']}, {rounds} round(s), route reflectors from {args.rr_from} nodes, "
          f"logs in {logs}", flush=True)
    failed = []
    try:
        for n in args.sizes:
            runner = Runner(env, logs, args.timeout or 600 + 6 * (n + args.scale_out))
            try:
                size = measure(n, args, runner, rounds)
            finally:
                runner.kill()
                stop_ssh_masters(control_dir)
                api.down()
            size["load_average"] = os.getloadavg()
            report["sizes"].append(size)
            print_size(size)
            failed += [log for row in size["commands"] for log in row[UNEXPECTED]]
            if args.json:
                args.json.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        stop_ssh_masters(control_dir)
        api.down()
        shutil.rmtree(control_dir, ignore_errors=True)
    if failed:
        raise SystemExit("unexpected exit codes, see:\n  " + "\n  ".join(failed))


if __name__ == "__main__":
    main(sys.argv[1:])
