# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read, compare, write: the idempotent flow behind calico_ippool and the settings modules.

Each ``apply_*`` validates everything first, compares the effective (defaulted)
values, and writes only when they differ and ``check_mode`` is off, so check
mode runs the very same comparison and produces the very same diff. Each
difference is a ``Finding`` (kind ``<resource kind>_missing``, ``_changed`` or
``_unexpected``, section ``calico_settings``) whose fix is the playbook run that
applies the inventory's settings.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import (
    ResourceValidationError,
    bgp_configuration_state,
    bgp_peer_comparable,
    bgp_peer_object,
    check_immutable,
    implied_encapsulation,
    ippool_comparable,
    ippool_defaults,
    ippool_object,
    node_bgp_object,
    node_bgp_state,
    ordered,
    parse_network,
    settings_object,
    sorted_dict,
    tunnel_mtu,
    validate_as_number,
    validate_bgp_peer,
    validate_cluster_id,
    validate_ipip_mtu,
    validate_ippool,
    validate_labels,
    validate_name,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.base import Datastore
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Finding, Fix

BGP_SPEC_ORDER = ("logSeverityScreen", "nodeToNodeMeshEnabled", "asNumber")
SECTION = "calico_settings"
CALICO_NETWORK_FIX = Fix(text="Apply the inventory's Calico settings.", playbook="scale_out", tags=["calico_network"])
ROUTE_REFLECTORS_FIX = Fix(text="Apply the inventory's route-reflector layout.", playbook="route_reflectors",
                           tags=["route_reflectors"])


def _view(name: str, spec: dict | None) -> dict:
    # {} rather than None for "does not exist": Ansible renders it as an empty document.
    return {} if spec is None else sorted_dict({"metadata": {"name": name}, "spec": spec})


def apply_ippool(ds: Datastore, name: str, state: str = "present", wanted: dict | None = None,
                 service_cidr: str | None = None, node_cidr: str | None = None,
                 check_mode: bool = False) -> dict[str, Any]:
    """Make IPPool ``name`` match ``wanted`` (Calico JSON field names; absent keys are left alone)."""
    validate_name(name)
    wanted = dict(wanted or {})
    if "cidr" in wanted:
        parse_network(wanted["cidr"], "cidr")  # before comparing it with the stored cidr
    stored = ds.get("IPPool", name)
    before = ippool_comparable(stored)
    result_obj = stored
    implied = {}
    if state == "absent":
        after = None
        if stored and not check_mode:
            ds.delete("IPPool", name, stored["metadata"].get("resourceVersion"))
    else:
        if stored:
            check_immutable(name, stored.get("spec") or {}, wanted)
        elif "cidr" not in wanted:
            raise ResourceValidationError(f"IPPool {name!r} does not exist yet: give its cidr", "cidr")
        implied = implied_encapsulation(wanted)
        wanted.update(implied)
        target = ippool_object(name, wanted, stored)
        validate_ippool(name, ippool_defaults(target["spec"]), ds.list("IPPool"), service_cidr, node_cidr)
        after = ippool_comparable(target)
        result_obj = target
        if before != after and not check_mode:
            result_obj = ds.put(target)
    findings = _resource_findings("IPPool", name, before, after)
    for finding in findings:
        if finding["field"] in implied:
            other = "ipipMode" if finding["field"] == "vxlanMode" else "vxlanMode"
            finding["cause"] += (f": the pool is declared with {other} {wanted[other]} and Calico allows only one "
                                 "encapsulation per pool (changed outside calico-fleet?)")
    return {
        "changed": before != after,
        "findings": findings,
        "ippool": result_obj,
        "diff": {"before": _view(name, before), "after": _view(name, after)},
    }


def apply_bgp_configuration(ds: Datastore, mesh_enabled: bool | None = None, as_number: int | None = None,
                            check_mode: bool = False, allow_route_reflectors: bool = False) -> dict[str, Any]:
    """BGPConfiguration ``default``: node-to-node mesh and AS number, compared with Calico's defaults.

    ``allow_route_reflectors``: turn the mesh back on although reflectors/BGPPeers exist (the first
    step of moving a cluster from route reflectors back to the full mesh).
    """
    validate_as_number(as_number)
    stored = ds.get("BGPConfiguration", "default")
    current = bgp_configuration_state(stored)
    wanted: dict[str, Any] = {}
    if mesh_enabled is not None:
        wanted["nodeToNodeMeshEnabled"] = bool(mesh_enabled)
    if as_number is not None:
        wanted["asNumber"] = int(as_number)
    target = settings_object("BGPConfiguration", "default", wanted, stored)
    target["spec"] = ordered(target["spec"], BGP_SPEC_ORDER)
    desired = bgp_configuration_state(target)
    if desired["mesh_enabled"] and not current["mesh_enabled"] and not allow_route_reflectors:
        refuse_mesh_with_route_reflectors(ds)
    findings = []
    if desired["mesh_enabled"] != current["mesh_enabled"]:
        findings.append(_finding(
            stored, "BGPConfiguration/default", "nodeToNodeMeshEnabled", desired["mesh_enabled"],
            current["mesh_enabled"],
            "the node-to-node mesh is off: nodes peer only with route reflectors / explicit BGPPeers"
            if desired["mesh_enabled"] else
            "the node-to-node mesh is on although the cluster is meant to use route reflectors only",
        ))
    if desired["as_number"] != current["as_number"]:
        findings.append(_finding(
            stored, "BGPConfiguration/default", "asNumber", desired["as_number"], current["as_number"],
            f"the cluster AS is {current['as_number']}, expected {desired['as_number']}: peers outside "
            "the cluster (top-of-rack, route reflectors) configured for the expected AS will not peer",
        ))
    return _settings_result(ds, stored, target, current, desired, findings, check_mode,
                            ("mesh_enabled", "as_number"))


def refuse_mesh_with_route_reflectors(ds: Datastore) -> None:
    """Never turn the full mesh back on in a cluster that peers through route reflectors or BGPPeers."""
    reflectors = sorted(n["name"] for n in ds.read_nodes() if n.get("rr_cluster_id"))
    peers = sorted(p["metadata"]["name"] for p in ds.list("BGPPeer"))
    if reflectors or peers:
        found = "; ".join(part for part in (
            f"route reflectors: {', '.join(reflectors)}" if reflectors else "",
            f"BGPPeers: {', '.join(peers)}" if peers else "") if part)
        raise ResourceValidationError(
            "refusing to turn the node-to-node mesh back on: it is off and the cluster peers through "
            f"route reflectors or explicit BGPPeers ({found}). Enabling the mesh would add a session from "
            "every node to every other node on top of them (N*(N-1)/2 sessions) and change how routes are "
            "learned across the cluster. Leave mesh_enabled unset (calico_network_mesh_enabled not declared) "
            "to keep the cluster as it is, or remove the route reflectors and BGPPeers first.",
            "mesh_enabled",
        )


def apply_bgp_peer(ds: Datastore, name: str, state: str = "present", wanted: dict | None = None,
                   check_mode: bool = False) -> dict[str, Any]:
    """Make BGPPeer ``name`` match ``wanted`` (its managed fields exactly; other stored fields are kept)."""
    wanted = dict(wanted or {})
    stored = ds.get("BGPPeer", name)
    before = bgp_peer_comparable(stored)
    result_obj = stored
    if state == "absent":
        validate_name(name, "BGPPeer")
        after = None
        if stored and not check_mode:
            ds.delete("BGPPeer", name, stored["metadata"].get("resourceVersion"))
    else:
        validate_bgp_peer(name, wanted)
        target = bgp_peer_object(name, wanted, stored)
        after = bgp_peer_comparable(target)
        result_obj = target
        if before != after and not check_mode:
            result_obj = ds.put(target)
    return {
        "changed": before != after,
        "findings": _resource_findings("BGPPeer", name, before, after, ROUTE_REFLECTORS_FIX),
        "bgp_peer": result_obj if after is not None else None,
        "diff": {"before": _view(name, before), "after": _view(name, after)},
    }


class NodeNotFoundError(ResourceValidationError):
    """The Calico Node is not registered (calico-node registers it when it starts)."""


def apply_node_bgp(ds: Datastore, node: str, route_reflector_cluster_id: str | None = None,
                   labels: dict | None = None, check_mode: bool = False) -> dict[str, Any]:
    """Set a Node's route-reflector cluster ID ("" removes it) and labels (a None value removes one).

    Every other field of the Node (addresses, tunnel address, orchRefs, other labels) is kept.
    """
    validate_name(node, "Node")
    validate_cluster_id(route_reflector_cluster_id)
    validate_labels(labels)
    if ds.datastore_type == "kubernetes":
        raise ResourceValidationError(
            "calico_node_bgp writes Calico Nodes in the etcdv3 datastore only. With the kubernetes "
            "datastore the cluster ID is the annotation projectcalico.org/RouteReflectorClusterID and the "
            f"labels are the Kubernetes Node's labels: kubectl annotate node {node} "
            "projectcalico.org/RouteReflectorClusterID=<id>; kubectl label node "
            f"{node} route-reflector=true", "datastore")
    stored = ds.get("Node", node)
    if stored is None:
        raise NodeNotFoundError(
            f"Calico Node {node!r} is not registered: start calico-node on that host first (it registers "
            "the Node), or check the name (calico_fleet.fleet.calico_nodes_info lists them)", "node")
    target = node_bgp_object(stored, route_reflector_cluster_id, labels)
    before, after = node_bgp_state(stored), node_bgp_state(target)
    changed = before != after
    written = target
    if changed and not check_mode:
        written = ds.put(target)
    findings = []
    if before["route_reflector_cluster_id"] != after["route_reflector_cluster_id"]:
        findings.append(_finding(
            stored, f"Node/{node}", "routeReflectorClusterID", after["route_reflector_cluster_id"],
            before["route_reflector_cluster_id"],
            "the node becomes a route reflector (it leaves the node-to-node mesh)"
            if after["route_reflector_cluster_id"] else
            "the node stops being a route reflector (it rejoins the node-to-node mesh, when on)",
            ROUTE_REFLECTORS_FIX))
    if before["labels"] != after["labels"]:
        findings.append(_finding(stored, f"Node/{node}", "labels", after["labels"], before["labels"],
                                 "the node's labels decide which BGPPeers select it", ROUTE_REFLECTORS_FIX))
    return {
        "changed": changed,
        "findings": findings,
        "node": written if changed else stored,
        "diff": {"before": sorted_dict(before), "after": sorted_dict(after)},
    }


def apply_felix_configuration(ds: Datastore, ipip_mtu: int | None = None, underlay_mtu: int | None = None,
                              check_mode: bool = False) -> dict[str, Any]:
    """FelixConfiguration ``default`` ipipMTU, given directly or derived from the underlay MTU."""
    if underlay_mtu is not None:
        derived = tunnel_mtu(underlay_mtu)
        if ipip_mtu is not None and ipip_mtu != derived:
            raise ResourceValidationError(
                f"ipip_mtu {ipip_mtu} contradicts underlay_mtu {underlay_mtu} (which gives {derived}): "
                "give only one of them", "ipip_mtu",
            )
        ipip_mtu = derived
    if ipip_mtu is None:
        raise ResourceValidationError("give ipip_mtu or underlay_mtu (e.g. 1460 on GCP)", "underlay_mtu")
    validate_ipip_mtu(ipip_mtu)
    stored = ds.get("FelixConfiguration", "default")
    current = {"exists": stored is not None,
               "ipip_mtu": ((stored or {}).get("spec") or {}).get("ipipMTU")}
    target = settings_object("FelixConfiguration", "default", {"ipipMTU": ipip_mtu}, stored)
    desired = {"exists": True, "ipip_mtu": ipip_mtu}
    findings = []
    if current["ipip_mtu"] != ipip_mtu:
        source = f"underlay MTU {underlay_mtu} - 20 (IPIP header) = {ipip_mtu}" if underlay_mtu else \
            f"the wanted {ipip_mtu}"
        if current["ipip_mtu"] is None:
            reason = f"ipipMTU is not set (Felix guesses it from the host interfaces); expected {source}"
        elif current["ipip_mtu"] > ipip_mtu:
            reason = (f"ipipMTU {current['ipip_mtu']} is larger than {source}: pod packets above "
                      f"{ipip_mtu} bytes are fragmented or silently dropped")
        else:
            reason = f"ipipMTU {current['ipip_mtu']} is smaller than {source}: every packet wastes bytes"
        findings.append(_finding(stored, "FelixConfiguration/default", "ipipMTU", ipip_mtu, current["ipip_mtu"],
                                 reason))
    return _settings_result(ds, stored, target, current, desired, findings, check_mode, ("ipip_mtu",))


def _resource_findings(kind: str, name: str, before: dict | None, after: dict | None,
                       fix: Fix = CALICO_NETWORK_FIX) -> list[dict]:
    resource = f"{kind}/{name}"
    if before is None and after is not None:
        return [_finding(None, resource, None, after, None, f"{kind} {name!r} does not exist", fix)]
    if before is not None and after is None:
        return [_finding({}, resource, None, None, before, f"{kind} {name!r} exists but should be absent", fix,
                         unexpected=True)]
    before, after = before or {}, after or {}
    return [
        _finding(before, resource, key, after.get(key), before.get(key),
                 f"{key} is {before.get(key)!r}, expected {after.get(key)!r}", fix)
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def finding_kind(resource: str, stored: Any, unexpected: bool = False) -> str:
    """``ip_pool_missing`` (not stored), ``ip_pool_unexpected`` (stored, should be absent), else ``ip_pool_changed``."""
    kind = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", resource.split("/", 1)[0]).lower()
    return f"{kind}_{'unexpected' if unexpected else 'missing' if stored is None else 'changed'}"


def _finding(stored: Any, resource: str, field: str | None, expected: Any, actual: Any, cause: str,
             fix: Fix = CALICO_NETWORK_FIX, unexpected: bool = False) -> dict:
    """One difference as a Finding dict; ``stored`` None means the resource does not exist yet."""
    return Finding(kind=finding_kind(resource, stored, unexpected), section=SECTION, resource=resource, field=field,
                   expected=expected, actual=actual, cause=cause, fix=fix).to_dict()


def _settings_result(ds: Datastore, stored: dict | None, target: dict, current: dict, desired: dict,
                     findings: list[dict], check_mode: bool, keys: tuple[str, ...]) -> dict[str, Any]:
    changed = bool(findings)
    written = target
    if changed and not check_mode:
        written = ds.put(target)
    before = {k: current[k] for k in keys}
    after = {k: desired[k] for k in keys}
    return {
        "changed": changed,
        "findings": findings,
        "before": before,
        "after": after,
        "resource": written if changed else stored,
        "diff": {"before": sorted_dict(before), "after": sorted_dict(after)},
    }
