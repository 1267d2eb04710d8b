# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja test over the IP pool rule (plugins/module_utils/validation/ippool.py): Calico's own checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.ippool import is_ippool


def ippool(value: Any) -> bool:
    """An IP pool as calico_network_ippools declares it, one Calico accepts."""
    return is_ippool(value)


class TestModule:
    def tests(self) -> dict[str, Callable[..., bool]]:
        return {"ippool": ippool}
