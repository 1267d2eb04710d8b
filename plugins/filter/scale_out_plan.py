# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the scale-out plan (plugins/plugin_utils/scale_out_plan.py)."""

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils import scale_out_plan as plan


def scale_out_plan(results, cloud, batch, datastore="etcdv3"):
    """The plan document from the registered results of a check-mode run, passed as a dict."""
    if not isinstance(results, dict):
        raise AnsibleFilterError("scale_out_plan: pass a dict of registered results (names, gcp_rules, aws_group, "
                                 "aws_members, ippools, bgp_configuration, felix_configuration)")
    return plan.build_plan(cloud, batch, naming_plan=results.get("names"), gcp_rules=results.get("gcp_rules"),
                           aws_group=results.get("aws_group"), aws_members=results.get("aws_members"),
                           ippools=results.get("ippools"), bgp_configuration=results.get("bgp_configuration"),
                           felix_configuration=results.get("felix_configuration"), datastore=datastore)


def scale_out_plan_differences(saved, current):
    """Lines saying where this run's plan departs from the saved one; empty when they agree."""
    try:
        return plan.plan_differences(saved, current)
    except plan.PlanError as exc:
        raise AnsibleFilterError(f"scale_out_plan_expected: {exc}") from None


def scale_out_plan_summary(current):
    return plan.plan_summary(current)


def mesh_findings_would_fix(findings, fixes):
    return plan.findings_would_fix(findings, fixes)


def mesh_would_fix_report(findings, inventory=None):
    sources = [inventory] if isinstance(inventory, str) else list(inventory or [])
    return plan.would_fix_report(findings, sources)


class FilterModule:
    def filters(self):
        return {"scale_out_plan": scale_out_plan, "scale_out_plan_differences": scale_out_plan_differences,
                "scale_out_plan_summary": scale_out_plan_summary, "mesh_findings_would_fix": mesh_findings_would_fix,
                "mesh_would_fix_report": mesh_would_fix_report}
