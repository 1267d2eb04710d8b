"""A calico-node stand-in for the lab (test equipment, not calico-node).

What it reproduces, from Calico v3.30's behaviour (REFERENCE.md):
- node name precedence: env NODENAME (trimmed) > /var/lib/calico/nodename
  read as is (a trailing newline or upper case stays, and is then invalid)
  > env HOSTNAME (trimmed, lower-cased) > the OS hostname (lower-cased);
- an invalid name is refused, and the process exits, as calico-node does;
- two names for one IP is a hard start-up error ("Calico node 'x' is already
  using the IPv4 address ..."); two hosts with one name is NOT an error: the
  Node is simply overwritten, last writer wins;
- at start it registers/updates its Node in etcd (etcdv3 layout), its orchRefs
  set to the Kubernetes node CALICO_K8S_NODE_REF names (left alone without it), and rewrites
  the nodename file without a newline; it creates `default-ipv4-ippool` from
  CALICO_IPV4POOL_CIDR (IPIP Always, as kubeasz configures it) when no pool exists;
- confd: renders BIRD's mesh, route-reflector client settings and BGPPeers
  from the registered Nodes, BGPConfiguration and BGPPeers (see
  bird_conf.py), using its own IP as the datastore has it, and reloads BIRD
  when that changes; BIRD runs as its child and is restarted if it dies.

What it does not: IPAM and tunnel addresses, Felix (routes, policy, tunl0),
IPv6, the Kubernetes datastore, health endpoints.
Restarting it is the lab's "delete the calico-node pod".
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from lab import bird_conf, etcd

NODENAME_FILE = Path("/var/lib/calico/nodename")
BIRD_CFG = Path("/etc/calico/confd/config/bird.cfg")
BIRD_SOCKET = "/var/run/calico/bird.ctl"
STATUS_FILE = Path("/var/run/calico/stand-in.json")
NODE_KEY = etcd.CALICO_PREFIX + "nodes/"
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class StartupError(Exception):
    pass


def determine_nodename(env, hostname, nodename_file=NODENAME_FILE):
    if env.get("NODENAME", "").strip():
        return env["NODENAME"].strip()
    try:
        return nodename_file.read_text()
    except FileNotFoundError:
        pass
    if env.get("HOSTNAME", "").strip():
        return env["HOSTNAME"].strip().lower()
    return hostname.lower()


def validate_nodename(name):
    if len(name) > 253 or not NAME_RE.fullmatch(name):
        raise StartupError(
            f"Unable to set node resource configuration: error with field Metadata.Name = {name!r} "
            "(Reason: failed to validate Field: Name because of Tag: name)"
        )


def register(endpoint, name, ip, k8s_node_ref=""):
    nodes = etcd.resources(endpoint, "nodes")
    for other, node in nodes.items():
        if other != name and bird_conf.node_ip(node) == ip:
            raise StartupError(f"Calico node '{other}' is already using the IPv4 address {ip}.")
    node = nodes.get(name) or {
        "kind": "Node",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": {},
    }
    # configureNodeRef: with CALICO_K8S_NODE_REF (the pod's spec.nodeName) the orchRefs are replaced
    # by that one Kubernetes node; without it they are left as they are.
    if k8s_node_ref.strip():
        node.setdefault("spec", {})["orchRefs"] = [{"nodeName": k8s_node_ref.strip(), "orchestrator": "k8s"}]
    node.setdefault("spec", {}).setdefault("bgp", {})["ipv4Address"] = f"{ip}/32"
    etcd.put(endpoint, NODE_KEY + name, node)


def ensure_default_pool(endpoint, cidr):
    """calico-node creates the default IPv4 pool (CALICO_IPV4POOL_CIDR) when no pool exists."""
    if not cidr or etcd.resources(endpoint, "ippools"):
        return
    pool = {
        "kind": "IPPool",
        "apiVersion": "projectcalico.org/v3",
        "metadata": {"name": "default-ipv4-ippool", "uid": str(uuid.uuid4()),
                     "creationTimestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        "spec": {"cidr": cidr, "vxlanMode": "Never", "ipipMode": "Always", "natOutgoing": True,
                 "blockSize": 26, "nodeSelector": "all()", "allowedUses": ["Workload", "Tunnel"]},
    }
    etcd.put(endpoint, etcd.CALICO_PREFIX + "ippools/default-ipv4-ippool", pool)


class Supervisor:
    def __init__(self, args):
        self.args = args
        self.bird = None
        self.rendered = None
        self.bird_starts = 0
        self.stopping = False

    def render(self):
        nodes = etcd.resources(self.args.etcd, "nodes")
        bgp = etcd.resources(self.args.etcd, "bgpconfigurations").get("default")
        peers = etcd.resources(self.args.etcd, "bgppeers")
        own_ip = bird_conf.node_ip(nodes.get(self.name) or {}) or self.args.ip
        return bird_conf.render(own_ip, nodes, bgp, peers, self.name)

    def ensure_bird(self, config):
        if config != self.rendered:
            BIRD_CFG.parent.mkdir(parents=True, exist_ok=True)
            BIRD_CFG.write_text(config)
            if self.bird and self.bird.poll() is None:
                subprocess.run(["birdc", "-s", BIRD_SOCKET, "configure"], capture_output=True, timeout=10)
            self.rendered = config
        if self.bird is None or self.bird.poll() is not None:
            self.bird = subprocess.Popen(["bird", "-f", "-c", str(BIRD_CFG), "-s", BIRD_SOCKET])
            self.bird_starts += 1

    def write_status(self, error=None):
        STATUS_FILE.write_text(json.dumps({
            "nodename": self.name, "ip": self.args.ip, "pid": os.getpid(),
            "bird_pid": self.bird.pid if self.bird else None, "bird_starts": self.bird_starts,
            "error": error,
        }))

    def run(self):
        Path(BIRD_SOCKET).parent.mkdir(parents=True, exist_ok=True)
        self.name = determine_nodename(os.environ, socket.gethostname())
        try:
            validate_nodename(self.name)
            register(self.args.etcd, self.name, self.args.ip, os.environ.get("CALICO_K8S_NODE_REF", ""))
            ensure_default_pool(self.args.etcd, os.environ.get("CALICO_IPV4POOL_CIDR", "").strip())
        except StartupError as exc:
            self.write_status(error=str(exc))
            print(f"calico-node: {exc}", file=sys.stderr, flush=True)
            return 1
        NODENAME_FILE.parent.mkdir(parents=True, exist_ok=True)
        NODENAME_FILE.write_text(self.name)
        print(f"calico-node: running as node {self.name!r} with IPv4 {self.args.ip}", flush=True)
        deadline = time.monotonic() + self.args.lifetime if self.args.lifetime else None
        while not self.stopping and (deadline is None or time.monotonic() < deadline):
            try:
                self.ensure_bird(self.render())
                self.write_status()
            except OSError as exc:  # etcd briefly unreachable: keep BIRD as it is
                print(f"calico-node: datastore read failed: {exc}", file=sys.stderr, flush=True)
            time.sleep(self.args.poll)
        self.shutdown()
        return 0

    def shutdown(self, *_):
        self.stopping = True
        if self.bird and self.bird.poll() is None:
            self.bird.terminate()
            try:
                self.bird.wait(5)
            except subprocess.TimeoutExpired:
                self.bird.kill()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ip", required=True, help="this node's IPv4 address")
    parser.add_argument("--etcd", required=True, help="etcd endpoint, http://host:port")
    parser.add_argument("--poll", type=float, default=1.0, help="datastore poll interval (s)")
    parser.add_argument("--lifetime", type=float, default=0, help="exit after this many seconds (0: never)")
    args = parser.parse_args(argv)
    sup = Supervisor(args)

    def _term(*_):
        sup.stopping = True

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    return sup.run()


if __name__ == "__main__":
    sys.exit(main())
