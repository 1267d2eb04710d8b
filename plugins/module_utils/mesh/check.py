# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""calico_mesh_check's entry logic: arguments in, result out (module and action plugin share it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import ERROR, findings_to_dicts, is_healthy
from ansible_collections.calico_fleet.fleet.plugins.module_utils.identity.checks import CALICO_NAMESPACE
from ansible_collections.calico_fleet.fleet.plugins.module_utils.identity.membership import (
    check_membership,
    membership_not_compared,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.in_process import ModuleFailure
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.evaluation import evaluate, input_errors
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.table import render_table

ARGUMENT_SPEC = dict(
    hosts=dict(type="dict", required=True),
    nodes=dict(type="list", elements="dict", required=True),
    bgp_configuration=dict(type="dict", default={}),
    bgp_peers=dict(type="list", elements="dict"),
    probe=dict(type="dict"),
    cloud=dict(type="str", choices=["gcp", "aws"], default="gcp"),
    cloud_rules=dict(type="dict"),
    inventory=dict(type="list", elements="str", default=[]),
    calico_namespace=dict(type="str", default=CALICO_NAMESPACE),
    vpc_range=dict(type="str"),
    fail_on_findings=dict(type="bool", default=True),
    members=dict(type="list", elements="dict"),
)
# Findings that tie a host to its identity: a host they name is not reported again by the membership check.
IDENTITY_KINDS = ("duplicate_nodename", "nodename_invalid", "duplicate_ip", "node_not_joined", "unregistered_host")


def mesh_check(p: dict[str, Any]) -> dict[str, Any]:
    problems = input_errors(p["hosts"], p["nodes"], p["bgp_peers"])
    if problems:
        raise ModuleFailure("calico_mesh_check input: " + "; ".join(problems))
    namespace = p.get("calico_namespace") or CALICO_NAMESPACE
    report = evaluate(p["hosts"], p["nodes"], p["bgp_configuration"], p["probe"], p["cloud"], p["bgp_peers"],
                      p["cloud_rules"], namespace=namespace, vpc_range=p.get("vpc_range"))
    if p.get("members"):
        add_membership(report, p["members"], p["nodes"], p["hosts"], namespace)
    result = dict(
        healthy=report["healthy"],
        findings=findings_to_dicts(report["findings"]),
        matrix=report["matrix"],
        expected_peers=report["expected_peers"],
        probed=p["probe"] is not None,
        not_compared=membership_not_compared(p.get("members")),
        table=render_table(p["hosts"], report["matrix"], report["findings"], report["down"]),
    )
    if not report["healthy"] and p["fail_on_findings"]:
        # The printed commands name the inventory in use.
        errors = [f.to_line(p["inventory"]) for f in report["findings"] if f.severity == ERROR]
        raise ModuleFailure(f"Calico mesh is unhealthy ({len(errors)} problem(s)): " + " | ".join(errors), **result)
    return result


def host_records(hosts: Iterable[str], ips: dict, identities: dict, statuses: dict) -> dict[str, dict]:
    """{inventory host: {ip, hostname, nodename, joined, status}} as calico_mesh_check takes them.

    ips: {host: IPv4}; identities: {host: dict with hostname/nodename/joined, or None};
    statuses: {host: the registered calico_bgp_status result, or None when the host answered nothing}.
    A status without peers becomes {failed: true, msg} (or {unreachable: true, msg}), so the
    check reports the host instead of judging missing sessions.
    """
    records = {}
    for host in hosts:
        status = statuses.get(host)
        identity = identities.get(host) or status or {}
        if not isinstance(status, dict):
            status = {"unreachable": True, "msg": "no answer"}
        elif status.get("unreachable"):
            status = {"unreachable": True, "msg": status.get("msg") or "unreachable"}
        elif "peers" not in status:
            status = {"failed": True, "msg": status.get("msg") or "no BGP status"}
        records[host] = {"ip": ips.get(host) or host, "hostname": identity.get("hostname"),
                         "nodename": identity.get("nodename"), "joined": identity.get("joined"),
                         "status": status}
    return records


def add_membership(report: dict, members: list, nodes: list, hosts: dict,
                   namespace: str = CALICO_NAMESPACE) -> dict:
    """The membership findings (cloud machines, Kubernetes Nodes, Calico Nodes compared) added to a report.

    A Node reported as without a machine is not reported as stale_node too; a host an identity finding
    names is not reported again.
    """
    explained = {h for f in report["findings"] if f.kind in IDENTITY_KINDS for h in f.hosts}
    found, without_machine = check_membership(members, nodes, hosts, explained, namespace)
    kept = [f for f in report["findings"] if not (f.kind == "stale_node" and f.node in without_machine)]
    report["findings"] = kept + found
    report["healthy"] = is_healthy(report["findings"])
    return report
