#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure a batch of Compute Engine instances exists (or not), in parallel."""

DOCUMENTATION = r"""
---
module: gcp_instances
short_description: Ensure a set of Compute Engine instances exists, created in parallel
description:
  - Ensures every instance in O(instances) exists (O(state=present)) or is gone (O(state=absent)),
    matched by name in its zone, through the official C(google-cloud-compute) client library.
  - All missing instances are inserted first, then every operation is waited for, so a batch takes
    about as long as one instance.
  - One failing instance does not stop the others. The module then fails, listing each failure in
    RV(failures), while the other instances are created and returned; a rerun creates only what is
    still missing, without duplicates.
  - Existing instances are never modified and never recreated. A setting that differs from the
    request is reported in RV(differences) and as a warning; settings a running machine cannot change
    (machine type, zone, network, service account, provisioning) are flagged as such. To apply them,
    delete the instance (O(state=absent)) and rerun.
  - Every insert and delete carries a C(requestId) (a new UUID per instance per run), reused when the
    request is retried, so a retry after a lost reply or a 5xx never creates a second machine.
  - Instances without their own zone are spread round-robin over O(zones), in list order. An existing
    instance is found in any of the zones involved, so a changed spread does not create a second one.
  - O(state=absent) deletes the listed instances and waits until they are gone.
  - Refuses, before any write, two instances with the same O(instances[].hostname), or a hostname
    already used by another instance in the zone; Calico names nodes by hostname.
  - Check mode reports what would be created or deleted and sends no write.
version_added: "1.0.0"
author: calico-fleet contributors (@calico-fleet)
options:
  instances:
    description: The instances. Each setting left out falls back to the module option of the same name.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Instance name, 1-63 characters matching C([a-z]([-a-z0-9]*[a-z0-9])?).
        type: str
        required: true
      hostname:
        description:
          - Fully qualified guest hostname (two or more labels). GCE's default is
            C(<name>.<zone>.c.<project>.internal).
        type: str
      zone:
        description: Zone of this instance.
        type: str
      machine_type:
        description: Machine type name.
        type: str
      image:
        description: Boot image URL or image family URL.
        type: str
      disk_size_gb:
        description: Boot disk size in GB.
        type: int
      disk_type:
        description: Boot disk type (C(pd-balanced), C(pd-ssd), C(pd-standard), C(hyperdisk-balanced)).
        type: str
      network:
        description: VPC network name or URL.
        type: str
      subnetwork:
        description: Subnetwork name (in the zone's region), needed in custom-mode VPCs.
        type: str
      tags:
        description: Network tags (firewall rules target these).
        type: list
        elements: str
      labels:
        description: Labels.
        type: dict
      can_ip_forward:
        description: Whether the instance may send packets with other source addresses.
        type: bool
      service_account_email:
        description: Service account the machine runs as; an empty string for none.
        type: str
      scopes:
        description: OAuth scopes of the service account; short names (C(cloud-platform)) or URLs.
        type: list
        elements: str
      metadata:
        description: Instance metadata keys and values.
        type: dict
      ssh_keys:
        description: Lines C(user:ssh-ed25519 AAAA... comment) for the C(ssh-keys) metadata key.
        type: list
        elements: str
      startup_script:
        description: Script for the C(startup-script) metadata key, run at every boot.
        type: str
      user_data:
        description: Cloud-init user data for the C(user-data) metadata key.
        type: str
      provisioning_model:
        description: C(standard), or C(spot) (cheaper, can be preempted at any time).
        type: str
        choices: [standard, spot]
      spot_termination_action:
        description: What GCE does to a preempted spot machine.
        type: str
        choices: [stop, delete]
  state:
    description: C(present) creates missing instances, C(absent) deletes the listed ones.
    type: str
    choices: [present, absent]
    default: present
  zone:
    description: Default zone, for instances without their own zone when O(zones) is empty.
    type: str
  zones:
    description:
      - Zones to spread instances without their own zone over, round-robin in list order
        (for example three zones of one region, so a zone outage takes a third of the nodes).
    type: list
    elements: str
    default: []
  machine_type:
    description: Default machine type.
    type: str
    default: e2-standard-2
  image:
    description: Default boot image.
    type: str
    default: projects/debian-cloud/global/images/family/debian-12
  disk_size_gb:
    description: Default boot disk size in GB (at least 10).
    type: int
    default: 20
  disk_type:
    description: Default boot disk type; C(pd-balanced) suits a node's container images and logs.
    type: str
    default: pd-balanced
  network:
    description: Default VPC network.
    type: str
    default: default
  subnetwork:
    description: Default subnetwork name.
    type: str
  tags:
    description: Default network tags.
    type: list
    elements: str
    default: []
  labels:
    description: Default labels.
    type: dict
    default: {}
  can_ip_forward:
    description: Default for IP forwarding.
    type: bool
    default: false
  service_account_email:
    description:
      - Default service account; C(default) is the project's Compute Engine default service account.
        An empty string creates machines without a service account (O(scopes) is then ignored).
    type: str
    default: default
  scopes:
    description:
      - Default OAuth scopes. C(cloud-platform) with IAM roles on the service account is what Google
        recommends; a node needs at least image pulls, logging and monitoring.
    type: list
    elements: str
    default: [cloud-platform]
  metadata:
    description: Default instance metadata (key to value).
    type: dict
    default: {}
  ssh_keys:
    description: Default C(ssh-keys) metadata lines, C(user:key-type key comment).
    type: list
    elements: str
    default: []
  startup_script:
    description: Default C(startup-script) metadata.
    type: str
  user_data:
    description: Default cloud-init C(user-data) metadata.
    type: str
  provisioning_model:
    description: Default provisioning; C(spot) machines get no automatic restart and terminate on host maintenance.
    type: str
    choices: [standard, spot]
    default: standard
  spot_termination_action:
    description: Default action on preemption of a spot machine.
    type: str
    choices: [stop, delete]
    default: stop
notes:
  - A metadata key may be given either in O(metadata) or by its own option (O(ssh_keys),
    O(startup_script), O(user_data)), not both.
  - Per-instance settings replace the module defaults; they are not merged (a per-instance
    O(instances[].metadata) replaces O(metadata)).
extends_documentation_fragment:
  - calico_fleet.fleet.gce_connection
  - ansible.builtin.action_common_attributes
  - calico_fleet.fleet.attributes
"""

EXAMPLES = r"""
- name: Create six Calico nodes over three zones, as spot machines with an SSH key
  calico_fleet.fleet.gcp_instances:
    zones: [europe-west1-b, europe-west1-c, europe-west1-d]
    tags: [calico-node]
    service_account_email: k8s-node@my-project.iam.gserviceaccount.com
    scopes: [cloud-platform]
    ssh_keys: ["admin:ssh-ed25519 AAAAC3Nza... admin"]
    user_data: "{{ lookup('file', 'node-cloud-init.yml') }}"
    disk_type: pd-ssd
    disk_size_gb: 50
    provisioning_model: spot
    instances:
      - {name: k8s-node-1}
      - {name: k8s-node-2}
      - {name: k8s-node-3}
      - {name: k8s-node-4}
      - {name: k8s-node-5, zone: europe-west1-b}  # pinned
      - {name: k8s-node-6, provisioning_model: standard}

- name: Remove two of them (waits until they are gone)
  calico_fleet.fleet.gcp_instances:
    state: absent
    zones: [europe-west1-b, europe-west1-c, europe-west1-d]
    instances: [{name: k8s-node-5}, {name: k8s-node-6}]

- name: Create three Calico nodes
  calico_fleet.fleet.gcp_instances:
    zone: europe-west1-b
    tags: [calico-node]
    instances:
      - {name: k8s-node-1, hostname: k8s-node-1.cluster.internal}
      - {name: k8s-node-2, hostname: k8s-node-2.cluster.internal}
      - {name: k8s-node-3, hostname: k8s-node-3.cluster.internal}
  register: nodes
"""

RETURN = r"""
instances:
  description: Each listed instance that exists after the run.
  returned: always
  type: list
  elements: dict
  sample: [{name: k8s-node-1, zone: europe-west1-b, hostname: k8s-node-1.cluster.internal,
            private_ip: 10.132.0.7, status: RUNNING, tags: [calico-node], created: true}]
created:
  description: Names created (in check mode, that would be created).
  returned: when state is present
  type: list
  elements: str
deleted:
  description: Names deleted (in check mode, that would be deleted).
  returned: when state is absent
  type: list
  elements: str
failures:
  description: Instances that failed, each with name and msg.
  returned: always
  type: list
  elements: dict
differences:
  description:
    - Existing instances whose settings differ from the request, left as they are. Each field has
      C(have), C(want) and C(needs_recreate_or_stop) (true when a running machine cannot take the change).
  returned: always
  type: list
  elements: dict
  sample: [{name: k8s-node-1, zone: europe-west1-b, fields: [{field: machine_type, have: e2-small,
            want: e2-standard-2, needs_recreate_or_stop: true}]}]
"""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.instances import INSTANCES_SPEC, desired, ensure
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.module import GcpModule


def main() -> None:
    module = GcpModule(argument_spec=INSTANCES_SPEC)
    with module.failing_on_errors():
        desired(module.params)  # validate before credentials are even looked up
        result = ensure(module.gce, module.params, module.check_mode)
    for warning in result.pop("warnings"):
        module.warn(warning)
    result = module.result_with_diff(result)
    if result["failures"]:
        names = ", ".join(f["name"] for f in result["failures"])
        module.fail_json(msg=f"Instances not created/deleted: {names}; rerun to converge. See failures.", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
