# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""calico_fleet_datastore: the one datastore setting every role and module uses.

etcdv3 needs etcd_endpoints; kubernetes needs kubeconfig or host; a client certificate goes with its key
(etcd_cert/etcd_key, client_cert/client_key); files named must exist on the controller.
"""

from __future__ import annotations

import os
from typing import Any

DATASTORES = ("etcdv3", "kubernetes")
KEYS = ("datastore", "etcd_endpoints", "etcd_ca_cert", "etcd_cert", "etcd_key", "kubeconfig", "context", "host",
        "api_key", "ca_cert", "client_cert", "client_key", "validate_certs", "timeout")
# The old names of the Kubernetes options, still taken (kubernetes.core's names are the ones above).
ALIASES = {"kube_context": "context", "api_host": "host", "api_token": "api_key", "api_ca_cert": "ca_cert",
           "api_client_cert": "client_cert", "api_client_key": "client_key"}
FILES = ("etcd_ca_cert", "etcd_cert", "etcd_key", "kubeconfig", "ca_cert", "client_cert", "client_key")
PAIRS = (("etcd_cert", "etcd_key"), ("client_cert", "client_key"))

# (key, problem, fix); key "" is the setting as a whole.
Problem = tuple[str, str, str]


def datastore_problems(setting: Any) -> list[Problem]:
    """Every problem of a calico_fleet_datastore value; [] when it is usable."""
    if setting in (None, ""):
        setting = {}
    if not isinstance(setting, dict):
        return [("", "is not a mapping",
                 "write it as {datastore: etcdv3, etcd_endpoints: [...], etcd_ca_cert: ..., ...}")]
    value = {ALIASES.get(k, k): v for k, v in setting.items()}
    problems: list[Problem] = []
    unknown = sorted(str(k) for k in set(value) - set(KEYS))
    if unknown:
        problems.append(("", f"has unknown key(s) {', '.join(map(str, unknown))}", f"use only {', '.join(KEYS)}"))
    kind = value.get("datastore") or "etcdv3"
    if kind not in DATASTORES:
        return problems + [("datastore", f"is {kind!r}", "use etcdv3 or kubernetes")]
    endpoints = value.get("etcd_endpoints")
    if kind == "etcdv3" and not endpoints:
        problems.append(("etcd_endpoints", "is not set although the datastore is etcdv3",
                         "set calico_fleet_datastore.etcd_endpoints to the etcd client URLs, "
                         "e.g. [\"https://10.0.1.1:2379\"]"))
    elif endpoints and (not isinstance(endpoints, list) or not all(isinstance(e, str) and e for e in endpoints)):
        problems.append(("etcd_endpoints", f"is {endpoints!r}", "write it as a list of URLs"))
    if kind == "kubernetes" and not (value.get("kubeconfig") or value.get("host")):
        problems.append(("kubeconfig", "is not set although the datastore is kubernetes",
                         "set calico_fleet_datastore.kubeconfig to a kubeconfig that may read and write "
                         "projectcalico.org resources (or host with api_key)"))
    for cert, key in PAIRS:
        if bool(value.get(cert)) != bool(value.get(key)):
            problems.append((key if value.get(cert) else cert, f"{cert} and {key} go together",
                             f"set both calico_fleet_datastore.{cert} and .{key}, or neither"))
    missing: dict[str, list[str]] = {}
    for key in FILES:
        path = value.get(key)
        if path and isinstance(path, str) and not os.path.isfile(os.path.expanduser(path)):
            missing.setdefault(path, []).append(key)
    for path, keys in missing.items():
        problems.append((", ".join(keys), f"{path} is not a file on the controller",
                         "copy the file to the controller (for etcd: the CA, client certificate and key "
                         "calicoctl uses) and give its path"))
    return problems
