"""New machines boot bare; kubeadm and ezctl (the lab's stand-ins, run on the machines) join
them, and calico-node then starts there as its DaemonSet would."""

import re

import pytest

from lab import etcd, kube

pytestmark = pytest.mark.lab

NODE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
JOIN_RE = re.compile(r"kubeadm join (\S+:6443) --token ([a-z0-9]{6}\.[a-z0-9]{16}) "
                     r"--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})")


def sh(lab, name, *argv):
    return lab.node_exec(name, argv, env=NODE_ENV)


@pytest.fixture
def machines(lab):
    """Boot bare machines; afterwards remove them and everything their join left in the cluster."""
    booted = []

    def boot(name, **kwargs):
        booted.append(name)
        return lab.add_node(name, joined=False, **kwargs)

    yield boot
    for name in booted:
        calico_name = next((n["calico_node_name"] for n in lab.status()["nodes"] if n["name"] == name), None)
        kube_name = lab.get_node(name).get("kube_node_name")
        lab.remove_node(name)
        if calico_name:
            etcd.delete(lab.etcd_endpoint(), f"{etcd.CALICO_PREFIX}nodes/{calico_name}")
        if kube_name:
            sh(lab, "node-1", "kubectl", "delete", "node", kube_name, "--ignore-not-found")
    lab.wait_for_mesh(timeout=30)


def join_command(lab):
    proc = sh(lab, "node-1", "kubeadm", "token", "create", "--print-join-command")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and JOIN_RE.fullmatch(lines[0]), proc.stdout
    return lines[0].split()


def kube_nodes(lab):
    return sh(lab, "node-1", "kubectl", "get", "nodes", "-o", "name").stdout.split()


def status(lab, name):
    return next(n for n in lab.status()["nodes"] if n["name"] == name)


def test_a_new_machine_boots_bare(lab, machines):
    machines("bare-k8s")
    machines("bare-os", image="lab-bare")
    for name in ("bare-k8s", "bare-os"):
        st = status(lab, name)
        assert st["running"] and st["hostname"] == name
        assert not st["calico_node_running"] and st["bgp_sessions"] == {}
        assert sh(lab, name, "test", "-e", "/var/run/calico/bird.ctl").returncode == 1
        assert sh(lab, name, "test", "-e", "/etc/kubernetes").returncode == 1
    assert sh(lab, "bare-k8s", "sh", "-c", "command -v kubeadm kubelet containerd crictl").returncode == 0
    assert sh(lab, "bare-os", "sh", "-c", "command -v kubeadm").returncode != 0
    assert "bare-k8s" not in " ".join(kube_nodes(lab))


def test_kubeadm_join_with_the_printed_command_joins_the_mesh(lab, machines):
    machines("join-a")
    cmd = join_command(lab)
    assert cmd[2] == f"{lab.get_node('node-1')['ip']}:6443"
    ca_pem = sh(lab, "node-1", "cat", kube.CA_CRT).stdout
    assert cmd[6] == kube.ca_cert_hash(ca_pem)

    proc = sh(lab, "join-a", *cmd)
    assert proc.returncode == 0, proc.stderr
    assert "This node has joined the cluster" in proc.stdout
    assert sh(lab, "join-a", "test", "-s", kube.KUBELET_CONF).returncode == 0
    assert sh(lab, "join-a", "cat", kube.CA_CRT).stdout == ca_pem
    assert "node/join-a" in kube_nodes(lab)
    lab.wait_for_mesh(timeout=30)
    sessions = lab.bgp_sessions("join-a")
    assert len(sessions) == 3 and all(v.startswith("Established") for v in sessions.values()), sessions
    assert status(lab, "join-a")["calico_node_name"] == "join-a"

    again = sh(lab, "join-a", *cmd)
    assert again.returncode == 1
    assert ("[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists"
            in again.stderr)


def test_a_wrong_hash_or_token_is_refused_and_nothing_is_written(lab, machines):
    machines("join-b")
    cmd = join_command(lab)
    token_id = cmd[4].split(".")[0]
    wrong_hash = [*cmd[:6], "sha256:" + "0" * 64]
    wrong_secret = [*cmd[:4], f"{token_id}.{'0' * 16}", *cmd[5:]]
    unknown_token = [*cmd[:4], "zzzzzz.0123456789abcdef", *cmd[5:]]
    for argv, message in ((wrong_hash, "none of the public keys"), (wrong_secret, "failed to verify JWS signature"),
                          (unknown_token, 'for token ID "zzzzzz"')):
        proc = sh(lab, "join-b", *argv)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
        assert cmd[4].split(".")[1] not in proc.stdout + proc.stderr  # the secret is never echoed
    assert sh(lab, "join-b", "test", "-e", "/etc/kubernetes").returncode == 1
    assert "node/join-b" not in kube_nodes(lab)
    assert not status(lab, "join-b")["calico_node_running"]


def test_node_name_is_honoured_and_calico_keeps_its_etcd_naming(lab, machines):
    machines("join-c", hostname="Join-C")
    proc = sh(lab, "join-c", *join_command(lab), "--node-name", "worker-c")
    assert proc.returncode == 0, proc.stderr
    assert "node/worker-c" in kube_nodes(lab)
    lab.wait_for_mesh(timeout=30)
    st = status(lab, "join-c")
    # etcdv3 datastore: calico-node names itself (nodename file > hostname, lower-cased), not NODENAME.
    assert st["kube_node_name"] == "worker-c" and st["calico_node_name"] == "join-c"


def test_the_join_crosses_the_vpc_firewall(lab, machines):
    machines("join-d")
    cmd = join_command(lab)
    rules = lab.get_firewall()
    ssh_bgp_only = {"name": "ssh-bgp-only", "network": "default", "direction": "INGRESS", "priority": 1000,
                    "sourceRanges": [rules[0]["sourceRanges"][0]],
                    "allowed": [{"IPProtocol": "tcp", "ports": ["22", "179"]}, {"IPProtocol": "4"}]}
    lab.set_firewall([ssh_bgp_only])
    try:
        proc = sh(lab, "join-d", *cmd)
    finally:
        lab.set_firewall(rules)
    assert proc.returncode == 1 and "couldn't validate the identity of the API Server" in proc.stderr
    assert sh(lab, "join-d", "test", "-e", kube.KUBELET_CONF).returncode == 1


def test_ezctl_add_node_installs_and_joins_a_plain_machine_then_del_node_removes_it(lab, machines):
    ip = machines("easz-e", image="lab-bare")["ip"]
    hosts = "/etc/kubeasz/clusters/k8s-01/hosts"
    proc = sh(lab, "node-1", "ezctl", "add-node", "k8s-01", ip, "k8s_nodename=worker-e")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{ip} k8s_nodename=worker-e" in sh(lab, "node-1", "cat", hosts).stdout
    assert sh(lab, "easz-e", "sh", "-c", "command -v kubelet containerd").returncode == 0
    assert "node/worker-e" in kube_nodes(lab)
    lab.wait_for_mesh(timeout=30)
    assert len(lab.bgp_sessions("easz-e")) == 3

    again = sh(lab, "node-1", "ezctl", "add-node", "k8s-01", ip)
    assert again.returncode == 2 and "already existed" in again.stderr
    unknown = sh(lab, "node-1", "ezctl", "add-node", "no-such-cluster", ip)
    assert unknown.returncode == 1 and "invalid config" in unknown.stderr

    proc = sh(lab, "node-1", "ezctl", "del-node", "k8s-01", ip)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ip not in sh(lab, "node-1", "cat", hosts).stdout
    assert "node/worker-e" not in kube_nodes(lab)
    assert not status(lab, "easz-e")["calico_node_running"]
