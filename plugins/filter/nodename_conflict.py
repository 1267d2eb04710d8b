# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter over the node-name remediation plan (plugins/plugin_utils/nodename_conflict.py)."""

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils import nodename_conflict


def calico_nodename_conflict_plan(hosts, nodes, plan_options=None, keep=None):
    """{findings, fixes, unhandled, ambiguous, healthy, report} for hosts {inv: {ip, hostname, nodename, created}}."""
    try:
        return nodename_conflict.remediation_plan(hosts, nodes, plan_options, keep or None)
    except nodename_conflict.RemediationPlanError as exc:
        raise AnsibleFilterError(f"node-name remediation plan: {exc}") from None


def calico_nodename_conflict_missing(fix, nodes):
    """Registrations ('name@ip') one host's fix waits for that ``nodes`` does not show yet."""
    if not isinstance(fix, dict) or "new_name" not in fix:
        raise AnsibleFilterError("calico_nodename_conflict_missing: pass one entry of the plan's fixes")
    return nodename_conflict.registrations_missing(fix, nodes)


def calico_nodename_conflict_left(findings, host, fix, unhandled, live_ips):
    """The mesh check's errors that still concern a host after its fix."""
    if not isinstance(fix, dict) or "ip" not in fix:
        raise AnsibleFilterError("calico_nodename_conflict_left: pass one entry of the plan's fixes")
    return nodename_conflict.findings_left_after_fix(findings, host, fix, unhandled, live_ips)


class FilterModule:
    def filters(self):
        return {"calico_nodename_conflict_plan": calico_nodename_conflict_plan,
                "calico_nodename_conflict_missing": calico_nodename_conflict_missing,
                "calico_nodename_conflict_left": calico_nodename_conflict_left}
