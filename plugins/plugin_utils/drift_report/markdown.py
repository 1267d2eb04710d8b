# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report as Markdown, for a ticket or a chat message."""

from __future__ import annotations

from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.report import (
    findings,
    not_compared,
    subject,
)


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict) -> str:
    """A summary: the verdict, a table of the sections, the drift with cause and fix, what could not be checked."""
    verdict = {"clean": "no drift", "drift": "drift found", "incomplete": "could not check everything"}
    lines = [
        f"# Drift check {report['cluster']}: {verdict[report['status']]} (exit {report['exit_code']})",
        "",
        f"{report['finished_at']}, inventory {', '.join(report['inventory']) or '-'}, "
        f"{report['duration_seconds']:.0f} s, {report['counts']['items']} item(s) "
        f"({report['counts']['errors']} error(s), {report['counts']['warnings']} warning(s)), "
        f"{report['counts']['not_checked']} not checked.",
        "",
        "| section | status | checks | errors | warnings | not checked |",
        "|---|---|---|---|---|---|",
    ]
    for s in report["sections"].values():
        lines.append(f"| {s['title']} | {s['status']} | {s['checks']} | {s['errors']} | {s['warnings']} "
                     f"| {s['not_checked']} |")
    if report["items"]:
        lines += ["", "## Drift", "", "| severity | section | resource | field | cause | fix |",
                  "|---|---|---|---|---|---|"]
        for f in findings(report):
            fix = f.fix.text.strip() or "-"
            command = f.fix.commands + ([str(f.fix.command(report["inventory"]))] if f.fix.playbook else [])
            run = "<br>".join(f"`{_md(c)}`" for c in command)
            lines.append(f"| {f.severity} | {f.section} | {_md(subject(f))} | {_md(f.field or '-')} "
                         f"| {_md(f.cause)} | {_md(fix)}{'<br>' + run if run else ''} |")
    if report["not_checked"]:
        lines += ["", "## Could not be checked", "", "| section | resource | reason |", "|---|---|---|"]
        for n in report["not_checked"]:
            lines.append(f"| {n['section']} | {_md(n['resource'])} | {_md(n['reason'])} |")
    if not_compared(report):
        lines += ["", f"Names: {_md(not_compared(report))}"]
    return "\n".join(lines) + "\n"
