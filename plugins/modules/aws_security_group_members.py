#!/usr/bin/python
# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ansible module: every node of the cluster is a member of calico-fleet's security group."""

DOCUMENTATION = r"""
---
module: aws_security_group_members
short_description: Attach a security group to every instance of the cluster, keeping their other groups
description:
  - Finds the cluster's instances with EC2 filters (tags, VPC, ids) and adds O(group) to each one that does
    not have it yet, with C(ModifyInstanceAttribute). The instance's other groups stay; no group is removed.
  - Used for the security group calico-fleet owns (IP protocol 4 and TCP 179 between its members). BGP is
    allowed only between members, so the existing nodes must be members as well as the new ones.
  - Instances with several network interfaces cannot change groups this way; EC2 then refuses with a message.
version_added: "1.1.0"
author: calico-fleet contributors (@calico-fleet)
options:
  group:
    description: The security group to attach, by sg- id or by name (in O(vpc_id)).
    type: str
    required: true
  vpc_id:
    description: VPC of the group, to find it by name.
    type: str
  instance_filters:
    description:
      - EC2 DescribeInstances filters selecting the cluster's nodes, for example
        C(tag:kubernetes.io/cluster/k8s-prod=owned) or C(vpc-id) with C(tag:role).
      - Only live instances (pending, running, stopping, stopped) are considered.
    type: dict
    required: true
  region:
    description: AWS region.
    type: str
    required: true
  endpoint_url:
    description: EC2 API endpoint; empty for the AWS default (set it for a local moto server).
    type: str
notes:
  - Credentials come from the environment, C(~/.aws) or the instance profile, as for boto3.
attributes:
  check_mode:
    support: full
    details: The same lookup runs; nothing is changed.
  diff_mode:
    support: full
    details: The groups of each instance before and after.
  platform:
    platforms: posix
    details: Talks to the EC2 API from wherever it runs; usually the controller.
requirements:
  - boto3
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
"""

EXAMPLES = r"""
- name: Make every node of the cluster a member of the Calico group
  calico_fleet.fleet.aws_security_group_members:
    group: calico-nodes
    vpc_id: vpc-0123456789abcdef0
    region: eu-west-1
    instance_filters:
      "tag:kubernetes.io/cluster/k8s-prod": owned
"""

RETURN = r"""
added_to:
  description: Ids of the instances the group was (or, in check mode, would be) added to.
  returned: always
  type: list
  elements: str
instances:
  description: Every selected instance as C(name (id)).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.calico_fleet.fleet.plugins.module_utils.aws.group_members import (
    GroupMembersError,
    ensure_members,
    find_group_id,
)

try:
    import boto3
    import botocore.exceptions
except ImportError:
    boto3 = None


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(group=dict(type="str", required=True), vpc_id=dict(type="str"),
                           instance_filters=dict(type="dict", required=True),
                           region=dict(type="str", required=True), endpoint_url=dict(type="str")),
        supports_check_mode=True,
    )
    if boto3 is None:
        module.fail_json(msg=missing_required_lib("boto3"))
    p = module.params
    ec2 = boto3.client("ec2", region_name=p["region"], endpoint_url=p["endpoint_url"] or None)
    try:
        try:
            group_id = find_group_id(ec2, p["group"], p["vpc_id"])
        except GroupMembersError:
            if not module.check_mode or p["group"].startswith("sg-"):
                raise
            # Check mode before aws_network created the group: show what would be added.
            group_id = f"{p['group']} (to be created)"
        result = ensure_members(ec2, group_id, p["instance_filters"], module.check_mode)
    except GroupMembersError as exc:
        module.fail_json(msg=str(exc))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        module.fail_json(msg=f"EC2 refused or could not be reached: {exc}")
    if not module._diff:
        result.pop("diff")
    module.exit_json(group_id=group_id, **result)


if __name__ == "__main__":
    main()
