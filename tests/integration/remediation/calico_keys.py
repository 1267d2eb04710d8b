"""Calico keys of one node in etcd (Calico's own layout, REFERENCE.md), seeded and read with etcdctl.

The lab's calico-node stand-in registers Nodes only; a node's address
allocations (an affine IPAM block, its handles, the block affinity and the
IPAM host key), its workload endpoints and its per-node FelixConfiguration
are seeded here as Calico would have written them for pods on that node.
"""

import base64
import json
import shutil
import subprocess

ETCDCTL = shutil.which("etcdctl")
CALICO = "/calico/resources/v3/projectcalico.org/"
IPAM = "/calico/ipam/v2/"


def etcdctl(lab, *args, stdin=None):
    return subprocess.run([ETCDCTL, f"--endpoints={lab.etcd_endpoint()}", *args], input=stdin,
                          capture_output=True, text=True, timeout=20, check=True, env={"ETCDCTL_API": "3"})


def etcd_snapshot(lab):
    """(revision, {key: (create_revision, mod_revision, value)}) of the whole datastore."""
    reply = json.loads(etcdctl(lab, "get", "/", "--prefix", "-w", "json").stdout)
    kvs = {base64.b64decode(kv["key"]).decode(): (kv["create_revision"], kv["mod_revision"],
                                                  base64.b64decode(kv["value"]).decode())
           for kv in reply.get("kvs", [])}
    return reply["header"]["revision"], kvs


def _meta(name, namespace=None):
    meta = {"name": name, "uid": f"uid-{name}", "creationTimestamp": "2024-05-01T10:00:00Z"}
    if namespace:
        meta["namespace"] = namespace
    return meta


def node_keys(name, third_octet, pods=("web", "api")):
    """{key: value} of node `name`'s pods: block 172.20.<third_octet>.0/26 affine to it, one address per pod."""
    cidr = f"172.20.{third_octet}.0/26"
    escaped = name.replace("-", "--")
    allocations = [None] * 64
    attributes, keys = [], {}
    for ordinal, pod in enumerate(pods, start=1):
        handle = f"k8s-pod-network.{name}-{pod}"
        allocations[ordinal] = len(attributes)
        attributes.append({"handle_id": handle, "secondary": {"namespace": "default", "node": name, "pod": pod,
                                                              "timestamp": "2024-05-01 10:00:00 +0000 UTC"}})
        keys[f"{IPAM}handle/{handle}"] = {"block": {cidr: 1}, "deleted": False}
        wep = f"{escaped}-k8s-{pod}-eth0"
        keys[f"{CALICO}workloadendpoints/default/{wep}"] = {
            "kind": "WorkloadEndpoint", "apiVersion": "projectcalico.org/v3", "metadata": _meta(wep, "default"),
            "spec": {"orchestrator": "k8s", "node": name, "endpoint": "eth0", "pod": pod,
                     "ipNetworks": [f"172.20.{third_octet}.{ordinal}/32"], "interfaceName": f"cali{ordinal:011d}"}}
    keys[f"{IPAM}assignment/ipv4/block/{cidr.replace('/', '-')}"] = {
        "cidr": cidr, "affinity": f"host:{name}", "allocations": allocations,
        "unallocated": [i for i in range(64) if allocations[i] is None], "attributes": attributes,
        "sequenceNumber": 3, "sequenceNumberForAllocation": {str(i): 1 for i in range(1, len(pods) + 1)},
        "deleted": False}
    keys[f"{IPAM}host/{name}/ipv4/block/{cidr.replace('/', '-')}"] = {"state": "confirmed", "deleted": False}
    keys[f"{IPAM}host/{name}"] = {}
    keys[f"{CALICO}felixconfigurations/node.{name}"] = {
        "kind": "FelixConfiguration", "apiVersion": "projectcalico.org/v3", "metadata": _meta(f"node.{name}"),
        "spec": {"logSeverityScreen": "Info"}}
    return keys


def operator_keys(name, ip):
    """What an operator makes for one node by hand: its BGPConfiguration node.<name> and a HostEndpoint."""
    return {
        f"{CALICO}bgpconfigurations/node.{name}": {
            "kind": "BGPConfiguration", "apiVersion": "projectcalico.org/v3", "metadata": _meta(f"node.{name}"),
            "spec": {"logSeverityScreen": "Info"}},
        f"{CALICO}hostendpoints/{name}-eth0": {
            "kind": "HostEndpoint", "apiVersion": "projectcalico.org/v3",
            "metadata": dict(_meta(f"{name}-eth0"), labels={"role": "k8s-worker"}),
            "spec": {"node": name, "interfaceName": "eth0", "expectedIPs": [ip]}},
    }


def seed(lab, keys):
    for key, value in keys.items():
        etcdctl(lab, "put", key, json.dumps(value, separators=(",", ":")))


def keys_of(kvs, name):
    """Keys of `kvs` that belong to Calico node `name`: its Node, IPAM host keys, affine blocks,
    workload endpoints and node-scoped resources."""
    mine = set()
    for key, (_c, _m, value) in kvs.items():
        try:
            doc = json.loads(value)
        except ValueError:
            doc = None
        spec = doc.get("spec") if isinstance(doc, dict) and isinstance(doc.get("spec"), dict) else {}
        if (key == f"{CALICO}nodes/{name}" or key == f"{IPAM}host/{name}" or key.startswith(f"{IPAM}host/{name}/")
                or key.endswith(f"/node.{name}") or spec.get("node") == name
                or (isinstance(doc, dict) and doc.get("affinity") == f"host:{name}")):
            mine.add(key)
    return mine
