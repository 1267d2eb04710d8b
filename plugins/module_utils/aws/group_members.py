# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make every instance of the cluster a member of one security group, keeping its other groups.

Plain Python over a boto3 EC2 client; the module ``aws_security_group_members``
is a thin wrapper. Only groups are added: an instance never loses a group here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

LIVE_STATES = ("pending", "running", "stopping", "stopped")


class GroupMembersError(Exception):
    """The group or the instances could not be read or changed; the message says why."""


def find_group_id(ec2: Any, group: str, vpc_id: str | None = None) -> str:
    """The id of ``group`` (an sg- id, or a name inside ``vpc_id``)."""
    if group.startswith("sg-"):
        filters = [{"Name": "group-id", "Values": [group]}]
    else:
        filters = [{"Name": "group-name", "Values": [group]}]
        if vpc_id:
            filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    found = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    if len(found) != 1:
        raise GroupMembersError(
            f"security group {group!r} {'does not exist' if not found else 'is ambiguous'}"
            f"{' in ' + vpc_id if vpc_id else ''}: create it first (aws_network does) or give its sg- id")
    return found[0]["GroupId"]


def cluster_instances(ec2: Any,
                      filters: dict[str, Any]) -> tuple[list[dict[str, Any]], Callable[[dict[str, Any]], str]]:
    """Live instances matching ``filters`` ({name: value or [values]}), sorted by their Name tag."""
    if not filters:
        raise GroupMembersError("no instance filters: give the filters that select the cluster's nodes")
    aws_filters = [{"Name": k, "Values": [str(x) for x in (v if isinstance(v, list) else [v])]}
                   for k, v in sorted(filters.items())]
    aws_filters.append({"Name": "instance-state-name", "Values": list(LIVE_STATES)})
    instances = []
    for page in ec2.get_paginator("describe_instances").paginate(Filters=aws_filters):
        for reservation in page["Reservations"]:
            instances.extend(reservation["Instances"])

    def name(instance: dict[str, Any]) -> str:
        return next((t["Value"] for t in instance.get("Tags") or [] if t["Key"] == "Name"), instance["InstanceId"])

    return sorted(instances, key=lambda i: (name(i), i["InstanceId"])), name


def ensure_members(ec2: Any, group_id: str, filters: dict[str, Any], check_mode: bool = False) -> dict[str, Any]:
    """Add ``group_id`` to every selected instance; returns {changed, instances, diff}."""
    instances, name_of = cluster_instances(ec2, filters)
    before, after, changed = {}, {}, []
    for instance in instances:
        current = [g["GroupId"] for g in instance.get("SecurityGroups") or []]
        label = f"{name_of(instance)} ({instance['InstanceId']})"
        before[label] = sorted(current)
        after[label] = sorted(set(current) | {group_id})
        if group_id in current:
            continue
        changed.append(instance["InstanceId"])
        if not check_mode:
            ec2.modify_instance_attribute(InstanceId=instance["InstanceId"], Groups=current + [group_id])
    return {
        "changed": bool(changed),
        "added_to": changed,
        "instances": sorted(before),
        "diff": {"before": before, "after": after},
    }
