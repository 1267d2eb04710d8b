"""The lab's Python API, used by the CLI, pytest fixtures, Molecule and the
Compute Engine test server. Every function works on the lab of the current
slot (env LAB_SLOT) unless a LabConfig is passed."""

import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from lab import aws_lab, config, images, inventory, kube, node, vpc
from lab.sh import LabError, alive, in_netns, run, spawn, stop, wait_until
from lab.state import load, locked

DEFAULT_NODE_PREFIX = "node"
KUBEASZ_CLUSTER = "k8s-01"  # kubeasz's example cluster name
CALICO_DATASTORE = "etcdv3"  # what the lab's calico-node uses; decides the node-name rules after a join


def _cfg(cfg=None):
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network namespaces, mounts, raw sockets): run it as root")
    return cfg or config.current()


def _ensure_ssh_key(cfg):
    if not cfg.ssh_key.exists():
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "calico-fleet-lab", "-f", cfg.ssh_key])


def up(nodes=3, cfg=None, wait=True):
    """Bring up the VPC, etcd and `nodes` joined nodes (node-1 is the control plane); wait for the full mesh."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        if not vpc.running(cfg, state):
            _teardown(cfg, state)
            _ensure_ssh_key(cfg)
            vpc.create(cfg, state)
        new_cluster = not state.get("kube")
        missing = max(0, nodes - len(state["nodes"]))
        for _ in range(missing):
            _add(cfg, state, None, None, None, (), joined=True)
        if new_cluster and state.get("kube"):
            _write_kubeasz_hosts(cfg, state)
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
    state["kube"] = None
    for n in list(state["nodes"].values()):
        node.destroy(cfg, n)
    _remove_stray_nodes(cfg)
    vpc.destroy(cfg, state)
    state.update({"nodes": {}, "firewall": None, "next_index": 1})
    for leftover in (cfg.state_dir / "etcd", cfg.state_dir / "kube"):
        if leftover.exists():
            run(["rm", "-rf", leftover])


def _remove_stray_nodes(cfg):
    """Namespaces of this slot left behind by a crash (no state entry)."""
    proc = run(["ip", "netns", "list"], check=False)
    for line in proc.stdout.splitlines():
        ns = line.split()[0] if line.split() else ""
        if ns.startswith(cfg.prefix + "-") and ns != cfg.vpc_netns:
            node.destroy(cfg, {"netns": ns, "veth": ns[len(cfg.prefix) + 1:], "id": ns[len(cfg.prefix) + 1:]})


def _add(cfg, state, name, ip, hostname, tags, image=None, joined=False):
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
         "tags": list(tags), "netns": cfg.node_netns(node_id), "veth": node_id, "image": images.resolve(image)}
    state["nodes"][name] = n
    node.create(cfg, n)
    if joined:
        _join(cfg, state, n)
    return n


# -- Kubernetes membership (docs/lab.md) ------------------------------------------
def _control_plane_up(cfg, state, n):
    """Make `n` the control plane: cluster CA, API stand-in on <ip>:6443, admin kubeconfig, kubeasz deploy host."""
    kube_dir = cfg.state_dir / "kube"
    if kube_dir.exists():
        run(["rm", "-rf", kube_dir])
    ca_pem = kube.pki(kube_dir, n["ip"], run)
    argv = in_netns(n["netns"], [sys.executable, "-m", "lab.kube_api", "--listen", n["ip"], "--dir", kube_dir,
                                 "--lifetime", node.LIFETIME, "--lab", "--calico-datastore", CALICO_DATASTORE])
    env = {key: os.environ[key] for key in ("LAB_STATE_ROOT", "LAB_LIFETIME") if key in os.environ}
    env.update(PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", PYTHONPATH=str(config.REPO),
               LAB_SLOT=str(cfg.slot))
    n["pids"]["kube_api"] = spawn(argv, node.node_dir(cfg, n["id"]) / "log" / "kube-apiserver.log", env=env)
    server = f"https://{n['ip']}:{kube.API_PORT}"
    state["kube"] = {"control_plane": n["name"], "server": server, "dir": str(kube_dir),
                     "kubeasz_cluster": KUBEASZ_CLUSTER, "calico_datastore": CALICO_DATASTORE}
    wait_until(lambda: _api_ready(server, ca_pem), timeout=20, what=f"the Kubernetes API stand-in at {server}")
    admin = kube.dump_kubeconfig(kube.kubeconfig(server, ca_pem, "kubernetes-admin",
                                                 (kube_dir / "admin.token").read_text().strip()))
    node.install_binaries(node.node_dir(cfg, n["id"]) / "localbin", images.CONTROL_PLANE_BINARIES)
    node.write_files(n, {
        kube.ADMIN_CONF: (admin, "0600"),
        "/root/.kube/config": (admin, "0600"),
        "/etc/kubernetes/pki/ca.key": ((kube_dir / "ca.key").read_text(), "0600"),
        # The kubeasz deploy host reaches every node over SSH with its own key.
        "/root/.ssh/id_ed25519": (cfg.ssh_key.read_text(), "0600"),
    })


def _api_ready(server, ca_pem):
    try:
        kube.Client(server, ca_pem=ca_pem, timeout=1).request("GET", "/version")
        return True
    except kube.KubeError:
        return False


def _kube_admin(state):
    kube_dir = Path(state["kube"]["dir"])
    ca_pem = (kube_dir / "ca.crt").read_text()
    token = (kube_dir / "admin.token").read_text().strip()
    return kube.Client(state["kube"]["server"], ca_pem=ca_pem, token=token), ca_pem


def _join(cfg, state, n):
    """A machine the lab brings up already in the cluster (not the path for new machines: kubeadm/ezctl)."""
    if not state.get("kube"):
        _control_plane_up(cfg, state, n)
    client, ca_pem = _kube_admin(state)
    name = n["hostname"].strip().lower()
    labels = {"node-role.kubernetes.io/control-plane": ""} if state["kube"]["control_plane"] == n["name"] else {}
    reply = client.request("POST", kube.NODES, {
        "kind": "Node", "metadata": {"name": name, "labels": labels},
        "status": {"addresses": [{"type": "InternalIP", "address": n["ip"]},
                                 {"type": "Hostname", "address": n["hostname"]}]}})
    kubelet_conf = kube.kubeconfig(state["kube"]["server"], ca_pem, f"system:node:{name}", reply["credential"])
    node.write_files(n, {kube.KUBELET_CONF: (kube.dump_kubeconfig(kubelet_conf), "0600"),
                         kube.CA_CRT: (ca_pem, "0644")})
    _schedule_calico_node(cfg, n, name, state["kube"]["calico_datastore"])


def _schedule_calico_node(cfg, n, kube_node_name, datastore):
    """calico-node's DaemonSet pod on a registered machine: under the kubernetes datastore its
    NODENAME is the Kubernetes node name; under etcdv3 it names itself (nodename file > hostname)."""
    n["kube_node_name"] = kube_node_name
    env = {"CALICO_K8S_NODE_REF": kube_node_name}
    if datastore == "kubernetes":
        env["NODENAME"] = kube_node_name
    n["calico_env"] = env
    if not alive((n.get("pids") or {}).get("calico_node")):
        node.start_calico_node(cfg, n)


def _write_kubeasz_hosts(cfg, state):
    """The deploy host's /etc/kubeasz/clusters/<cluster>/hosts for the nodes `lab up` made."""
    nodes = sorted(state["nodes"].values(), key=lambda n: n["index"])
    cp = state["kube"]["control_plane"]

    def line(n):
        return f"{n['ip']} k8s_nodename='{n['hostname'].lower()}'"

    text = "\n".join([
        f"# kubeasz cluster {KUBEASZ_CLUSTER} of the lab (written by `lab up`)",
        "[etcd]", cfg.etcd_ip, "",
        "[kube_master]", *[line(n) for n in nodes if n["name"] == cp], "",
        "[kube_node]", *[line(n) for n in nodes if n["name"] != cp and n.get("kube_node_name")], "",
        "[all:vars]", 'SECURE_PORT="6443"', 'CONTAINER_RUNTIME="containerd"', 'CLUSTER_NETWORK="calico"',
        f'CLUSTER_CIDR="{node.POD_CIDR}"', 'SERVICE_CIDR="10.68.0.0/16"', 'base_dir="/etc/kubeasz"',
        "k8s_nodename=''", "",
    ])
    node.write_files(state["nodes"][cp], {f"/etc/kubeasz/clusters/{KUBEASZ_CLUSTER}/hosts": (text, "0644")})


def _node_at(state, ip):
    return next((n for n in state["nodes"].values() if n["ip"] == ip), None)


def kube_node_registered(ip, kube_node_name, datastore=CALICO_DATASTORE, cfg=None):
    """Called by the API stand-in when a kubelet registered a Node: start calico-node there (DaemonSet)."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        n = _node_at(state, ip)
        if n is None:
            return None
        _schedule_calico_node(cfg, n, kube_node_name, datastore)
        return dict(n)


def kube_node_deleted(ip, kube_node_name, cfg=None):
    """Called by the API stand-in when a Node was deleted: its calico-node pod goes away."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        n = _node_at(state, ip)
        if n is None or n.get("kube_node_name") != kube_node_name:
            return None
        node.stop_calico_node(n)
        n["kube_node_name"] = None
        n["calico_env"] = None
        return dict(n)


def _in_vpc(cfg, ip):
    return ipaddress.ip_address(ip) in cfg.vpc_range


def add_node(name=None, ip=None, hostname=None, tags=(), joined=False, image=None, cfg=None):
    """Boot one more machine in the VPC from lab image `image` (lab/images.py; unknown or None: the
    default image). It runs sshd and nothing of Kubernetes or Calico unless `joined` (the lab's own
    cluster nodes): joining a new machine is kubeadm's or ezctl's job."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        if not vpc.running(cfg, state):
            raise LabError("the lab is not up: run `lab up` first")
        n = _add(cfg, state, name, ip, hostname, tags, image=image, joined=joined)
        vpc.apply_firewall(cfg, state)
        inventory.write(cfg, state)
    return dict(n)


def remove_node(name, cfg=None):
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        n = state["nodes"].pop(name, None)
        if n is None:
            raise LabError(f"no lab node named {name!r}")
        if (state.get("kube") or {}).get("control_plane") == name:
            state["kube"] = None  # the cluster's control plane is gone with its machine
        node.destroy(cfg, n)
        vpc.apply_firewall(cfg, state)
        inventory.write(cfg, state)


def set_node_tags(name, tags, cfg=None):
    """A machine's network tags, as the cloud knows them; the VPC firewall is re-applied for them."""
    cfg = _cfg(cfg)
    with locked(cfg) as state:
        _node(state, name)["tags"] = list(tags)
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
        "image": n.get("image"), "kube_node_name": n.get("kube_node_name"),
        "running": up, "created": inventory.created(n) if up else None,
        "hostname": None, "calico_node_name": None, "calico_node_running": False,
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
        "kube": {k: v for k, v in (state.get("kube") or {}).items() if k != "dir"} or None,
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
