# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback plugin: the drift report of playbooks/drift_check.yml.

Collects every task result of the check's sections (each play names its
sections in the play variable drift_check_sections), builds one report with
plugin_utils/drift_report/report.py and writes it in every format: JSON, JUnit
XML, Markdown and Prometheus textfile-collector metrics (one renderer each in
plugin_utils/drift_report/).
"""

DOCUMENTATION = r"""
name: drift_report
author: calico-fleet contributors (@calico-fleet)
type: aggregate
short_description: Build the drift report (JSON, JUnit XML, Markdown, Prometheus metrics) of a drift check
description:
  - Collects the results of the tasks of every play that sets the play variable C(drift_check_sections)
    (the sections of playbooks/drift_check.yml) and builds one report from them, with every drift item
    (section, resource, field, severity, cause and fix) and every part that could not be checked, with
    the reason.
  - Prints a DRIFT REPORT after the play recap and writes C(drift-report.json),
    C(drift-report.junit.xml), C(drift-report.md) and C(drift-report.prom) into O(report_dir).
  - The report's C(exit_code) follows C(terraform plan -detailed-exitcode) (0 no drift, 2 drift,
    1 a part could not be checked); scripts/drift-check.sh exits with it.
requirements:
  - prometheus_client on the controller
  - enable in ansible.cfg or with ANSIBLE_CALLBACKS_ENABLED=calico_fleet.fleet.drift_report
options:
  report_dir:
    description:
      - Directory the report files are written to (created when missing). Empty, the report is only
        printed.
    type: path
    default: ""
    env:
      - name: DRIFT_REPORT_DIR
    ini:
      - section: callback_drift_report
        key: report_dir
  basename:
    description: File name of the reports without the extension.
    type: str
    default: drift-report
    env:
      - name: DRIFT_REPORT_BASENAME
    ini:
      - section: callback_drift_report
        key: basename
"""

import os
import time
from datetime import datetime, timezone

from ansible import constants as C
from ansible import context as cli_context
from ansible.plugins.callback import CallbackBase
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report import report as drift_report
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.console import to_text
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.files import write_all

CONTEXT_FACT = "drift_check_context"


def _args(result):
    invocation = result._result.get("invocation") or {}
    args = invocation.get("module_args")
    if isinstance(args, dict):
        return args
    raw = result._task.args or {}
    return {k: v for k, v in raw.items() if isinstance(v, (str, int, bool)) and "{{" not in str(v)}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "calico_fleet.fleet.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.observations = []
        self.context = {}
        self.sections = []
        self.started = time.time()

    def v2_playbook_on_start(self, playbook):
        self.started = time.time()

    def v2_playbook_on_play_start(self, play):
        sections = (play.vars or {}).get("drift_check_sections") or []
        self.sections = list(sections) if isinstance(sections, (list, tuple)) else [sections]

    def _observe(self, result, status):
        res = result._result
        facts = res.get("ansible_facts") or {}
        if isinstance(facts.get(CONTEXT_FACT), dict):
            self.context.update(facts[CONTEXT_FACT])
        if not self.sections:
            return
        self.observations.append({
            "sections": self.sections,
            "module": result._task.action,
            "host": result._host.get_name(),
            "task": result._task.get_name().strip(),
            "status": status,
            "result": {k: v for k, v in res.items() if not k.startswith("_ansible")},
            "args": _args(result),
            "run_once": bool(result._task.run_once),
        })

    def v2_runner_on_ok(self, result):
        if not isinstance(result._result.get("results"), list):  # loop items report themselves
            self._observe(result, "ok")

    def v2_runner_item_on_ok(self, result):
        self._observe(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not isinstance(result._result.get("results"), list):
            self._observe(result, "failed")

    def v2_runner_item_on_failed(self, result):
        self._observe(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._observe(result, "unreachable")

    def report(self):
        finished = time.time()
        inventory = list((cli_context.CLIARGS or {}).get("inventory") or C.DEFAULT_HOST_LIST or [])
        inventory = [_relative(path) for path in inventory]
        args = cli_context.CLIARGS or {}
        ctx = {"inventory": inventory, "tags": list(args.get("tags") or []),
               "skip_tags": list(args.get("skip_tags") or []), **self.context}
        ctx.update(
            started_at=_iso(self.started),
            finished_at=_iso(finished),
            duration_seconds=finished - self.started,
        )
        return drift_report.build(self.observations, ctx)

    def v2_playbook_on_stats(self, stats):
        report = self.report()
        self._display.banner("DRIFT REPORT")
        colors = {"clean": "green", "drift": "yellow", "incomplete": "red"}
        for line in to_text(report):
            self._display.display(line, color=colors[report["status"]] if not line.startswith(" ") else None)
        directory = self.get_option("report_dir")
        if directory:
            paths = write_all(report, directory, self.get_option("basename"))
            self._display.display("written: " + ", ".join(paths[f] for f in sorted(paths)))


def _iso(epoch):
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _relative(path):
    """A path under the working directory as the user would type it."""
    path = str(path)
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return path if relative.startswith("..") else relative
