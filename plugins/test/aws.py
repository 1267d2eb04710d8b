# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests over the AWS name rules (plugins/module_utils/validation/aws.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import aws


def aws_region(value: Any) -> bool:
    """An AWS region name, e.g. eu-west-1."""
    return aws.is_region(value)


def aws_id(value: Any, kind: str) -> bool:
    """An EC2 resource id of a kind (vpc, subnet, ami, sg, i), e.g. vpc-0123456789abcdef0."""
    return aws.is_resource_id(value, kind)


class TestModule:
    def tests(self) -> dict[str, Callable[..., bool]]:
        return {"aws_region": aws_region, "aws_id": aws_id}
