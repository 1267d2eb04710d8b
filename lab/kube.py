"""Kubernetes membership as the lab models it: formats and the API client.

Shared by the API stand-in (lab/kube_api.py), the command stand-ins run on
the nodes (lab/kube_cli.py: kubeadm, kubelet, kubectl, ezctl) and the lab
itself. Standard library only: the node commands run with the machine's
python3. Test equipment, not Kubernetes; see docs/lab.md.
"""

import base64
import hashlib
import hmac
import http.client
import json
import re
import secrets
import socket
import ssl
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

API_PORT = 6443
TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
HASH_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
TOKEN_ALPHABET = string.ascii_lowercase + string.digits
DEFAULT_TOKEN_TTL = timedelta(hours=24)
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
BOOTSTRAP_KUBELET_CONF = "/etc/kubernetes/bootstrap-kubelet.conf"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
CA_CRT = "/etc/kubernetes/pki/ca.crt"
KUBE_VERSION = "v1.30.4"
CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
SECRETS = "/api/v1/namespaces/kube-system/secrets"
NODES = "/api/v1/nodes"


class KubeError(Exception):
    """A failed call or check; the message is what the real tool would say."""


# -- bootstrap tokens --------------------------------------------------------
def new_token():
    """`<6>.<16>` lower-case alphanumerics, like `kubeadm token generate`."""
    pick = lambda n: "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(n))  # noqa: E731
    return f"{pick(6)}.{pick(16)}"


def split_token(token):
    """(id, secret) of a bootstrap token; KubeError if it is malformed (the token is not echoed)."""
    match = TOKEN_RE.fullmatch(token or "")
    if not match:
        raise KubeError('the bootstrap token is invalid: it must be of the form "[a-z0-9]{6}.[a-z0-9]{16}"')
    return match.group(1), match.group(2)


def parse_duration(text):
    """Go durations as kubeadm's --ttl takes them: 24h, 1h30m, 90s, 0 (never expires)."""
    text = text.strip()
    if text == "0":
        return timedelta(0)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise KubeError(f'invalid duration "{text}"')
    units = {"h": 3600, "m": 60, "s": 1}
    return timedelta(seconds=sum(float(n) * units[u] for n, u in parts))


def expiration(ttl, now=None):
    """RFC 3339 expiry for a TTL, or None when the TTL is 0 (a token that never expires)."""
    if not ttl:
        return None
    return ((now or datetime.now(UTC)) + ttl).strftime("%Y-%m-%dT%H:%M:%SZ")


def expired(expiry, now=None):
    if not expiry:
        return False
    return datetime.strptime(expiry, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) <= (now or datetime.now(UTC))


# -- the CA public key pin -----------------------------------------------------
def pem_to_der(pem):
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)


def _tlv(der, pos):
    """(tag, content start, content length) of the DER element at `pos`."""
    tag, length = der[pos], der[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(der[pos:pos + count], "big")
        pos += count
    return tag, pos, length


def subject_public_key_info(cert_der):
    """The DER SubjectPublicKeyInfo of an X.509 certificate."""
    _, pos, _ = _tlv(cert_der, 0)  # Certificate
    _, pos, length = _tlv(cert_der, pos)  # tbsCertificate
    fields, end = [], pos + length
    while pos < end:
        tag, content, size = _tlv(cert_der, pos)
        fields.append((tag, pos, content + size))
        pos = content + size
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    _, start, stop = fields[5]
    return cert_der[start:stop]


def ca_cert_hash(ca_pem):
    """`sha256:<hex>` of the CA's public key, as `--discovery-token-ca-cert-hash` pins it."""
    return "sha256:" + hashlib.sha256(subject_public_key_info(pem_to_der(ca_pem))).hexdigest()


def check_ca_hash(text):
    if not HASH_RE.fullmatch(text or ""):
        raise KubeError(f'invalid hash "{text}", expected "sha256:" followed by 64 hex digits')
    return text


# -- cluster-info signatures (detached JWS, HS256, key = the token secret) ----
def _b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jws_sign(payload, token_id, token_secret):
    header = _b64url(json.dumps({"alg": "HS256", "kid": token_id}, separators=(",", ":")).encode())
    signing_input = f"{header}.{_b64url(payload.encode())}".encode()
    signature = hmac.new(token_secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}..{_b64url(signature)}"


def jws_verify(detached, payload, token_id, token_secret):
    header, _, signature = detached.partition("..")
    expected = jws_sign(payload, token_id, token_secret).partition("..")[2]
    return bool(header) and hmac.compare_digest(signature, expected)


# -- kubeconfig files (written as JSON, which is valid YAML) -------------------
def kubeconfig(server, ca_pem, user, token):
    return {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca_pem.encode()).decode()}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": f"{user}@kubernetes", "context": {"cluster": "kubernetes", "user": user}}],
        "current-context": f"{user}@kubernetes",
    }


def dump_kubeconfig(conf):
    return json.dumps(conf, indent=2) + "\n"


def load_kubeconfig(path):
    """(server, ca_pem, token) of a kubeconfig file written by the lab."""
    try:
        with open(path) as handle:
            conf = json.load(handle)
    except FileNotFoundError:
        raise KubeError(f"failed to load kubeconfig: open {path}: no such file or directory") from None
    except ValueError:
        raise KubeError(f"failed to load kubeconfig {path}: not a kubeconfig the lab wrote") from None
    cluster = conf["clusters"][0]["cluster"]
    ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
    return cluster["server"], ca_pem, conf["users"][0]["user"].get("token")


def endpoint_of(server):
    """'https://198.18.32.11:6443' -> '198.18.32.11:6443'."""
    return server.split("://", 1)[-1].rstrip("/")


# -- a tiny client ---------------------------------------------------------------
class Client:
    """HTTPS to the API stand-in. `ca_pem=None`: no server verification
    (kubeadm's discovery does that, then pins the CA by hash)."""

    def __init__(self, endpoint, ca_pem=None, token=None, timeout=10):
        self.host, _, port = endpoint_of(endpoint).rpartition(":")
        self.port = int(port or API_PORT)
        self.token = token
        self.timeout = timeout
        if ca_pem is None:
            self.context = ssl._create_unverified_context()  # noqa: S323 - discovery pins the CA afterwards
        else:
            self.context = ssl.create_default_context(cadata=ca_pem)

    def request(self, method, path, body=None):
        conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.context)
        url = f"https://{self.host}:{self.port}{path}"
        try:
            conn.connect()
            headers = {"Accept": "application/json"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except ssl.SSLCertVerificationError as exc:
            raise KubeError(f'Get "{url}": tls: failed to verify certificate: {exc.verify_message}') from None
        except (OSError, http.client.HTTPException) as exc:
            reason = "i/o timeout" if isinstance(exc, TimeoutError) else (
                getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).lower()
            raise KubeError(f'{method.title()} "{url}": dial tcp {self.host}:{self.port}: connect: {reason}') from None
        finally:
            conn.close()
        try:
            result = json.loads(payload or b"{}")
        except ValueError:
            result = {"message": payload.decode(errors="replace")}
        if resp.status >= 400:
            raise KubeError(result.get("message") or f"the server returned HTTP {resp.status}")
        return result


def cluster_info(endpoint, timeout=10):
    """The kube-public/cluster-info ConfigMap's data, fetched without verifying the server."""
    return Client(endpoint, timeout=timeout).request("GET", CLUSTER_INFO).get("data", {})


def discover(endpoint, token, ca_hashes, unsafe_skip=False, timeout=5):
    """kubeadm's token discovery: the cluster CA (PEM) and server, once trusted. KubeError otherwise."""
    token_id, token_secret = split_token(token)
    data = cluster_info(endpoint, timeout=timeout)
    payload = data.get("kubeconfig", "")
    signature = data.get(f"jws-kubeconfig-{token_id}")
    if not signature:
        raise KubeError(f'could not find a JWS signature in the cluster-info ConfigMap for token ID "{token_id}"')
    if not jws_verify(signature, payload, token_id, token_secret):
        raise KubeError("failed to verify JWS signature of received cluster info object, can't trust this API Server")
    conf = json.loads(payload)
    cluster = conf["clusters"][0]["cluster"]
    ca_pem = base64.b64decode(cluster["certificate-authority-data"]).decode()
    actual = ca_cert_hash(ca_pem)
    if not unsafe_skip and actual not in ca_hashes:
        raise KubeError(f'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "{actual}" '
                        "are pinned")
    return cluster["server"], ca_pem


def register_node(server, ca_pem, token, node_name, hostname, timeout=10):
    """The kubelet's TLS bootstrap and registration: returns (node, credential)."""
    client = Client(server, ca_pem=ca_pem, token=token, timeout=timeout)
    body = {"kind": "Node", "apiVersion": "v1", "metadata": {"name": node_name},
            "status": {"addresses": [{"type": "InternalIP", "address": source_address(client.host, client.port)},
                                     {"type": "Hostname", "address": hostname}]}}
    reply = client.request("POST", NODES, body)
    return reply["node"], reply["credential"]


def source_address(host, port):
    """The local address this machine reaches host:port from (what the kubelet reports as InternalIP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((host, port))
        return sock.getsockname()[0]


def node_ip(node):
    for addr in (node.get("status") or {}).get("addresses", []):
        if addr.get("type") == "InternalIP":
            return addr.get("address")
    return None


def pki(directory, ip, run):
    """Create the cluster CA, the API serving certificate (SAN = ip) and the admin token in `directory`.

    `run(argv)` runs a command (lab.sh.run). Returns the CA in PEM."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650",
         "-subj", "/CN=kubernetes", "-keyout", d / "ca.key", "-out", d / "ca.crt",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"])
    run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver",
         "-keyout", d / "apiserver.key", "-out", d / "apiserver.csr"])
    (d / "apiserver.ext").write_text(f"subjectAltName=IP:{ip},DNS:kubernetes,DNS:kubernetes.default\n"
                                     "extendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-sha256", "-days", "365", "-in", d / "apiserver.csr",
         "-CA", d / "ca.crt", "-CAkey", d / "ca.key", "-CAcreateserial", "-extfile", d / "apiserver.ext",
         "-out", d / "apiserver.crt"])
    (d / "admin.token").write_text(secrets.token_hex(24))
    for name in ("ca.key", "apiserver.key", "admin.token"):
        (d / name).chmod(0o600)
    return (d / "ca.crt").read_text()
