#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: judge the Calico BGP mesh and the IPIP underlay of a whole cluster."""

DOCUMENTATION = r"""
---
module: calico_mesh_check
short_description: Verify the Calico BGP mesh and IPIP underlay, and say what is wrong
description:
  - Runs once, on the controller, on data gathered before it (M(calico_fleet.fleet.calico_bgp_status) from every node,
    C(calico_nodes_info) from the datastore, optionally the C(ipip_probe) matrix).
  - Computes the peers every node must have by Calico's rules over the datastore's Nodes,
    BGPConfiguration and BGPPeers (node-to-node mesh without the nodes that have a route-reflector cluster
    ID; BGPPeers by C(node), C(nodeSelector) or global, to C(peerIP) or the nodes of C(peerSelector), and the
    reverse peerings between Calico nodes; self skipped by IP), as the C(calico_expected_peers) filter does,
    then reports missing peers, peers not Established, unexpected peers, hosts that answered nothing,
    TCP 179 blocked, IP protocol 4 blocked, duplicate and invalid node names, stale Node registrations
    and full meshes above 100 nodes. Each finding has evidence, a likely cause and the fix command.
  - With route reflectors, a missing reflector session and a node the BGPPeers leave without any
    reflector session are C(rr_session_missing); the mesh left on beside reflectors is C(mesh_with_route_reflectors).
  - In a cluster of more than one node, a node the datastore's topology leaves without any BGP session (the
    mesh off and no BGPPeer, or the node outside every BGPPeer's selectors) is C(no_bgp_peers) (it has no route).
  - A healthy cluster yields no findings at all. Warnings (advice) do not make it unhealthy.
  - Read-only, never reports C(changed).
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  hosts:
    description:
      - "Every live node, keyed by inventory host: C({ip, hostname, nodename, joined, status})."
      - C(ip) is the node's IPv4 address, C(hostname) its OS hostname, C(nodename) the raw content of
        C(/var/lib/calico/nodename) (optional, null when unknown), C(joined) whether it has a kubelet
        kubeconfig (optional, null when unknown; M(calico_fleet.fleet.calico_bgp_status) returns it with identity).
      - "C(status) is the registered M(calico_fleet.fleet.calico_bgp_status) result, or C({failed: true, msg: ...}) /
        C({unreachable: true, msg: ...}) for a host that answered nothing."
      - Pass every node of the cluster; a registered node whose IP is in no host is reported as stale.
    type: dict
    required: true
  nodes:
    description:
      - Calico nodes as C(calico_nodes_info) returns them
        (C(name), C(ipv4_address), C(ipv4_network), C(ipv6_address), C(rr_cluster_id), C(ipip_tunnel_addr), C(asn),
        C(labels)).
    type: list
    elements: dict
    required: true
  bgp_configuration:
    description: C({exists, mesh_enabled, as_number}) as C(calico_nodes_info) returns it. Mesh is on unless
      C(mesh_enabled) is false.
    type: dict
    default: {}
  bgp_peers:
    description:
      - BGPPeers as C(calico_nodes_info) returns them (C(name), C(node), C(node_selector), C(peer_ip),
        C(peer_selector), C(as_number)); their sessions are expected, to Calico nodes and to routers outside
        Calico, and sessions BIRD has beyond the mesh and these are C(unexpected_peer).
      - Left out, no BGPPeer session is expected or judged; that is refused when a node carries a
        route-reflector cluster ID.
      - A BGPPeer whose selector calico-fleet cannot evaluate (it understands all(), has(k),
        k == 'v', k != 'v' joined by &&) is the error C(bgp_peer_selector_unsupported), and its
        sessions are not judged.
    type: list
    elements: dict
  probe:
    description: "IPIP probe matrix C({src_ip: {dst_ip: true|false}}). Omit to skip the IPIP verdict."
    type: dict
  cloud:
    description: Cloud the nodes run in; selects the fix text for firewall findings.
    type: str
    choices: [gcp, aws]
    default: gcp
  cloud_rules:
    description:
      - "The cloud's rules and instances, read by M(calico_fleet.fleet.gcp_firewall_info) and
        M(calico_fleet.fleet.gcp_instances_info) (C({provider: gcp, project, network, firewalls, instances}))
        or by C(amazon.aws.ec2_instance_info) and C(amazon.aws.ec2_security_group_info)
        (C({provider: aws, vpc_id, instances, security_groups})); C({provider, error}) when they
        could not be read."
      - The cause of C(ipip_blocked) is chosen from them per direction that failed - rule missing, a node
        without the network tag or security group the rule needs (named, with the command that adds it),
        a deny rule of higher priority, or the rule present and applying (then the remaining suspects,
        firewall policies or network ACLs and host firewalls). Left out, the cause lists every suspect.
    type: dict
  inventory:
    description:
      - The inventory sources in use (C(ansible_inventory_sources)); the failure message renders every
        fix's C(ansible-playbook) command with C(-i) for them, so that it runs as printed. The returned
        findings keep the fix as data (playbook, tags, limit, extra vars).
    type: list
    elements: str
    default: []
  calico_namespace:
    description: The namespace calico-node runs in, named in the C(kubectl) commands of the fixes.
    type: str
    default: kube-system
  vpc_range:
    description:
      - The VPC's IPv4 range, named in the fix of C(ipip_blocked) (the rule that allows IP protocol 4 from it).
        Left out, the fix names the variable that holds it.
    type: str
  fail_on_findings:
    description: Fail when the cluster is unhealthy (any finding of severity error).
    type: bool
    default: true
  members:
    description:
      - Cluster membership from the C(calico_fleet.fleet.calico_nodes) inventory plugin, one record per inventory host
        (the C(cluster_members) filter builds them from its C(calico_fleet_*) host variables) with C(host),
        C(ip), C(instance_id), C(instance_name), C(zone), C(kubernetes_node), C(calico_node) and C(sources).
      - The sources every record lists as read are compared by IPv4 address, with the C(nodes) of the datastore.
        A Calico Node no machine of the cloud has is C(node_without_machine) (instead of C(stale_node)); a Calico
        Node no Kubernetes Node has is C(node_without_kubernetes_node); a Kubernetes Node no Calico Node has is
        C(kubernetes_node_without_calico_node), unless an identity finding already names its host.
      - Left out, only the hosts and the Calico Nodes are compared.
    type: list
    elements: dict
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: calico_fleet.fleet.calico_bgp_status
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes.read_only
"""

EXAMPLES = r"""
- name: Check the mesh once, on the controller
  calico_mesh_check:
    hosts: "{{ __mesh_verify_hosts }}"
    nodes: "{{ __mesh_verify_nodes.nodes }}"
    bgp_configuration: "{{ __mesh_verify_nodes.bgp_configuration }}"
    bgp_peers: "{{ __mesh_verify_nodes.bgp_peers }}"
    probe: "{{ __mesh_verify_probe.matrix | default(omit) }}"
    cloud: gcp
  run_once: true
  delegate_to: localhost
  register: __mesh_verify_check

- name: Show the mesh
  ansible.builtin.debug:
    msg: "{{ __mesh_verify_check.table.splitlines() }}"
"""

RETURN = r"""
healthy:
  description: True when no finding of severity error was made.
  returned: always
  type: bool
findings:
  description: What is wrong, sorted (errors first, then by kind and hosts).
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: >-
        duplicate_nodename, nodename_invalid, nodename_mismatch, duplicate_ip, stale_node,
        unregistered_host, node_not_joined, host_unreachable, bird_down, status_failed, missing_peer,
        peer_not_established, tcp179_blocked, ipip_blocked, unexpected_peer, external_peer_not_established,
        rr_session_missing, mesh_with_route_reflectors, bgp_peer_selector_unsupported, mesh_too_large,
        no_bgp_peers, node_without_machine, node_without_kubernetes_node, kubernetes_node_without_calico_node.
      type: str
    severity: {description: error or warning, type: str}
    hosts: {description: Inventory hosts concerned, type: list, elements: str}
    node: {description: Calico node name concerned, type: str}
    peer: {description: Peer IP concerned, type: str}
    evidence: {description: What was seen, type: list, elements: str}
    cause: {description: The likely cause, type: str}
    section: {description: Always null here (the drift report sets it), type: str}
    resource: {description: Always null here, type: str}
    field: {description: Always null here, type: str}
    expected: {description: Always null here, type: raw}
    actual: {description: Always null here, type: raw}
    fix:
      description:
        - What fixes it, as data (plugins/module_utils/finding.py C(Fix)). C(text) is the sentence; C(playbook)
          the collection's playbook to run (C(ansible-playbook calico_fleet.fleet.<playbook>)) with C(tags),
          C(limit) and C(extra_vars); C(commands) other commands, in order; C(change) a change as data.
        - The C(calico_fleet.fleet.finding_lines) filter renders findings as text.
      type: dict
matrix:
  description: "C({host: {peer: cell}}), peer = inventory host, or the IP of a registered node that is in no
    host; cell = Established, a BGP state such as Active or Connect, missing, or unexpected <state>."
  returned: always
  type: dict
table:
  description: The mesh as readable text (host x host grid; a per-host summary above 30 hosts).
  returned: always
  type: str
expected_peers:
  description: "C({host: [peer IPs]}) the check expected."
  returned: always
  type: dict
probed:
  description: Whether an IPIP probe matrix (O(probe)) was judged; without one, IP protocol 4 was not checked.
  returned: always
  type: bool
not_compared:
  description:
    - The membership sources that were not compared because O(members) lists none of them as read
      (C(cloud machines), C(Kubernetes Nodes)). A machine Calico does not know, or a Kubernetes Node without a
      Calico Node, cannot be found without them; an empty list means both were compared.
  returned: always
  type: list
  elements: str
  sample: [cloud machines, Kubernetes Nodes]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.in_process import ModuleFailure
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.check import ARGUMENT_SPEC, mesh_check


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = mesh_check(module.params)
    except ModuleFailure as exc:
        module.fail_json(msg=exc.msg, changed=False, **exc.context)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
