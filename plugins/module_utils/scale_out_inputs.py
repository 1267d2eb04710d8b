# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every input of scale-out, checked before anything is created.

``validate_scale_out_inputs(variables)`` takes the variables the inventory (or
``-e``) declares, as the user wrote them, and returns every problem at once.
Each problem names the variable the user sets, says what is wrong with it and
how to fix it. Only declared variables are checked, plus those scale-out cannot
do without; role defaults are not repeated here.

The IP pool rules are Calico's own (``calico_resources.validate_ippool``); the
naming rules are the hostname plan's (``hostnames``). Plain Python: the module
``scale_out_inputs`` is a thin wrapper and tests import this directly.
"""

import ipaddress
import os
import re

from ansible_collections.calico_fleet.fleet.plugins.module_utils import hostnames
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import (
    MODES,
    ResourceValidationError,
    ippool_defaults,
    ippool_request,
    validate_ippool,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip_sources import is_internal

CLOUDS = ("gcp", "aws")
JOIN_METHODS = ("kubeadm", "kubeasz", "kubespray", "none")
DATASTORES = ("etcdv3", "kubernetes")
POOL_KEYS = ("name", "state", "cidr", "block_size", "ipip_mode", "vxlan_mode", "nat_outgoing", "disabled",
             "disable_bgp_export", "node_selector", "allowed_uses")
# Underlay MTU of each cloud's default network; the IPIP tunnel is 20 bytes less.
CLOUD_UNDERLAY_MTU = {"gcp": 1460, "aws": 9001}
_BATCH_RE = re.compile(r"^[a-z0-9]([-_a-z0-9]{0,61}[a-z0-9])?$")
_GCP_NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
_AWS_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_AWS_IDS = {"aws_network_vpc_id": "vpc", "aws_nodes_subnet_id": "subnet", "aws_nodes_image_id": "ami"}
_DATASTORE_ROLES = ("calico_network", "node_names", "mesh_verify")


class ScaleOutInputError(ValueError):
    """Some inputs are wrong; ``problems`` lists each one ({variable, problem, fix})."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__(format_problems(problems))


def format_problems(problems):
    lines = [f"{len(problems)} input(s) of scale-out must be fixed before anything is created:"]
    lines += [f"- {p['variable']}: {p['problem']}. Fix: {p['fix']}" for p in problems]
    return "\n".join(lines)


def _declared(variables, name):
    value = variables.get(name)
    return value not in (None, "", [], {})


def _network(text):
    """(network, None) or (None, why)."""
    try:
        return ipaddress.ip_network(str(text).strip(), strict=True), None
    except ValueError:
        try:
            masked = ipaddress.ip_network(str(text).strip(), strict=False)
        except ValueError:
            return None, f"{text!r} is not a network written as address/prefix"
        return None, f"{text} has host bits set (the network is {masked})"


def _is_private(net):
    return is_internal(net)


def _int(value):
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


class _Collector:
    def __init__(self):
        self.problems = []

    def add(self, variable, problem, fix):
        self.problems.append({"variable": variable, "problem": problem, "fix": fix})


def node_range(variables):
    """The nodes' (VPC) range pools must stay out of: declared for calico_network or taken from the cloud."""
    for name in ("calico_network_node_cidr", "gcp_network_vpc_range", "aws_network_vpc_cidr"):
        if _declared(variables, name):
            net, _unused = _network(variables[name])
            if net is not None:
                return name, net
    return None, None


def derived_ipip_mode(variables):
    """The IPIP mode the declared pools give (the one source of truth), or None when no pool declares one."""
    modes = {p.get("ipip_mode") for p in variables.get("calico_network_ippools") or []
             if isinstance(p, dict) and p.get("state", "present") == "present" and not p.get("disabled")
             and p.get("ipip_mode") in MODES}
    for mode in ("Never", "CrossSubnet", "Always"):  # the least encapsulated mode decides EC2's check
        if mode in modes:
            return mode
    return None


def underlay_mtu(variables):
    """The underlay MTU to derive the tunnel MTU from: declared, else the cloud's; None = not managed."""
    if _declared(variables, "calico_network_underlay_mtu"):
        return _int(variables["calico_network_underlay_mtu"])
    return None


def _check_scale_out(v, out):
    cloud = v.get("fleet_cloud")
    if cloud not in CLOUDS:
        out.add("fleet_cloud", f"is {cloud!r}" if cloud not in (None, "") else "is not set",
                "set fleet_cloud: gcp or fleet_cloud: aws in the inventory's group_vars/all.yml")
    count = _int(v.get("scale_out_count"))
    if count is None or not 1 <= count <= 500:
        out.add("scale_out_count", f"is {v.get('scale_out_count')!r}, not a number of machines from 1 to 500",
                "set scale_out_count (e.g. -e scale_out_count=2)")
    batch = v.get("scale_out_batch")
    if not isinstance(batch, str) or not _BATCH_RE.match(batch):
        out.add("scale_out_batch", f"is {batch!r}",
                "set scale_out_batch to a lower-case id such as 2026-11-26 (a-z, 0-9, '-', '_'), new for each "
                "scale-out and the same when rerunning one that failed part-way")
    _check_plan_files(v, out)
    return cloud if cloud in CLOUDS else None


def _check_plan_files(v, out):
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


def _check_names(v, cloud, out):
    scheme = v.get("node_names_scheme", "prefix")
    try:
        if scheme == "prefix":
            hostnames.prefix_parts(v.get("node_names_prefix", "k8s-node"), v.get("node_names_separator", "-"))
        elif scheme == "template":
            hostnames.parse_template(v.get("node_names_template"))
            hostnames._check_variables(v.get("node_names_variables") or {})
        elif scheme == "ip":
            if len(v.get("node_names_ips") or []) != (_int(v.get("scale_out_count")) or 0):
                out.add("node_names_ips", "scheme ip needs one private IP per new machine",
                        "list scale_out_count addresses in node_names_ips, or use node_names_scheme: prefix")
        else:
            out.add("node_names_scheme", f"is {scheme!r}", "use prefix, template or ip")
    except hostnames.HostnamePlanError as exc:
        variable = {"prefix": "node_names_prefix", "template": "node_names_template"}.get(scheme)
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
            hostnames._check_domain(domain, cloud)
        except hostnames.HostnamePlanError as exc:
            out.add("node_names_domain", str(exc), "use lower-case DNS labels separated by dots")
    if cloud == "gcp" and not v.get("node_names_gcp_zones"):
        out.add("node_names_gcp_zones", "is not set; the plan must see every instance of the zones",
                "set node_names_gcp_zones: [<zone of the new nodes>]")
    if cloud == "aws" and not v.get("node_names_aws_region"):
        out.add("node_names_aws_region", "is not set; the plan must see every instance of the region",
                "set node_names_aws_region (e.g. node_names_aws_region: \"{{ aws_region }}\")")


def _with_shared_datastore(v):
    """The variables with each role's datastore settings filled from calico_fleet_datastore (set once)."""
    shared = v.get("calico_fleet_datastore") or {}
    if not isinstance(shared, dict):
        return v
    merged = dict(v)
    for role in _DATASTORE_ROLES:
        for key, value in shared.items():
            if not merged.get(f"{role}_{key}"):
                merged[f"{role}_{key}"] = value
    return merged


def _check_datastore(v, out):
    missing = {}  # path -> variables naming it: one problem per missing file
    if not isinstance(v.get("calico_fleet_datastore") or {}, dict):
        out.add("calico_fleet_datastore", "is not a mapping",
                "write it as {datastore: etcdv3, etcd_endpoints: [...], etcd_ca_cert: ..., ...}")
    v = _with_shared_datastore(v)
    for role in _DATASTORE_ROLES:
        kind = v.get(f"{role}_datastore", "etcdv3")
        if kind not in DATASTORES:
            out.add(f"{role}_datastore", f"is {kind!r}", "use etcdv3 or kubernetes")
            continue
        if kind == "etcdv3" and not _declared(v, f"{role}_etcd_endpoints"):
            out.add(f"{role}_etcd_endpoints", "is not set although the datastore is etcdv3",
                    f"set {role}_etcd_endpoints to the etcd client URLs, e.g. [\"https://10.0.1.1:2379\"] "
                    "(one etcd_endpoints list in group_vars, referenced by each role)")
        cert, key = v.get(f"{role}_etcd_cert"), v.get(f"{role}_etcd_key")
        if bool(cert) != bool(key):
            out.add(f"{role}_etcd_cert" if not cert else f"{role}_etcd_key",
                    "the etcd client certificate and its key go together",
                    f"set both {role}_etcd_cert and {role}_etcd_key, or neither")
        for suffix in ("etcd_ca_cert", "etcd_cert", "etcd_key", "kubeconfig"):
            path = v.get(f"{role}_{suffix}")
            if path and isinstance(path, str) and not os.path.isfile(os.path.expanduser(path)):
                missing.setdefault(path, []).append(f"{role}_{suffix}")
        if kind == "kubernetes" and role == "calico_network" and not v.get(f"{role}_kubeconfig"):
            out.add(f"{role}_kubeconfig", "is not set although the datastore is kubernetes",
                    "set it to a kubeconfig that may read and write projectcalico.org resources")
    for path, names in missing.items():
        out.add(", ".join(names), f"{path} is not a file on the controller",
                "copy the file to the controller (for etcd: the CA, client certificate and key calicoctl "
                "uses) and give its path")


def _check_pools(v, out):
    pools = v.get("calico_network_ippools")
    if pools in (None, ""):
        return
    if not isinstance(pools, list):
        out.add("calico_network_ippools", "is not a list", "write it as a list of {name, cidr, ...}")
        return
    range_var, node_net = node_range(v)
    service = v.get("calico_network_service_cidr") or None
    if service:
        net, why = _network(service)
        if net is None:
            out.add("calico_network_service_cidr", why, "write the Service CIDR as e.g. 10.68.0.0/16")
            service = None
    seen = {}
    for index, pool in enumerate(pools):
        where = f"calico_network_ippools[{index}]"
        if not isinstance(pool, dict):
            out.add(where, f"{pool!r} is not a mapping", "write each pool as {name: ..., cidr: ...}")
            continue
        name = pool.get("name")
        where = f"calico_network_ippools[{index}] ({name})" if name else where
        unknown = sorted(set(pool) - set(POOL_KEYS))
        if unknown:
            out.add(where, f"unknown key(s) {', '.join(unknown)}", f"use only {', '.join(POOL_KEYS)}")
        if not name:
            out.add(where, "has no name", "give the pool a name, e.g. default-ipv4-ippool")
            continue
        if name in seen:
            out.add(where, f"the name {name} is used twice", "give each pool its own name")
        state = pool.get("state", "present")
        if state not in ("present", "absent"):
            out.add(f"{where}.state", f"is {state!r}", "use present or absent")
        if state == "absent":
            continue
        if "cidr" not in pool:
            out.add(f"{where}.cidr", "is not set", "give the pool's cidr, e.g. 172.20.0.0/16")
            continue
        net, why = _network(pool["cidr"])
        if net is None:
            out.add(f"{where}.cidr", why, "write it as address/prefix, e.g. 172.20.0.0/16")
            continue
        block = pool.get("block_size")
        if block is not None and _int(block) is None:
            out.add(f"{where}.block_size", f"{block!r} is not a number", "use 20..32 for IPv4 (default 26)")
            continue
        for mode_key in ("ipip_mode", "vxlan_mode"):
            if mode_key in pool and pool[mode_key] not in MODES:
                out.add(f"{where}.{mode_key}", f"is {pool[mode_key]!r}",
                        f"use one of {', '.join(MODES)} (case matters)")
        if any(k in pool and pool[k] not in MODES for k in ("ipip_mode", "vxlan_mode")):
            continue
        spec = ippool_defaults(ippool_request(
            pool["cidr"], _int(block) if block is not None else None, pool.get("ipip_mode"),
            pool.get("vxlan_mode"), pool.get("nat_outgoing"), pool.get("disabled"),
            pool.get("disable_bgp_export"), pool.get("node_selector"), pool.get("allowed_uses")))
        others = [{"metadata": {"name": n}, "spec": {"cidr": str(c)}} for n, c in seen.items()]
        try:
            validate_ippool(name, spec, others, service, None)
        except ResourceValidationError as exc:
            field = {"service_cidr": "cidr", "node_cidr": "cidr"}.get(exc.field, exc.field)
            out.add(f"{where}.{field or 'cidr'}", str(exc), "change the pool as the message says")
            continue
        if node_net is not None and net.version == node_net.version and net.overlaps(node_net):
            out.add(f"{where}.cidr", f"{net} overlaps the nodes' range {node_net} ({range_var}): pod "
                    "addresses would collide with node addresses",
                    f"choose a pod range outside {node_net}, e.g. 172.20.0.0/16")
            continue
        seen[name] = net


def _check_settings(v, cloud, out):
    if _declared(v, "calico_network_as_number"):
        asn = _int(v["calico_network_as_number"])
        if asn is None or not 1 <= asn <= 4294967295:
            out.add("calico_network_as_number", f"is {v['calico_network_as_number']!r}",
                    "use 1..4294967295 (Calico's default 64512), or leave it unset to keep the cluster's")
    if _declared(v, "calico_network_mesh_enabled") and not isinstance(v["calico_network_mesh_enabled"], bool):
        out.add("calico_network_mesh_enabled", f"is {v['calico_network_mesh_enabled']!r}",
                "use true or false, or leave it unset to keep the cluster's")
    if _declared(v, "calico_network_underlay_mtu"):
        mtu = _int(v["calico_network_underlay_mtu"])
        if mtu is None or not 576 <= mtu <= 9216:
            out.add("calico_network_underlay_mtu", f"is {v['calico_network_underlay_mtu']!r}",
                    f"use the network's MTU ({cloud or 'GCP'} default "
                    f"{CLOUD_UNDERLAY_MTU.get(cloud, 1460)}), or leave it unset to keep the cluster's")


def _check_network(v, cloud, out):
    if cloud == "gcp":
        text = v.get("gcp_network_vpc_range")
        net, why = _network(text) if text else (None, "is not set")
        if net is None:
            out.add("gcp_network_vpc_range", why, "set it to the VPC's internal IPv4 range, e.g. 10.128.0.0/9")
        elif not _is_private(net):
            out.add("gcp_network_vpc_range", f"{net} is not a private range: IP protocol 4 from it would let "
                    "anyone there inject packets into the pod network", "use the VPC's private range")
        for name in ("gcp_network_ipip_rule_name", "gcp_network_bgp_rule_name"):
            if _declared(v, name) and not _GCP_NAME_RE.match(str(v[name])):
                out.add(name, f"{v[name]!r} is not a GCE rule name", "use [a-z]([-a-z0-9]*[a-z0-9])?")
        for tag in v.get("gcp_network_target_tags") or []:
            if not _GCP_NAME_RE.match(str(tag)):
                out.add("gcp_network_target_tags", f"tag {tag!r} is not a GCE network tag",
                        "use [a-z]([-a-z0-9]*[a-z0-9])?")
        if not v.get("gcp_nodes_zone"):
            out.add("gcp_nodes_zone", "is not set", "set the zone of the new machines, e.g. europe-west1-b")
    if cloud == "aws":
        for name in ("aws_network_region", "aws_nodes_region"):
            if not _AWS_REGION_RE.match(str(v.get(name) or "")):
                out.add(name, f"is {v.get(name)!r}", "set the region, e.g. eu-west-1")
        for name, prefix in _AWS_IDS.items():
            if not re.match(rf"^{prefix}-[0-9a-f]{{8,17}}$", str(v.get(name) or "")):
                out.add(name, f"is {v.get(name)!r}", f"set the id, e.g. {prefix}-0123456789abcdef0")
        text = v.get("aws_network_vpc_cidr")
        net, why = _network(text) if text else (None, "is not set")
        allow = bool(v.get("aws_network_allow_public_sources"))
        if net is None:
            out.add("aws_network_vpc_cidr", why, "set it to the VPC's IPv4 CIDR, e.g. 10.0.0.0/16")
        elif not _is_private(net) and not allow:
            out.add("aws_network_vpc_cidr", f"{net} is not a private range: IP protocol 4 from it would let "
                    "anyone there inject packets into the pod network",
                    "use the VPC's private CIDR, or set aws_network_allow_public_sources: true if intended")
        for index, rule in enumerate(v.get("aws_network_extra_rules") or []):
            where = f"aws_network_extra_rules[{index}]"
            if not isinstance(rule, dict) or "proto" not in rule:
                out.add(where, "has no proto", "write it in amazon.aws.ec2_security_group rules syntax")
                continue
            proto = str(rule["proto"]).lower()
            if proto == "ipip":
                out.add(where, "EC2 knows IPIP only by number", 'write proto: "4"')
            for cidr in [rule.get("cidr_ip") or []] if isinstance(rule.get("cidr_ip"), str) else \
                    rule.get("cidr_ip") or []:
                rnet, why = _network(cidr)
                if rnet is None:
                    out.add(where, f"cidr_ip {why}", "write it as e.g. 10.0.0.0/16")
                elif proto in ("4", "-1", "all") and not _is_private(rnet) and not allow:
                    out.add(where, f"IP protocol 4 (or all traffic) from {rnet} would let anyone there inject "
                            "packets into the pod network",
                            "use a private range, or set aws_network_allow_public_sources: true if intended")
        declared = v.get("aws_nodes_calico_ipip_mode")
        derived = derived_ipip_mode(v)
        if declared and declared not in MODES:
            out.add("aws_nodes_calico_ipip_mode", f"is {declared!r}", f"use one of {', '.join(MODES)}")
        elif declared and derived and declared != derived:
            out.add("aws_nodes_calico_ipip_mode", f"is {declared} but calico_network_ippools declares "
                    f"ipip_mode {derived}; the pool is the one source of the IPIP mode",
                    "remove aws_nodes_calico_ipip_mode: scale-out derives it from calico_network_ippools")


def _check_join(v, out):
    method = v.get("node_join_method")
    if method is not None and method not in JOIN_METHODS:
        out.add("node_join_method", f"is {method!r}", f"use one of {', '.join(JOIN_METHODS)}")
    for name in sorted(n for n in v if n.startswith("node_join_") and n.endswith(("_timeout", "_retries"))):
        if _int(v[name]) is None or _int(v[name]) <= 0:
            out.add(name, f"is {v[name]!r}", "use a positive whole number")


def validate_scale_out_inputs(variables):
    """Every problem with the declared inputs of scale-out; raise ScaleOutInputError when there is one.

    Returns what the later plays derive from the inputs: ``{cloud, ipip_mode, underlay_mtu,
    node_range}`` (None where not declared).
    """
    v = dict(variables or {})
    out = _Collector()
    cloud = _check_scale_out(v, out)
    _check_names(v, cloud, out)
    _check_datastore(v, out)
    _check_network(v, cloud, out)
    _check_pools(v, out)
    _check_settings(v, cloud, out)
    _check_join(v, out)
    if out.problems:
        raise ScaleOutInputError(out.problems)
    range_var, node_net = node_range(v)
    return {
        "cloud": cloud,
        "ipip_mode": derived_ipip_mode(v) or v.get("aws_nodes_calico_ipip_mode") or None,
        "underlay_mtu": underlay_mtu(v),
        "node_range": str(node_net) if node_net else None,
    }
