# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small etcd v3 client over etcd's JSON gateway (``/v3/kv/...``).

Standard library only (urllib + ssl) so it runs on any managed host without
extra packages. Keys and values travel base64-encoded; etcd answers int64
numbers (revisions) as JSON strings. Compare-and-swap uses a transaction on
the key's mod_revision (0 = "the key must not exist").
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
from collections import namedtuple
from typing import Any

from ansible.module_utils.urls import open_url

DEFAULT_TIMEOUT = 10

KeyValue = namedtuple("KeyValue", "key value mod_revision create_revision version")


class EtcdError(Exception):
    """Base class; ``endpoint`` names the etcd member that failed (or all tried)."""

    def __init__(self, message: str, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint


class EtcdConfigError(EtcdError):
    """Client settings that cannot work (bad URL, half a client certificate, unreadable file)."""


class EtcdConnectionError(EtcdError):
    """No endpoint answered (refused, timeout, TLS handshake)."""


class EtcdRequestError(EtcdError):
    """An endpoint answered with an error (HTTP status and etcd's message)."""

    def __init__(self, message: str, endpoint: str | None = None, status: int | None = None) -> None:
        super().__init__(message, endpoint)
        self.status = status


class EtcdConflictError(EtcdError):
    """Compare-and-swap lost: the key changed since it was read."""

    def __init__(self, message: str, endpoint: str | None = None, key: str | None = None) -> None:
        super().__init__(message, endpoint)
        self.key = key


def _b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def _unb64(text):
    return base64.b64decode(text or "")


def prefix_range_end(prefix: str | bytes) -> bytes:
    """The exclusive range end that selects every key starting with ``prefix``."""
    raw = bytearray(prefix.encode() if isinstance(prefix, str) else prefix)
    for i in range(len(raw) - 1, -1, -1):
        if raw[i] < 0xFF:
            raw[i] += 1
            return bytes(raw[: i + 1])
    return b"\0"  # every key


def _kv(item):
    return KeyValue(
        key=_unb64(item.get("key")).decode(),
        value=_unb64(item.get("value")),
        mod_revision=int(item.get("mod_revision", 0)),
        create_revision=int(item.get("create_revision", 0)),
        version=int(item.get("version", 0)),
    )


class EtcdClient:
    """Talks to the first endpoint that answers; etcd-level errors are not retried elsewhere."""

    def __init__(self, endpoints: list[str], ca_cert: str | None = None, cert: str | None = None,
                 key: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        if isinstance(endpoints, str):
            endpoints = endpoints.split(",")
        self.endpoints = [e.strip().rstrip("/") for e in endpoints if e and e.strip()]
        if not self.endpoints:
            raise EtcdConfigError("no etcd endpoint given; set etcd_endpoints, e.g. https://10.0.1.1:2379")
        for endpoint in self.endpoints:
            if not endpoint.startswith(("http://", "https://")):
                raise EtcdConfigError(
                    f"etcd endpoint {endpoint!r} has no scheme; write http://host:2379 or https://host:2379",
                    endpoint,
                )
        if bool(cert) != bool(key):
            raise EtcdConfigError("etcd client TLS needs both etcd_cert and etcd_key (only one was given)")
        self.timeout = timeout
        self._tls = {"ca_path": ca_cert or None, "client_cert": cert or None, "client_key": key or None}
        self._check_tls_files(ca_cert, cert, key)

    def _check_tls_files(self, ca_cert, cert, key):
        """Fail early, naming the files, when the TLS material does not load."""
        if not any(e.startswith("https://") for e in self.endpoints):
            return
        try:
            ctx = ssl.create_default_context(cafile=ca_cert)
            if cert:
                ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise EtcdConfigError(
                f"cannot load etcd TLS files (ca={ca_cert}, cert={cert}, key={key}): {exc}"
            ) from exc
        del ctx

    def _call(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        data = json.dumps(body).encode()
        failures = []
        for endpoint in self.endpoints:
            try:
                with open_url(endpoint + path, data=data, method="POST", headers={"Content-Type": "application/json"},
                              timeout=self.timeout, use_proxy=False, **self._tls) as resp:
                    return json.loads(resp.read() or b"{}"), endpoint
            except urllib.error.HTTPError as exc:
                raise EtcdRequestError(
                    f"etcd {endpoint} answered HTTP {exc.code} to {path}: {_error_text(exc)}",
                    endpoint,
                    exc.code,
                ) from exc
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                failures.append(f"{endpoint}: {reason}")
        raise EtcdConnectionError(
            "cannot reach etcd (" + "; ".join(failures) + "); check etcd_endpoints, firewall and TLS files",
            ",".join(self.endpoints),
        )

    def revision(self) -> int:
        """The store's current revision (moves on every write)."""
        reply, _unused = self._call("/v3/kv/range", {"key": _b64("\0"), "keys_only": True, "limit": 1})
        return int(reply.get("header", {}).get("revision", 0))

    def get(self, key: str) -> KeyValue | None:
        reply, _unused = self._call("/v3/kv/range", {"key": _b64(key)})
        kvs = reply.get("kvs") or []
        return _kv(kvs[0]) if kvs else None

    def get_prefix(self, prefix: str) -> list[KeyValue]:
        body = {"key": _b64(prefix), "range_end": _b64(prefix_range_end(prefix)), "sort_target": "KEY"}
        reply, _unused = self._call("/v3/kv/range", body)
        return [_kv(item) for item in reply.get("kvs") or []]

    def put(self, key: str, value: str | bytes) -> int:
        reply, _unused = self._call("/v3/kv/put", {"key": _b64(key), "value": _b64(value)})
        return int(reply.get("header", {}).get("revision", 0))

    def delete(self, key: str) -> int:
        reply, _unused = self._call("/v3/kv/deleterange", {"key": _b64(key)})
        return int(reply.get("deleted", 0))

    def put_if(self, key: str, value: str | bytes, mod_revision: int) -> int:
        """Write only if the key's mod_revision is still ``mod_revision`` (0: only if absent)."""
        op = {"request_put": {"key": _b64(key), "value": _b64(value)}}
        return self._txn(key, mod_revision, op)

    def delete_if(self, key: str, mod_revision: int) -> int:
        """Delete only if the key's mod_revision is still ``mod_revision``."""
        return self._txn(key, mod_revision, {"request_delete_range": {"key": _b64(key)}})

    def _txn(self, key, mod_revision, op):
        compare = {"key": _b64(key), "result": "EQUAL", "target": "MOD",
                   "mod_revision": str(int(mod_revision))}
        reply, endpoint = self._call("/v3/kv/txn", {"compare": [compare], "success": [op], "failure": []})
        if not reply.get("succeeded"):
            raise EtcdConflictError(
                f"etcd key {key} changed since it was read (expected mod_revision {mod_revision}); run again",
                endpoint,
                key,
            )
        return int(reply.get("header", {}).get("revision", 0))


def _error_text(exc):
    try:
        body = json.loads(exc.read() or b"{}")
        return body.get("message") or body.get("error") or str(body)
    except (ValueError, OSError):
        return exc.reason
