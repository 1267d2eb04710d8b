"""A tiny routed topology for the IPIP probe: nodes a and b behind router r.

Three network namespaces ``cft-probe-<pid>-{a,b,r}``; r forwards between
198.18.200.0/28 (a) and 198.18.200.16/28 (b), so an nftables rule in r's
forward chain can drop IP protocol 4 the way a cloud firewall does.
Everything is torn down at the end, listeners included, even on failure.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
COLLECTIONS = ROOT / "collections"
A_IP, B_IP = "198.18.200.2", "198.18.200.18"
NFT_TABLE = "cft_probe"


def sh(*argv, check=True, **kwargs):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kwargs)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


class Topology:
    def __init__(self):
        base = f"cft-probe-{os.getpid()}"
        self.ns = {n: f"{base}-{n}" for n in "abr"}
        self.ip = {"a": A_IP, "b": B_IP}

    def up(self):
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        a, b, r = self.ns["a"], self.ns["b"], self.ns["r"]
        sh("ip", "link", "add", "eth0", "netns", a, "type", "veth", "peer", "name", "to-a", "netns", r)
        sh("ip", "link", "add", "eth0", "netns", b, "type", "veth", "peer", "name", "to-b", "netns", r)
        for ns, dev, addr in ((r, "to-a", "198.18.200.1/28"), (r, "to-b", "198.18.200.17/28"),
                              (a, "eth0", A_IP + "/28"), (b, "eth0", B_IP + "/28")):
            sh("ip", "-n", ns, "addr", "add", addr, "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
        # Only the lab range goes through r: no default route in the nodes.
        sh("ip", "-n", a, "route", "add", "198.18.200.0/24", "via", "198.18.200.1")
        sh("ip", "-n", b, "route", "add", "198.18.200.0/24", "via", "198.18.200.17")
        sh("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")

    def down(self):
        for ns in self.ns.values():
            # Detached listeners started in the namespace are ours: stop them by pid.
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)

    def block_ipip(self, match=""):
        """Drop IP protocol 4 in r's forward chain, as a firewall without the rule would.

        ``match`` narrows the rule, e.g. ``ip saddr 198.18.200.2`` for one direction.
        """
        rules = (f"table inet {NFT_TABLE} {{\n chain forward {{\n"
                 "  type filter hook forward priority 0; policy accept;\n"
                 f"  {match} ip protocol 4 drop\n }}\n}}\n")
        sh("ip", "netns", "exec", self.ns["r"], "nft", "-f", "-", input=rules)

    def unblock_ipip(self):
        sh("ip", "netns", "exec", self.ns["r"], "nft", "delete", "table", "inet", NFT_TABLE)

    def listeners(self, node):
        """Pids of processes still running in a node's namespace."""
        return sh("ip", "netns", "pids", self.ns[node], check=False).stdout.split()

    def call(self, node, func, *args, **kwargs):
        """Run ipip.process.<func>(*args, **kwargs) inside a node's namespace; return (ok, value).

        The ipip module_utils are standard library only, so the node's system
        Python runs them as a node would.
        """
        code = (
            "import json, sys\n"
            f"sys.path.insert(0, {str(COLLECTIONS)!r})\n"
            "from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import errors, process\n"
            "args, kwargs = json.loads(sys.argv[1])\n"
            "try:\n"
            f"    print(json.dumps([True, process.{func}(*args, **kwargs)]))\n"
            "except errors.ProbeError as exc:\n"
            "    print(json.dumps([False, type(exc).__name__ + ': ' + str(exc)]))\n"
        )
        proc = sh("ip", "netns", "exec", self.ns[node], "/usr/bin/python3", "-c", code,
                  json.dumps([list(args), kwargs]))
        return json.loads(proc.stdout)

    def ansible(self, node, args, check=False, module="ipip_probe"):
        """Run a calico_fleet.fleet module (ipip_probe) in a node's namespace with ansible, the node's system Python."""
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
                   ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
                   ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
                   ANSIBLE_LOCAL_TEMP=str(self.tmp / "ansible-local"),
                   ANSIBLE_REMOTE_TEMP=str(self.tmp / f"ansible-remote-{node}"))
        argv = ["ip", "netns", "exec", self.ns[node], str(pathlib.Path(sys.executable).parent / "ansible"),
                "localhost", "-i", "localhost,", "-c", "local", "-m", f"calico_fleet.fleet.{module}",
                "-a", json.dumps(args),
                "-e", "ansible_python_interpreter=/usr/bin/python3"]
        if check:
            argv.append("--check")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError(f"ansible printed no JSON: {proc.stdout}\n{proc.stderr}") from None
        return out["plays"][0]["tasks"][0]["hosts"]["localhost"]


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("nft"):
        pytest.skip("needs root and nftables to create network namespaces")
    topo = Topology()
    topo.tmp = tmp_path_factory.mktemp("probe")
    try:
        topo.up()
        yield topo
    finally:
        topo.down()
