# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every input of scale-out, checked before anything is created.

``validate_scale_out_inputs(variables, role_specs)`` takes the variables the inventory (or ``-e``)
declares, as the user wrote them, and the argument specs of the roles scale-out runs
(meta/argument_specs.yml, ``{role: options}``), and returns every problem at once. Each problem names the
variable the user sets, says what is wrong with it and how to fix it.

Each role input is declared once, in its role's argument spec: its type, whether it is required, its
choices and the keys of a list of dicts are checked from there. What a spec cannot say (a rule across
variables, a network, a name) is checked here with the rules of this package, the same functions the
test plugins (plugins/test/) give the roles. Only declared variables are checked, plus those scale-out
cannot do without.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Collection, Mapping
from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils import hostnames
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import aws, names, network
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.argument_spec import spec_problems
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.datastore import datastore_problems
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.ipip_sources import (
    ec2_rule_problems,
    ec2_rule_public_sources,
    is_internal,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.ippool import MODES, ippool_problems
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.numbers import whole_number as _int
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.problems import InputError, InputProblems

CLOUDS = ("gcp", "aws")
# Underlay MTU of each cloud's default network; the IPIP tunnel is 20 bytes less.
CLOUD_UNDERLAY_MTU = {"gcp": 1460, "aws": 9001}
MAX_COUNT = 500

# The playbook's own inputs (the roles' inputs are declared in their argument specs), checked below.
SCALE_OUT_VARIABLES = ("fleet_cloud", "scale_out_count", "scale_out_batch", "scale_out_plan_file",
                       "scale_out_plan_expected", "calico_fleet_datastore")

# The task's arguments (plugins/action/scale_out_inputs.py) ...
ACTION_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "roles": {"type": "list", "elements": "str", "default": []},
    "provided": {"type": "list", "elements": "str", "default": []},
    "variables": {"type": "dict"},
}
# ... and the module's, which takes the argument specs the action plugin read.
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    **ACTION_ARGUMENT_SPEC,
    "argument_specs": {"type": "dict", "default": {}},
}


def _declared(variables: Mapping[str, Any], name: str) -> bool:
    return variables.get(name) not in (None, "", [], {})


def node_range(variables: Mapping[str, Any]) -> tuple[str | None, Any | None]:
    """The nodes' (VPC) range pools must stay out of: declared for calico_network or taken from the cloud."""
    for name in ("calico_network_node_cidr", "gcp_network_vpc_range", "aws_network_vpc_cidr"):
        if _declared(variables, name):
            net, _unused = network.parse_network(variables[name])
            if net is not None:
                return name, net
    return None, None


def derived_ipip_mode(variables: Mapping[str, Any]) -> str | None:
    """The IPIP mode the declared pools give (the one source of truth), or None when no pool declares one."""
    modes = {p.get("ipip_mode") for p in variables.get("calico_network_ippools") or []
             if isinstance(p, dict) and p.get("state", "present") == "present" and not p.get("disabled")
             and p.get("ipip_mode") in MODES}
    for mode in ("Never", "CrossSubnet", "Always"):  # the least encapsulated mode decides EC2's check
        if mode in modes:
            return mode
    return None


def underlay_mtu(variables: Mapping[str, Any]) -> int | None:
    """The underlay MTU to derive the tunnel MTU from: declared, else None (not managed)."""
    if _declared(variables, "calico_network_underlay_mtu"):
        return _int(variables["calico_network_underlay_mtu"])
    return None


def _check_scale_out(v: Mapping[str, Any], out: InputProblems) -> str | None:
    cloud = v.get("fleet_cloud")
    if cloud not in CLOUDS:
        out.add("fleet_cloud", f"is {cloud!r}" if cloud not in (None, "") else "is not set",
                "set fleet_cloud: gcp or fleet_cloud: aws in the inventory's group_vars/all.yml")
    count = _int(v.get("scale_out_count"))
    if count is None or not 1 <= count <= MAX_COUNT:
        out.add("scale_out_count", f"is {v.get('scale_out_count')!r}, not a number of machines from 1 to {MAX_COUNT}",
                "set scale_out_count (e.g. -e scale_out_count=2)")
    batch = v.get("scale_out_batch")
    if names.batch_problem(batch):
        out.add("scale_out_batch", f"is {batch!r}",
                "set scale_out_batch to a lower-case id such as 2026-11-26 (a-z, 0-9, '-', '_'), new for each "
                "scale-out and the same when rerunning one that failed part-way")
    _check_plan_files(v, out)
    return cloud if cloud in CLOUDS else None


def _check_plan_files(v: Mapping[str, Any], out: InputProblems) -> None:
    """scale_out_plan_file goes into an existing directory; scale_out_plan_expected is a readable file."""
    saved = v.get("scale_out_plan_file")
    if _declared(v, "scale_out_plan_file"):
        folder = os.path.dirname(os.path.abspath(os.path.expanduser(str(saved))))
        if not isinstance(saved, str) or not os.path.isdir(folder):
            out.add("scale_out_plan_file", f"is {saved!r}, whose directory does not exist",
                    "give a file in an existing directory, e.g. -e scale_out_plan_file=plan.json")
    expected = v.get("scale_out_plan_expected")
    if _declared(v, "scale_out_plan_expected"):
        path = os.path.expanduser(str(expected))
        if not isinstance(expected, str) or not os.path.isfile(path) or not os.access(path, os.R_OK):
            out.add("scale_out_plan_expected", f"is {expected!r}, not a readable file",
                    "give the plan a check run saved (--check -e scale_out_plan_file=<file>), "
                    "or leave scale_out_plan_expected unset")


def _check_names(v: Mapping[str, Any], cloud: str | None, out: InputProblems) -> None:
    scheme = v.get("node_names_scheme", "prefix")
    variable = {"prefix": "node_names_prefix", "template": "node_names_template"}.get(scheme, "node_names_scheme")
    try:
        if scheme == "prefix":
            hostnames.prefix_parts(v.get("node_names_prefix", "k8s-node"), v.get("node_names_separator", "-"),
                                   cloud=cloud)
        elif scheme == "template":
            hostnames.parse_template(v.get("node_names_template"))
            hostnames.check_variables(v.get("node_names_variables") or {})
        elif scheme == "ip":
            if len(v.get("node_names_ips") or []) != (_int(v.get("scale_out_count")) or 0):
                out.add("node_names_ips", "scheme ip needs one private IP per new machine",
                        "list scale_out_count addresses in node_names_ips, or use node_names_scheme: prefix")
    except hostnames.HostnamePlanError as exc:
        if "separator" in str(exc):
            variable = "node_names_separator"
        elif "variable" in str(exc) or str(exc).startswith(("cluster ", "role ")):
            variable = "node_names_variables"
        out.add(variable, str(exc), f"change {variable} as the message says")
    domain = v.get("node_names_domain")
    if cloud == "gcp" and not domain:
        out.add("node_names_domain", "is not set; GCP needs a fully qualified hostname for each machine",
                "set node_names_domain: <zone>.c.<project>.internal (GCP's guest domain) or your own domain")
    elif domain:
        try:
            hostnames.check_domain(domain, cloud)
        except hostnames.HostnamePlanError as exc:
            out.add("node_names_domain", str(exc), "use lower-case DNS labels separated by dots")
    if cloud == "gcp" and not v.get("node_names_gcp_zones"):
        out.add("node_names_gcp_zones", "is not set; the plan must see every instance of the zones",
                "set node_names_gcp_zones: [<zone of the new nodes>]")
    if cloud == "aws" and not v.get("node_names_aws_region"):
        out.add("node_names_aws_region", "is not set; the plan must see every instance of the region",
                "set node_names_aws_region (e.g. node_names_aws_region: \"{{ aws_region }}\")")


def _check_datastore(v: Mapping[str, Any], out: InputProblems) -> None:
    for key, problem, fix in datastore_problems(v.get("calico_fleet_datastore")):
        name = "calico_fleet_datastore" + "".join(f".{k}" for k in [key] if k and "," not in k)
        if "," in key:
            name = ", ".join(f"calico_fleet_datastore.{k}" for k in key.split(", "))
        out.add(name, problem, fix)


def _check_pools(v: Mapping[str, Any], out: InputProblems) -> None:
    pools = v.get("calico_network_ippools")
    if not isinstance(pools, list) or "calico_network_ippools" in out.names():
        return  # absent, or the argument spec already refused it: fix that first
    range_var, node_net = node_range(v)
    service = v.get("calico_network_service_cidr") or None
    if service:
        net, why = network.parse_network(service)
        if net is None:
            out.add("calico_network_service_cidr", str(why), "write the Service CIDR as e.g. 10.68.0.0/16")
            service = None
    seen: list[dict[str, Any]] = []
    for index, pool in enumerate(pools):
        name = pool.get("name") if isinstance(pool, dict) else None
        where = f"calico_network_ippools[{index}] ({name})" if name else f"calico_network_ippools[{index}]"
        found = ippool_problems(pool, seen, service)
        for field, problem in found:
            fix = "change the pool as the message says" if field else "write the pool as the message says"
            out.add(f"{where}.{field}" if field else where, problem, fix)
        if not isinstance(pool, dict) or not name:
            continue
        if name in [s["name"] for s in seen]:
            out.add(where, f"the name {name} is used twice", "give each pool its own name")
            continue
        if found or pool.get("state", "present") == "absent":
            continue
        net, _unused = network.parse_network(pool.get("cidr"))
        if net is not None and node_net is not None and net.version == node_net.version and net.overlaps(node_net):
            out.add(f"{where}.cidr", f"{net} overlaps the nodes' range {node_net} ({range_var}): pod "
                    "addresses would collide with node addresses",
                    f"choose a pod range outside {node_net}, e.g. 172.20.0.0/16")
            continue
        seen.append({"name": name, "cidr": str(net)})


def _check_settings(v: Mapping[str, Any], cloud: str | None, out: InputProblems) -> None:
    if _declared(v, "calico_network_as_number"):
        asn = _int(v["calico_network_as_number"])
        if asn is None or not 1 <= asn <= 4294967295:
            out.add("calico_network_as_number", f"is {v['calico_network_as_number']!r}",
                    "use 1..4294967295 (Calico's default 64512), or leave it unset to keep the cluster's")
    if _declared(v, "calico_network_underlay_mtu"):
        mtu = _int(v["calico_network_underlay_mtu"])
        if mtu is None or not 576 <= mtu <= 9216:
            out.add("calico_network_underlay_mtu", f"is {v['calico_network_underlay_mtu']!r}",
                    f"use the network's MTU ({cloud or 'GCP'} default "
                    f"{CLOUD_UNDERLAY_MTU.get(cloud or 'gcp', 1460)}), or leave it unset to keep the cluster's")


def _private_range(v: Mapping[str, Any], name: str, out: InputProblems, example: str,
                   allow_public: bool = False, allow_hint: str = "") -> None:
    text = v.get(name)
    problem = network.ipv4_cidr_problem(text) if text else "is not set"
    if problem:
        out.add(name, problem, f"set it to the VPC's internal IPv4 range, e.g. {example}")
    elif not is_internal(ipaddress.ip_network(str(text))) and not allow_public:
        out.add(name, f"{text} is not a private range: IP protocol 4 from it would let anyone there inject "
                "packets into the pod network", "use the VPC's private range" + allow_hint)


def _check_gcp(v: Mapping[str, Any], out: InputProblems) -> None:
    _private_range(v, "gcp_network_vpc_range", out, "10.128.0.0/9")
    for name in ("gcp_network_ipip_rule_name", "gcp_network_bgp_rule_name"):
        if _declared(v, name) and names.gce_name_problem(v[name]):
            out.add(name, f"{v[name]!r} is not a GCE rule name: {names.gce_name_problem(v[name])}",
                    "use [a-z]([-a-z0-9]*[a-z0-9])?")
    for tag in v.get("gcp_network_target_tags") or []:
        if names.gce_name_problem(tag):
            out.add("gcp_network_target_tags", f"tag {tag!r} is not a GCE network tag: {names.gce_name_problem(tag)}",
                    "use [a-z]([-a-z0-9]*[a-z0-9])?")
    if not v.get("gcp_nodes_zone") and not v.get("gcp_nodes_zones"):
        out.add("gcp_nodes_zone", "is not set", "set the zone of the new machines, e.g. europe-west1-b")


def _check_aws(v: Mapping[str, Any], out: InputProblems) -> None:
    for name in ("aws_network_region", "aws_nodes_region"):
        if aws.region_problem(v.get(name)):
            out.add(name, f"is {v.get(name)!r}", "set the region, e.g. eu-west-1")
    for name, kind in (("aws_network_vpc_id", "vpc"), ("aws_nodes_subnet_id", "subnet"), ("aws_nodes_image_id", "ami")):
        if aws.resource_id_problem(v.get(name), kind):
            out.add(name, f"is {v.get(name)!r}", f"set the id, e.g. {kind}-0123456789abcdef0")
    allow = bool(v.get("aws_network_allow_public_sources"))
    _private_range(v, "aws_network_vpc_cidr", out, "10.0.0.0/16", allow,
                   ", or set aws_network_allow_public_sources: true if intended")
    rules = v.get("aws_network_extra_rules") or []
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        where = f"aws_network_extra_rules[{index}]"
        for problem in ec2_rule_problems([rule]):
            out.add(where, problem.replace("rule 1: ", "").replace("rule 1 ", ""),
                    "write it in amazon.aws.ec2_security_group rules syntax")
        if not allow:
            for source in ec2_rule_public_sources([rule]):
                out.add(where, f"IP protocol 4 (or all traffic) from {source} would let anyone there inject "
                        "packets into the pod network",
                        "use a private range, or set aws_network_allow_public_sources: true if intended")
    declared = v.get("aws_nodes_calico_ipip_mode")
    derived = derived_ipip_mode(v)
    if declared and derived and declared != derived:
        out.add("aws_nodes_calico_ipip_mode", f"is {declared} but calico_network_ippools declares "
                f"ipip_mode {derived}; the pool is the one source of the IPIP mode",
                "remove aws_nodes_calico_ipip_mode: scale-out derives it from calico_network_ippools")


def _check_join(v: Mapping[str, Any], out: InputProblems) -> None:
    for name in sorted(n for n in v if n.startswith("node_join_") and n.endswith(("_timeout", "_retries", "_delay"))):
        if _int(v[name]) is None or (_int(v[name]) or 0) <= 0:
            out.add(name, f"is {v[name]!r}", "use a positive whole number")


def _roles_of(cloud: str | None, role_specs: Mapping[str, Any]) -> list[str]:
    """The roles this cloud runs: a role named after another cloud (gcp_*, aws_*) is not."""
    return [role for role in role_specs if role.split("_", 1)[0] not in CLOUDS or role.split("_", 1)[0] == cloud]


def validate_scale_out_inputs(variables: Mapping[str, Any] | None,
                              role_specs: Mapping[str, Mapping[str, Any]] | None = None,
                              provided: Collection[str] = ()) -> dict[str, Any]:
    """Every problem with the declared inputs of scale-out; raise InputError when there is one.

    ``role_specs`` are the argument specs ({role: options}) of the roles scale-out runs; ``provided``
    the role inputs the playbook sets itself (from scale_out_count, the name plan, ...).
    Returns what the later plays derive from the inputs: ``{cloud, ipip_mode, underlay_mtu, node_range}``
    (None where not declared).
    """
    v = dict(variables or {})
    out = InputProblems()
    cloud = _check_scale_out(v, out)
    for role in _roles_of(cloud, role_specs or {}):
        spec_problems((role_specs or {})[role], v, out, provided=provided, role=role)
    _check_names(v, cloud, out)
    _check_datastore(v, out)
    if cloud == "gcp":
        _check_gcp(v, out)
    if cloud == "aws":
        _check_aws(v, out)
    _check_pools(v, out)
    _check_settings(v, cloud, out)
    _check_join(v, out)
    if out:
        raise InputError(out.problems)
    range_var, node_net = node_range(v)
    return {
        "cloud": cloud,
        "ipip_mode": derived_ipip_mode(v) or v.get("aws_nodes_calico_ipip_mode") or None,
        "underlay_mtu": underlay_mtu(v),
        "node_range": str(node_net) if node_net else None,
    }
