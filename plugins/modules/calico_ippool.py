#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: manage one Calico IPPool in the datastore."""

DOCUMENTATION = r"""
---
module: calico_ippool
extends_documentation_fragment:
  [calico_fleet.fleet.calico_datastore, calico_fleet.fleet.attributes.datastore, calico_fleet.fleet.attributes]
short_description: Manage a Calico IPPool (etcdv3 or Kubernetes datastore), idempotently
description:
  - Creates, updates or deletes one C(projectcalico.org/v3) IPPool.
  - Compares Calico's effective values (its defaults applied), so a pool written by calicoctl and
    server-managed metadata never cause a change; a second run is a no-op.
  - Validates before any write. C(cidr) and C(block_size) are immutable; asking to change them fails
    and explains the migration (new pool, disable the old one, move workloads).
  - Options left out are not managed on an existing pool; a new pool gets Calico's defaults. One exception.
    IPIP and VXLAN cannot both be on for a pool, so an encapsulation turned on (O(ipip_mode) or O(vxlan_mode)
    other than C(Never)) sets the other one, when left out, to C(Never). A pool declared with IPIP and switched
    to VXLAN by hand is reported (check mode) and set back on that field.
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  name:
    description: IPPool name, e.g. C(default-ipv4-ippool).
    type: str
    required: true
  state:
    description: Whether the pool should exist.
    type: str
    choices: [present, absent]
    default: present
  cidr:
    description: Pool range, masked (C(172.20.0.0/16)). Required to create a pool. Immutable.
    type: str
  block_size:
    description:
      - Prefix length of the per-node blocks (IPv4 20-32, default 26; IPv6 116-128, default 122). Immutable.
    type: int
  ipip_mode:
    description: IPIP encapsulation between nodes (IPv4 only).
    type: str
    choices: [Always, CrossSubnet, Never]
  vxlan_mode:
    description:
      - VXLAN encapsulation; cannot be on together with IPIP.
      - Left out while O(ipip_mode) is C(Always) or C(CrossSubnet), it is C(Never).
    type: str
    choices: [Always, CrossSubnet, Never]
  nat_outgoing:
    description: Masquerade traffic from pods to destinations outside all pools.
    type: bool
  disabled:
    description: Stop handing out addresses from this pool (the first step of a migration).
    type: bool
  disable_bgp_export:
    description: Do not advertise this pool's routes over BGP.
    type: bool
  node_selector:
    description: Nodes that take addresses from this pool (Calico selector, default C(all())).
    type: str
  allowed_uses:
    description: What the addresses are for (default C([Workload, Tunnel])).
    type: list
    elements: str
    choices: [Workload, Tunnel, LoadBalancer]
  service_cidr:
    description: Kubernetes Service CIDR; the pool must not overlap it.
    type: str
  node_cidr:
    description: The nodes' (VPC) range; the pool must not overlap it.
    type: str
notes:
  - Supports check mode and diff mode; the diff shows the effective spec (defaults spelled out).
"""

EXAMPLES = r"""
- name: Keep the pod pool in IPIP mode (etcd with TLS client certificates, as kubeasz sets it up)
  calico_fleet.fleet.calico_ippool:
    name: default-ipv4-ippool
    cidr: 172.20.0.0/16
    ipip_mode: Always
    nat_outgoing: true
    service_cidr: 10.68.0.0/16
    node_cidr: 10.0.1.0/24
    etcd_endpoints: [https://10.0.1.1:2379]
    etcd_ca_cert: /etc/kubernetes/ssl/ca.pem
    etcd_cert: /etc/calico/ssl/calico.pem
    etcd_key: /etc/calico/ssl/calico-key.pem

- name: Disable the old pool during a migration, the datastore from the play's module_defaults
  calico_fleet.fleet.calico_ippool:
    name: old-pool
    disabled: true
"""

RETURN = r"""
ippool:
  description: The IPPool as stored after the run (as it would be, in check mode); null when absent.
  returned: always
  type: dict
findings:
  description:
    - What differs from the request, one finding per field (the collection's finding model), C(kind)
      C(ip_pool_missing), C(ip_pool_changed) or C(ip_pool_unexpected), C(section) C(calico_settings).
    - Its C(fix) is data - the scale_out playbook with the tag calico_network. Empty when nothing changes.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.apply import apply_ippool
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.module import (
    CalicoModule,
    resource_argument_spec,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import ippool_request

MODES = ["Always", "CrossSubnet", "Never"]


def argument_spec() -> dict:
    return resource_argument_spec(
        cidr=dict(type="str"),
        block_size=dict(type="int"),
        ipip_mode=dict(type="str", choices=MODES),
        vxlan_mode=dict(type="str", choices=MODES),
        nat_outgoing=dict(type="bool"),
        disabled=dict(type="bool"),
        disable_bgp_export=dict(type="bool"),
        node_selector=dict(type="str"),
        allowed_uses=dict(type="list", elements="str", choices=["Workload", "Tunnel", "LoadBalancer"]),
        service_cidr=dict(type="str"),
        node_cidr=dict(type="str"),
    )


def main() -> None:
    module = CalicoModule(argument_spec=argument_spec())
    p = module.params
    wanted = ippool_request(p["cidr"], p["block_size"], p["ipip_mode"], p["vxlan_mode"], p["nat_outgoing"],
                            p["disabled"], p["disable_bgp_export"], p["node_selector"], p["allowed_uses"])
    module.exit_result(module.run(apply_ippool, p["name"], p["state"], wanted, p["service_cidr"], p["node_cidr"],
                                  module.check_mode, name=p["name"]))


if __name__ == "__main__":
    main()
