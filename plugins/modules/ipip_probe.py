#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prove that IP protocol 4 (IPIP) passes between nodes, with raw packets."""

DOCUMENTATION = r"""
module: ipip_probe
short_description: Prove that IP protocol 4 (IPIP) passes between nodes
description:
  - Calico in IPIP mode needs IP protocol 4 between every pair of nodes. A
    firewall that allows only tcp, udp and icmp lets BGP come up while every
    IPIP packet is dropped. This module proves protocol 4 passes without
    depending on Calico's routes or a C(tunl0) device.
  - Each node sends raw protocol-4 packets (an IPIP-encapsulated ICMP echo
    whose payload names the sender and the run) to every peer; a raw
    listener on each peer records who it heard from.
  - Runs in three steps so it works with more nodes than forks. Run each
    step on all nodes before the next one, with the same O(run_id).
    C(listening) starts a detached listener that ends by itself after
    O(listen_timeout); C(sent) sends O(count) packets to each peer;
    C(collected) waits up to O(wait) seconds, reads what the listener
    received, stops it and removes its files.
  - Build the pairwise matrix on the controller with the
    C(ipip_probe_matrix) filter.
  - Needs root (a raw socket); fails saying so otherwise. Changes nothing
    on the host (it only writes temporary files that C(collected) removes),
    so it never reports changed and runs the same in check mode.
version_added: "1.0.0"
options:
  state:
    description: Which step to run on this node.
    type: str
    required: true
    choices: [listening, sent, collected]
  run_id:
    description:
      - Identifies one probe run on every node; packets of other runs are
        ignored. 1-32 characters from C(A-Z a-z 0-9 _ . -).
    type: str
    required: true
  peers:
    description:
      - Private IPv4 addresses of the nodes to probe. This node's own
        address may be listed; it is skipped.
      - Required for O(state=sent) and O(state=collected).
    type: list
    elements: str
  count:
    description: Packets sent to each peer (O(state=sent)).
    type: int
    default: 3
  interval:
    description: Seconds between rounds of packets (O(state=sent)).
    type: float
    default: 0.05
  listen_timeout:
    description:
      - Seconds after which the listener stops by itself, even if
        C(collected) never runs (O(state=listening)). Must cover the time
        the whole play needs to reach the C(collected) step.
    type: int
    default: 300
  wait:
    description:
      - Seconds to wait for packets from peers not yet heard from
        (O(state=collected)).
    type: float
    default: 3
  source:
    description:
      - This node's address, used as the outer source address when sending
        and to leave this node out of the result when collecting. Default
        is the address the kernel would use to reach each peer.
    type: str
  state_dir:
    description:
      - Directory for the listener's result and pid files. Default C(/run)
        when writable, else the temporary directory.
    type: path
notes:
  - Needs root (C(become=true)). The host's firewall must also let IP
    protocol 4 in; that is part of what the probe proves.
author: calico-fleet contributors (@calico-fleet)
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details: Read-only; it never changes anything, so there is no diff.
  platform:
    platforms: posix
    details: Runs on each cluster node (Linux).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Start the IPIP listener on every node
  ipip_probe:
    state: listening
    run_id: "{{ __mesh_verify_run_id }}"
    listen_timeout: 300
  become: true

- name: Send IPIP probes to every other node
  ipip_probe:
    state: sent
    run_id: "{{ __mesh_verify_run_id }}"
    peers: "{{ ansible_play_hosts | map('extract', hostvars, 'ansible_host') | list }}"
  become: true

- name: Collect which nodes were heard from
  ipip_probe:
    state: collected
    run_id: "{{ __mesh_verify_run_id }}"
    peers: "{{ ansible_play_hosts | map('extract', hostvars, 'ansible_host') | list }}"
  become: true
  register: __mesh_verify_probe
"""

RETURN = r"""
pid:
  description: Process id of the listener.
  returned: state=listening
  type: int
result_file:
  description: Where the listener writes what it receives.
  returned: state=listening
  type: str
started:
  description: False when a listener for this run was already running.
  returned: state=listening
  type: bool
sent:
  description: Packets sent, by peer address.
  returned: state=sent
  type: dict
  sample: {"198.18.0.12": 3}
errors:
  description: Send errors by peer address (for example no route to host).
  returned: state=sent
  type: dict
source:
  description: Outer source address used (null if it differed per peer).
  returned: state=sent
  type: str
address:
  description: This node's address (null if it could not be told).
  returned: state=collected
  type: str
  sample: 198.18.0.11
received_from:
  description: For every peer but this node, whether its probes arrived.
  returned: state=collected
  type: dict
  sample: {"198.18.0.12": true, "198.18.0.13": false}
packets:
  description: Probe packets received, by peer address.
  returned: state=collected
  type: dict
unexpected:
  description: Senders of this run's probes that are not in O(peers).
  returned: state=collected
  type: list
  elements: str
listener_expired:
  description:
    - True when the listener had already stopped (O(listen_timeout) too
      short); probes sent after that are missing.
  returned: state=collected
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import (
    ProbeError,
    collect,
    send_probes,
    start_listener,
)

ARGUMENT_SPEC = dict(
    state=dict(type="str", required=True, choices=["listening", "sent", "collected"]),
    run_id=dict(type="str", required=True),
    peers=dict(type="list", elements="str"),
    count=dict(type="int", default=3),
    interval=dict(type="float", default=0.05),
    listen_timeout=dict(type="int", default=300),
    wait=dict(type="float", default=3),
    source=dict(type="str"),
    state_dir=dict(type="path"),
)
LIMITS = {"count": (1, 100), "interval": (0, 1), "listen_timeout": (1, 3600), "wait": (0, 60)}


def bad_input(params):
    """Message naming the option to change, or None."""
    for name, (low, high) in LIMITS.items():
        if not low <= params[name] <= high:
            return f"{name}={params[name]} is out of range: use a value from {low} to {high}"
    return None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("state", "sent", ["peers"]), ("state", "collected", ["peers"])])
    p = module.params
    if bad_input(p):
        module.fail_json(msg=bad_input(p))
    try:
        if p["state"] == "listening":
            result = start_listener(p["run_id"], p["listen_timeout"], p["state_dir"])
        elif p["state"] == "sent":
            result = send_probes(p["peers"], p["run_id"], p["count"], p["interval"], p["source"])
        else:
            result = collect(p["peers"], p["run_id"], p["wait"], p["state_dir"], p["source"])
    except ProbeError as exc:
        module.fail_json(msg=str(exc), **exc.context)
    # A probe changes nothing on the host: its temporary files are removed by `collected`.
    module.exit_json(changed=False, run_id=p["run_id"], **result)


if __name__ == "__main__":
    main()
