# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report as JUnit XML: one testsuite per section, one testcase per check."""

from __future__ import annotations

from xml.etree import ElementTree

from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.report import (
    DRIFT,
    NOT_CHECKED,
    SECTIONS,
    check_resources,
    findings,
)


def to_junit(report: dict) -> str:
    """Drift fails its check's testcase (the message lists the findings, the text says cause and fix);
    a part not checked is an error."""
    suites = ElementTree.Element("testsuites", name=f"drift check {report['cluster']}".strip(),
                                 tests=str(report["counts"]["checks"]),
                                 failures=str(sum(1 for c in report["checks"] if c["status"] == DRIFT)),
                                 errors=str(sum(1 for c in report["checks"] if c["status"] == NOT_CHECKED)),
                                 time=str(report["duration_seconds"]), timestamp=str(report["finished_at"] or ""))
    for section, title in SECTIONS.items():
        checks = [c for c in report["checks"] if c["section"] == section]
        suite = ElementTree.SubElement(
            suites, "testsuite", name=section,
            tests=str(len(checks)),
            failures=str(sum(1 for c in checks if c["status"] == DRIFT)),
            errors=str(sum(1 for c in checks if c["status"] == NOT_CHECKED)),
            skipped="0", timestamp=str(report["finished_at"] or ""))
        ElementTree.SubElement(ElementTree.SubElement(suite, "properties"), "property", name="title", value=title)
        for c in checks:
            case = ElementTree.SubElement(suite, "testcase", classname=f"drift_check.{section}",
                                          name=c["resource"], time="0")
            if c["status"] == DRIFT:
                mine = [f for f in findings(report, section) if c["resource"] in check_resources(f)]
                failure = ElementTree.SubElement(case, "failure", type="drift",
                                                 message="; ".join(f.headline() for f in mine))
                failure.text = "\n\n".join("\n".join(f.to_lines(report["inventory"])) for f in mine)
            elif c["status"] == NOT_CHECKED:
                error = ElementTree.SubElement(case, "error", type="not_checked", message=c["reason"] or "")
                error.text = c["reason"] or ""
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
