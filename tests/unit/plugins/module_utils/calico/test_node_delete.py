"""calico.node_delete: IPAM release semantics (Calico v3.30's allocationBlock.release), pure Python, and the
Kubernetes datastore path through the Datastore interface against a FAKE API server (tests/integration/datastore
runs the etcd path against a real etcd)."""

import copy
import ipaddress
import urllib.parse

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.node_delete import (
    block_empty,
    decommission_node,
    release_in_block,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.node_registration import (
    RegistrationOwnedElsewhereError,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.kubernetes import KubernetesDatastore
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Finding


def ips(*addresses):
    return [ipaddress.ip_address(a) for a in addresses]


def test_release_renumbers_the_attributes_left():
    block = {"cidr": "10.0.0.0/30", "affinity": "host:a", "allocations": [0, 1, 2, 1], "unallocated": [],
             "attributes": [{"handle_id": "h0"}, {"handle_id": "h1"}, {"handle_id": "h2"}],
             "sequenceNumberForAllocation": {"0": 1, "1": 1, "2": 1, "3": 1}}
    released, handles = release_in_block(block, ips("10.0.0.0", "10.0.0.1"))
    assert released == ["10.0.0.0", "10.0.0.1"] and handles == {"h0": 1, "h1": 1}
    # h0 has no allocation left and goes; h1 is still referenced by ordinal 3; indexes shift down.
    assert block["attributes"] == [{"handle_id": "h1"}, {"handle_id": "h2"}]
    assert block["allocations"] == [None, None, 1, 0]
    assert block["unallocated"] == [0, 1]
    assert block["sequenceNumberForAllocation"] == {"2": 1, "3": 1}


def test_release_of_free_or_foreign_addresses_changes_nothing():
    block = {"cidr": "10.0.0.0/30", "allocations": [None, 0, None, None], "unallocated": [0, 2, 3],
             "attributes": [{"handle_id": "h\r\neth0"}]}
    assert release_in_block(dict(block), ips("10.0.0.0", "10.0.0.9")) == ([], {})
    released, handles = release_in_block(block, ips("10.0.0.1", "10.0.0.1"))
    assert released == ["10.0.0.1"] and handles == {"h": 1}  # deduplicated, handle sanitised as Calico does
    assert block_empty(block) and block["attributes"] == []


def test_windows_reserved_allocations_leave_a_block_empty():
    block = {"allocations": [0, None], "attributes": [{"handle_id": "Windows-Reserved-IPAM-Handle"}]}
    assert block_empty(block)
    assert not block_empty({"allocations": [0], "attributes": [{"handle_id": None}]})


# -- the Kubernetes datastore, through the Datastore interface ---------------------------------------------

CRD = "/apis/crd.projectcalico.org/v1"
V3 = "/apis/projectcalico.org/v3"


class FakeKubeApi:
    """A FAKE Kubernetes API server (in memory): collections of objects by path, every request recorded."""

    host = "https://fake-api:6443"

    def __init__(self, objects):
        self.objects = {path: {o["metadata"]["name"]: o for o in items} for path, items in objects.items()}
        self.requests, self.version = [], 100

    def request(self, method, path, body=None):
        self.requests.append((method, path))
        path, _unused, query = path.partition("?")
        if path == V3:
            return 200, {}
        if path in self.objects:
            items = list(self.objects[path].values())
            if query.startswith("fieldSelector="):
                node = urllib.parse.unquote(query.split("=", 1)[1]).split("=", 1)[1]
                items = [i for i in items if i["spec"].get("nodeName") == node]
            return 200, {"items": copy.deepcopy(items)}
        collection, _unused, name = path.rpartition("/")
        stored = self.objects.get(collection, {})
        if method == "GET":
            return (200, copy.deepcopy(stored[name])) if name in stored else (404, {})
        if method == "DELETE":
            stored.pop(name)
            return 200, {}
        self.version += 1
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(self.version)
        stored[name] = body
        return 200, copy.deepcopy(body)


def crd(kind, name, spec, plural_path, **meta):
    return plural_path, {"kind": kind, "metadata": {"name": name, "resourceVersion": "1", **meta}, "spec": spec}


def kube_cluster():
    block = {"cidr": "172.20.139.64/26", "affinity": "host:node-1", "strictAffinity": False, "deleted": False,
             "allocations": [0, 1] + [None] * 62, "unallocated": list(range(2, 64)),
             "attributes": [{"handle_id": "ipip-tunnel-addr-node-1"}, {"handle_id": "k8s-pod-network.aaa"}]}
    rows = [
        crd("IPAMBlock", "172-20-139-64-26", block, f"{CRD}/ipamblocks"),
        crd("IPAMHandle", "ipip-tunnel-addr-node-1", {"handleID": "ipip-tunnel-addr-node-1",
                                                      "block": {"172.20.139.64/26": 1}}, f"{CRD}/ipamhandles"),
        crd("IPAMHandle", "k8s-pod-network.aaa", {"handleID": "k8s-pod-network.aaa",
                                                  "block": {"172.20.139.64/26": 1}}, f"{CRD}/ipamhandles"),
        crd("BlockAffinity", "node-1-172-20-139-64-26", {"node": "node-1", "cidr": "172.20.139.64/26",
                                                         "state": "confirmed"}, f"{CRD}/blockaffinities"),
        crd("BGPPeer", "node-1-tor", {"node": "node-1", "peerIP": "10.0.1.254", "asNumber": 65010}, f"{V3}/bgppeers"),
        crd("BGPPeer", "node-2-tor", {"node": "node-2", "peerIP": "10.0.1.254", "asNumber": 65010}, f"{V3}/bgppeers"),
        crd("Node", "node-1", {}, "/api/v1/nodes", annotations={
            "projectcalico.org/IPv4Address": "10.0.1.11/24",
            "projectcalico.org/IPv4IPIPTunnelAddr": "172.20.139.64"}),
        crd("Pod", "redis", {"nodeName": "node-1"}, "/api/v1/namespaces/default/pods", namespace="default",
            annotations={"cni.projectcalico.org/podIP": "172.20.139.65/32", "owner": "kept"}),
    ]
    objects = {f"{V3}/hostendpoints": [], f"{V3}/felixconfigurations": [], f"{V3}/bgpconfigurations": []}
    for path, obj in rows:
        objects.setdefault(path, []).append(obj)
    api = FakeKubeApi(objects)
    api.objects["/api/v1/pods"] = api.objects["/api/v1/namespaces/default/pods"]  # the cluster-wide list
    return api


def test_kubernetes_check_mode_writes_nothing_and_the_real_run_matches_it():
    api = kube_cluster()
    dry = decommission_node(KubernetesDatastore(api), "node-1", "10.0.1.11", check_mode=True, alive=lambda *a: False)
    assert dry["changed"] and {m for m, _unused in api.requests} == {"GET"}
    real = decommission_node(KubernetesDatastore(api), "node-1", "10.0.1.11", alive=lambda *a: False)
    assert (real["removed"], real["updated"]) == (dry["removed"], dry["updated"])
    assert real["released_addresses"] == ["172.20.139.64", "172.20.139.65"]
    for path in (f"{CRD}/ipamblocks", f"{CRD}/ipamhandles", f"{CRD}/blockaffinities"):
        assert api.objects[path] == {}, path
    assert list(api.objects[f"{V3}/bgppeers"]) == ["node-2-tor"]
    pod = api.objects["/api/v1/namespaces/default/pods"]["redis"]
    assert pod["metadata"]["annotations"] == {"owner": "kept"}
    # Calico's Kubernetes backend does not delete Nodes: left, and said as a finding with its fix.
    assert "node-1" in api.objects["/api/v1/nodes"]
    finding = Finding.from_dict(real["findings"][0])
    assert (finding.kind, finding.severity, finding.fix.commands) == \
        ("kubernetes_node_not_deleted", "warning", ["kubectl delete node node-1"])


def test_kubernetes_refuses_a_node_registered_with_another_address_before_any_write():
    api = kube_cluster()
    with pytest.raises(RegistrationOwnedElsewhereError):
        decommission_node(KubernetesDatastore(api), "node-1", "10.0.1.99", force=True)
    assert {m for m, _unused in api.requests} == {"GET"}
