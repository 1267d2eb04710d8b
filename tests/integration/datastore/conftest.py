"""A real, private etcd (plain and TLS) for the datastore tests, torn down afterwards.

Assertions read etcd with ``etcdctl`` (etcd's own client), not with the code
under test, so a bug in our client cannot hide a bug in what we write.
"""

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ETCD = shutil.which("etcd")
ETCDCTL = shutil.which("etcdctl")
pytestmark = pytest.mark.skipif(not (ETCD and ETCDCTL), reason="etcd and etcdctl are not installed")
CALICO = "/calico/resources/v3/projectcalico.org/"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Etcd:
    """One etcd process; ``ctl(...)`` runs etcdctl against it."""

    def __init__(self, workdir, tls=None):
        self.workdir = Path(workdir)
        self.tls = tls
        scheme = "https" if tls else "http"
        self.endpoint = f"{scheme}://127.0.0.1:{free_port()}"
        peer = f"http://127.0.0.1:{free_port()}"
        argv = [
            ETCD, "--name", "default", "--data-dir", str(self.workdir / "data"),
            "--listen-client-urls", self.endpoint, "--advertise-client-urls", self.endpoint,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"default={peer}",
        ]
        if tls:
            argv += ["--cert-file", tls["server_cert"], "--key-file", tls["server_key"],
                     "--trusted-ca-file", tls["ca"], "--client-cert-auth"]
        self.log = open(self.workdir / "etcd.log", "wb")  # closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited: {(self.workdir / 'etcd.log').read_text()[-2000:]}")
            probe = subprocess.run(self._ctl_argv("endpoint", "health"), capture_output=True, timeout=10)
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("etcd did not become healthy within 30 s")
            time.sleep(0.2)

    def _ctl_argv(self, *args):
        argv = [ETCDCTL, "--endpoints", self.endpoint, "--command-timeout=5s"]
        if self.tls:
            tls = self.tls
            argv += ["--cacert", tls["ca"], "--cert", tls["client_cert"], "--key", tls["client_key"]]
        return argv + list(args)

    def ctl(self, *args):
        out = subprocess.run(self._ctl_argv(*args), capture_output=True, text=True, timeout=20, check=True)
        return out.stdout

    def revision(self):
        return int(json.loads(self.ctl("get", "/", "-w", "json"))["header"]["revision"])

    def values(self, prefix=CALICO):
        """{key: raw value text} under ``prefix``."""
        reply = json.loads(self.ctl("get", "--prefix", prefix, "-w", "json"))
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv["value"]).decode()
                for kv in reply.get("kvs", [])}

    def put_json(self, key, value):
        self.ctl("put", key, json.dumps(value, separators=(",", ":")))

    def wipe(self):
        self.ctl("del", "--prefix", "/")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(directory):
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as kubeasz's etcd uses."""
    d = Path(directory)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=test-etcd-ca", cwd=d)
    # etcd's JSON gateway dials etcd's own gRPC port with the server certificate as its client
    # certificate, so the server certificate needs clientAuth too (kubeasz's etcd certs have both).
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN=calico-{name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    return {"ca": str(d / "ca.pem"),
            "server_cert": str(d / "server.pem"), "server_key": str(d / "server.key"),
            "client_cert": str(d / "client.pem"), "client_key": str(d / "client.key")}


@pytest.fixture(scope="session")
def etcd_server():
    with tempfile.TemporaryDirectory(prefix="calico-fleet-etcd-") as tmp:
        server = Etcd(tmp)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def etcd(etcd_server):
    """The plain-HTTP etcd, emptied before each test."""
    etcd_server.wipe()
    return etcd_server


@pytest.fixture(scope="session")
def etcd_tls():
    with tempfile.TemporaryDirectory(prefix="calico-fleet-etcd-tls-") as tmp:
        certs_dir = Path(tmp) / "pki"
        certs_dir.mkdir()
        certs = make_certs(certs_dir)
        server = Etcd(tmp, tls=certs)
        server.certs = certs
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def ds_args(etcd):
    """Module arguments that point at the private etcd."""
    return {"datastore": "etcdv3", "etcd_endpoints": [etcd.endpoint], "timeout": 5}


def converge(etcd, module, args, expect_changed):
    """Check mode writes nothing and shows the diff the real run then has; a third run is a no-op."""
    from tests.conftest import run_module

    start = etcd.revision()
    dry = run_module(module, args, check=True, diff=True)
    assert not dry.get("failed"), dry
    assert dry["changed"] is expect_changed and etcd.revision() == start
    real = run_module(module, args, diff=True)
    assert real["changed"] is expect_changed and (etcd.revision() > start) is expect_changed
    assert dry["diff"] == real["diff"] and dry["findings"] == real["findings"]
    moved = etcd.revision()
    again = run_module(module, args, diff=True)
    assert again["changed"] is False and again["findings"] == [] and etcd.revision() == moved
    return real
