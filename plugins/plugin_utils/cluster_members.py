# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cluster membership from three sources, merged by the machine's private IPv4 address.

- the cloud: instances carrying the cluster's label (GCP) or tag (AWS), with
  instance id, name, creation time (GCP ``creationTimestamp``, EC2
  ``LaunchTime``) and zone;
- Kubernetes: the Nodes, by their ``InternalIP`` address;
- Calico: the Nodes of the datastore, by their BGP IPv4 address.

A machine's private IPv4 address is its Calico Node's BGP address and its
Kubernetes Node's InternalIP, so the address is the key. ``merge`` names one
inventory host per machine (and per Calico Node without a machine) so that
the sources never clash: a host with a Calico Node takes the Calico name; a
machine Calico does not know takes its Kubernetes or instance name only when
no Calico Node has that name, else ``<name>-<instance id>``.

Plain Python: the readers take a client (google-cloud-compute InstancesClient
through ``gcp.client.Gce``, a boto3 EC2 client, ``datastore.kubernetes.KubeApi``), the
merge takes rows; the unit tests feed rows directly.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

CALICO, KUBERNETES, GCP, AWS = "calico", "kubernetes", "gcp", "aws"
CLOUDS = (GCP, AWS)


class MembershipError(Exception):
    """A source could not be read; ``source`` names it (gcp, aws, kubernetes)."""

    def __init__(self, source, message):
        super().__init__(message)
        self.source = source


def _ip(value):
    return str(value).split("/", 1)[0].strip() if value else None


def _stamp(value):
    """RFC 3339 text of a creation time (datetime from boto3, text from Compute), None when absent."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat()
    return str(value)


def labels_match(have: dict | None, want: dict) -> bool:
    """Whether every key of ``want`` is in ``have`` with the same value (an empty value: any value)."""
    have = have or {}
    return all(key in have and (value in (None, "") or str(have[key]) == str(value)) for key, value in want.items())


# -- the cloud ---------------------------------------------------------------------------------------------


def gcp_machine(inst: Any, zone: str) -> dict[str, Any]:
    """One GCE Instance (google-cloud-compute message) as a machine row."""
    nics = list(inst.network_interfaces)
    return {"source": GCP, "instance_id": str(inst.id), "instance_name": inst.name, "zone": zone,
            "ip": nics[0].network_i_p if nics else None, "created": _stamp(inst.creation_timestamp),
            "status": inst.status, "labels": dict(inst.labels)}


def read_gcp_machines(gce: Any, labels: dict, zones: Iterable[str] | None = None) -> list[dict]:
    """Machine rows of the instances carrying ``labels`` (every zone of the project, or ``zones``)."""
    from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.errors import GceError, api_error

    try:
        from google.api_core.exceptions import GoogleAPICallError
    except ImportError as exc:  # Gce() has refused already; kept for a clear message
        raise MembershipError(GCP, str(exc)) from None
    rows: list[dict] = []
    try:
        if zones:
            for zone in sorted(zones):
                for inst in gce.call(gce.instances.list, project=gce.project, zone=zone):
                    rows.append(gcp_machine(inst, zone))
        else:
            for scope, listing in gce.call(gce.instances.aggregated_list, project=gce.project):
                for inst in listing.instances:
                    rows.append(gcp_machine(inst, scope.rsplit("/", 1)[-1]))
    except GoogleAPICallError as exc:
        raise MembershipError(GCP, api_error(exc, "compute.instances.list", "instances",
                                             project=gce.project).msg) from None
    except GceError as exc:
        raise MembershipError(GCP, exc.msg) from None
    return sorted((r for r in rows if labels_match(r["labels"], labels)), key=lambda r: (r["zone"], r["instance_name"]))


def aws_machine(inst: dict) -> dict[str, Any]:
    """One EC2 instance (describe_instances) as a machine row."""
    tags = {t["Key"]: t["Value"] for t in inst.get("Tags") or []}
    return {"source": AWS, "instance_id": inst["InstanceId"], "instance_name": tags.get("Name") or inst["InstanceId"],
            "zone": (inst.get("Placement") or {}).get("AvailabilityZone"), "ip": inst.get("PrivateIpAddress"),
            "created": _stamp(inst.get("LaunchTime")), "status": (inst.get("State") or {}).get("Name"),
            "labels": tags}


# EC2 states of a machine that exists (terminated and shutting-down ones are leaving).
AWS_LIVE_STATES = ["pending", "running", "stopping", "stopped"]


def aws_filters(tags: dict) -> list[dict]:
    return ([{"Name": f"tag:{key}", "Values": [str(value)]} if value not in (None, "")
             else {"Name": "tag-key", "Values": [key]} for key, value in sorted(tags.items())]
            + [{"Name": "instance-state-name", "Values": AWS_LIVE_STATES}])


def read_aws_machines(ec2: Any, tags: dict) -> list[dict]:
    """Machine rows of the instances carrying ``tags`` (boto3 EC2 client of the region)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as exc:
        raise MembershipError(AWS, f"boto3 is required on the controller: {exc}") from None
    rows: list[dict] = []
    try:
        for page in ec2.get_paginator("describe_instances").paginate(Filters=aws_filters(tags)):
            for reservation in page["Reservations"]:
                rows.extend(aws_machine(inst) for inst in reservation["Instances"])
    except (BotoCoreError, ClientError) as exc:
        raise MembershipError(AWS, f"ec2:DescribeInstances failed: {exc}") from None
    return sorted(rows, key=lambda r: (r["zone"] or "", r["instance_name"], r["instance_id"]))


# -- Kubernetes --------------------------------------------------------------------------------------------


def kubernetes_node(item: dict) -> dict[str, Any]:
    """One Kubernetes Node (API JSON) as a row: name, InternalIP, Ready."""
    status = item.get("status") or {}
    internal = [a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"]
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return {"name": item["metadata"]["name"], "ip": next((a for a in internal if a and ":" not in a), None),
            "ready": ready == "True"}


def read_kubernetes_nodes(api: Any) -> list[dict]:
    """Rows of every Kubernetes Node through ``datastore.kubernetes.KubeApi``."""
    from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import DatastoreError

    try:
        status, body = api.request("GET", "/api/v1/nodes")
    except DatastoreError as exc:
        raise MembershipError(KUBERNETES, str(exc)) from None
    if status >= 400:
        raise MembershipError(KUBERNETES, f"GET /api/v1/nodes answered {status}: {body}")
    return sorted((kubernetes_node(i) for i in body.get("items") or []), key=lambda r: r["name"])


# -- the merge ---------------------------------------------------------------------------------------------


def _free(name, taken):
    return bool(name) and name.lower() not in taken


def merge(calico_hosts: dict[str, dict], machines: list[dict] | None = None, kube_nodes: list[dict] | None = None,
          sources: Iterable[str] = (CALICO,)) -> dict[str, dict]:
    """{inventory host: host variables}: every Calico Node and every machine, one host each.

    calico_hosts: ``calico_nodes.node_hosts()`` output ({Calico name: vars with calico_node_ipv4_address});
    machines: cloud rows (None: the cloud was not read); kube_nodes: Kubernetes rows (None: not read);
    sources: the sources that were read. Every host gets ``calico_fleet_sources`` and the membership
    variables (instance id and name, creation time, zone, Kubernetes and Calico node names, or none).
    """
    machines = machines or []
    kube_nodes = kube_nodes or []
    sources = sorted(set(sources))
    cloud_read = any(s in CLOUDS for s in sources)
    machine_at: dict[str, dict] = {}
    for row in machines:
        if row["ip"]:
            machine_at.setdefault(row["ip"], row)
    kube_at: dict[str, dict] = {}
    for row in kube_nodes:
        if row["ip"]:
            kube_at.setdefault(row["ip"], row)
    hosts = {}
    calico_ips = set()

    def membership(ip, calico_name):
        machine = machine_at.get(ip) if ip else None
        kube = kube_at.get(ip) if ip else None
        return {
            "calico_fleet_sources": sources,
            "calico_fleet_private_ip": ip,
            "calico_fleet_instance_id": machine["instance_id"] if machine else None,
            "calico_fleet_instance_name": machine["instance_name"] if machine else None,
            "calico_fleet_created": machine["created"] if machine else None,
            "calico_fleet_zone": machine["zone"] if machine else None,
            "calico_fleet_kubernetes_node": kube["name"] if kube else None,
            "calico_fleet_calico_node": calico_name,
        }

    for name, host in calico_hosts.items():
        ip = _ip(host.get("calico_node_ipv4_address"))
        calico_ips.add(ip)
        merged = {**host, **membership(ip, name)}
        if cloud_read and ip and ip not in machine_at and not merged.get("calico_fleet_stale"):
            merged["calico_fleet_stale"] = merged["calico_fleet_machine_missing"] = True
            merged["calico_fleet_stale_reason"] = (
                f"no machine carrying the cluster's label or tag has the address {ip}: the machine is gone, "
                "or it lacks the label or tag")
        hosts[name] = merged
    taken = {name.lower() for name in hosts}
    extra: list[tuple[str, dict | None]] = [
        (row["ip"], row) for row in machines if row["ip"] and row["ip"] not in calico_ips]
    extra += [(row["ip"], None) for row in kube_nodes
              if row["ip"] and row["ip"] not in calico_ips and row["ip"] not in machine_at]
    for ip, machine in sorted(extra, key=lambda e: e[0]):
        kube = kube_at.get(ip)
        candidates = [kube["name"] if kube else None, machine["instance_name"] if machine else None]
        host_name = next((c for c in candidates if _free(c, taken)), None)
        if host_name is None:
            base = next(c for c in candidates if c)
            host_name = f"{base}-{machine['instance_id']}" if machine else f"{base}-{ip.replace('.', '-')}"
        taken.add(host_name.lower())
        hosts[host_name] = {"ansible_host": ip, "calico_fleet_stale": False, **membership(ip, None)}
    return hosts
