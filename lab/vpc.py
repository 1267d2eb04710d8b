"""The VPC: a routing namespace, the management link, etcd and the firewall."""

import json
import sys
import urllib.request

from lab import firewall
from lab.config import REPO
from lab.node import LIFETIME
from lab.sh import LabError, alive, in_netns, netns_pids, run, spawn, stop, wait_until

MGMT_VPC_IF = "mgmt0"


def create(cfg, state):
    ns = cfg.vpc_netns
    run(["ip", "netns", "add", ns])
    state["vpc"] = {"netns": ns, "pids": {}}
    nse = ["ip", "-n", ns]
    run([*nse, "link", "set", "lo", "up"])
    for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"):
        run(in_netns(ns, ["sysctl", "-qw", key]))
    # The VPC's own service addresses (etcd) live on its loopback.
    run([*nse, "addr", "add", f"{cfg.etcd_ip}/32", "dev", "lo"])
    # Management link: the controller (root namespace) reaches the nodes
    # through it, like an operator's VPN into a VPC.
    run(["ip", "link", "add", cfg.mgmt_host_if, "type", "veth", "peer", "name", MGMT_VPC_IF, "netns", ns])
    run(["ip", "addr", "add", f"{cfg.mgmt_host_ip}/30", "dev", cfg.mgmt_host_if])
    run(["ip", "link", "set", cfg.mgmt_host_if, "up"])
    run([*nse, "addr", "add", f"{cfg.mgmt_vpc_ip}/30", "dev", MGMT_VPC_IF])
    run([*nse, "link", "set", MGMT_VPC_IF, "up"])
    run(["ip", "route", "replace", str(cfg.vpc_range), "via", cfg.mgmt_vpc_ip, "dev", cfg.mgmt_host_if])
    state["firewall"] = firewall.default_rules(cfg.vpc_range)
    apply_firewall(cfg, state)
    start_etcd(cfg, state)
    start_resolver(cfg, state)


def start_resolver(cfg, state):
    write_hosts(cfg, state)
    argv = [sys.executable, "-m", "lab.resolver", "--listen", cfg.gateway_ip,
            "--hosts", cfg.state_dir / "hosts", "--lifetime", LIFETIME]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)}
    state["vpc"]["pids"]["resolver"] = spawn(in_netns(cfg.vpc_netns, argv), cfg.state_dir / "resolver.log", env=env)


def write_hosts(cfg, state):
    lines = [f"{n['ip']} {n['name']} {n['hostname']}" for n in state["nodes"].values()]
    (cfg.state_dir / "hosts").write_text("\n".join(lines) + "\n")


def start_etcd(cfg, state):
    data = cfg.state_dir / "etcd"
    data.mkdir(parents=True, exist_ok=True)
    argv = [
        "timeout", str(LIFETIME), "etcd",
        "--name", "lab",
        "--data-dir", data,
        "--listen-client-urls", cfg.etcd_endpoint,
        "--advertise-client-urls", cfg.etcd_endpoint,
        "--listen-peer-urls", "http://127.0.0.1:2380",
        "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
        "--initial-cluster", "lab=http://127.0.0.1:2380",
        "--log-level", "warn",
        "--logger", "zap",
        "--snapshot-count", "10000",
        "--quota-backend-bytes", str(256 * 1024 * 1024),
    ]
    state["vpc"]["pids"]["etcd"] = spawn(in_netns(cfg.vpc_netns, argv), cfg.state_dir / "etcd.log")
    wait_until(lambda: etcd_healthy(cfg), timeout=30, what=f"etcd at {cfg.etcd_endpoint}")


def etcd_healthy(cfg):
    try:
        with urllib.request.urlopen(f"{cfg.etcd_endpoint}/health", timeout=1) as resp:
            return json.load(resp).get("health") == "true"
    except OSError:
        return False


def apply_firewall(cfg, state, rules=None):
    if rules is not None:
        state["firewall"] = rules
    write_hosts(cfg, state)
    nodes = [{"ip": n["ip"], "veth": n["veth"], "tags": n.get("tags", [])} for n in state["nodes"].values()]
    script = firewall.render(state["firewall"], nodes, MGMT_VPC_IF)
    proc = run(in_netns(cfg.vpc_netns, ["nft", "-f", "-"]), input=script, check=False)
    if proc.returncode != 0:
        raise LabError(f"nft rejected the VPC firewall:\n{proc.stderr}\n--- ruleset ---\n{script}")


def destroy(cfg, state):
    vpc = state.get("vpc") or {}
    stop(list((vpc.get("pids") or {}).values()))
    remove_leftovers(cfg)
    state["vpc"] = None


def remove_leftovers(cfg):
    """Everything of this slot, found by name, even without a state file."""
    run(["ip", "route", "del", str(cfg.vpc_range)], check=False)
    run(["ip", "link", "del", cfg.mgmt_host_if], check=False)
    ns = cfg.vpc_netns
    pids = netns_pids(ns)
    stop(pids)
    run(["ip", "netns", "del", ns], check=False)



def running(cfg, state):
    vpc = state.get("vpc") or {}
    return bool(vpc) and alive((vpc.get("pids") or {}).get("etcd"))
