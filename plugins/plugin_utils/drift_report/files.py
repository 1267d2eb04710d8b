# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report written in every format: JSON, JUnit XML, Markdown, Prometheus textfile."""

from __future__ import annotations

import json
import os

from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.junit import to_junit
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.markdown import to_markdown
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.prometheus import write_metrics


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"


def write_all(report: dict, directory: str, basename: str = "drift-report") -> dict[str, str]:
    """Every format into `directory`: {format: path}."""
    os.makedirs(directory, exist_ok=True)
    paths = {fmt: os.path.join(directory, f"{basename}.{ext}")
             for fmt, ext in (("json", "json"), ("junit", "junit.xml"), ("markdown", "md"), ("metrics", "prom"))}
    for fmt, render in (("json", to_json), ("junit", to_junit), ("markdown", to_markdown)):
        tmp = paths[fmt] + ".tmp"
        with open(tmp, "w") as handle:
            handle.write(render(report))
        os.replace(tmp, paths[fmt])
    write_metrics(report, paths["metrics"])
    return paths
