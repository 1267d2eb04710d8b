"""Formats and checks of the lab's Kubernetes stand-ins: tokens, the CA pin, join arguments,
preflight, kubeasz hosts files, and the API stand-in's discovery and registration over TLS."""

import hashlib
import re
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest

from lab import images, inventory, kube, kube_api, kube_cli
from lab.config import LabConfig


def run(argv):
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kube")
    ca_pem = kube.pki(directory, "127.0.0.1", run)
    return directory, ca_pem


@pytest.fixture
def api_server(pki):
    directory, ca_pem = pki
    httpd = kube_api.make_server("127.0.0.1", 0, directory)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    server = f"https://127.0.0.1:{httpd.server_address[1]}"
    admin = (directory / "admin.token").read_text().strip()
    yield server, ca_pem, admin
    httpd.shutdown()
    httpd.server_close()


def test_tokens_have_kubeadms_shape():
    tokens = {kube.new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(kube.TOKEN_RE.fullmatch(t) for t in tokens)
    assert kube.split_token("abcdef.0123456789abcdef") == ("abcdef", "0123456789abcdef")


@pytest.mark.parametrize("bad", ["", "abcdef", "ABCDEF.0123456789abcdef", "abcde.0123456789abcdef",
                                 "abcdef.0123456789abcde", "abcdef:0123456789abcdef"])
def test_malformed_tokens_are_refused_without_echoing_them(bad):
    with pytest.raises(kube.KubeError) as err:
        kube.split_token(bad)
    assert not bad or bad not in str(err.value)


def test_durations_and_expiry():
    assert kube.parse_duration("24h0m0s") == timedelta(hours=24)
    assert kube.parse_duration("1h30m") == timedelta(minutes=90)
    assert kube.parse_duration("0") == timedelta(0)
    with pytest.raises(kube.KubeError):
        kube.parse_duration("1d")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert kube.expiration(timedelta(hours=24), now) == "2026-01-02T00:00:00Z"
    assert kube.expiration(timedelta(0), now) is None  # never expires
    assert not kube.expired(None)
    assert kube.expired("2026-01-01T00:00:00Z", now) and not kube.expired("2026-01-01T00:00:01Z", now)


def test_ca_hash_is_sha256_of_the_der_subject_public_key_info(pki):
    directory, ca_pem = pki
    # The pipeline kubeadm's documentation gives for computing the hash by hand.
    pub = run(["openssl", "x509", "-pubkey", "-noout", "-in", directory / "ca.crt"]).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub.encode(),
                         capture_output=True, check=True).stdout
    assert kube.ca_cert_hash(ca_pem) == "sha256:" + hashlib.sha256(der).hexdigest()
    assert kube.HASH_RE.fullmatch(kube.ca_cert_hash(ca_pem))


def test_jws_signature_needs_the_token_secret():
    sig = kube.jws_sign("payload", "abcdef", "0123456789abcdef")
    assert ".." in sig
    assert kube.jws_verify(sig, "payload", "abcdef", "0123456789abcdef")
    assert not kube.jws_verify(sig, "payload", "abcdef", "0123456789abcdeX")
    assert not kube.jws_verify(sig, "other", "abcdef", "0123456789abcdef")


H = "sha256:" + "a" * 64


def test_join_arguments_follow_kubeadm():
    args = kube_cli.parse_join(["10.0.0.1:6443", "--token", "abcdef.0123456789abcdef",
                                f"--discovery-token-ca-cert-hash={H}", "--node-name", "worker-1",
                                "--ignore-preflight-errors=Swap,CRI"])
    assert args.endpoint == "10.0.0.1:6443" and args.node_name == "worker-1"
    assert args.discovery_token == args.tls_bootstrap_token == "abcdef.0123456789abcdef"
    assert args.discovery_token_ca_cert_hash == [H]
    assert args.ignore_preflight_errors == ["Swap", "CRI"]


@pytest.mark.parametrize("argv, message", [
    (["10.0.0.1:6443", "--token", "abcdef.0123456789abcdef"], "without caCertHashes can be unsafe"),
    (["10.0.0.1:6443", "--token", "nope", "--discovery-token-ca-cert-hash", H], "bootstrap token is invalid"),
    (["10.0.0.1:6443", "--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash", "sha256:12"],
     "64 hex digits"),
    (["--token", "abcdef.0123456789abcdef", "--discovery-token-ca-cert-hash", H], "endpoint"),
    (["10.0.0.1:6443", "--bogus"], "unrecognized"),
])
def test_bad_join_arguments_fail_with_status_1(argv, message, capsys):
    assert kube_cli.kubeadm(["join", *argv]) == 1
    assert message in capsys.readouterr().err


def test_preflight_reports_what_kubeadm_reports(tmp_path):
    swaps = tmp_path / "swaps"
    swaps.write_text("Filename\tType\tSize\tUsed\tPriority\n")
    everything = lambda name: f"/usr/local/bin/{name}"  # noqa: E731
    assert kube_cli.preflight(which=everything, exists=lambda p: False, swaps=swaps) == []
    errors = kube_cli.preflight(which=everything, exists=lambda p: p == kube.KUBELET_CONF, swaps=swaps)
    assert errors == ["[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf "
                      "already exists"]
    swaps.write_text("Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1024 0 -2\n")
    errors = kube_cli.preflight(which=lambda name: None, exists=lambda p: False, swaps=swaps)
    assert [e.split("]")[0] for e in errors] == ["[ERROR KubeletVersion", "[ERROR CRI", "[ERROR FileExisting-crictl",
                                                  "[ERROR Swap"]
    assert kube_cli.preflight(["all"], which=lambda name: None, exists=lambda p: True, swaps=swaps) == []


def test_kubeasz_hosts_file_editing_and_node_names():
    text = "[kube_master]\n10.0.0.1 k8s_nodename='master-01'\n\n[kube_node]\n10.0.0.2\n\n[all:vars]\nx=1\n"
    added = kube_cli.hosts_add(text, "kube_node", "10.0.0.3 k8s_nodename='Worker_3'")
    assert added.splitlines()[4] == "10.0.0.3 k8s_nodename='Worker_3'"
    assert kube_cli.hosts_find(added, "10.0.0.3") == {"k8s_nodename": "'Worker_3'"}
    assert kube_cli.hosts_find(added, "10.0.0.2") == {}
    assert kube_cli.hosts_find(added, "10.0.0.30") is None
    assert kube_cli.kubeasz_node_name("10.0.0.3", kube_cli.hosts_find(added, "10.0.0.3")) == "worker-3"
    assert kube_cli.kubeasz_node_name("10.0.0.2", {}) == "10.0.0.2"  # kubeasz's default: the IP
    assert kube_cli.hosts_remove(added, "10.0.0.3") == text


def test_ezctl_refuses_an_unknown_cluster_and_a_bad_address(tmp_path, capsys):
    assert kube_cli.ezctl(["add-node", "k8s-02", "10.0.0.9"], base=tmp_path) == 1
    assert "invalid config, run 'ezctl new k8s-02' first" in capsys.readouterr().err
    (tmp_path / "clusters" / "k8s-01").mkdir(parents=True)
    (tmp_path / "clusters" / "k8s-01" / "hosts").write_text("[kube_node]\n")
    assert kube_cli.ezctl(["add-node", "k8s-01", "10.0.0.300"], base=tmp_path) == 1
    assert "Invalid ip add:10.0.0.300" in capsys.readouterr().err
    assert kube_cli.ezctl(["frobnicate"], base=tmp_path) == 1


def test_discovery_and_registration_against_the_api_stand_in(api_server):
    server, ca_pem, admin = api_server
    token = kube_cli.create_token(server, ca_pem, admin, timedelta(hours=24))
    port = server.rsplit(":", 1)[1]
    assert re.fullmatch(rf"kubeadm join 127\.0\.0\.1:{port} --token [a-z0-9]{{6}}\.[a-z0-9]{{16}} "
                        rf"--discovery-token-ca-cert-hash {kube.ca_cert_hash(ca_pem)}",
                        kube_cli.join_command(server, ca_pem, token))
    found_server, found_ca = kube.discover(server, token, [kube.ca_cert_hash(ca_pem)])
    assert found_ca == ca_pem and found_server == server
    node, credential = kube.register_node(found_server, found_ca, token, "worker-1", "Worker-1")
    assert node["metadata"]["name"] == "worker-1" and kube.node_ip(node) == "127.0.0.1"
    listed = kube.Client(server, ca_pem, admin).request("GET", kube.NODES)["items"]
    assert [n["metadata"]["name"] for n in listed] == ["worker-1"]
    assert kube.Client(server, ca_pem, credential).request("GET", f"{kube.NODES}/worker-1")["metadata"]


def test_discovery_refuses_a_wrong_hash_a_wrong_secret_and_an_unknown_token(api_server):
    server, ca_pem, admin = api_server
    token = kube_cli.create_token(server, ca_pem, admin, timedelta(hours=1))
    with pytest.raises(kube.KubeError, match="none of the public keys .* are pinned"):
        kube.discover(server, token, ["sha256:" + "0" * 64])
    token_id = token.split(".")[0]
    with pytest.raises(kube.KubeError, match="failed to verify JWS signature"):
        kube.discover(server, f"{token_id}.{'x' * 16}", [kube.ca_cert_hash(ca_pem)])
    with pytest.raises(kube.KubeError, match='for token ID "zzzzzz"'):
        kube.discover(server, "zzzzzz.0123456789abcdef", [kube.ca_cert_hash(ca_pem)])
    with pytest.raises(kube.KubeError, match="Unauthorized"):
        kube.register_node(server, ca_pem, f"{token_id}.{'x' * 16}", "intruder", "intruder")


def test_expired_tokens_neither_sign_nor_authenticate(api_server):
    server, ca_pem, admin = api_server
    token = kube.new_token()
    token_id, secret = kube.split_token(token)
    past = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    kube.Client(server, ca_pem, admin).request("POST", kube.SECRETS, {
        "type": "bootstrap.kubernetes.io/token", "stringData": {
            "token-id": token_id, "token-secret": secret, "expiration": past,
            "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true"}})
    assert f"jws-kubeconfig-{token_id}" not in kube.cluster_info(server)
    with pytest.raises(kube.KubeError, match="Unauthorized"):
        kube.register_node(server, ca_pem, token, "late", "late")


def test_nodes_can_be_cordoned_and_deleted_with_the_admin_credential(api_server, tmp_path, capsys):
    server, ca_pem, admin = api_server
    conf = tmp_path / "admin.conf"
    conf.write_text(kube.dump_kubeconfig(kube.kubeconfig(server, ca_pem, "kubernetes-admin", admin)))
    token = kube_cli.create_token(server, ca_pem, admin, timedelta(hours=1))
    kube.register_node(server, ca_pem, token, "gone-soon", "gone-soon")
    assert kube_cli.kubectl(["--kubeconfig", str(conf), "cordon", "gone-soon"]) == 0
    assert kube_cli.kubectl(["--kubeconfig", str(conf), "get", "nodes"]) == 0
    assert "Ready,SchedulingDisabled" in capsys.readouterr().out
    assert kube_cli.kubectl(["--kubeconfig", str(conf), "delete", "node", "gone-soon"]) == 0
    assert kube_cli.kubectl(["--kubeconfig", str(conf), "get", "node", "gone-soon"]) == 1
    assert 'nodes "gone-soon" not found' in capsys.readouterr().err


def test_unknown_images_boot_the_default_and_say_so(capsys):
    assert images.resolve(None) == images.DEFAULT == "lab-k8s-node"
    assert images.resolve("lab-bare") == "lab-bare"
    assert images.resolve("debian-12") == images.DEFAULT
    assert "unknown image 'debian-12'" in capsys.readouterr().err
    assert set(images.binaries("lab-k8s-node")) >= {"kubeadm", "kubelet", "containerd", "crictl"}
    assert images.binaries("lab-bare") == ()


def test_inventory_names_the_control_plane_and_the_kubeasz_deploy_host():
    cfg = LabConfig(2)
    state = {"nodes": {"node-1": {"name": "node-1", "index": 1, "ip": "198.18.32.11", "id": "n1",
                                  "image": "lab-k8s-node"}},
             "kube": {"control_plane": "node-1", "server": "https://198.18.32.11:6443", "kubeasz_cluster": "k8s-01"}}
    inv = inventory.data(cfg, state)
    assert inv["kube_control_plane"] == {"hosts": ["node-1"]}
    assert set(inv["all"]["children"]) == {"calico_nodes", "kube_control_plane"}
    assert inv["all"]["vars"]["lab_kube_api_endpoint"] == "198.18.32.11:6443"
    assert inv["all"]["vars"]["lab_kubeasz_deploy_host"] == "node-1"
    assert inv["all"]["vars"]["lab_kubeasz_cluster"] == "k8s-01"
    assert "kube_control_plane" not in inventory.data(cfg, {"nodes": {}})
