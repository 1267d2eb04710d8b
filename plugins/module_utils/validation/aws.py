# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS names: regions, resource ids (vpc-, subnet-, ami-, sg-, i-), security group names."""

from __future__ import annotations

import re
from typing import Any

_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_ID_RE = re.compile(r"([a-z]+)-[0-9a-f]{8,17}")


def region_problem(region: Any) -> str | None:
    if not isinstance(region, str) or not _REGION_RE.fullmatch(region):
        return f"{region!r} is not an AWS region such as eu-west-1"
    return None


def resource_id_problem(value: Any, kind: str) -> str | None:
    """An EC2 resource id of ``kind`` (vpc, subnet, ami, sg, i): ``<kind>-`` and 8 or 17 hex digits."""
    match = _ID_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None or match.group(1) != kind:
        return f"{value!r} is not an id such as {kind}-0123456789abcdef0"
    return None


def security_group_name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not 1 <= len(name) <= 255 or name.startswith("sg-"):
        return f"{name!r} is not a security group name: 1-255 characters, not starting with 'sg-'"
    return None


def is_region(region: Any) -> bool:
    return region_problem(region) is None


def is_resource_id(value: Any, kind: str) -> bool:
    return resource_id_problem(value, kind) is None
