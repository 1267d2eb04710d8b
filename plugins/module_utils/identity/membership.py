# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster membership: the cloud's machines, the Kubernetes Nodes and the Calico Nodes compared.

The member records are the ``calico_fleet_*`` host variables of the ``calico_nodes`` inventory plugin;
each finding's fix is data (module_utils/finding.py), built with the real names when it is made.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ansible_collections.calico_fleet.fleet.plugins.module_utils.addresses import node_ipv4, normalize_ip
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import ERROR, Finding, Fix
from ansible_collections.calico_fleet.fleet.plugins.module_utils.identity.checks import (
    CALICO_NAMESPACE,
    Hosts,
    Nodes,
    calico_node_log_command,
    remediation_fix,
)

MEMBER_SOURCES_CLOUD = ("gcp", "aws")


def members_read(members: Iterable[dict] | None) -> set[str]:
    """The sources every member record says were read (calico_fleet_sources of the inventory plugin)."""
    read = None
    for member in members or []:
        sources = set(member.get("sources") or [])
        read = sources if read is None else read & sources
    return read or set()


def membership_not_compared(members: Iterable[dict] | None) -> list[str]:
    """The membership sources that were not compared (no record lists them as read), as words for a report.

    Without them a machine Calico does not know, or a Kubernetes Node without a Calico Node, cannot be
    seen: a healthy verdict must say so instead of implying that every machine was looked at."""
    read = members_read(members)
    missing = []
    if not read & set(MEMBER_SOURCES_CLOUD):
        missing.append("cloud machines")
    if "kubernetes" not in read:
        missing.append("Kubernetes Nodes")
    return missing


def check_membership(members: list[dict] | None, nodes: Nodes, hosts: Hosts | None,
                     explained: Collection[str] = (), namespace: str = CALICO_NAMESPACE
                     ) -> tuple[list[Finding], set[str]]:
    """Compare the cloud's machines, the Kubernetes Nodes and the Calico Nodes, by private IPv4 address.

    members: [{host, ip, instance_id, instance_name, zone, kubernetes_node, calico_node, sources}], one per
    inventory host of the ``calico_nodes`` inventory plugin (its ``calico_fleet_*`` host variables); only
    the sources every record lists as read are compared. Returns (findings, nodes reported as without a
    machine), so that the same Node is not reported as ``stale_node`` too. A host already explained by an
    identity finding is not reported again.
    """
    read = members_read(members)
    cloud = next((s for s in MEMBER_SOURCES_CLOUD if s in read), None)
    machines = {normalize_ip(m.get("ip")): m for m in members or [] if m.get("instance_id")}
    kube = {normalize_ip(m.get("ip")): m for m in members or [] if m.get("kubernetes_node")}
    host_at = {normalize_ip(h.get("ip")): inv for inv, h in (hosts or {}).items()}
    findings, without_machine = [], set()
    for node in sorted(nodes, key=lambda n: n["name"]):
        ip = node_ipv4(node)
        if cloud and ip not in machines:
            without_machine.add(node["name"])
            where = "labelled instance" if cloud == "gcp" else "tagged instance"
            listing = (f"gcloud compute instances list --filter=networkInterfaces.networkIP={ip}" if cloud == "gcp"
                       else f"aws ec2 describe-instances --filters Name=private-ip-address,Values={ip}")
            findings.append(Finding(
                kind="node_without_machine",
                severity=ERROR,
                node=node["name"],
                peer=ip,
                evidence=[f"Calico Node {node['name']!r} is registered with IPv4 {ip}; no {where} of the "
                          f"cluster has that address"],
                cause="the machine was deleted but its Calico Node was not (every node keeps trying to peer "
                "with it), or the machine lacks the cluster's label or tag.",
                fix=Fix(text=f"look for a machine at {ip}: one there, give it the cluster's label or tag; none, "
                        f"calicoctl delete node {node['name']}", commands=[listing]),
            ))
        elif "kubernetes" in read and ip and ip not in kube and ip in host_at:
            # (A Node no host carries is stale_node already.)
            inv = host_at[ip]
            findings.append(Finding(
                kind="node_without_kubernetes_node",
                severity=ERROR,
                hosts=[inv],
                node=node["name"],
                peer=ip,
                evidence=[f"Calico Node {node['name']!r} is registered with IPv4 {ip}; no Kubernetes Node has "
                          "that InternalIP"],
                cause="the Kubernetes Node was deleted (kubectl delete node, a failed join) while the machine or "
                "its Calico Node stayed; with the etcdv3 datastore Calico does not remove the Node itself.",
                fix=Fix(text=f"join the machine at {ip} again (the scale-out with the same scale_out_batch), or "
                        f"remove it (the scale_in playbook with scale_in_nodes: [{inv}])", playbook="scale_out"),
            ))
    calico_ips = {node_ipv4(n) for n in nodes}
    for ip, member in sorted(kube.items(), key=lambda item: item[1]["kubernetes_node"]):
        holder = host_at.get(ip) or member.get("host")
        if "kubernetes" not in read or ip in calico_ips or holder in explained:
            continue
        name = member["kubernetes_node"]
        findings.append(Finding(
            kind="kubernetes_node_without_calico_node",
            severity=ERROR,
            hosts=[holder] if holder else [],
            node=name,
            peer=ip,
            evidence=[f"Kubernetes Node {name!r} (InternalIP {ip}) has no Calico Node registered with that "
                      "address" + (f"; machine {member['instance_name']} ({member['instance_id']})"
                                   if member.get("instance_id") else "")],
            cause="calico-node on this machine has not registered, or another machine's calico-node took its "
            "Calico Node name (two machines with one hostname): its pods have no routes.",
            fix=remediation_fix(f"read calico-node's log on {name}, then give the machine a Calico node name of "
                                "its own", [str(holder or ip)], [calico_node_log_command(namespace, name)]),
        ))
    return findings, without_machine
