"""Just enough etcd v3 (JSON gateway) for the lab's calico-node stand-in.

Deliberately separate from plugins/module_utils/datastore/etcd_v3.py: this is test
equipment that plays calico-node, and must not share bugs with the code
under test.
"""

import base64
import json
import urllib.request

CALICO_PREFIX = "/calico/resources/v3/projectcalico.org/"


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _post(endpoint, path, body, timeout=5):
    req = urllib.request.Request(
        f"{endpoint}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.load(resp)


def _range_end(prefix):
    raw = prefix.encode()
    return base64.b64encode(raw[:-1] + bytes([raw[-1] + 1])).decode()


def get_prefix(endpoint, prefix):
    """{key: decoded JSON value} for every key under `prefix`."""
    reply = _post(endpoint, "/v3/kv/range", {"key": _b64(prefix), "range_end": _range_end(prefix)})
    out = {}
    for kv in reply.get("kvs", []):
        key = base64.b64decode(kv["key"]).decode()
        try:
            out[key] = json.loads(base64.b64decode(kv.get("value", "")).decode())
        except ValueError:
            continue
    return out


def put(endpoint, key, value):
    _post(endpoint, "/v3/kv/put", {"key": _b64(key), "value": _b64(json.dumps(value, separators=(",", ":")))})


def delete(endpoint, key):
    _post(endpoint, "/v3/kv/deleterange", {"key": _b64(key)})


def resources(endpoint, plural):
    prefix = f"{CALICO_PREFIX}{plural}/"
    return {key[len(prefix):]: value for key, value in get_prefix(endpoint, prefix).items()}
