"""Filter over the node-name remediation plan (plugins/module_utils/nodename_conflict.py)."""

import pathlib

from ansible.errors import AnsibleFilterError

try:
    from ansible.module_utils import nodename_conflict
except ImportError:
    # Controller-side plugins do not search the configured module_utils path;
    # the plan's logic lives next door, so add that directory the same way.
    import ansible.module_utils

    ansible.module_utils.__path__.append(str(pathlib.Path(__file__).resolve().parents[1] / "module_utils"))
    from ansible.module_utils import nodename_conflict


def calico_nodename_conflict_plan(hosts, nodes, plan_options=None):
    """{findings, fixes, unhandled, healthy} for hosts {inv: {ip, hostname, nodename}} and Calico nodes."""
    try:
        return nodename_conflict.remediation_plan(hosts, nodes, plan_options)
    except nodename_conflict.RemediationPlanError as exc:
        raise AnsibleFilterError(f"node-name remediation plan: {exc}") from None


class FilterModule:
    def filters(self):
        return {"calico_nodename_conflict_plan": calico_nodename_conflict_plan}
