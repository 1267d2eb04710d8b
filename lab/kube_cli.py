"""The Kubernetes command stand-ins installed on lab machines (test equipment).

`kubeadm`, `kubelet`, `kubectl`, `containerd`, `crictl` and `ezctl` in
lab/kube_bin/ are thin executables that call the functions here. They follow
the real tools' command-line contracts where the lab needs them (REFERENCE.md,
"Joining nodes"; docs/lab.md says what is modelled and what is not). They run
on the node with the machine's python3 and talk to the API stand-in
(lab/kube_api.py) over the lab network, so the VPC firewall applies.
"""

import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from lab import kube

STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher"
KUBEASZ_DIR = Path("/etc/kubeasz")
KUBEASZ_KUBELET_CONF = "/etc/kubernetes/kubelet.kubeconfig"
KUBEASZ_CA = "/etc/kubernetes/ssl/ca.pem"
KUBE_BIN = Path(__file__).resolve().parent / "kube_bin"
SSH_KEY = "/root/.ssh/id_ed25519"
# What kubeasz's add-node playbook installs on a node (runtime, kubelet, tools).
KUBEASZ_NODE_BINARIES = ("containerd", "crictl", "kubelet", "kubectl")


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """Cobra-like: a bad flag prints `Error: ...` and exits 1 (argparse would exit 2)."""

    def error(self, message):
        raise UsageError(message)


def _fail(message, code=1):
    print(message, file=sys.stderr)
    return code


def _write(path, text, mode=0o644):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


# -- kubeadm ---------------------------------------------------------------------
def preflight(ignored=(), which=shutil.which, exists=os.path.exists, swaps="/proc/swaps"):
    """kubeadm join's pre-flight errors (names and messages as kubeadm prints them)."""
    errors = []
    for path in (kube.KUBELET_CONF, kube.CA_CRT):
        if exists(path):
            check = "FileAvailable-" + path.replace("/", "-")
            errors.append((check, f"{path} already exists"))
    if not which("kubelet"):
        errors.append(("KubeletVersion", "couldn't get kubelet version: cannot execute 'kubelet --version': "
                                         "executable file not found in $PATH"))
    if not which("containerd"):
        errors.append(("CRI", "container runtime is not running: validate service connection: "
                              'dial unix /var/run/containerd/containerd.sock: connect: no such file or directory'))
    if not which("crictl"):
        errors.append(("FileExisting-crictl", "crictl not found in system path"))
    try:
        with open(swaps) as handle:
            if len(handle.read().strip().splitlines()) > 1:
                errors.append(("Swap", "running with swap on is not supported. Please disable swap"))
    except FileNotFoundError:
        pass
    skip = {i.lower() for i in ignored}
    return [f"[ERROR {name}]: {msg}" for name, msg in errors if "all" not in skip and name.lower() not in skip]


def join_parser():
    p = _Parser(prog="kubeadm join", add_help=False)
    p.add_argument("endpoint", nargs="?")
    p.add_argument("--token")
    p.add_argument("--discovery-token")
    p.add_argument("--tls-bootstrap-token")
    p.add_argument("--discovery-token-ca-cert-hash", action="append", default=[])
    p.add_argument("--discovery-token-unsafe-skip-ca-verification", action="store_true")
    p.add_argument("--node-name")
    p.add_argument("--ignore-preflight-errors", action="append", default=[])
    p.add_argument("--cri-socket")
    p.add_argument("--v", "-v", dest="verbosity")
    return p


def parse_join(argv):
    """The join options, validated as kubeadm validates them (UsageError / KubeError)."""
    args = join_parser().parse_args(argv)
    args.discovery_token = args.discovery_token or args.token
    args.tls_bootstrap_token = args.tls_bootstrap_token or args.token
    if not args.endpoint:
        raise UsageError("discovery.bootstrapToken.apiServerEndpoint: Invalid value: \"\": "
                         "the API server endpoint (<host>:6443) is required")
    if not args.discovery_token:
        raise UsageError("discovery: Invalid value: \"\": bootstrapToken or file must be set")
    kube.split_token(args.discovery_token)
    kube.split_token(args.tls_bootstrap_token)
    for value in args.discovery_token_ca_cert_hash:
        kube.check_ca_hash(value)
    if not args.discovery_token_ca_cert_hash and not args.discovery_token_unsafe_skip_ca_verification:
        raise UsageError('discovery.bootstrapToken: Invalid value: "": using token-based discovery without '
                         "caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config "
                         "file or pass --discovery-token-unsafe-skip-ca-verification flag to continue")
    args.ignore_preflight_errors = [i for v in args.ignore_preflight_errors for i in v.split(",") if i]
    return args


def default_node_name():
    """kubeadm's default: the hostname, trimmed and lower-cased."""
    return socket.gethostname().strip().lower()


def kubeadm_join(argv):
    try:
        args = parse_join(argv)
    except (UsageError, kube.KubeError) as exc:
        return _fail(f"{exc}\n{STACK_HINT}")
    node_name = args.node_name or default_node_name()
    print("[preflight] Running pre-flight checks", flush=True)
    errors = preflight(args.ignore_preflight_errors)
    if errors:
        return _fail("error execution phase preflight: [preflight] Some fatal errors occurred:\n"
                     + "".join(f"\t{e}\n" for e in errors)
                     + "[preflight] If you know what you are doing, you can make a check non-fatal with "
                     "`--ignore-preflight-errors=...`\n" + STACK_HINT)
    print("[preflight] Reading configuration from the cluster...", flush=True)
    try:
        server, ca_pem = kube.discover(args.endpoint, args.discovery_token, args.discovery_token_ca_cert_hash,
                                       args.discovery_token_unsafe_skip_ca_verification)
    except kube.KubeError as exc:
        return _fail(f"error execution phase preflight: couldn't validate the identity of the API Server: {exc}\n"
                     + STACK_HINT)
    print('[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"')
    print('[kubelet-start] Writing kubelet environment file with flags to file "/var/lib/kubelet/kubeadm-flags.env"')
    print("[kubelet-start] Starting the kubelet")
    print("[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap...", flush=True)
    try:
        _, credential = kube.register_node(server, ca_pem, args.tls_bootstrap_token, node_name,
                                           socket.gethostname())
    except kube.KubeError as exc:
        return _fail(f"error execution phase kubelet-start: {exc}\n{STACK_HINT}")
    flags = "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"
    if args.node_name:
        flags += f" --hostname-override={node_name}"
    _write("/var/lib/kubelet/kubeadm-flags.env", f'KUBELET_KUBEADM_ARGS="{flags}"\n')
    _write("/var/lib/kubelet/config.yaml", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n")
    _write(kube.CA_CRT, ca_pem)
    conf = kube.kubeconfig(server, ca_pem, f"system:node:{node_name}", credential)
    _write(kube.KUBELET_CONF, kube.dump_kubeconfig(conf), 0o600)
    print("\nThis node has joined the cluster:\n"
          "* Certificate signing request was sent to apiserver and a response was received.\n"
          "* The Kubelet was informed of the new secure connection details.\n\n"
          "Run 'kubectl get nodes' on the control-plane to see this node join the cluster.\n")
    return 0


def create_token(server, ca_pem, admin_token, ttl, description=""):
    """A new bootstrap token, stored as a kube-system Secret; returns the token."""
    token = kube.new_token()
    token_id, token_secret = kube.split_token(token)
    data = {"token-id": token_id, "token-secret": token_secret, "usage-bootstrap-authentication": "true",
            "usage-bootstrap-signing": "true", "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token"}
    expiry = kube.expiration(ttl)
    if expiry:
        data["expiration"] = expiry
    if description:
        data["description"] = description
    kube.Client(server, ca_pem=ca_pem, token=admin_token).request("POST", kube.SECRETS, {
        "apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"}, "stringData": data})
    return token


def join_command(server, ca_pem, token):
    return (f"kubeadm join {kube.endpoint_of(server)} --token {token} "
            f"--discovery-token-ca-cert-hash {kube.ca_cert_hash(ca_pem)}")


def kubeadm_token(argv):
    p = _Parser(prog="kubeadm token", add_help=False)
    p.add_argument("action", choices=["create", "generate"])
    p.add_argument("token", nargs="?")
    p.add_argument("--ttl", default="24h0m0s")
    p.add_argument("--print-join-command", action="store_true")
    p.add_argument("--description", default="")
    p.add_argument("--kubeconfig", default=kube.ADMIN_CONF)
    try:
        args = p.parse_args(argv)
        if args.action == "generate":
            print(kube.new_token())
            return 0
        ttl = kube.parse_duration(args.ttl)
        server, ca_pem, admin_token = kube.load_kubeconfig(args.kubeconfig)
        token = create_token(server, ca_pem, admin_token, ttl, args.description)
    except (UsageError, kube.KubeError) as exc:
        return _fail(f"{exc}\n{STACK_HINT}")
    print(join_command(server, ca_pem, token) if args.print_join_command else token)
    return 0


def kubeadm(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print("kubeadm (lab stand-in): join, token create|generate, version")
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "join":
        return kubeadm_join(rest)
    if cmd == "token":
        return kubeadm_token(rest)
    if cmd == "version":
        short = "-o" in rest or "--output=short" in rest
        print(kube.KUBE_VERSION if short else f'kubeadm version: &version.Info{{GitVersion:"{kube.KUBE_VERSION}"}}')
        return 0
    return _fail(f'Error: unknown command "{cmd}" for "kubeadm"\nRun \'kubeadm --help\' for usage.')


# -- kubelet, containerd, crictl ------------------------------------------------------
def kubelet(argv):
    """`kubelet --version`, or one TLS bootstrap: register the node and write --kubeconfig.

    The lab runs no kubelet daemon: registering is the part of the kubelet that joining needs."""
    p = _Parser(prog="kubelet", add_help=False)
    p.add_argument("--version", action="store_true")
    p.add_argument("--bootstrap-kubeconfig")
    p.add_argument("--kubeconfig", default=kube.KUBELET_CONF)
    p.add_argument("--hostname-override")
    try:
        args, _ = p.parse_known_args(argv)
    except UsageError as exc:
        return _fail(f"Error: {exc}")
    if args.version:
        print(f"Kubernetes {kube.KUBE_VERSION}")
        return 0
    if not args.bootstrap_kubeconfig:
        return _fail("kubelet (lab stand-in): only --version and --bootstrap-kubeconfig are modelled")
    name = (args.hostname_override or socket.gethostname()).strip().lower()
    try:
        server, ca_pem, token = kube.load_kubeconfig(args.bootstrap_kubeconfig)
        _, credential = kube.register_node(server, ca_pem, token, name, socket.gethostname())
    except kube.KubeError as exc:
        return _fail(f"kubelet: failed to run Kubelet: unable to load bootstrap kubeconfig or register: {exc}")
    conf = kube.kubeconfig(server, ca_pem, f"system:node:{name}", credential)
    _write(args.kubeconfig, kube.dump_kubeconfig(conf), 0o600)
    print(f"kubelet (lab stand-in): node {name!r} registered with {server}")
    return 0


def containerd(argv):
    if argv[:1] in (["--version"], ["-v"], ["-version"]):
        print("containerd github.com/containerd/containerd v1.7.20 (lab stand-in)")
        return 0
    return _fail("containerd (lab stand-in): present on the image; it runs no containers")


def crictl(argv):
    if argv[:1] in (["--version"], ["-v"]):
        print("crictl version v1.30.1 (lab stand-in)")
        return 0
    if argv[:1] == ["version"]:
        print("Version:  0.1.0\nRuntimeName:  containerd\nRuntimeVersion:  v1.7.20\nRuntimeApiVersion:  v1")
        return 0
    if argv[:1] in (["ps"], ["pods"]):
        print("CONTAINER           IMAGE               CREATED             STATE               NAME")
        return 0
    return _fail("crictl (lab stand-in): only version, ps and pods are modelled")


# -- kubectl ---------------------------------------------------------------------
def _kubeconfig_path(explicit):
    return explicit or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")


def _age(created):
    try:
        since = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return "<unknown>"
    seconds = (datetime.now(UTC) - since).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(int(seconds), 0)}s"


def _node_row(node, wide):
    meta, status = node["metadata"], node.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", []))
    state = ("Ready" if ready else "NotReady") + (",SchedulingDisabled" if node["spec"].get("unschedulable") else "")
    roles = ",".join(sorted(k.split("/", 1)[1] for k in meta.get("labels", {})
                            if k.startswith("node-role.kubernetes.io/"))) or "<none>"
    row = [meta["name"], state, roles, _age(meta.get("creationTimestamp")),
           (status.get("nodeInfo") or {}).get("kubeletVersion", "")]
    if wide:
        row.append(kube.node_ip(node) or "<none>")
    return row


def kubectl(argv):
    p = _Parser(prog="kubectl", add_help=False)
    p.add_argument("verb", choices=["get", "delete", "cordon", "uncordon", "drain", "version"])
    p.add_argument("args", nargs="*")
    p.add_argument("--kubeconfig")
    p.add_argument("-o", "--output", default="")
    p.add_argument("--ignore-not-found", action="store_true")
    # drain
    p.add_argument("--ignore-daemonsets", action="store_true")
    p.add_argument("--delete-emptydir-data", action="store_true")
    p.add_argument("--delete-local-data", action="store_true")
    p.add_argument("--force", action="store_true")
    p.add_argument("--timeout", default="0s")
    p.add_argument("--grace-period", type=int, default=-1)
    try:
        args = p.parse_args(argv)
        if args.verb == "version":
            print(f"Client Version: {kube.KUBE_VERSION}")
            return 0
        kind, names = (args.args[0], args.args[1:]) if args.verb in ("get", "delete") and args.args else ("", [])
        if args.verb in ("cordon", "uncordon", "drain"):
            kind, names = "nodes", args.args
        if args.verb == "drain":
            if len(names) != 1:
                raise UsageError("USAGE: drain NODE [options]")
            kube.parse_duration(args.timeout)
        if kind not in ("node", "nodes", "no"):
            raise UsageError(f'the server doesn\'t have a resource type "{kind}" (the lab models nodes only)')
        server, ca_pem, token = kube.load_kubeconfig(_kubeconfig_path(args.kubeconfig))
        client = kube.Client(server, ca_pem=ca_pem, token=token)
        if args.verb == "get":
            nodes = [client.request("GET", f"{kube.NODES}/{n}") for n in names] if names else \
                client.request("GET", kube.NODES)["items"]
            return _print_nodes(nodes, args.output)
        if args.verb == "drain":
            return _drain(client, names[0], args)
        for name in names:
            if args.verb == "delete":
                try:
                    client.request("DELETE", f"{kube.NODES}/{name}")
                except kube.KubeError:
                    if not args.ignore_not_found:
                        raise
                    continue
                print(f'node "{name}" deleted')
            else:
                client.request("PATCH", f"{kube.NODES}/{name}",
                               {"spec": {"unschedulable": True if args.verb == "cordon" else None}})
                print(f"node/{name} {args.verb}ed")
    except UsageError as exc:
        return _fail(f"error: {exc}")
    except kube.KubeError as exc:
        reason = " (NotFound)" if str(exc).endswith("not found") else ""
        return _fail(f"Error from server{reason}: {exc}")
    return 0


POD_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' generated-name alphabet


def daemonset_pod(node_name, daemonset="calico-node"):
    """The name of the DaemonSet's pod on a node (stable for one node, like calico-node-xf99f)."""
    digest = hashlib.sha256(f"{daemonset}/{node_name}".encode()).digest()
    return daemonset + "-" + "".join(POD_SUFFIX_ALPHABET[b % len(POD_SUFFIX_ALPHABET)] for b in digest[:5])


def _drain(client, name, args):
    """kubectl drain: cordon, then evict every pod but DaemonSets'. The lab models one pod per
    registered node, calico-node's (DaemonSet), so a drain evicts nothing and needs --ignore-daemonsets."""
    if args.delete_local_data:
        print("Flag --delete-local-data has been deprecated, This option is deprecated and will be deleted. "
              "Use --delete-emptydir-data.", file=sys.stderr)
    node = client.request("GET", f"{kube.NODES}/{name}")
    if node["spec"].get("unschedulable"):
        print(f"node/{name} already cordoned", flush=True)
    else:
        client.request("PATCH", f"{kube.NODES}/{name}", {"spec": {"unschedulable": True}})
        print(f"node/{name} cordoned", flush=True)
    pod = f"kube-system/{daemonset_pod(name)}"
    if not args.ignore_daemonsets:
        reason = f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {pod}"
        return _fail(f'error: unable to drain node "{name}" due to error: {reason}, continuing command...\n'
                     f"There are pending nodes to be drained:\n {name}\n{reason}")
    print(f"Warning: ignoring DaemonSet-managed Pods: {pod}", file=sys.stderr, flush=True)
    print(f"node/{name} drained")
    return 0


def _print_nodes(nodes, output):
    if output == "json":
        print(json.dumps(nodes[0] if len(nodes) == 1 else {"kind": "List", "items": nodes}, indent=4))
        return 0
    if output == "name":
        print("\n".join(f"node/{n['metadata']['name']}" for n in nodes))
        return 0
    wide = output == "wide"
    rows = [["NAME", "STATUS", "ROLES", "AGE", "VERSION"] + (["INTERNAL-IP"] if wide else [])]
    rows += [_node_row(n, wide) for n in nodes]
    if len(rows) == 1:
        print("No resources found", file=sys.stderr)
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


# -- ezctl (kubeasz) -----------------------------------------------------------------------
IP_RE = re.compile(r"^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)$")


def _log(level, message):
    stream = sys.stderr if level in ("ERROR", "WARN") else sys.stdout
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {level} {message}", file=stream, flush=True)


def hosts_add(text, group, line):
    """`line` inserted right after the `[group]` header of a kubeasz hosts file."""
    lines = text.splitlines()
    for i, current in enumerate(lines):
        if current.strip() == f"[{group}]":
            lines.insert(i + 1, line)
            return "\n".join(lines) + "\n"
    return text.rstrip("\n") + f"\n[{group}]\n{line}\n"


def hosts_find(text, ip, groups=("kube_master", "kube_node")):
    """{k8s_nodename...} vars of `ip`'s line in one of `groups`, or None."""
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        if group in groups and line and not line.startswith("#") and line.split()[0] == ip:
            return dict(field.split("=", 1) for field in line.split()[1:] if "=" in field)
    return None


def hosts_remove(text, ip):
    kept = [raw for raw in text.splitlines() if not (raw.strip() and raw.split()[0] == ip)]
    return "\n".join(kept) + "\n"


def kubeasz_node_name(ip, node_vars):
    """K8S_NODENAME of kubeasz 3.x: k8s_nodename ('_' -> '-', lower-cased), else the inventory name (the IP)."""
    name = (node_vars or {}).get("k8s_nodename", "").strip("'\"")
    return name.replace("_", "-").lower() if name else ip


def _ssh(ip, script, stdin=None):
    argv = ["ssh", "-i", SSH_KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            f"root@{ip}", script]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)


def _kubeasz_install(ip, name, server, ca_pem, admin_token):
    """What the add-node playbook does on the node: runtime and kubelet, then the kubelet's bootstrap."""
    proc = _ssh(ip, "true")
    if proc.returncode != 0:
        raise kube.KubeError(f"UNREACHABLE! => {{\"msg\": \"Failed to connect to the host via ssh: "
                             f"{proc.stderr.strip()}\"}}")
    _log("INFO", f"[{ip}] install runtime and kubelet: {', '.join(KUBEASZ_NODE_BINARIES)}")
    links = " && ".join(f"ln -sf {shlex.quote(str(KUBE_BIN / b))} /usr/local/bin/{b}" for b in KUBEASZ_NODE_BINARIES)
    proc = _ssh(ip, f"mkdir -p /usr/local/bin && {links}")
    if proc.returncode != 0:
        raise kube.KubeError(f"installing the node binaries failed: {proc.stderr.strip()}")
    token = create_token(server, ca_pem, admin_token, kube.parse_duration("1h"), f"kubeasz add-node {ip}")
    boot = kube.BOOTSTRAP_KUBELET_CONF
    _log("INFO", f"[{ip}] start kubelet (node name {name})")
    script = (f"set -e; mkdir -p /etc/kubernetes/ssl; printf '%s' {shlex.quote(ca_pem)} > {KUBEASZ_CA}; "
              f"umask 077; cat > {boot}; "
              f"kubelet --bootstrap-kubeconfig={boot} --kubeconfig={KUBEASZ_KUBELET_CONF} "
              f"--hostname-override={shlex.quote(name)}; rm -f {boot}")
    conf = kube.dump_kubeconfig(kube.kubeconfig(server, ca_pem, "kubelet-bootstrap", token))
    proc = _ssh(ip, script, stdin=conf)
    if proc.returncode != 0:
        raise kube.KubeError(f"kubelet did not register: {(proc.stderr or proc.stdout).strip()}")


def ezctl(argv, base=KUBEASZ_DIR):
    usage = "Usage: ezctl COMMAND [args]\n  add-node <cluster> <ip> [var=value ...]\n  del-node <cluster> <ip>"
    if len(argv) < 3 or argv[0] not in ("add-node", "del-node"):
        return _fail(usage)
    cmd, cluster, ip, extra = argv[0], argv[1], argv[2], argv[3:]
    hosts = base / "clusters" / cluster / "hosts"
    if not hosts.is_file():
        _log("ERROR", f"invalid config, run 'ezctl new {cluster}' first")
        return 1
    if not IP_RE.fullmatch(ip):
        _log("ERROR", f"Invalid ip add:{ip}")
        return 1
    if any("=" not in v for v in extra):
        _log("ERROR", f"invalid node variable(s): {' '.join(extra)} (expected var=value)")
        return 1
    text = hosts.read_text()
    try:
        server, ca_pem, admin_token = kube.load_kubeconfig(_kubeconfig_path(None))
    except kube.KubeError as exc:
        _log("ERROR", str(exc))
        return 1
    if cmd == "add-node":
        if hosts_find(text, ip) is not None:
            _log("ERROR", f"node {ip} already existed in {hosts}")
            return 2
        _log("INFO", f"add {ip} into 'kube_node' group")
        hosts.write_text(hosts_add(text, "kube_node", " ".join([ip, *extra])))
        _log("INFO", f"start to add a work node:{ip} into cluster:{cluster}")
        name = kubeasz_node_name(ip, dict(v.split("=", 1) for v in extra))
        try:
            _kubeasz_install(ip, name, server, ca_pem, admin_token)
        except (kube.KubeError, subprocess.TimeoutExpired) as exc:
            _log("ERROR", f"add-node {ip} failed: {exc}")
            hosts.write_text(hosts_remove(hosts.read_text(), ip))
            return 2
        _log("INFO", f"node {ip} joined cluster {cluster} as {name}")
        return 0
    node_vars = hosts_find(text, ip, groups=("kube_node",))
    if node_vars is None:
        _log("ERROR", f"node {ip} not existed in {hosts} group 'kube_node'")
        return 2
    name = kubeasz_node_name(ip, node_vars)
    _log("INFO", f"start to delete node:{ip} ({name}) from cluster:{cluster}")
    try:
        kube.Client(server, ca_pem=ca_pem, token=admin_token).request("DELETE", f"{kube.NODES}/{name}")
    except kube.KubeError as exc:
        _log("WARN", f"deleting node {name}: {exc}")
    try:
        proc = _ssh(ip, "rm -rf /etc/kubernetes /var/lib/kubelet && rm -f "
                    + " ".join(f"/usr/local/bin/{b}" for b in KUBEASZ_NODE_BINARIES))
        if proc.returncode != 0:
            _log("WARN", f"[{ip}] cleaning the node failed: {proc.stderr.strip()}")
    except subprocess.TimeoutExpired:
        _log("WARN", f"[{ip}] cleaning the node timed out")
    hosts.write_text(hosts_remove(hosts.read_text(), ip))
    _log("INFO", f"node {ip} removed from {hosts}")
    return 0


def entry(tool):
    """Main of the executable named `tool` in lab/kube_bin."""
    funcs = {"kubeadm": kubeadm, "kubelet": kubelet, "kubectl": kubectl, "containerd": containerd,
             "crictl": crictl, "ezctl": ezctl}
    sys.exit(funcs[tool](sys.argv[1:]))
