"""The lab's Python API, used by the CLI, pytest fixtures, Molecule and the
Compute Engine test server. Every function works on the lab of the current
slot (env LAB_SLOT) unless a LabConfig is passed."""

import ipaddress
import json
import os
import subprocess
import sys
import time

from lab import aws_lab, config, inventory, node, vpc
from lab.sh import LabError, alive, run, spawn, stop, wait_until
from lab.state import load, locked

DEFAULT_NODE_PREFIX = "node"


def _cfg(cfg=None):
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, raw sockets): run it as root")
    return cfg or config.current()


def _ensure_ssh_key(cfg):
    if not cfg.ssh_key.exists():
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "calico-fleet-lab", "-f", cfg.ssh_key])


def up(nodes=3, cfg=None, wait=True):
    """Bring up the VPC, etcd and `nodes` nodes; wait for the full mesh."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        if not vpc.running(cfg, state):
            _teardown(cfg, state)
            _ensure_ssh_key(cfg)
            vpc.create(cfg, state)
        missing = max(0, nodes - len(state["nodes"]))
        for _ in range(missing):
            _add(cfg, state, None, None, None, ())
        vpc.apply_firewall(cfg, state)
        inventory.write(cfg, state)
    if wait and nodes:
        wait_for_mesh(cfg=cfg)
    return status(cfg)


def down(cfg=None):
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        _teardown(cfg, state)
    inventory.remove(cfg)
    if cfg.state_dir.exists():
        run(["rm", "-rf", cfg.state_dir])


def _teardown(cfg, state):
    stop([(state.get("cloud") or {}).get("pid"), (state.get("aws") or {}).get("pid")])
    state["cloud"] = state["aws"] = None
    for n in list(state["nodes"].values()):
        node.destroy(cfg, n)
    _remove_stray_nodes(cfg)
    vpc.destroy(cfg, state)
    state.update({"nodes": {}, "firewall": None, "next_index": 1})
    etcd_dir = cfg.state_dir / "etcd"
    if etcd_dir.exists():
        run(["rm", "-rf", etcd_dir])


def _remove_stray_nodes(cfg):
    """Namespaces of this slot left behind by a crash (no state entry)."""
    proc = run(["ip", "netns", "list"], check=False)
    for line in proc.stdout.splitlines():
        ns = line.split()[0] if line.split() else ""
        if ns.startswith(cfg.prefix + "-") and ns != cfg.vpc_netns:
            node.destroy(cfg, {"netns": ns, "veth": ns[len(cfg.prefix) + 1:], "id": ns[len(cfg.prefix) + 1:]})


def _add(cfg, state, name, ip, hostname, tags):
    index = state["next_index"]
    state["next_index"] = index + 1
    node_id = f"n{index}"
    name = name or f"{DEFAULT_NODE_PREFIX}-{index}"
    if name in state["nodes"]:
        raise LabError(f"a lab node named {name!r} already exists")
    ip = ip or cfg.node_ip(index)
    used = {n["ip"] for n in state["nodes"].values()}
    if ip in used:
        raise LabError(f"address {ip} is already used by another lab node")
    if not _in_vpc(cfg, ip) or ip in (cfg.gateway_ip, cfg.etcd_ip):
        raise LabError(f"address {ip} is not a free node address in the lab VPC range {cfg.vpc_range}")
    n = {"id": node_id, "name": name, "index": index, "ip": ip, "hostname": hostname or name,
         "tags": list(tags), "netns": cfg.node_netns(node_id), "veth": node_id}
    state["nodes"][name] = n
    node.create(cfg, n)
    return n


def _in_vpc(cfg, ip):
    return ipaddress.ip_address(ip) in cfg.vpc_range


def add_node(name=None, ip=None, hostname=None, tags=(), cfg=None):
    """Boot one more node (a new machine joining the VPC)."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        if not vpc.running(cfg, state):
            raise LabError("the lab is not up: run `lab up` first")
        n = _add(cfg, state, name, ip, hostname, tags)
        vpc.apply_firewall(cfg, state)
        inventory.write(cfg, state)
    return dict(n)


def remove_node(name, cfg=None):
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        n = state["nodes"].pop(name, None)
        if n is None:
            raise LabError(f"no lab node named {name!r}")
        node.destroy(cfg, n)
        vpc.apply_firewall(cfg, state)
        inventory.write(cfg, state)


def set_firewall(rules, cfg=None):
    """Replace the VPC firewall with `rules` (GCP Firewall JSON dicts)."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        vpc.apply_firewall(cfg, state, list(rules))


def get_firewall(cfg=None):
    return load(_cfg(cfg)).get("firewall") or []


def restart_calico_node(name, env=None, cfg=None):
    """The lab's `kubectl delete pod calico-node-xxx` for one node."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        n = _node(state, name)
        node.stop_calico_node(n)
        node.start_calico_node(cfg, n, env)


def stop_calico_node(name, cfg=None):
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        node.stop_calico_node(_node(state, name))


def _node(state, name):
    try:
        return state["nodes"][name]
    except KeyError:
        raise LabError(f"no lab node named {name!r}; nodes: {', '.join(sorted(state['nodes']))}") from None


def get_node(name, cfg=None):
    return dict(_node(load(_cfg(cfg)), name))


def node_exec(name, argv, cfg=None, **kwargs):
    """Run argv inside node `name` (network, UTS and mount namespaces)."""
    n = get_node(name, cfg)
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 60)
    return subprocess.run(node.exec_argv(n, [str(a) for a in argv]), **kwargs)


def node_argv(name, argv, cfg=None):
    """argv wrapped to run inside node `name` (for Popen)."""
    return node.exec_argv(get_node(name, cfg), [str(a) for a in argv])


def etcd_endpoint(cfg=None):
    return _cfg(cfg).etcd_endpoint


def bgp_sessions(name, cfg=None):
    """{protocol name: info} of BIRD's BGP protocols on a node ({} if BIRD is down)."""
    proc = node_exec(name, ["birdc", "-s", "/var/run/calico/bird.ctl", "show", "protocols"], cfg=cfg)
    sessions = {}
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1] == "BGP":
            sessions[fields[0]] = " ".join(fields[5:]) if len(fields) > 5 else ""
    return sessions


def _node_status(cfg, n):
    pids = n.get("pids") or {}
    up = alive(pids.get("holder"))
    info = {
        "name": n["name"], "id": n["id"], "ip": n["ip"], "tags": n.get("tags", []), "netns": n["netns"],
        "ssh": {"host": n["ip"], "port": 22, "user": "root", "key": str(cfg.ssh_key)},
        "running": up, "hostname": None, "calico_node_name": None, "calico_node_running": False,
        "calico_node_error": None, "bgp_established": 0, "bgp_sessions": {},
    }
    if not up:
        return info
    proc = node_exec(n["name"], ["sh", "-c", "hostname; cat /run/calico/stand-in.json 2>/dev/null"], cfg=cfg)
    lines = proc.stdout.splitlines()
    info["hostname"] = lines[0] if lines else None
    try:
        standin = json.loads(lines[1]) if len(lines) > 1 else {}
    except ValueError:
        standin = {}
    info["calico_node_name"] = standin.get("nodename")
    info["calico_node_error"] = standin.get("error")
    info["calico_node_running"] = alive(pids.get("calico_node"))
    sessions = bgp_sessions(n["name"], cfg=cfg) if info["calico_node_running"] else {}
    info["bgp_sessions"] = sessions
    info["bgp_established"] = sum(1 for v in sessions.values() if v.startswith("Established"))
    return info


COMPUTE_PROJECT = "calico-fleet-lab"
COMPUTE_ZONE = "europe-west1-b"


def cloud_start(cfg=None, operation_latency=0.5):
    """Start the Compute Engine test server wired to this lab (instances boot lab nodes,
    firewall rules become the VPC's). It adopts the lab's nodes and rules as they are."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        if not vpc.running(cfg, state):
            raise LabError("the lab is not up: run `lab up` first")
        cloud = state.get("cloud") or {}
        if alive(cloud.get("pid")):
            return cloud
        if aws_lab.running(state):
            raise LabError("the AWS test server runs on this lab; the Compute test server is an "
                           "alternative to it: run `lab aws stop` first")
        argv = [sys.executable, "-m", "lab.compute", "--lab", "--port", cfg.compute_port,
                "--project", COMPUTE_PROJECT, "--zone", COMPUTE_ZONE, "--vpc-range", cfg.vpc_range,
                "--first-host", 100, "--operation-latency", operation_latency]
        env = {**os.environ, "LAB_SLOT": str(cfg.slot), "PYTHONPATH": str(config.REPO)}
        pid = spawn(argv, cfg.state_dir / "compute.log", env=env)
        state["cloud"] = {"pid": pid, "url": cfg.compute_url, "project": COMPUTE_PROJECT, "zone": COMPUTE_ZONE}
    wait_until(lambda: _listening(cfg), timeout=30, what=f"the Compute test server at {cfg.compute_url}")
    return state["cloud"]


def _listening(cfg):
    import socket

    try:
        socket.create_connection(("127.0.0.1", cfg.compute_port), timeout=0.5).close()
        return True
    except OSError:
        return False


def cloud_stop(cfg=None):
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        stop([(state.get("cloud") or {}).get("pid")])
        state["cloud"] = None


def aws_start(cfg=None):
    """Start the AWS test server (moto) wired to this lab; returns its endpoint and ids
    (region, vpc_id, vpc_cidr, subnet_id, subnet_cidr, security_group_id/_name, key_name,
    amis {name: id}, seeded_instances {id: lab node}). See lab/aws_lab.py."""
    return aws_lab.start(_cfg(cfg))


def aws_stop(cfg=None):
    aws_lab.stop_server(_cfg(cfg))


def aws_info(cfg=None):
    """state['aws'] while the AWS test server runs, else None."""
    state = load(_cfg(cfg))
    return state.get("aws") if aws_lab.running(state) else None


def status(cfg=None):
    cfg = _cfg(cfg)
    state = load(cfg)
    running = vpc.running(cfg, state)
    return {
        "slot": cfg.slot,
        "up": running,
        "vpc": {
            "netns": cfg.vpc_netns, "range": str(cfg.vpc_range), "gateway": cfg.gateway_ip,
            "etcd": cfg.etcd_endpoint, "controller_ip": cfg.mgmt_host_ip,
            "firewall": [r["name"] for r in state.get("firewall") or []],
        },
        "inventory": str(cfg.inventory_file),
        "cloud": state.get("cloud") if alive((state.get("cloud") or {}).get("pid")) else None,
        "aws": state.get("aws") if aws_lab.running(state) else None,
        "nodes": [_node_status(cfg, n) for n in sorted(state["nodes"].values(), key=lambda n: n["index"])]
        if running else [],
    }


def mesh_complete(cfg=None):
    """True when every running node has an Established session to every other."""
    st = status(cfg)
    nodes = [n for n in st["nodes"] if n["calico_node_running"]]
    return bool(nodes) and all(n["bgp_established"] == len(nodes) - 1 for n in nodes)


def wait_for_mesh(timeout=60, cfg=None):
    start = time.monotonic()
    wait_until(lambda: mesh_complete(cfg), timeout=timeout, interval=0.5, what="a full BGP mesh")
    return time.monotonic() - start
