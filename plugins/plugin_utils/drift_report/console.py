# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report as console lines, printed at the end of the run."""

from __future__ import annotations

from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.report import findings, not_compared


def to_text(report: dict) -> list[str]:
    """A verdict line, one line per section, then each drift item as a block (Finding.to_lines) with its section."""
    lines = [f"{report['status'].upper()}: {report['counts']['items']} drift item(s), "
             f"{report['counts']['not_checked']} part(s) not checked (exit {report['exit_code']})"]
    for name, s in report["sections"].items():
        lines.append(f"  {name:<16} {s['status']:<12} {s['items']} item(s), {s['not_checked']} not checked")
    for finding in findings(report):
        block = finding.to_lines(report["inventory"])
        lines.append(f"{block[0]} [{finding.section}]")
        lines += block[1:]
    for n in report["not_checked"]:
        lines.append(f"[not checked] {n['section']} {n['resource']}: {n['reason']}")
    if not_compared(report):
        lines.append(f"[not compared] names: {not_compared(report)}")
    return lines
