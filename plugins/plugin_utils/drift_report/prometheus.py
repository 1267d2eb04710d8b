# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drift report as Prometheus metrics (textfile collector)."""

from __future__ import annotations

from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.report import (
    EXIT_NOT_CHECKED,
    NOT_CHECKED,
)


def metrics_registry(report: dict) -> Any:
    """The report as Prometheus metrics (a prometheus_client CollectorRegistry)."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    cluster = report["cluster"]
    items = Gauge("calico_fleet_drift_items", "Drift items found by the last drift check",
                  ["cluster", "section", "kind", "severity"], registry=registry)
    counted: dict[tuple[str, str, str], int] = {}
    for i in report["items"]:
        key = (i["section"], i["kind"], i["severity"])
        counted[key] = counted.get(key, 0) + 1
    for (section, kind, severity), count in sorted(counted.items()):
        items.labels(cluster, section, kind, severity).set(count)
    checked = Gauge("calico_fleet_drift_section_checked",
                    "1 when every check of the section ran, 0 when a part could not be checked",
                    ["cluster", "section"], registry=registry)
    section_items = Gauge("calico_fleet_drift_section_items", "Drift items per section",
                          ["cluster", "section"], registry=registry)
    for section, s in report["sections"].items():
        checked.labels(cluster, section).set(0 if s["status"] == NOT_CHECKED else 1)
        section_items.labels(cluster, section).set(s["items"])
    sessions = Gauge("calico_fleet_bgp_sessions", "Expected BGP sessions seen by the drift check, by state",
                     ["cluster", "state"], registry=registry)
    for state, count in sorted(report["mesh"]["bgp_sessions"].items()):
        sessions.labels(cluster, state).set(count)
    Gauge("calico_fleet_ipip_blocked_pairs", "Node pairs between which IP protocol 4 was dropped",
          ["cluster"], registry=registry).labels(cluster).set(report["mesh"]["ipip_blocked_pairs"])
    Gauge("calico_fleet_drift_check_last_run_timestamp_seconds", "When the last drift check finished",
          ["cluster"], registry=registry).labels(cluster).set(_epoch(report["finished_at"]))
    Gauge("calico_fleet_drift_check_success", "1 when the last drift check could check everything",
          ["cluster"], registry=registry).labels(cluster).set(0 if report["exit_code"] == EXIT_NOT_CHECKED else 1)
    Gauge("calico_fleet_drift_check_exit_code", "Exit code of the last drift check (0 clean, 2 drift, 1 not checked)",
          ["cluster"], registry=registry).labels(cluster).set(report["exit_code"])
    Gauge("calico_fleet_drift_check_duration_seconds", "Duration of the last drift check",
          ["cluster"], registry=registry).labels(cluster).set(report["duration_seconds"])
    return registry


def to_metrics(report: dict) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics_registry(report)).decode()


def write_metrics(report: dict, path: Any) -> None:
    """Write the textfile-collector file atomically (prometheus_client.write_to_textfile)."""
    from prometheus_client import write_to_textfile

    write_to_textfile(str(path), metrics_registry(report))


def _epoch(stamp: Any) -> float:
    from datetime import datetime

    if not stamp:
        return 0
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
