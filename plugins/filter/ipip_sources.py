# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the one rule for IPIP sources (plugins/module_utils/validation/ipip_sources.py), for EC2 rules."""

from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import ipip_sources


def ec2_public_ipip_sources(rules):
    """Sources of protocol-4 (or all-traffic) rules that lie outside the ranges internal to a VPC."""
    if not isinstance(rules, list):
        raise AnsibleFilterError("ec2_public_ipip_sources: pass a list of amazon.aws.ec2_security_group rules")
    return ipip_sources.ec2_rule_public_sources(rules)


def ec2_rule_problems(rules):
    """What EC2 would reject or misread in the rules, one sentence each (a non-list is one problem)."""
    if not isinstance(rules, list):
        return ["it must be a list of rules"]
    return ipip_sources.ec2_rule_problems(rules)


class FilterModule:
    def filters(self):
        return {"ec2_public_ipip_sources": ec2_public_ipip_sources, "ec2_rule_problems": ec2_rule_problems}
