#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: decommission a Calico node as Calico's node delete does, guarded by its IP and liveness."""

DOCUMENTATION = r"""
---
module: calico_node
extends_documentation_fragment:
  [calico_fleet.fleet.calico_datastore, calico_fleet.fleet.attributes.datastore, calico_fleet.fleet.attributes]
short_description: Decommission a Calico node as Calico's own node delete does, guarded by its IP and liveness
description:
  - Does what C(calicoctl delete node <name>) does (libcalico-go's node client), in the same order, through
    the etcdv3 or kubernetes datastore. Releases the addresses of the workload endpoints whose C(spec.node)
    is the node and the node's IPIP, VXLAN and WireGuard tunnel addresses in their IPAM blocks (handle counts
    decremented, handles deleted at zero, an empty block without affinity deleted); deletes those workload
    endpoints; releases the node's block affinities (an empty block is deleted, a non-empty one loses its
    affinity) and deletes its IPAM host key; deletes the BGPPeers and HostEndpoints whose C(spec.node) is the
    node and FelixConfiguration and BGPConfiguration C(node.<name>); then deletes the Node.
  - With O(expected_ipv4_address) nothing is deleted unless the Node is registered with that IPv4 address.
    Two hosts can write one Node (last writer wins), so the name alone does not say whose registration it
    is; a Node registered with another address belongs to another host. The module then fails before any
    write and names the address it found.
  - Unless O(force), it also fails before any write while something accepts TCP connections on the BGP port
    (179) at the Node's address, because the host is then alive and its calico-node uses the registration.
  - Every write carries the revision that was read (etcd compare-and-swap on the mod revision, Kubernetes
    resourceVersion), so a key changed in between stops the run; running it again finishes the job.
  - Under the kubernetes datastore, workload endpoints are the node's pods (their Calico annotations are removed),
    IPAM is written as C(crd.projectcalico.org/v1) C(ipamblocks), C(blockaffinities), C(ipamhandles) (as
    Calico does), and the Kubernetes Node itself is not deleted (Calico does not either); it is listed in
    RV(not_deleted).
  - Idempotent (a node with nothing left is no change); check mode lists every key it would remove or
    change, and diff shows their values.
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  name:
    description: Calico node name.
    type: str
    required: true
  state:
    description: C(absent) decommissions the node.
    type: str
    choices: [absent]
    default: absent
  expected_ipv4_address:
    description:
      - IPv4 address (with or without prefix length) the Node must be registered with to be deleted;
        normally the IP of the host whose registration this is.
      - Leave it out only for a Node whose host is known to be gone.
    type: str
  force:
    description:
      - Delete even while BGP answers at the Node's address (the host is alive). The IP guard of
        O(expected_ipv4_address) still applies. A calico-node that keeps running there registers its
        Node again when it restarts.
    type: bool
    default: false
  liveness_timeout:
    description: Seconds to wait for a TCP connection to the BGP port of the Node's address.
    type: float
    default: 2
"""

EXAMPLES = r"""
- name: Decommission node aws-na-k8s-temp1, only if it is still the registration of the machine removed
  calico_fleet.fleet.calico_node:
    name: aws-na-k8s-temp1
    state: absent
    expected_ipv4_address: 172.31.3.33
  delegate_to: localhost

- name: Show what the decommission would remove
  calico_fleet.fleet.calico_node:
    name: aws-na-k8s-temp1
    state: absent
  check_mode: true
  diff: true
  delegate_to: localhost
  register: plan
"""

RETURN = r"""
node:
  description: The registration before the module ran, as C({name, ipv4_address}); null when there was none.
  returned: always
  type: dict
removed:
  description: Keys (etcd) or API paths (kubernetes) deleted, in the order of deletion; in check mode the ones
    that would be.
  returned: always
  type: list
  elements: str
  sample:
    - /calico/ipam/v2/assignment/ipv4/block/172.20.139.64-26
    - /calico/resources/v3/projectcalico.org/nodes/node-1
updated:
  description: Keys or API paths rewritten and kept (a non-empty block that lost its affinity or an
    allocation, a handle with addresses left).
  returned: always
  type: list
  elements: str
released_addresses:
  description: Addresses whose allocation was released.
  returned: always
  type: list
  elements: str
not_deleted:
  description: What Calico's delete leaves to others, with the reason (the Kubernetes Node under the
    kubernetes datastore).
  returned: always
  type: list
  elements: dict
inconsistencies:
  description: Inconsistencies met and left alone (a handle that does not list a block), as Calico logs them.
  returned: always
  type: list
  elements: str
findings:
  description:
    - What the decommission leaves to others, as findings (section C(scale_in)) with their fix as data -
      C(kubernetes_node_not_deleted) (fix - C(kubectl delete node)) and C(ipam_handle_inconsistent)
      (fix - C(calicoctl ipam check)). Both are warnings.
  returned: always
  type: list
  elements: dict
diff:
  description: C(before) has every removed or rewritten key with its value, C(after) the rewritten ones.
  returned: when diff is requested
  type: dict
"""

import ipaddress

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.module import (
    CalicoModule,
    resource_argument_spec,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.node_delete import decommission_node


def argument_spec() -> dict:
    return resource_argument_spec(
        states=("absent",),
        expected_ipv4_address=dict(type="str"),
        force=dict(type="bool", default=False),
        liveness_timeout=dict(type="float", default=2),
    )


def main() -> None:
    module = CalicoModule(argument_spec=argument_spec())
    p = module.params
    expected = p["expected_ipv4_address"]
    try:
        if expected is not None:
            ipaddress.IPv4Address(expected.split("/")[0].strip())
    except ValueError:
        module.fail_json(msg=f"expected_ipv4_address {expected!r} is not an IPv4 address; set the host's IP")
    result = module.run(decommission_node, p["name"], expected, p["force"], module.check_mode, p["liveness_timeout"])
    for warning in result["inconsistencies"]:
        module.warn(warning)
    module.exit_result(result)


if __name__ == "__main__":
    main()
