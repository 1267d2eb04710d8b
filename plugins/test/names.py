# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests over the name rules (plugins/module_utils/validation/names.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import names


def dns_label(value: Any) -> bool:
    """An RFC 1123 label: a Kubernetes or Calico node name, an EC2 Name tag, a hostname's first label."""
    return names.is_dns_label(value)


def gce_name(value: Any) -> bool:
    """An RFC 1035 label: a GCE instance name, firewall rule name or network tag."""
    return names.is_gce_name(value)


def hostname(value: Any, fqdn: bool = False, cloud: str | None = None) -> bool:
    """An RFC 1123 hostname; fqdn wants two or more labels; on GCP every label starts with a letter."""
    return names.is_hostname(value, fqdn=fqdn, rfc1035=cloud == "gcp")


def batch_id(value: Any) -> bool:
    """A scale-out batch id: a GCE label value and an EC2 tag value."""
    return names.batch_problem(value) is None


class TestModule:
    def tests(self) -> dict[str, Callable[..., bool]]:
        return {"dns_label": dns_label, "gce_name": gce_name, "hostname": hostname, "batch_id": batch_id}
