"""Lab nodes: one network, UTS and mount namespace each, like a small VM.

Each node has its own hostname, its own /etc, /var/lib and /root (overlays on
the host's, so writes stay in the node), its own /run (tmpfs), one address
(/32) on eth0 routed through the VPC namespace, and runs sshd. A joined
node also runs the calico-node stand-in and BIRD; a bare one (a new cloud
machine) runs nothing else. /usr/local/sbin carries stand-ins for
`hostnamectl` and `systemctl` so Ansible treats the node as a systemd host;
/usr/local/bin is the node's own and holds what its image installs
(lab/images.py).
"""

import json
import os
import shlex
import shutil
import sys

from lab import images
from lab.config import REPO
from lab.sh import LabError, alive, in_node, netns_pids, run, spawn, stop, wait_until

LIFETIME = int(os.environ.get("LAB_LIFETIME", str(6 * 3600)))  # every lab daemon stops by itself
NODE_BIN = REPO / "lab" / "node_bin"
KUBE_BIN = REPO / "lab" / "kube_bin"
POD_CIDR = "172.20.0.0/16"  # kubeasz's default pod network (field notes)
OVERLAYS = {"/etc": "etc", "/var/lib": "varlib", "/root": "root"}

SSHD_CONFIG = """\
# sshd of a lab node: key authentication only, on the node's address.
ListenAddress {ip}
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
MaxSessions 64
MaxStartups 200:30:400
Subsystem sftp internal-sftp
AcceptEnv LANG LC_*
"""


def node_dir(cfg, node_id):
    return cfg.state_dir / "nodes" / node_id


def _prepare_files(cfg, node):
    base = node_dir(cfg, node["id"])
    if base.exists():
        shutil.rmtree(base)
    for name in OVERLAYS.values():
        (base / f"{name}.upper").mkdir(parents=True)
        (base / f"{name}.work").mkdir()
    etc = base / "etc.upper"
    (etc / "hostname").write_text(node["hostname"] + "\n")
    (etc / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n{node['ip']}\t{node['hostname']}\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
    )
    # The lab resolver (in the VPC namespace) answers every query at once.
    (etc / "resolv.conf").write_text(f"nameserver {cfg.gateway_ip}\noptions timeout:1 attempts:1\n")
    (etc / "ssh").mkdir()
    (etc / "ssh" / "sshd_config").write_text(
        SSHD_CONFIG.format(ip=node["ip"], authorized_keys=f"{cfg.ssh_key}.pub")
    )
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", node["hostname"], "-f",
         etc / "ssh" / "ssh_host_ed25519_key"])
    (base / "varlib.upper" / "calico").mkdir()
    (base / "log").mkdir()
    (base / "localbin").mkdir()
    install_binaries(base / "localbin", images.binaries(node.get("image") or images.DEFAULT))
    return base


def install_binaries(bin_dir, names):
    """Put the stand-in executables `names` on a node's PATH (its /usr/local/bin)."""
    for name in names:
        link = bin_dir / name
        if not link.is_symlink():
            link.symlink_to(KUBE_BIN / name)


def _holder_script(base, hostname):
    mounts = [
        f"mount -t overlay overlay -o lowerdir={target},upperdir={base}/{name}.upper,"
        f"workdir={base}/{name}.work {target}"
        for target, name in OVERLAYS.items()
    ]
    return "; ".join([
        "set -e",
        *mounts,
        "mount -t tmpfs -o size=64m,mode=755 tmpfs /run",
        "mkdir -p /run/calico /run/sshd /run/systemd/system /run/lock",
        f"mount --bind -o ro {NODE_BIN} /usr/local/sbin",
        f"mount --bind {base}/localbin /usr/local/bin",
        f"hostname {shlex.quote(hostname)}",
        f"exec sleep {LIFETIME}",
    ])


def _wire(cfg, node):
    ns, vns = node["netns"], cfg.vpc_netns
    run(["ip", "netns", "add", ns])
    run(["ip", "-n", vns, "link", "add", node["veth"], "mtu", "1460", "type", "veth",
         "peer", "name", "eth0", "netns", ns])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "-n", ns, "addr", "add", f"{node['ip']}/32", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    # L3 only, like a cloud VPC: everything goes through the VPC router.
    run(["ip", "-n", ns, "route", "add", cfg.gateway_ip, "dev", "eth0", "scope", "link"])
    run(["ip", "-n", ns, "route", "add", "198.18.0.0/15", "via", cfg.gateway_ip, "src", node["ip"]])
    run(["ip", "-n", vns, "addr", "add", f"{cfg.gateway_ip}/32", "dev", node["veth"]])
    run(["ip", "-n", vns, "link", "set", node["veth"], "up"])
    run(["ip", "-n", vns, "route", "add", f"{node['ip']}/32", "dev", node["veth"], "scope", "link"])


def create(cfg, node):
    """Boot a machine: namespaces, files, mounts, its image's binaries, sshd. Nothing of Calico."""
    base = _prepare_files(cfg, node)
    _wire(cfg, node)
    holder = ["ip", "netns", "exec", node["netns"], "unshare", "--mount", "--uts", "--propagation", "private",
              "--", "/bin/sh", "-c", _holder_script(base, node["hostname"])]
    node["pids"] = {"holder": spawn(holder, base / "log" / "holder.log")}
    wait_until(lambda: _ready(node), timeout=10, what=f"node {node['name']} namespaces")
    start_sshd(cfg, node)
    return node


WRITE_FILES = """\
import json, os, sys
for path, (text, mode) in json.load(sys.stdin).items():
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, int(mode, 8))
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, int(mode, 8))
"""


def write_files(node, files):
    """Write {path: (text, "0644")} inside the node (its own /etc, /root, ...), in one process."""
    run(exec_argv(node, ["/usr/bin/python3", "-c", WRITE_FILES]), input=json.dumps(files))


def _ready(node):
    pid = node["pids"]["holder"]
    if not alive(pid):
        raise LabError(f"node {node['name']} failed to start; see its holder.log")
    try:
        return os.readlink(f"/proc/{pid}/exe").endswith("sleep")
    except OSError:
        return False


def exec_argv(node, argv):
    return in_node(node["pids"]["holder"], argv)


def start_sshd(cfg, node):
    argv = exec_argv(node, ["timeout", str(LIFETIME), "/usr/sbin/sshd", "-D", "-e"])
    node["pids"]["sshd"] = spawn(argv, node_dir(cfg, node["id"]) / "log" / "sshd.log")


def start_calico_node(cfg, node, env_extra=None):
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO),
           "CALICO_IPV4POOL_CIDR": POD_CIDR}
    env.update(node.get("calico_env") or {})
    env.update(env_extra or {})
    argv = exec_argv(node, [sys.executable, "-m", "lab.calico_node", "--ip", node["ip"],
                            "--etcd", cfg.etcd_endpoint, "--lifetime", str(LIFETIME)])
    node["pids"]["calico_node"] = spawn(argv, node_dir(cfg, node["id"]) / "log" / "calico-node.log", env=env)


def stop_calico_node(node):
    stop([node["pids"].get("calico_node")])
    node["pids"]["calico_node"] = None


def destroy(cfg, node):
    pids = [p for p in (node.get("pids") or {}).values() if p]
    pids += netns_pids(node["netns"])
    stop(pids)
    run(["ip", "-n", cfg.vpc_netns, "link", "del", node["veth"]], check=False)
    run(["ip", "netns", "del", node["netns"]], check=False)
    shutil.rmtree(node_dir(cfg, node["id"]), ignore_errors=True)
