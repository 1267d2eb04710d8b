#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: BGP peer status of this node, read from BIRD's control socket."""

DOCUMENTATION = r"""
---
module: calico_bgp_status
short_description: Read Calico's BGP peer status from BIRD's control socket
description:
  - Talks to BIRD's control socket directly, like C(calicoctl node status) does, without calicoctl.
  - Returns one entry per BGP peer protocol Calico creates (C(Mesh_), C(Node_), C(Global_)), with the
    peer address decoded (IPv4, IPv6, custom port), the peer type as calicoctl prints it, BIRD's state
    and BGP state. A session that is down with an empty info column is reported, not dropped.
  - Supports BIRD 1.6 (Calico's BIRD, separate C(bird6.ctl) for IPv6) and BIRD 2.x table layouts.
  - With O(expect_peers), polls until every listed peer is Established or O(wait_timeout) passes. It does
    not fail for peers that are not Established; M(calico_fleet.fleet.calico_mesh_check) judges the whole mesh.
  - Read-only, never reports C(changed). Needs root (the socket is root only).
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  socket:
    description:
      - Path of BIRD's IPv4 control socket (or the IPv6 one with O(ip_version=6)).
      - Default C(/var/run/calico/bird.ctl), then C(/var/run/bird/bird.ctl);
        C(bird6.ctl) in the same places for IPv6.
      - With O(ip_version=all) the IPv6 socket is C(bird6.ctl) beside the given one.
    type: path
  ip_version:
    description:
      - Which BIRD to ask. C(all) reads IPv4 and, when its socket exists, IPv6, and merges the peers.
    type: str
    choices: ['4', '6', all]
    default: '4'
  timeout:
    description: Seconds to wait for BIRD's reply to one command.
    type: float
    default: 5
  expect_peers:
    description:
      - Peer IPs this node must have Established (for example from the C(calico_expected_peers) filter).
      - When given, the socket is polled until all of them are Established or O(wait_timeout) passes.
    type: list
    elements: str
    default: []
  wait_timeout:
    description: Seconds to keep polling for O(expect_peers). C(0) reads once.
    type: float
    default: 0
  retry_interval:
    description: Seconds between two polls.
    type: float
    default: 2
  identity:
    description:
      - Also return the host's running hostname and the raw content of O(nodename_file), what decides
        its Calico node name, and whether the host is joined to Kubernetes (a kubelet kubeconfig
        exists), so one call per host gives the mesh check everything it needs.
    type: bool
    default: false
  nodename_file:
    description: File calico-node takes its node name from (with O(identity)).
    type: path
    default: /var/lib/calico/nodename
  ipip_probe:
    description:
      - Also start this node's IPIP probe process, before BIRD is read, as
        M(calico_fleet.fleet.ipip_probe) does with C(state=started). The probe then
        runs while this call waits for the peers, and verification needs no
        round of its own to start it; collect it with
        M(calico_fleet.fleet.ipip_probe) C(state=collected).
      - A probe that cannot start (no root, bad peer list) does not fail this
        call; RV(ipip_probe) says why.
    type: dict
    suboptions:
      run_id:
        description: Identifies the probe run on every node (1-32 characters from C(A-Z a-z 0-9 _ . -)).
        type: str
        required: true
      peers:
        description: Private IPv4 addresses of every node of the probe, the same list on every node.
        type: list
        elements: str
        required: true
      collector:
        description: Whether this node collects the whole matrix.
        type: bool
        default: false
      count:
        description: Packets to each peer per burst (1-100).
        type: int
        default: 1
      timeout:
        description: Seconds after which the probe process stops by itself at the latest (1-3600).
        type: int
        default: 300
notes:
  - Supports check mode (it never changes anything).
seealso:
  - module: calico_fleet.fleet.calico_mesh_check
  - module: calico_fleet.fleet.ipip_probe
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes.on_node
"""

EXAMPLES = r"""
- name: Read the BGP peers of every node
  calico_bgp_status:
  become: true
  register: __mesh_verify_bgp

- name: Wait up to 60 s for the expected peers of a new node
  calico_bgp_status:
    expect_peers: "{{ __nodes.nodes | calico_fleet.fleet.calico_expected_peers(__nodes.bgp_configuration, ansible_host,
                                                                             __nodes.bgp_peers) }}"
    wait_timeout: 60
    retry_interval: 2
  become: true

- name: Read the BGP peers and start the IPIP probe in the same call
  calico_bgp_status:
    identity: true
    ipip_probe:
      run_id: verify-1
      peers: [10.0.1.201, 10.0.1.202, 10.0.1.203]
      collector: "{{ inventory_hostname == ansible_play_hosts[0] }}"
  become: true

- name: Read IPv4 and IPv6 peers
  calico_bgp_status:
    ip_version: all
  become: true
"""

RETURN = r"""
hostname:
  description: The running hostname (with O(identity)).
  returned: when identity is true
  type: str
  sample: node-1
nodename:
  description: Raw content of O(nodename_file), null when missing (with O(identity)).
  returned: when identity is true
  type: str
  sample: node-1
joined:
  description:
    - Whether the host is joined to Kubernetes, that is a kubelet kubeconfig exists
      (C(/etc/kubernetes/kubelet.conf), or C(/etc/kubernetes/kubelet.kubeconfig) as kubeasz writes it).
    - Without it the calico-node DaemonSet never lands on the host.
  returned: when identity is true
  type: bool
  sample: true
kubelet_kubeconfig:
  description: The kubelet kubeconfig found, null when the host is not joined (with O(identity)).
  returned: when identity is true
  type: str
  sample: /etc/kubernetes/kubelet.conf
bird_version:
  description: BIRD's version, from C(show status).
  returned: success
  type: str
  sample: 1.6.8
router_id:
  description: BIRD's router ID.
  returned: success
  type: str
  sample: 10.0.1.202
socket:
  description: The socket that answered (the IPv4 one with O(ip_version=all)).
  returned: success
  type: str
  sample: /var/run/calico/bird.ctl
sockets:
  description: Every socket read (IPv4 first).
  returned: when ip_version is 4 or all
  type: list
  elements: str
peers:
  description: One entry per BGP peer protocol.
  returned: success
  type: list
  elements: dict
  contains:
    name: {description: BIRD protocol name, type: str, sample: Mesh_10_0_1_203}
    address: {description: Peer IP decoded from the name (null when not decodable), type: str, sample: 10.0.1.203}
    port: {description: "Peer port when not 179 (C(_port_<n>) suffix), else null", type: int}
    type: {description: "C(node-to-node mesh), C(node specific) or C(global)", type: str}
    state: {description: "BIRD protocol state (up, start, down, ...)", type: str, sample: up}
    since: {description: "Time of the last state change, as BIRD prints it", type: str, sample: "12:49:54"}
    bgp_state: {description: First word of the info column (empty when the column is empty), type: str}
    info:
      description: The whole info column, whitespace collapsed.
      type: str
      sample: "Active Socket: Connection refused"
    established: {description: True only for BGP state Established, type: bool}
expected_established:
  description: Whether every peer in O(expect_peers) is Established (true when none were given).
  returned: success
  type: bool
waiting_for:
  description: Expected peers still not Established when the module returned.
  returned: success
  type: list
  elements: str
waited:
  description: Seconds spent polling.
  returned: success
  type: float
ipip_probe:
  description:
    - The probe process started (C(pid), C(started), C(address)), or C(failed) and C(msg) when it
      could not start.
  returned: when ipip_probe is given
  type: dict
  sample: {pid: 4711, started: true, address: 10.0.1.202}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.errors import BirdError, BirdNotRunning
from ansible_collections.calico_fleet.fleet.plugins.module_utils.bird.status import normalize_peers, wait_for_peers
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.identity import read_identity, read_membership
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.process import start_quietly

ARGUMENT_SPEC = dict(
    socket=dict(type="path"),
    ip_version=dict(type="str", choices=["4", "6", "all"], default="4"),
    timeout=dict(type="float", default=5),
    expect_peers=dict(type="list", elements="str", default=[]),
    wait_timeout=dict(type="float", default=0),
    retry_interval=dict(type="float", default=2),
    identity=dict(type="bool", default=False),
    nodename_file=dict(type="path", default="/var/lib/calico/nodename"),
    ipip_probe=dict(type="dict", options=dict(
        run_id=dict(type="str", required=True),
        peers=dict(type="list", elements="str", required=True),
        collector=dict(type="bool", default=False),
        count=dict(type="int", default=1),
        timeout=dict(type="int", default=300),
    )),
)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    if p["timeout"] <= 0 or p["wait_timeout"] < 0 or p["retry_interval"] <= 0:
        module.fail_json(msg="timeout and retry_interval must be > 0 and wait_timeout >= 0")
    try:
        normalize_peers(p["expect_peers"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    extra = {**read_identity(nodename_file=p["nodename_file"]), **read_membership()} if p["identity"] else {}
    if p["ipip_probe"]:
        # Started first: the probe runs while this call waits for the BGP peers.
        extra["ipip_probe"] = start_quietly(**p["ipip_probe"])
    try:
        result = wait_for_peers(
            p["expect_peers"], p["ip_version"], p["socket"], p["timeout"], p["wait_timeout"], p["retry_interval"]
        )
    except BirdNotRunning as exc:
        module.fail_json(msg=str(exc), paths=exc.paths, **extra)
    except BirdError as exc:
        module.fail_json(msg=f"reading BIRD's BGP status failed: {exc}", **extra)
    module.exit_json(changed=False, **result, **extra)


if __name__ == "__main__":
    main()
