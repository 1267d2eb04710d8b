# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``Datastore`` interface: Calico's datastore, etcdv3 (etcd.py) or kubernetes (kubernetes.py).

Every object in and out of ``list``/``get``/``put``/``delete`` is a Calico v3 resource dict
(kind, apiVersion, metadata, spec). ``metadata.resourceVersion`` carries the etcd mod_revision
or the Kubernetes resourceVersion: ``put`` with it is an update that fails on a concurrent
change, ``put`` without it is a create that fails if the resource exists.

Decommissioning a node also reads and writes what is not a v3 resource (IPAM blocks, block
affinities, handles, the IPAM host key, workload endpoints): those travel as ``Record``s,
each with the revision it was read at, through the ``*_record(s)`` methods below. Nothing
else in calico-fleet talks to the datastore directly.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import bgp_configuration_state
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import DatastoreError

PLURALS = {
    "IPPool": "ippools",
    "Node": "nodes",
    "BGPConfiguration": "bgpconfigurations",
    "FelixConfiguration": "felixconfigurations",
    "BGPPeer": "bgppeers",
}
ETCD_PREFIX = "/calico/resources/v3/projectcalico.org/"
V3_GROUP = "projectcalico.org/v3"
CRD_V1_GROUP = "crd.projectcalico.org/v1"
NODE_ANNOTATIONS = {
    "ipv4_network": "projectcalico.org/IPv4Address",
    "ipv6_network": "projectcalico.org/IPv6Address",
    "ipip_tunnel_addr": "projectcalico.org/IPv4IPIPTunnelAddr",
    "rr_cluster_id": "projectcalico.org/RouteReflectorClusterID",
    "asn": "projectcalico.org/ASNumber",
}


def plural(kind: str) -> str:
    """The plural of a Calico resource kind (its etcd key segment and API resource name)."""
    if kind not in PLURALS:
        raise DatastoreError(f"unsupported Calico resource kind {kind!r}; supported: {', '.join(PLURALS)}")
    return PLURALS[kind]


def _strip_prefix(address: str | None) -> str | None:
    return address.split("/", 1)[0] if address else None


class Record:
    """One stored object: ``key`` names it (etcd key or API path), ``value`` is its JSON as a dict."""

    def __init__(self, kind: str, name: str, key: str, value: dict, revision: Any, uid: str | None = None) -> None:
        self.kind, self.name, self.key, self.value, self.revision, self.uid = kind, name, key, value, revision, uid

    def copy(self) -> Record:
        return Record(self.kind, self.name, self.key, copy.deepcopy(self.value), self.revision, self.uid)


if TYPE_CHECKING:  # annotations only: a class with a ``list`` method cannot write ``list[...]`` in its body
    from typing import TypeAlias

    Resources: TypeAlias = "list[dict]"
    Rows: TypeAlias = "list[dict]"
    Records: TypeAlias = "list[Record]"
    NodeRecord: TypeAlias = "tuple[Record | None, str | None, list[str]]"
    EndpointRecords: TypeAlias = "list[tuple[Record, list[str]]]"
    BlockRecords: TypeAlias = "list[tuple[Record, dict]]"
    AffinityRecords: TypeAlias = "list[tuple[Record, str | None, dict]]"


class Datastore:
    """Calico's datastore. Subclasses implement the abstract methods; the reads below are shared."""

    #: ``etcdv3`` or ``kubernetes``, as the ``datastore`` option names it.
    datastore_type = ""

    # ---- Calico v3 resources

    def list(self, kind: str) -> Resources:
        raise NotImplementedError

    def get(self, kind: str, name: str) -> dict | None:
        raise NotImplementedError

    def put(self, obj: dict) -> dict:
        raise NotImplementedError

    def delete(self, kind: str, name: str, resource_version: str | None = None) -> None:
        raise NotImplementedError

    def read_nodes(self) -> Rows:
        """Every Calico Node as a row (``_node_row``), sorted by name."""
        nodes = []
        for obj in self.list("Node"):
            bgp = (obj.get("spec") or {}).get("bgp") or {}
            nodes.append(_node_row(
                obj["metadata"]["name"], bgp.get("ipv4Address"), bgp.get("ipv6Address"),
                bgp.get("routeReflectorClusterID"), bgp.get("ipv4IPIPTunnelAddr"), bgp.get("asNumber"),
                obj["metadata"].get("labels"), _k8s_node_ref(obj.get("spec") or {}),
            ))
        return sorted(nodes, key=lambda n: n["name"])

    def read_bgp_configuration(self) -> dict:
        return bgp_configuration_state(self.get("BGPConfiguration", "default"))

    def read_bgp_peers(self) -> Rows:
        """Every BGPPeer as a row (the fields that decide who peers with whom), sorted by name."""
        return sorted((bgp_peer_row(obj) for obj in self.list("BGPPeer")), key=lambda p: p["name"])

    # ---- records: what a node delete reads and writes besides v3 resources

    def node_record(self, name: str) -> NodeRecord:
        """(the Node's record, its BGP IPv4 address as stored, its tunnel addresses); (None, None, [])."""
        raise NotImplementedError

    def workload_endpoint_records(self, node: str) -> EndpointRecords:
        """The node's workload endpoints, each with its addresses."""
        raise NotImplementedError

    def remove_workload_endpoint(self, rec: Record, dry: bool) -> None:
        raise NotImplementedError

    def ipam_block_records(self) -> BlockRecords:
        """Every IPAM block, with its IPAM model (the etcd value, or the CRD's spec)."""
        raise NotImplementedError

    def ipam_handle_record(self, handle_id: str) -> tuple[Record | None, dict | None]:
        raise NotImplementedError

    def block_affinity_records(self, node: str) -> AffinityRecords:
        """The node's block affinities, each with the block's CIDR and its model."""
        raise NotImplementedError

    def ipam_host_record(self, node: str) -> Record | None:
        raise NotImplementedError

    def node_scoped_records(self, kind: str, node: str) -> Records:
        """The resources of ``kind`` (BGPPeer, HostEndpoint) whose ``spec.node`` is ``node``."""
        raise NotImplementedError

    def resource_record(self, kind: str, name: str) -> Record | None:
        raise NotImplementedError

    def write_record(self, rec: Record, value: dict, dry: bool, spec_only: bool = True) -> Record:
        """Write ``value`` (the IPAM model, or the whole object unless ``spec_only``) at the revision read."""
        raise NotImplementedError

    def remove_record(self, rec: Record, dry: bool) -> None:
        """Delete ``rec`` at the revision read."""
        raise NotImplementedError

    def delete_node_record(self, rec: Record, dry: bool) -> bool:
        """Delete the Node; False where Calico's backend does not delete Nodes."""
        raise NotImplementedError


# Every kind a record may be read as, with its plural (etcd key segment, API resource).
RECORD_PLURALS = dict(PLURALS, HostEndpoint="hostendpoints", WorkloadEndpoint="workloadendpoints")


def _k8s_node_ref(spec: dict) -> str | None:
    """The Kubernetes node a Calico Node belongs to: its ``orchRefs`` entry with orchestrator k8s
    (calico-node writes it from CALICO_K8S_NODE_REF, the pod's spec.nodeName); None without one."""
    for ref in spec.get("orchRefs") or []:
        if isinstance(ref, dict) and ref.get("orchestrator") == "k8s" and ref.get("nodeName"):
            return ref["nodeName"]
    return None


def _node_row(name: str, ipv4: str | None, ipv6: str | None, rr_cluster_id: str | None,
              tunnel: str | None, asn: Any, labels: dict | None = None,
              k8s_node_name: str | None = None) -> dict:
    return {
        "name": name,
        "ipv4_address": _strip_prefix(ipv4),
        "ipv4_network": ipv4 or None,
        "ipv6_address": _strip_prefix(ipv6),
        "rr_cluster_id": rr_cluster_id or None,
        "ipip_tunnel_addr": tunnel or None,
        "asn": int(asn) if asn not in (None, "") else None,
        "labels": dict(labels or {}),
        "k8s_node_name": k8s_node_name or None,
    }


def bgp_peer_row(obj: dict) -> dict:
    """{name, node, node_selector, peer_ip, peer_selector, as_number} of a BGPPeer (None when unset)."""
    spec = obj.get("spec") or {}
    asn = spec.get("asNumber")
    return {
        "name": (obj.get("metadata") or {}).get("name"),
        "node": spec.get("node") or None,
        "node_selector": spec.get("nodeSelector") or None,
        "peer_ip": spec.get("peerIP") or None,
        "peer_selector": spec.get("peerSelector") or None,
        "as_number": int(asn) if asn not in (None, "") else None,
    }
