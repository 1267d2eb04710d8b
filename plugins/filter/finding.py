# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that render findings (plugins/module_utils/finding.py) as text, so that templates only lay out lines."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Finding, sort_findings


def _findings(findings: Any, name: str) -> list[Finding]:
    if isinstance(findings, dict) or not isinstance(findings, (list, tuple)):
        raise AnsibleFilterError(f"{name}: pass a list of findings (the findings a check returns)")
    try:
        return sort_findings(findings)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"{name}: not a finding ({exc}); pass the findings a check returns") from exc


def _sources(inventory: Any | None) -> list[str]:
    if not inventory:
        return []
    return [inventory] if isinstance(inventory, str) else [str(i) for i in inventory]


def finding_line(findings: Any, inventory: Any | None = None) -> list[str]:
    """One line per finding (``Finding.to_line``), errors first."""
    return [f.to_line(_sources(inventory)) for f in _findings(findings, "finding_line")]


def finding_lines(findings: Any, inventory: Any | None = None) -> list[str]:
    """Each finding as a block (``Finding.to_lines``: headline, evidence, cause, fix), errors first."""
    return [line for f in _findings(findings, "finding_lines") for line in f.to_lines(_sources(inventory))]


class FilterModule:
    def filters(self) -> dict:
        return {"finding_line": finding_line, "finding_lines": finding_lines}
