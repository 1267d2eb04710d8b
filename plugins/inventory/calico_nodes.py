# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plugin: the cluster's nodes, as Calico's datastore knows them."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: calico_nodes
short_description: The cluster's machines from the Calico datastore, and optionally the cloud and Kubernetes
description:
  - Lists every Calico Node registered in the datastore as one inventory host named after the Calico node
    name, with C(ansible_host) set to its BGP IPv4 address (without prefix length).
  - Host variables C(calico_node_hostname), C(calico_node_ipv4_address), C(calico_node_ipv4_network),
    C(calico_node_ipip_tunnel_addr), C(calico_node_rr_cluster_id), C(calico_node_asn) and
    C(calico_fleet_stale).
  - Groups O(nodes_group) (default C(calico_nodes), the group the playbooks use), O(route_reflectors_group)
    (Nodes with a route-reflector cluster ID) and O(stale_group) (registrations that cannot be a live node).
  - A registration is stale when it has no BGP IPv4 address (nothing to connect to, no mesh peer) or when
    another Node carries the same address (two names for one machine; Calico refuses to start the second).
    Stale hosts get C(calico_fleet_stale=true) and C(calico_fleet_stale_reason); a Node without an address
    is left out of O(nodes_group).
  - "With O(cloud) (GCP instances carrying O(gcp_labels), or EC2 instances carrying O(aws_tags)) and
    O(kubernetes_nodes), cluster membership comes from three sources, merged by the machine's private IPv4
    address (= the Calico Node's BGP address = the Kubernetes Node's InternalIP): every machine of the
    cluster is a host, including one Calico does not know (a machine whose Calico Node another machine took
    over, one never joined). Such a host is named after its Kubernetes Node or instance, or
    C(<name>-<instance id>) when a Calico Node has that name, so that the sources never clash."
  - Membership host variables on every host are C(calico_fleet_sources) (the sources read), C(calico_fleet_private_ip),
    C(calico_fleet_instance_id), C(calico_fleet_instance_name), C(calico_fleet_created) (creation time from the
    cloud API, GCP C(creationTimestamp) or EC2 C(LaunchTime), RFC 3339), C(calico_fleet_zone),
    C(calico_fleet_kubernetes_node) and C(calico_fleet_calico_node) (each none when that source has no such
    machine or was not read). A Calico Node no labelled machine carries is stale
    (C(calico_fleet_machine_missing=true)) and left out of O(nodes_group).
  - Constructable like C(amazon.aws.aws_ec2) and C(google.cloud.gcp_compute) (O(compose), O(groups),
    O(keyed_groups)).
  - The configuration file name must end with C(calico_nodes.yml) or C(calico_nodes.yaml).
  - With O(cache=true) the hosts read are kept in Ansible's inventory cache (O(cache_plugin), O(cache_timeout));
    the next parse within the timeout reads the cache and calls no datastore, cloud or Kubernetes API.
    C(ansible-inventory --flush-cache) (or C(--flush-cache) on a playbook run) reads the sources again.
    A source that could not be read is not cached.
  - Read-only (list calls only). Needs the same datastore access as C(calicoctl get nodes) from the controller,
    C(compute.instances.list) (GCP) or C(ec2:DescribeInstances) (AWS) for O(cloud), and C(list nodes) for
    O(kubernetes_nodes). A source that cannot be read is handled as O(on_datastore_error) says.
version_added: "1.1.0"
author: calico-fleet contributors (@calico-fleet)
options:
  plugin:
    description: Marks the file as this plugin's configuration.
    type: str
    required: true
    choices: [calico_fleet.fleet.calico_nodes]
  nodes_group:
    description: Group of every Node that has a BGP IPv4 address.
    type: str
    default: calico_nodes
  route_reflectors_group:
    description: Group of the Nodes that carry a route-reflector cluster ID.
    type: str
    default: calico_route_reflectors
  stale_group:
    description: Group of the stale registrations (no BGP IPv4 address, or an address another Node has too).
    type: str
    default: calico_stale_nodes
  on_datastore_error:
    description:
      - What to do when the datastore, the cloud or the Kubernetes API cannot be read (no credentials,
        unreachable); the message names the source.
      - C(fail) reports the source as unparsed (with C(inventory_unparsed_failed) the run stops).
      - C(warn) prints one warning and leaves the groups empty; the playbooks still read the datastore
        themselves and fail there with the reason, so nothing runs on a partial view of the cluster.
        When only the cloud or the Kubernetes API cannot be read, the Calico Nodes are listed and
        C(calico_fleet_sources) says which sources were not compared.
    type: str
    choices: [fail, warn]
    default: fail
  cloud:
    description:
      - Also list the cloud's instances of the cluster and merge them with the Calico Nodes by private IPv4
        address. C(gcp) lists the Compute Engine instances carrying O(gcp_labels) (google-cloud-compute, the
        connection options of C(calico_fleet.fleet.gcp_instances_info), that is O(project), O(credentials_file),
        O(api_endpoint)); C(aws) lists the EC2 instances carrying O(aws_tags) in O(region) (boto3).
      - Unset, only the Calico Nodes (and with O(kubernetes_nodes) the Kubernetes Nodes) are listed.
    type: str
    choices: [gcp, aws]
  gcp_labels:
    description:
      - The label(s) every instance of the cluster carries, for example C(cluster=k8s-prod) (as C(gcp_nodes_labels)
        gives new instances). An empty value matches any value of that key. Required for O(cloud=gcp).
      - "Existing instances without it: C(gcloud compute instances add-labels <instance> --zone <zone>
        --labels=cluster=k8s-prod)."
    type: dict
    default: {}
  gcp_zones:
    description: Zones to list (one C(instances.list) call each). Empty, every zone of the project (C(aggregatedList)).
    type: list
    elements: str
    default: []
  aws_tags:
    description:
      - The tag(s) every instance of the cluster carries, for example C(calico-fleet/cluster=k8s-prod) (as
        C(aws_nodes_cluster_tag_key) gives new instances). An empty value matches any value of that key.
        Required for O(cloud=aws). Terminated instances are not listed.
      - "Existing instances without it: C(aws ec2 create-tags --resources <instance id>
        --tags Key=calico-fleet/cluster,Value=k8s-prod)."
    type: dict
    default: {}
  region:
    description: AWS region of the cluster (O(cloud=aws)). Default E(AWS_REGION), then E(AWS_DEFAULT_REGION).
    type: str
    aliases: [aws_region, ec2_region]
  endpoint_url:
    description: EC2 endpoint URL, for an EC2-compatible API. Default E(AWS_URL), then the region's endpoint.
    type: str
    aliases: [aws_endpoint_url, ec2_url]
  access_key:
    description: AWS access key ID. Default boto3's chain (E(AWS_ACCESS_KEY_ID), O(profile), instance profile).
    type: str
    aliases: [aws_access_key_id, aws_access_key, ec2_access_key]
  secret_key:
    description: AWS secret access key, with O(access_key).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key, ec2_secret_key]
  session_token:
    description: AWS session token, with temporary credentials.
    type: str
    aliases: [aws_session_token, security_token]
  profile:
    description: AWS profile of the shared credentials file. Not with O(access_key).
    type: str
    aliases: [aws_profile, boto_profile]
  kubernetes_nodes:
    description:
      - Also list the Kubernetes Nodes and merge them by their C(InternalIP) address, through O(kubeconfig)
        (or O(host)); with O(datastore=etcdv3) those options are only used for this.
    type: bool
    default: false
extends_documentation_fragment:
  - calico_fleet.fleet.calico_datastore
  - calico_fleet.fleet.gce_connection
  - constructed
  - inventory_cache
"""

EXAMPLES = r"""
# inventories/prod/20-cluster.calico_nodes.yml : kubeasz-style etcd with TLS client certificates
plugin: calico_fleet.fleet.calico_nodes
datastore: etcdv3
etcd_endpoints: [https://10.0.1.1:2379, https://10.0.1.2:2379]
etcd_ca_cert: /etc/kubernetes/ssl/ca.pem
etcd_cert: /etc/calico/ssl/calico.pem
etcd_key: /etc/calico/ssl/calico-key.pem
timeout: 5
# Group by route-reflector cluster, and add a variable from the Node's data.
keyed_groups:
  - key: calico_node_rr_cluster_id
    prefix: rr_cluster
    separator: "_"
compose:
  node_ip: calico_node_ipv4_address
---
# inventories/prod/20-cluster.calico_nodes.yml : Kubernetes datastore (annotations on the Kubernetes Nodes)
plugin: calico_fleet.fleet.calico_nodes
datastore: kubernetes
kubeconfig: ~/.kube/config
# Keep what was read for an hour (ansible-inventory --flush-cache reads again).
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/calico-fleet-inventory
cache_timeout: 3600
---
# Every machine of the cluster: GCP instances labelled cluster=k8s-prod, the Kubernetes Nodes and the Calico
# Nodes, merged by private IPv4 address (Application Default Credentials).
plugin: calico_fleet.fleet.calico_nodes
datastore: etcdv3
etcd_endpoints: [https://10.128.0.2:2379]
cloud: gcp
project: my-k8s-project
gcp_labels:
  cluster: k8s-prod
kubernetes_nodes: true
kubeconfig: ~/.kube/config
---
# The same on AWS: EC2 instances tagged calico-fleet/cluster=k8s-prod (credentials from boto3's chain).
plugin: calico_fleet.fleet.calico_nodes
datastore: kubernetes
kubeconfig: ~/.kube/config
cloud: aws
region: eu-west-1
aws_tags:
  calico-fleet/cluster: k8s-prod
kubernetes_nodes: true
"""

import collections
import os
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.connect import (
    connect,
    datastore_argument_spec,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import DatastoreError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.kubernetes import KubeApi
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.client import CONNECTION_SPEC, Gce
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.errors import GceError
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils import cluster_members

HOSTNAME_LABEL = "kubernetes.io/hostname"


def node_hosts(nodes: list[dict], labels: dict | None = None) -> dict[str, dict]:
    """{name: host variables} for the rows of ``Datastore.read_nodes()``; stale registrations flagged."""
    labels = labels or {}
    by_address = collections.defaultdict(list)
    for node in nodes:
        if node["ipv4_address"]:
            by_address[node["ipv4_address"]].append(node["name"])
    hosts = {}
    for node in nodes:
        address = node["ipv4_address"]
        reason = None
        if not address:
            reason = "the Node has no BGP IPv4 address: calico-node never ran there or the machine is gone"
        elif len(by_address[address]) > 1:
            others = ", ".join(n for n in by_address[address] if n != node["name"])
            reason = (f"the BGP address {address} is registered by {others} too: one of these registrations "
                      "is left from a renamed or replaced machine")
        host = {
            "calico_node_name": node["name"],
            "calico_node_hostname": labels.get(node["name"], {}).get(HOSTNAME_LABEL) or node["name"],
            "calico_node_ipv4_address": address,
            "calico_node_ipv4_network": node["ipv4_network"],
            "calico_node_ipip_tunnel_addr": node["ipip_tunnel_addr"],
            "calico_node_rr_cluster_id": node["rr_cluster_id"],
            "calico_node_asn": node["asn"],
            "calico_fleet_stale": reason is not None,
        }
        if address:
            host["ansible_host"] = address
        if reason:
            host["calico_fleet_stale_reason"] = reason
        hosts[node["name"]] = host
    return hosts


def read_hosts(params: dict) -> dict[str, dict]:
    """Read the datastore once: Node rows, with their labels (the hostname label where Calico keeps it)."""
    nodes = connect(params).read_nodes()
    return node_hosts(nodes, {node["name"]: node["labels"] for node in nodes})


def gcp_machines(options: dict) -> list[dict]:
    """Machine rows of the GCP instances carrying the cluster's labels."""
    params = {name: options.get(name) for name in CONNECTION_SPEC}
    params = {k: v for k, v in params.items() if v not in (None, "")}
    try:
        gce = Gce(params)
    except GceError as exc:
        raise cluster_members.MembershipError(cluster_members.GCP, exc.msg) from None
    return cluster_members.read_gcp_machines(gce, options["gcp_labels"], options["gcp_zones"])


def aws_machines(options: dict) -> list[dict]:
    """Machine rows of the EC2 instances carrying the cluster's tags."""
    try:
        import boto3
    except ImportError as exc:
        raise cluster_members.MembershipError(cluster_members.AWS,
                                              f"boto3 is required on the controller: {exc}") from None
    region = options.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise cluster_members.MembershipError(cluster_members.AWS, "no AWS region: set region (or AWS_REGION)")
    session = boto3.session.Session(profile_name=options.get("profile") or None)
    ec2 = session.client("ec2", region_name=region,
                         endpoint_url=options.get("endpoint_url") or os.environ.get("AWS_URL") or None,
                         aws_access_key_id=options.get("access_key") or None,
                         aws_secret_access_key=options.get("secret_key") or None,
                         aws_session_token=options.get("session_token") or None)
    return cluster_members.read_aws_machines(ec2, options["aws_tags"])


def kubernetes_rows(params: dict) -> list[dict]:
    try:
        api = KubeApi.from_params(params)
    except DatastoreError as exc:
        raise cluster_members.MembershipError(cluster_members.KUBERNETES, str(exc)) from None
    return cluster_members.read_kubernetes_nodes(api)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "calico_fleet.fleet.calico_nodes"

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(("calico_nodes.yml", "calico_nodes.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        # cache=False: the caller asked to refresh (--flush-cache); read the sources and update the cache.
        use_cache, update_cache = self.get_option("cache") and cache, self.get_option("cache") and not cache
        hosts = None
        if use_cache:
            try:
                hosts = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if hosts is None:
            hosts, complete = self._read_sources(path)
            if update_cache and complete:
                self._cache[cache_key] = hosts
        self._populate(hosts)

    def _read_sources(self, path):
        """({host: variables}, whether every source could be read)."""
        params = {name: self.get_option(name) for name in datastore_argument_spec()}
        if params["datastore"] == "etcdv3" and not params["etcd_endpoints"]:
            raise AnsibleParserError(f"{path}: datastore etcdv3 needs etcd_endpoints, e.g. [https://10.0.1.1:2379]")
        cloud = self.get_option("cloud")
        if cloud and not self.get_option(f"{cloud}_{'labels' if cloud == 'gcp' else 'tags'}"):
            example = ("gcp_labels: {cluster: k8s-prod}" if cloud == "gcp"
                       else "aws_tags: {calico-fleet/cluster: k8s-prod}")
            raise AnsibleParserError(f"{path}: cloud {cloud} needs the label or tag the cluster's instances carry, "
                                     f"e.g. {example}")
        if self.get_option("kubernetes_nodes") and not (params["kubeconfig"] or params["host"]):
            raise AnsibleParserError(f"{path}: kubernetes_nodes needs kubeconfig (or host), e.g. ~/.kube/config")
        try:
            hosts = read_hosts(params)
        except DatastoreError as exc:
            message = (f"{path}: cannot read the Calico Nodes ({exc}). Check the datastore settings and that this "
                       "controller reaches the datastore (as calicoctl get nodes would).")
            self._source_error(message)
            return {}, False
        return self._members(path, hosts, params, cloud)

    def _populate(self, hosts):
        strict = self.get_option("strict")
        groups = {key: self.inventory.add_group(self.get_option(key))
                  for key in ("nodes_group", "route_reflectors_group", "stale_group")}
        for name, host_vars in sorted(hosts.items()):
            self.inventory.add_host(name)
            for key, value in host_vars.items():
                self.inventory.set_variable(name, key, value)
            if host_vars.get("ansible_host") and not host_vars.get("calico_fleet_machine_missing"):
                self.inventory.add_child(groups["nodes_group"], name)
            if host_vars.get("calico_node_rr_cluster_id"):
                self.inventory.add_child(groups["route_reflectors_group"], name)
            if host_vars["calico_fleet_stale"]:
                self.inventory.add_child(groups["stale_group"], name)
            self._set_composite_vars(self.get_option("compose"), host_vars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, name, strict=strict)

    def _source_error(self, message):
        if self.get_option("on_datastore_error") == "fail":
            raise AnsibleParserError(message)
        self.display.warning(message + " The groups of this source are empty.")

    def _members(self, path, calico_hosts, params, cloud):
        """The Calico hosts merged with the cloud's machines and the Kubernetes Nodes that could be read."""
        if not cloud and not self.get_option("kubernetes_nodes"):
            return calico_hosts, True
        names = (*CONNECTION_SPEC, "gcp_labels", "gcp_zones", "aws_tags", "region", "endpoint_url", "access_key",
                 "secret_key", "session_token", "profile")
        options = {name: self.get_option(name) for name in names}
        sources, machines, kube = [cluster_members.CALICO], None, None
        try:
            if cloud:
                machines = gcp_machines(options) if cloud == "gcp" else aws_machines(options)
                sources.append(cloud)
            if self.get_option("kubernetes_nodes"):
                kube = kubernetes_rows(params)
                sources.append(cluster_members.KUBERNETES)
        except cluster_members.MembershipError as exc:
            what = {"gcp": "the GCP instances", "aws": "the EC2 instances", "kubernetes": "the Kubernetes Nodes"}
            if self.get_option("on_datastore_error") == "fail":
                raise AnsibleParserError(f"{path}: cannot read {what[exc.source]} ({exc}).") from None
            self.display.warning(f"{path}: cannot read {what[exc.source]} ({exc}). Listed without them: machines "
                                 "that source alone knows are missing.")
            return cluster_members.merge(calico_hosts, machines, kube, sources), False
        return cluster_members.merge(calico_hosts, machines, kube, sources), True
