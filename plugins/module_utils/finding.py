# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one finding model of every check: mesh, identity, IPIP, cloud rules,
Calico resources, remediation and scale-in.

A finding says what is wrong (kind, severity), where (section, hosts, node,
peer, resource and field), what was seen (expected, actual, evidence), why it
probably happened (cause) and what fixes it (fix). The fix is data: a
sentence for a person, and either a playbook run (playbook, tags, limit,
extra vars), other commands to run, or the change to make. Renderers turn
the data into text; nothing edits a rendered text afterwards.

Modules return ``Finding.to_dict()``; controller code reads them back with
``Finding.from_dict()``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)
_SEVERITY_ORDER = {ERROR: 0, WARNING: 1}

COLLECTION = "calico_fleet.fleet"


def _names(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _plain(obj: Any) -> dict:
    """A dataclass as plain data, field by field in declaration order (lists, dicts and a nested
    Fix copied), as a module returns it."""
    out = {}
    for item in dataclasses.fields(obj):
        value = getattr(obj, item.name)
        if isinstance(value, Fix):
            value = value.to_dict()
        elif isinstance(value, (list, dict)):
            value = type(value)(value)
        out[item.name] = value
    return out


def _known(cls: Any, data: Any) -> dict:
    """The keys of ``data`` that are fields of ``cls``, without the ones set to None."""
    names = {item.name for item in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names and v is not None}


@dataclass
class Fix:
    """What fixes a finding.

    text:       the sentence a person reads ("Open IP protocol 4 from 10.0.0.0/16 ...").
    playbook:   a playbook of this collection by its short name (``scale_out``), run with
                ``tags``, ``limit`` and ``extra_vars``.
    commands:   other commands to run, in order, exactly as printed (``kubectl ...``).
    change:     the change to make when no command makes it, as data
                (``{"setting": "calico_network_ipip_mtu", "value": 1440}``).
    """

    text: str = ""
    playbook: str | None = None
    tags: list = dataclasses.field(default_factory=list)
    limit: list = dataclasses.field(default_factory=list)
    extra_vars: dict = dataclasses.field(default_factory=dict)
    commands: list = dataclasses.field(default_factory=list)
    change: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tags = _names(self.tags)
        self.limit = _names(self.limit)
        self.commands = _names(self.commands)
        self.extra_vars = dict(self.extra_vars or {})
        self.change = dict(self.change or {})

    def command(self, inventory: Sequence[str] = ()) -> str | None:
        """The playbook run, as a command that runs as printed; None without a playbook."""
        if not self.playbook:
            return None
        return playbook_command(self.playbook, limit=self.limit, tags=self.tags,
                                extra_vars=self.extra_vars, inventory=inventory)

    def to_text(self, inventory: Sequence[str] = ()) -> str:
        """The sentence, then the commands to run in order ("Run: A, then B")."""
        commands = self.commands + ([self.command(inventory)] if self.playbook else [])
        text = self.text.strip()
        if not commands:
            return text
        run = "Run: " + ", then ".join(commands)
        if text and text[-1] not in ".:;!?":
            text += "."
        return f"{text} {run}" if text else run

    def to_dict(self) -> dict:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: Any) -> Fix:
        if isinstance(data, Fix):
            return data
        if not data:
            return cls()
        if isinstance(data, str):
            return cls(text=data)
        return cls(**_known(cls, data))


@dataclass
class Finding:
    """One thing a check found wrong (see the module docstring)."""

    kind: str
    severity: str = ERROR
    section: str | None = None
    hosts: list = dataclasses.field(default_factory=list)
    node: str | None = None
    peer: str | None = None
    resource: str | None = None
    field: str | None = None
    expected: Any = None
    actual: Any = None
    evidence: list = dataclasses.field(default_factory=list)
    cause: str = ""
    fix: Fix = dataclasses.field(default_factory=Fix)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {self.severity!r}")
        self.hosts = sorted(set(_names(self.hosts)))
        self.evidence = [str(e) for e in (self.evidence or [])]
        self.fix = Fix.from_dict(self.fix)

    def to_dict(self) -> dict:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: Any) -> Finding:
        if isinstance(data, Finding):
            return data
        return cls(**_known(cls, data))

    def sort_key(self) -> tuple:
        return (_SEVERITY_ORDER.get(self.severity, 9), self.kind, self.hosts, self.node or "",
                self.peer or "", self.resource or "", self.field or "")

    def where(self) -> str:
        """Hosts, else the node, else the resource, else "cluster"."""
        if self.hosts:
            return ", ".join(self.hosts)
        return self.node or self.resource or "cluster"

    def headline(self) -> str:
        """What and where: ``[error] kind on hosts node N peer P field: actual, expected E``."""
        bits = [f"[{self.severity}] {self.kind} on {self.where()}"]
        if self.node and self.hosts:
            bits.append(f"node {self.node}")
        if self.peer:
            bits.append(f"peer {self.peer}")
        if self.field:
            bits.append(f"{self.field}: {self.actual!r}, expected {self.expected!r}")
        return " ".join(bits)

    def to_lines(self, inventory: Sequence[str] = ()) -> list[str]:
        """The finding as a block for a report: the headline, each piece of evidence, cause, fix."""
        lines = [self.headline()]
        lines += [f"    evidence: {line}" for line in self.evidence]
        if self.cause:
            lines.append(f"    cause:    {self.cause}")
        fix = self.fix.to_text(inventory)
        if fix:
            lines.append(f"    fix:      {fix}")
        return lines

    def to_line(self, inventory: Sequence[str] = ()) -> str:
        """One line for a person: what, where, what was seen, why, and the fix."""
        text = self.headline()
        if self.evidence:
            text += f": {self.evidence[0]}"
            if len(self.evidence) > 1:
                text += f" (+{len(self.evidence) - 1} more)"
        fix = self.fix.to_text(inventory)
        if self.cause:
            text += f". Likely cause: {self.cause.rstrip('.')}."
        return f"{text} Fix: {fix}" if fix else text


def sort_findings(findings: Iterable[Any]) -> list[Finding]:
    return sorted((Finding.from_dict(f) for f in findings), key=Finding.sort_key)


def findings_to_dicts(findings: Iterable[Any]) -> list[dict]:
    return [f.to_dict() for f in sort_findings(findings)]


def is_healthy(findings: Iterable[Any]) -> bool:
    """Healthy = no finding of severity error (warnings are advice)."""
    return not any(Finding.from_dict(f).severity == ERROR for f in findings)


def playbook_command(playbook: str, limit: Any = None, tags: Any = None, extra_vars: dict | None = None,
                     inventory: Sequence[str] = ()) -> str:
    """A playbook run that runs as printed, installed or from a checkout: the playbook by its
    collection name (``ansible-playbook calico_fleet.fleet.scale_out``; a checkout finds the
    collection through ansible.cfg's collections path), ``-i`` for each inventory source, then
    the limit, the tags and extra variables as JSON."""
    parts = ["ansible-playbook"] + inventory_args(inventory) + [f"{COLLECTION}.{playbook}"]
    if _names(limit):
        parts += ["--limit", shlex.quote(",".join(_names(limit)))]
    if _names(tags):
        parts += ["--tags", ",".join(_names(tags))]
    if extra_vars:
        parts += ["-e", shlex.quote(json.dumps(extra_vars, sort_keys=True))]
    return " ".join(parts)


def inventory_args(inventory: Sequence[str] = ()) -> list[str]:
    """``-i SOURCE`` for each inventory source, relative to the working directory when under it."""
    out: list[str] = []
    for source in inventory or []:
        path = str(source)
        if os.path.isabs(path):
            relative = os.path.relpath(path)
            path = path if relative.startswith("..") else relative
        out += ["-i", shlex.quote(path)]
    return out
