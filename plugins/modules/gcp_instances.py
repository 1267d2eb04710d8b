#!/usr/bin/python
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
  - Existing instances are never modified (their settings are reported, not changed).
  - Refuses, before any write, two instances with the same O(instances[].hostname), or a hostname
    already used by another instance in the zone; Calico names nodes by hostname.
  - Check mode reports what would be created or deleted and sends no write.
version_added: "1.0.0"
author: calico-fleet
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
  state:
    description: C(present) creates missing instances, C(absent) deletes the listed ones.
    type: str
    choices: [present, absent]
    default: present
  zone:
    description: Default zone.
    type: str
  machine_type:
    description: Default machine type.
    type: str
    default: e2-standard-2
  image:
    description: Default boot image.
    type: str
    default: projects/debian-cloud/global/images/family/debian-12
  disk_size_gb:
    description: Default boot disk size in GB.
    type: int
    default: 20
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
attributes:
  check_mode:
    support: full
    details: The same comparison runs; nothing is written.
  diff_mode:
    support: full
  platform:
    platforms: posix
    details: Talks to an API from wherever it runs; usually the controller.
extends_documentation_fragment:
  - calico_fleet.fleet.gce_connection
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Create three Calico nodes
  gcp_instances:
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
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gce import CONNECTION_SPEC, Gce, GceError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gce_instances import INSTANCES_SPEC, desired, ensure


def main():
    module = AnsibleModule(argument_spec={**INSTANCES_SPEC, **CONNECTION_SPEC}, supports_check_mode=True)
    try:
        desired(module.params)  # validate before credentials are even looked up
        result = ensure(Gce(module.params), module.params, module.check_mode)
    except GceError as exc:
        module.fail_json(msg=exc.msg, **exc.context)
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    if result["failures"]:
        names = ", ".join(f["name"] for f in result["failures"])
        module.fail_json(msg=f"Instances not created/deleted: {names}; rerun to converge. See failures.", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
