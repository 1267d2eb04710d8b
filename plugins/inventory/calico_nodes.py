# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory plugin: the cluster's nodes, as Calico's datastore knows them."""

DOCUMENTATION = r"""
---
name: calico_nodes
short_description: The cluster's nodes from the Calico datastore (etcdv3 or kubernetes)
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
  - Constructable like C(amazon.aws.aws_ec2) and C(google.cloud.gcp_compute) (O(compose), O(groups),
    O(keyed_groups)).
  - The configuration file name must end with C(calico_nodes.yml) or C(calico_nodes.yaml).
  - Read-only. Needs the same datastore access as C(calicoctl get nodes) from the controller; without it the
    source is reported as unparsed and the rest of the inventory still loads.
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
      - What to do when the datastore cannot be read (no credentials, unreachable).
      - C(fail) reports the source as unparsed (with C(inventory_unparsed_failed) the run stops).
      - C(warn) prints one warning and leaves the groups empty; the playbooks still read the datastore
        themselves and fail there with the reason, so nothing runs on a partial view of the cluster.
    type: str
    choices: [fail, warn]
    default: fail
extends_documentation_fragment:
  - calico_fleet.fleet.calico_datastore
  - constructed
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
"""

import collections

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico_datastore import (
    DatastoreError,
    EtcdDatastore,
    connect,
    datastore_argument_spec,
)

HOSTNAME_LABEL = "kubernetes.io/hostname"


def node_hosts(nodes, labels=None):
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


def read_hosts(params):
    """Read the datastore once: Node rows plus their labels (the hostname label where Calico keeps it)."""
    datastore = connect(params)
    nodes = datastore.read_nodes()
    labels = {}
    if isinstance(datastore, EtcdDatastore):
        labels = {obj["metadata"]["name"]: obj["metadata"].get("labels") or {} for obj in datastore.list("Node")}
    else:
        status, body = datastore.api.request("GET", "/api/v1/nodes")
        if status != 404:
            labels = {item["metadata"]["name"]: item["metadata"].get("labels") or {}
                      for item in body.get("items") or []}
    return node_hosts(nodes, labels)


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "calico_fleet.fleet.calico_nodes"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("calico_nodes.yml", "calico_nodes.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        params = {name: self.get_option(name) for name in datastore_argument_spec()}
        if params["datastore"] == "etcdv3" and not params["etcd_endpoints"]:
            raise AnsibleParserError(f"{path}: datastore etcdv3 needs etcd_endpoints, e.g. [https://10.0.1.1:2379]")
        try:
            hosts = read_hosts(params)
        except DatastoreError as exc:
            hosts = {}
            message = (f"{path}: cannot read the Calico Nodes ({exc}). Check the datastore settings and that this "
                       "controller reaches the datastore (as calicoctl get nodes would).")
            if self.get_option("on_datastore_error") == "fail":
                raise AnsibleParserError(message) from None
            self.display.warning(message + " The groups of this source are empty.")
        strict = self.get_option("strict")
        groups = {key: self.inventory.add_group(self.get_option(key))
                  for key in ("nodes_group", "route_reflectors_group", "stale_group")}
        for name, host_vars in sorted(hosts.items()):
            self.inventory.add_host(name)
            for key, value in host_vars.items():
                self.inventory.set_variable(name, key, value)
            if host_vars.get("ansible_host"):
                self.inventory.add_child(groups["nodes_group"], name)
            if host_vars["calico_node_rr_cluster_id"]:
                self.inventory.add_child(groups["route_reflectors_group"], name)
            if host_vars["calico_fleet_stale"]:
                self.inventory.add_child(groups["stale_group"], name)
            self._set_composite_vars(self.get_option("compose"), host_vars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), host_vars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), host_vars, name, strict=strict)
