"""Callback plugin: summarise drift at the end of a check-mode run.

Enabled by playbooks/drift-check.yml (ANSIBLE_CALLBACKS_ENABLED=calico_fleet.fleet.drift_report,
set by scripts/drift-check.sh). Every task that would change something is
drift (in check mode nothing is written); every calico_mesh_check finding and
every failed task is drift too. The summary is printed after the play recap
and, when DRIFT_REPORT_FILE is set, written there as JSON for a nightly job.
"""

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: drift_report
author: calico-fleet maintainers
type: aggregate
short_description: Summarise drift (would-be changes, mesh findings, failures) after a check-mode run
description:
  - Collects every task result that reports a change (in check mode, what would change), every
    finding returned by calico_mesh_check, and every failed or unreachable host, and prints them
    grouped after the play recap.
  - Writes the same report as JSON to the file named by the environment variable DRIFT_REPORT_FILE.
requirements:
  - enable in ansible.cfg or with ANSIBLE_CALLBACKS_ENABLED=calico_fleet.fleet.drift_report
"""


def _diff_summary(result):
    diff = result.get("diff")
    if not diff:
        return None
    diffs = diff if isinstance(diff, list) else [diff]
    out = []
    for d in diffs:
        if isinstance(d, dict) and ("before" in d or "after" in d):
            out.append({"before": d.get("before"), "after": d.get("after")})
    return out or None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "calico_fleet.fleet.drift_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.changes, self.findings, self.failures = [], [], []

    def _task(self, result):
        return result._task.get_name().strip()

    def _change(self, result, task):
        res = result._result
        # Resource modules (calico_ippool, ...) explain each difference: {resource, field, expected,
        # actual, reason}; mesh findings ({kind, ...}) are reported on their own.
        details = [f for f in res.get("findings") or [] if isinstance(f, dict) and "kind" not in f]
        self.changes.append({"host": result._host.get_name(), "task": task, "details": details,
                             "diff": _diff_summary(res)})

    def v2_runner_on_ok(self, result):
        res = result._result
        for finding in res.get("findings") or []:
            if isinstance(finding, dict) and "kind" in finding and finding.get("severity") == "error":
                self.findings.append(finding)
        if res.get("changed") and not isinstance(res.get("results"), list):  # loop items count themselves
            self._change(result, self._task(result))

    def v2_runner_item_on_ok(self, result):
        if result._result.get("changed"):
            item = result._result.get("item")
            label = item.get("name") if isinstance(item, dict) else item
            self._change(result, f"{self._task(result)} ({label})")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self.failures.append({"host": result._host.get_name(), "task": self._task(result),
                                  "msg": str(result._result.get("msg", ""))[:500]})

    def v2_runner_on_unreachable(self, result):
        self.failures.append({"host": result._host.get_name(), "task": self._task(result),
                              "msg": "unreachable: " + str(result._result.get("msg", ""))[:300]})

    def report(self):
        return {"drift": bool(self.changes or self.findings or self.failures),
                "changes": self.changes, "findings": self.findings, "failures": self.failures}

    def v2_playbook_on_stats(self, stats):
        report = self.report()
        self._display.banner("DRIFT REPORT")
        if not report["drift"]:
            self._display.display("No drift: the cloud rules, pools, names and mesh match the inventory.")
        for change in self.changes:
            self._display.display(f"would change  {change['host']}: {change['task']}", color="yellow")
            for d in change["details"]:
                field = f" {d['field']}" if d.get("field") else ""
                self._display.display(f"              {d.get('resource')}{field}: {d.get('reason')}")
        for finding in self.findings:
            where = ", ".join(finding.get("hosts") or []) or "cluster"
            self._display.display(f"finding       {finding.get('kind')} on {where}: {finding.get('cause')}",
                                  color="red")
            self._display.display(f"              fix: {finding.get('fix')}")
        for failure in self.failures:
            self._display.display(f"failed        {failure['host']}: {failure['task']}: {failure['msg']}",
                                  color="red")
        path = os.environ.get("DRIFT_REPORT_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump(report, handle, indent=2, sort_keys=True, default=str)
