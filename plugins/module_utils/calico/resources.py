# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Calico v3 resource models: IPPool, BGPConfiguration, FelixConfiguration, BGPPeer, Node BGP.

Plain functions over dicts shaped exactly like Calico's JSON (projectcalico.org/v3).
Calico's own defaulting is applied before comparing, so a pool written by
calicoctl (with every default spelled out) and our request (with defaults left
out) compare equal, and server-managed metadata never causes a change.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import Any

API_VERSION = "projectcalico.org/v3"
MODES = ("Always", "CrossSubnet", "Never")
ALLOWED_USES = ("Workload", "Tunnel", "LoadBalancer")
DEFAULT_AS_NUMBER = 64512
IPIP_OVERHEAD = 20
BLOCK_SIZE_RANGE = {4: (20, 32), 6: (116, 128)}
DEFAULT_BLOCK_SIZE = {4: 26, 6: 122}
LINK_LOCAL = {4: ipaddress.ip_network("169.254.0.0/16"), 6: ipaddress.ip_network("fe80::/10")}
# Field order of Calico's Go structs: json.Marshal writes fields in this order.
IPPOOL_SPEC_ORDER = (
    "cidr", "vxlanMode", "ipipMode", "natOutgoing", "disabled", "disableBGPExport",
    "blockSize", "nodeSelector", "allowedUses",
)
METADATA_ORDER = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels", "annotations")
# Fields the server (or Calico's client) owns; never a reason to change anything.
SERVER_METADATA = (
    "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
)
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class ResourceValidationError(ValueError):
    """Input Calico would refuse (or that would break the cluster); the message says what to change."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ImmutableFieldError(ResourceValidationError):
    """An immutable field (IPPool cidr/blockSize) was asked to change."""


def validate_name(name: str, kind: str = "IPPool") -> None:
    if not name or len(name) > 253 or not _NAME_RE.match(name):
        raise ResourceValidationError(
            f"{kind} name {name!r} is not a valid resource name: use lower-case letters, digits, '-' and '.'",
            "name",
        )


def parse_network(text: Any, field: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(text).strip(), strict=True)
    except ValueError as exc:
        try:
            masked = ipaddress.ip_network(str(text).strip(), strict=False)
        except ValueError:
            raise ResourceValidationError(
                f"{field} {text!r} is not a valid network; write it as address/prefix, e.g. 172.20.0.0/16",
                field,
            ) from exc
        raise ResourceValidationError(
            f"{field} {text} has host bits set; use the masked network {masked}", field
        ) from exc


# ---------------------------------------------------------------- IPPool


def ippool_request(cidr: str | None, block_size: int | None = None, ipip_mode: str | None = None,
                   vxlan_mode: str | None = None, nat_outgoing: bool | None = None, disabled: bool | None = None,
                   disable_bgp_export: bool | None = None, node_selector: str | None = None,
                   allowed_uses: list[str] | None = None) -> dict[str, Any]:
    """The spec fields the user asked for (None = not managed), in Calico's JSON names."""
    wanted = {
        "cidr": cidr, "blockSize": block_size, "ipipMode": ipip_mode, "vxlanMode": vxlan_mode,
        "natOutgoing": nat_outgoing, "disabled": disabled, "disableBGPExport": disable_bgp_export,
        "nodeSelector": node_selector,
        "allowedUses": list(allowed_uses) if allowed_uses is not None else None,
    }
    return {k: v for k, v in wanted.items() if v is not None}


def implied_encapsulation(wanted: dict[str, Any]) -> dict[str, str]:
    """The other encapsulation mode a declared one implies: {field: "Never"}, or {}.

    ipipMode and vxlanMode cannot both be on for one pool, so a pool declared with IPIP on has VXLAN off
    (and the other way round) even when the user did not write it: a live pool switched to the other
    encapsulation by hand is drift on that field, set back like any declared one.
    """
    out = {}
    for field, other in (("ipipMode", "vxlanMode"), ("vxlanMode", "ipipMode")):
        if wanted.get(field) not in (None, "Never") and other not in wanted:
            out[other] = "Never"
    return out


def ippool_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """Calico's defaulting (what calicoctl / the API server fill in on create)."""
    out = dict(spec)
    version = _version_of(out.get("cidr"))
    out.setdefault("blockSize", DEFAULT_BLOCK_SIZE.get(version, 26))
    out["nodeSelector"] = out.get("nodeSelector") or "all()"
    out["ipipMode"] = out.get("ipipMode") or "Never"
    out["vxlanMode"] = out.get("vxlanMode") or "Never"
    out["allowedUses"] = list(out.get("allowedUses") or ["Workload", "Tunnel"])
    for flag in ("natOutgoing", "disabled", "disableBGPExport"):
        out[flag] = bool(out.get(flag, False))
    return out


def _version_of(cidr):
    try:
        return ipaddress.ip_network(str(cidr), strict=False).version
    except ValueError:
        return 4


def validate_ippool(name: str, spec: dict[str, Any], other_pools: Iterable[dict] = (), service_cidr: str | None = None,
                    node_cidr: str | None = None) -> None:
    """Raise ResourceValidationError for anything Calico would refuse or that would break routing.

    ``spec`` is a defaulted spec; ``other_pools`` are existing IPPool objects (the pool itself,
    by name, is skipped).
    """
    validate_name(name)
    net = parse_network(spec.get("cidr"), "cidr")
    low, high = BLOCK_SIZE_RANGE[net.version]
    block = spec["blockSize"]
    if not isinstance(block, int) or isinstance(block, bool) or not low <= block <= high:
        raise ResourceValidationError(
            f"block_size {block} is out of range for an IPv{net.version} pool: use {low}..{high} "
            f"(default {DEFAULT_BLOCK_SIZE[net.version]})",
            "block_size",
        )
    if net.prefixlen > block:
        raise ResourceValidationError(
            f"block_size /{block} is larger than the pool {net}: a block must fit inside the pool; "
            f"use block_size >= {net.prefixlen} or a larger cidr",
            "block_size",
        )
    if net.overlaps(LINK_LOCAL[net.version]):
        raise ResourceValidationError(
            f"cidr {net} overlaps the link-local range {LINK_LOCAL[net.version]}, which Calico refuses; "
            "choose another range", "cidr",
        )
    for field in ("ipipMode", "vxlanMode"):
        if spec[field] not in MODES:
            raise ResourceValidationError(
                f"{_snake(field)} {spec[field]!r} is not one of {', '.join(MODES)}", _snake(field)
            )
    if net.version == 6 and spec["ipipMode"] != "Never":
        raise ResourceValidationError(
            f"ipip_mode {spec['ipipMode']} is not possible on the IPv6 pool {net}: IPIP carries IPv4 only; "
            "set ipip_mode: Never (use vxlan_mode for an IPv6 overlay)", "ipip_mode",
        )
    if spec["ipipMode"] != "Never" and spec["vxlanMode"] != "Never":
        raise ResourceValidationError(
            f"ipip_mode {spec['ipipMode']} and vxlan_mode {spec['vxlanMode']} cannot both be on for one "
            "pool: set one of them to Never", "vxlan_mode",
        )
    uses = spec["allowedUses"]
    if not uses or any(u not in ALLOWED_USES for u in uses) or len(set(uses)) != len(uses):
        raise ResourceValidationError(
            f"allowed_uses {uses} must be distinct values from {', '.join(ALLOWED_USES)}", "allowed_uses"
        )
    if "LoadBalancer" in uses and len(uses) > 1:
        raise ResourceValidationError(
            "allowed_uses LoadBalancer cannot be combined with other uses", "allowed_uses"
        )
    if not str(spec["nodeSelector"]).strip():
        raise ResourceValidationError(
            "node_selector must not be empty; use all() for every node", "node_selector"
        )
    for other in other_pools:
        other_name = other.get("metadata", {}).get("name")
        other_cidr = other.get("spec", {}).get("cidr")
        if other_name == name or not other_cidr:
            continue
        other_net = ipaddress.ip_network(other_cidr, strict=False)
        if other_net.version == net.version and net.overlaps(other_net):
            raise ResourceValidationError(
                f"cidr {net} overlaps IPPool {other_name!r} ({other_net}); choose a range that overlaps no "
                "other pool", "cidr",
            )
    for field, text in (("service_cidr", service_cidr), ("node_cidr", node_cidr)):
        if not text:
            continue
        other_net = parse_network(text, field)
        if other_net.version == net.version and net.overlaps(other_net):
            what = "the Service CIDR" if field == "service_cidr" else "the node (VPC) range"
            raise ResourceValidationError(
                f"cidr {net} overlaps {what} {other_net}; pod addresses must not collide with it, "
                "choose another cidr", "cidr",
            )


def _net(text):
    return ipaddress.ip_network(str(text), strict=False)


def _snake(field):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), field).replace("_b_g_p", "_bgp")


def check_immutable(name: str, stored_spec: dict[str, Any], wanted: dict[str, Any]) -> None:
    """cidr and blockSize never change in place; explain the migration instead."""
    stored = ippool_defaults(stored_spec)
    problems = []
    if "cidr" in wanted:
        if _net(wanted["cidr"]) != _net(stored["cidr"]):
            problems.append(f"cidr (stored {stored['cidr']}, asked {wanted['cidr']})")
    if "blockSize" in wanted and wanted["blockSize"] != stored["blockSize"]:
        problems.append(f"block_size (stored {stored['blockSize']}, asked {wanted['blockSize']})")
    if problems:
        raise ImmutableFieldError(
            f"IPPool {name!r}: {' and '.join(problems)} cannot change: Calico treats cidr and blockSize as "
            "immutable, and editing them in place would strand the addresses already handed out. "
            "Migrate instead: 1) create a new pool under a new name with the new cidr/block_size, "
            f"2) set disabled: true on {name!r} so no new addresses come from it, "
            "3) move the workloads (recreate the pods) so they get addresses from the new pool, "
            f"4) delete {name!r} once no addresses are left in it.",
            "cidr" if "cidr" in problems[0] else "block_size",
        )


def ippool_object(name: str, wanted: dict[str, Any], stored: dict | None = None) -> dict:
    """The full IPPool object to write: stored object (if any) with the wanted fields applied.

    Fields we do not manage (and stored metadata) are kept; Calico's defaults are spelled
    out the way calicoctl stores them; false booleans are left out (Go's omitempty).
    """
    spec = ippool_defaults(dict((stored or {}).get("spec") or {}, **wanted))
    for flag in ("natOutgoing", "disabled", "disableBGPExport"):
        if not spec[flag]:
            spec.pop(flag)
    return v3_object("IPPool", name, ordered(spec, IPPOOL_SPEC_ORDER), stored)


def v3_object(kind: str, name: str, spec: dict, stored: dict | None = None) -> dict:
    """A v3 resource to write: ``stored`` (metadata kept) or a new one, with ``spec``, in Calico's key order."""
    obj = copy.deepcopy(stored) if stored else {"metadata": {}}
    obj["kind"] = kind
    obj["apiVersion"] = API_VERSION
    obj["metadata"] = dict(obj.get("metadata") or {}, name=name)
    obj["spec"] = spec
    return ordered(obj, ("kind", "apiVersion", "metadata", "spec"))


def ippool_comparable(obj: dict | None) -> dict | None:
    """What decides "changed": the defaulted spec, nothing server-managed."""
    if not obj:
        return None
    spec = ippool_defaults(obj.get("spec") or {})
    spec["cidr"] = str(ipaddress.ip_network(spec["cidr"], strict=False))
    return spec


# ------------------------------------------------- cluster network settings


def bgp_configuration_state(obj: dict | None) -> dict[str, Any]:
    """Effective mesh/AS values, with Calico's defaults when unset or absent."""
    spec = (obj or {}).get("spec") or {}
    mesh = spec.get("nodeToNodeMeshEnabled")
    asn = spec.get("asNumber")
    return {
        "exists": obj is not None,
        "mesh_enabled": True if mesh is None else bool(mesh),
        "as_number": DEFAULT_AS_NUMBER if asn is None else int(asn),
    }


def validate_as_number(asn: int | None) -> None:
    if asn is None:
        return
    if isinstance(asn, bool) or not isinstance(asn, int) or not 1 <= asn <= 4294967295:
        raise ResourceValidationError(
            f"as_number {asn!r} is not a valid AS number: use 1..4294967295 (Calico's default is 64512)",
            "as_number",
        )


def tunnel_mtu(underlay_mtu: int) -> int:
    """IPIP adds a 20-byte outer IPv4 header: GCP's 1460 gives 1440, 1500 gives 1480."""
    if isinstance(underlay_mtu, bool) or not isinstance(underlay_mtu, int) or not 576 <= underlay_mtu <= 9216:
        raise ResourceValidationError(
            f"underlay_mtu {underlay_mtu!r} is not a link MTU: use 576..9216 "
            "(GCP VPC default 1460, AWS 9001)",
            "underlay_mtu",
        )
    return underlay_mtu - IPIP_OVERHEAD


def validate_ipip_mtu(mtu: int) -> None:
    if isinstance(mtu, bool) or not isinstance(mtu, int) or not 556 <= mtu <= 9196:
        raise ResourceValidationError(
            f"ipip_mtu {mtu!r} is out of range: use 556..9196 (underlay MTU - 20)", "ipip_mtu"
        )


def settings_object(kind: str, name: str, wanted: dict[str, Any], stored: dict | None = None) -> dict:
    """A BGPConfiguration/FelixConfiguration with the ``wanted`` spec fields applied."""
    return v3_object(kind, name, dict((stored or {}).get("spec") or {}, **wanted), stored)


# ---------------------------------------------------------------- BGPPeer

# Field order of Calico's BGPPeerSpec (the fields calico-fleet manages come first).
BGP_PEER_SPEC_ORDER = ("node", "peerIP", "asNumber", "nodeSelector", "peerSelector")
_CLUSTER_ID_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")


def bgp_peer_request(node: str | None = None, peer_ip: str | None = None, as_number: int | None = None,
                     node_selector: str | None = None, peer_selector: str | None = None) -> dict[str, Any]:
    """The managed spec fields of a BGPPeer in Calico's JSON names; unset ones are absent."""
    wanted = {"node": node, "peerIP": peer_ip, "asNumber": as_number, "nodeSelector": node_selector,
              "peerSelector": peer_selector}
    return {k: v for k, v in wanted.items() if v not in (None, "")}


def validate_bgp_peer(name: str, spec: dict[str, Any]) -> None:
    """What Calico's validation refuses for a BGPPeer, with the option to change."""
    validate_name(name, "BGPPeer")
    if spec.get("node") and spec.get("nodeSelector"):
        raise ResourceValidationError(
            "node and node_selector cannot both be set: give one node by name, or a selector", "node_selector")
    if bool(spec.get("peerIP")) == bool(spec.get("peerSelector")):
        raise ResourceValidationError(
            "give exactly one of peer_ip (a router or one address) and peer_selector (Calico nodes by label)",
            "peer_ip")
    if spec.get("peerSelector") and spec.get("asNumber") is not None:
        raise ResourceValidationError(
            "as_number must be empty with peer_selector: the selected nodes' own AS numbers are used",
            "as_number")
    if spec.get("peerIP"):
        _validate_peer_ip(spec["peerIP"])
    validate_as_number(spec.get("asNumber"))
    for field in ("nodeSelector", "peerSelector"):
        if field in spec and not str(spec[field]).strip():
            raise ResourceValidationError(f"{_snake(field)} must not be empty; use all() for every node",
                                          _snake(field))


def _validate_peer_ip(text):
    host = str(text)
    if host.startswith("["):  # [v6]:port
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:  # v4:port
        host, port = host.split(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ResourceValidationError(f"peer_ip {text!r} has an invalid port", "peer_ip")
    try:
        ipaddress.ip_address(host)
    except ValueError as exc:
        raise ResourceValidationError(
            f"peer_ip {text!r} is not an IP address (optionally with :port, e.g. 10.0.1.5 or 10.0.1.5:179)",
            "peer_ip") from exc


def bgp_peer_object(name: str, wanted: dict[str, Any], stored: dict | None = None) -> dict:
    """The BGPPeer to write: the managed fields exactly as wanted, other stored fields kept."""
    spec = {k: v for k, v in ((stored or {}).get("spec") or {}).items() if k not in BGP_PEER_SPEC_ORDER}
    spec.update(wanted)
    return v3_object("BGPPeer", name, ordered(spec, BGP_PEER_SPEC_ORDER), stored)


def bgp_peer_comparable(obj: dict | None) -> dict | None:
    """The managed fields of a stored BGPPeer (None when it does not exist)."""
    if not obj:
        return None
    spec = obj.get("spec") or {}
    out = {k: spec[k] for k in BGP_PEER_SPEC_ORDER if spec.get(k) not in (None, "")}
    if "asNumber" in out:
        out["asNumber"] = int(out["asNumber"])
    return out


# ---------------------------------------------------------------- Node BGP


def validate_cluster_id(cluster_id: str | None) -> None:
    """A route-reflector cluster ID is written like an IPv4 address (e.g. 244.0.0.1); "" removes it."""
    if cluster_id in (None, ""):
        return
    m = _CLUSTER_ID_RE.match(str(cluster_id))
    if not m or any(int(part) > 255 for part in m.groups()):
        raise ResourceValidationError(
            f"route_reflector_cluster_id {cluster_id!r} is not valid: write it like an IPv4 address, "
            "e.g. 244.0.0.1 (the same ID on every reflector of one cluster)", "route_reflector_cluster_id")


_LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def validate_labels(labels: dict | None) -> None:
    for key, value in (labels or {}).items():
        if not _LABEL_KEY_RE.match(str(key)) or len(str(key).rsplit("/", 1)[-1]) > 63:
            raise ResourceValidationError(f"label key {key!r} is not a valid Kubernetes label key", "labels")
        if value is not None and (len(str(value)) > 63 or not _LABEL_VALUE_RE.match(str(value))):
            raise ResourceValidationError(f"label {key}={value!r}: the value is not a valid label value",
                                          "labels")


def node_bgp_state(obj: dict) -> dict[str, Any]:
    """{route_reflector_cluster_id, labels} of a Calico Node ("" when no cluster ID)."""
    bgp = ((obj or {}).get("spec") or {}).get("bgp") or {}
    return {"route_reflector_cluster_id": bgp.get("routeReflectorClusterID") or "",
            "labels": dict(((obj or {}).get("metadata") or {}).get("labels") or {})}


def node_bgp_object(stored: dict, cluster_id: str | None = None, labels: dict | None = None) -> dict:
    """The Node with the cluster ID (None = keep, "" = remove) and labels (a None value removes) applied."""
    obj = copy.deepcopy(stored)
    if cluster_id is not None:
        bgp = obj.setdefault("spec", {}).setdefault("bgp", {})
        if cluster_id:
            bgp["routeReflectorClusterID"] = str(cluster_id)
        else:
            bgp.pop("routeReflectorClusterID", None)
    if labels:
        meta = obj.setdefault("metadata", {})
        merged = dict(meta.get("labels") or {})
        for key, value in labels.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = str(value)
        if merged:
            meta["labels"] = merged
        else:
            meta.pop("labels", None)
        obj["metadata"] = ordered(meta, METADATA_ORDER)
    return obj


# ---------------------------------------------------------------- helpers


def ordered(mapping: dict, order: Sequence[str]) -> dict:
    """A copy with ``order`` keys first (Go struct order), then the rest as found."""
    out = {k: mapping[k] for k in order if k in mapping}
    out.update((k, v) for k, v in mapping.items() if k not in out)
    return out


def strip_server_metadata(obj: dict) -> dict:
    """The object as a user would write it: no uid, resourceVersion, timestamps."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    meta = out.get("metadata") or {}
    for field in SERVER_METADATA:
        meta.pop(field, None)
    out.pop("status", None)
    return out


def sorted_dict(value: Any) -> Any:
    """Recursively key-sorted copy (stable diffs)."""
    if isinstance(value, dict):
        return {k: sorted_dict(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_dict(v) for v in value]
    return value
