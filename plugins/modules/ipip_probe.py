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
    whose payload names the sender and the run, and carries the sender's
    column, that is which peers it has heard from) to every peer; a raw
    listener on each peer records who it heard from.
  - Two steps, in two rounds at most, with any number of forks.
    O(state=started) on every node starts a detached process with a hard
    deadline (O(timeout)) that listens, sends to every peer and re-sends to
    each peer it has not heard yet; it exits by itself once it has heard
    every peer and told each of them so. O(state=collected) on ONE node
    whose process was started with O(collector=true) waits up to O(wait)
    seconds for the whole matrix, stops its process, removes its files,
    tells the peers that hear it to stop, and returns the matrix it learnt
    plus the peers it has no final word on (RV(unfinished)). Run
    O(state=collected) on those nodes too (it returns their own column and
    stops them).
  - M(calico_fleet.fleet.calico_bgp_status) can start the probe too (its C(ipip_probe) option), so
    that verification starts it in the round it already makes over the nodes and the probe adds
    only the collecting call.
  - Run the steps with the linear strategy (the default), so that collection
    starts after O(state=started) has reached every node.
  - O(state=absent) stops every probe process of the run (or of every run)
    on a node and removes their files, for example after an interrupted run.
  - Build the pairwise matrix on the controller with the
    C(calico_fleet.fleet.ipip_probe_matrix) filter.
  - Needs root (a raw socket); fails saying so otherwise. Changes nothing
    on the host (it only writes temporary files that C(collected) removes),
    so it never reports changed and runs the same in check mode.
version_added: "1.0.0"
options:
  state:
    description: Which step to run on this node.
    type: str
    required: true
    choices: [started, collected, absent]
  run_id:
    description:
      - Identifies one probe run on every node; packets of other runs are
        ignored. 1-32 characters from C(A-Z a-z 0-9 _ . -).
      - Required for O(state=started) and O(state=collected); with
        O(state=absent), omit it to stop the processes of every run.
    type: str
  peers:
    description:
      - Private IPv4 addresses of every node of the probe, the same list on
        every node since the columns are bitmaps over it. This node's own
        address may be listed.
      - Required for O(state=started) and O(state=collected).
    type: list
    elements: str
  collector:
    description:
      - This node collects the matrix (O(state=started)); its process keeps
        listening until it holds every peer's full column.
    type: bool
    default: false
  count:
    description: Packets sent to each peer in one burst (O(state=started)).
    type: int
    default: 1
  interval:
    description: Seconds between bursts to the peers not heard yet (O(state=started)).
    type: float
    default: 0.5
  timeout:
    description:
      - Seconds after which the probe process stops by itself, even if
        nothing collects it (O(state=started)). Must cover the time the
        play needs to reach the C(collected) step.
    type: int
    default: 300
    aliases: [listen_timeout]
  wait:
    description:
      - Seconds to wait for the process to finish (O(state=collected)), that is until it has
        heard every peer and, on the collector, every peer's full column.
        At least twice O(interval) plus a second, so a late peer is heard.
    type: float
    default: 5
  source:
    description:
      - This node's address, used as the outer source address (O(state=started)).
        Default is the address the kernel uses to reach the peers.
    type: str
  state_dir:
    description:
      - Directory for the process's status and pid files. Default C(/run)
        when writable, else the temporary directory.
    type: path
notes:
  - Needs root (C(become=true)). The host's firewall must also let IP
    protocol 4 in; that is part of what the probe proves.
  - The process sends at most one burst per O(interval) and only to peers
    still owed one; it never outlives O(timeout).
author: calico-fleet contributors (@calico-fleet)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes.on_node
"""

EXAMPLES = r"""
- name: Start the IPIP probe on every node (it ends by itself)
  calico_fleet.fleet.ipip_probe:
    state: started
    run_id: "{{ __mesh_verify_run_id }}"
    peers: "{{ ansible_play_hosts | map('extract', hostvars, 'ansible_host') | list }}"
    collector: "{{ inventory_hostname == ansible_play_hosts[0] }}"
    timeout: 300
  become: true

- name: Collect the whole matrix on the collecting node
  calico_fleet.fleet.ipip_probe:
    state: collected
    run_id: "{{ __mesh_verify_run_id }}"
    peers: "{{ ansible_play_hosts | map('extract', hostvars, 'ansible_host') | list }}"
  delegate_to: "{{ ansible_play_hosts[0] }}"
  run_once: true
  become: true
  register: __mesh_verify_probe

- name: Stop every probe left on the nodes after an interrupted run
  calico_fleet.fleet.ipip_probe:
    state: absent
  become: true
"""

RETURN = r"""
pid:
  description: Process id of the probe process.
  returned: state=started
  type: int
started:
  description: False when a process for this run was already running.
  returned: state=started
  type: bool
result_file:
  description: Where the process writes its status.
  returned: state=started
  type: str
address:
  description: This node's address.
  returned: state=started or state=collected
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
columns:
  description:
    - What each peer reported it had heard, by peer then sender (the last
      column received from it). Peers whose packets never arrived are missing.
  returned: state=collected
  type: dict
  sample: {"198.18.0.12": {"198.18.0.11": true, "198.18.0.13": true}}
unfinished:
  description:
    - Peers this node has no final word on (column never received or not
      complete) and that cannot hear its stop packet; collect them directly.
  returned: state=collected
  type: list
  elements: str
unexpected:
  description: Senders of this run's probes that are not in O(peers).
  returned: state=collected
  type: list
  elements: str
listener_expired:
  description:
    - True when the process had already reached its deadline (O(timeout)
      too short); probes sent after that are missing.
  returned: state=collected
  type: bool
stopped:
  description: Runs whose process was stopped (O(state=absent)).
  returned: state=absent
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.errors import ProbeError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.inputs import out_of_range
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip.process import collect, start, stop_all

ARGUMENT_SPEC = dict(
    state=dict(type="str", required=True, choices=["started", "collected", "absent"]),
    run_id=dict(type="str"),
    peers=dict(type="list", elements="str"),
    collector=dict(type="bool", default=False),
    count=dict(type="int", default=1),
    interval=dict(type="float", default=0.5),
    timeout=dict(type="int", default=300, aliases=["listen_timeout"]),
    wait=dict(type="float", default=5),
    source=dict(type="str"),
    state_dir=dict(type="path"),
)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[("state", "started", ["peers", "run_id"]),
                                        ("state", "collected", ["peers", "run_id"])])
    p = module.params
    if out_of_range(p):
        module.fail_json(msg=out_of_range(p))
    try:
        if p["state"] == "started":
            result = start(p["peers"], p["run_id"], p["timeout"], p["collector"], p["interval"],
                           p["count"], p["source"], p["state_dir"])
        elif p["state"] == "collected":
            result = collect(p["peers"], p["run_id"], p["wait"], p["state_dir"])
        else:
            result = stop_all(p["run_id"], p["state_dir"])
    except ProbeError as exc:
        module.fail_json(msg=str(exc), **exc.context)
    # A probe changes nothing on the host: its temporary files are removed by `collected`.
    module.exit_json(changed=False, run_id=p["run_id"], **result)


if __name__ == "__main__":
    main()
