"""validate_scale_out_inputs: every problem at once, naming the variable the user sets, with a fix.

The roles' inputs are checked against the roles' own argument specs (read from meta/argument_specs.yml,
as the action plugin reads them), the rules across them with the validation package's rules.
"""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.problems import InputError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.scale_out import validate_scale_out_inputs
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.role_specs import load_role_specs

from tests.conftest import run_module

ROLES = ["node_names", "gcp_network", "gcp_nodes", "aws_network", "aws_nodes", "node_join", "calico_network",
         "mesh_verify", "scale_out_plan"]
SPECS = load_role_specs(ROLES)
PROVIDED = ["node_names_count", "node_names_batch", "gcp_nodes_instances", "aws_nodes_instances"]
ETCD = ["http://198.18.0.2:2379"]
GCP = {
    "fleet_cloud": "gcp", "scale_out_count": 2, "scale_out_batch": "b-1", "node_join_method": "none",
    "node_names_domain": "europe-west1-b.c.p.internal", "node_names_gcp_zones": ["europe-west1-b"],
    "calico_fleet_datastore": {"datastore": "etcdv3", "etcd_endpoints": ETCD},
    "gcp_network_vpc_range": "10.128.0.0/9", "gcp_nodes_zone": "europe-west1-b",
    "calico_network_ippools": [{"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16", "ipip_mode": "Always"}],
}
AWS = {
    "fleet_cloud": "aws", "scale_out_count": "1", "scale_out_batch": "b-1", "node_names_aws_region": "eu-west-1",
    "node_join_method": "kubeadm", "calico_fleet_datastore": {"etcd_endpoints": ETCD},
    "aws_network_region": "eu-west-1", "aws_nodes_region": "eu-west-1", "aws_network_vpc_id": "vpc-0123456789abcdef0",
    "aws_network_vpc_cidr": "10.0.0.0/16", "aws_nodes_subnet_id": "subnet-0123456789abcdef0",
    "aws_nodes_image_id": "ami-0123456789abcdef0", "aws_nodes_cluster_name": "k8s-prod",
    "calico_network_ippools": [{"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16", "ipip_mode": "CrossSubnet"}],
}


def check(variables):
    return validate_scale_out_inputs(variables, SPECS, PROVIDED)


def problems(variables):
    with pytest.raises(InputError) as info:
        check(variables)
    return {p["variable"]: p for p in info.value.problems}, str(info.value)


def with_pool(base, **pool):
    return {**base, "calico_network_ippools": [{"name": "p", "cidr": "172.20.0.0/16", **pool}]}


def test_valid_gcp_and_aws_inputs_pass_and_derive_the_ipip_mode():
    assert check(GCP) == {"cloud": "gcp", "ipip_mode": "Always", "underlay_mtu": None, "node_range": "10.128.0.0/9"}
    assert check(AWS)["ipip_mode"] == "CrossSubnet"


def test_no_pool_declared_is_fine_and_the_aws_variable_then_gives_the_mode():
    variables = {**AWS, "calico_network_ippools": [], "aws_nodes_calico_ipip_mode": "Never"}
    assert check(variables)["ipip_mode"] == "Never"


@pytest.mark.parametrize("pool, variable, words", [
    ({"cidr": "172.20.0.0/33"}, "calico_network_ippools[0] (p).cidr", "not a network"),
    ({"cidr": "10.130.0.0/16"}, "calico_network_ippools[0] (p).cidr", "overlaps the nodes' range 10.128.0.0/9"),
    ({"block_size": 33}, "calico_network_ippools[0] (p).block_size", "use 20..32"),
    ({"cidr": "172.20.0.1/16"}, "calico_network_ippools[0] (p).cidr", "host bits"),
    ({"ipip_mode": "Always", "vxlan_mode": "Always"}, "calico_network_ippools[0] (p).vxlan_mode",
     "cannot both be on"),
])
def test_each_bad_pool_is_refused_with_its_variable(pool, variable, words):
    found, message = problems(with_pool(GCP, **pool))
    assert list(found) == [variable]
    assert words in found[variable]["problem"] + found[variable]["fix"]
    assert "calico_network_ippools" in message


def test_the_pool_keys_and_choices_come_from_the_role_s_argument_spec():
    entry = "calico_network_ippools[0] (p)"
    found, _ = problems(with_pool(GCP, ipip_mode="sometimes"))
    assert "Always, CrossSubnet, Never" in found[entry]["problem"]
    found, _ = problems(with_pool(GCP, ipip="Always"))
    assert "ipip" in found[entry]["problem"]
    assert "name, state, cidr" in found[entry]["fix"]


def test_two_pools_may_not_share_a_name_or_overlap():
    pools = [{"name": "p", "cidr": "172.20.0.0/16"}, {"name": "p", "cidr": "172.21.0.0/16"},
             {"name": "q", "cidr": "172.20.128.0/17"}]
    found, _ = problems({**GCP, "calico_network_ippools": pools})
    assert "used twice" in found["calico_network_ippools[1] (p)"]["problem"]
    assert "overlaps IPPool 'p'" in found["calico_network_ippools[2] (q).cidr"]["problem"]


def test_messages_name_what_the_user_sets_and_only_what_failed():
    found, message = problems({**GCP, "scale_out_count": 0, "scale_out_batch": "Batch One"})
    assert set(found) == {"scale_out_count", "scale_out_batch"}
    assert "node_names_count" not in message
    assert "2 input(s)" in message


def test_missing_cloud_and_required_role_inputs_are_named():
    variables = dict(AWS)
    del variables["fleet_cloud"]
    found, _ = problems(variables)
    assert "fleet_cloud: gcp" in found["fleet_cloud"]["fix"]
    variables = {k: v for k, v in AWS.items() if k not in ("aws_nodes_cluster_name", "node_join_method")}
    found, _ = problems(variables)
    assert set(found) == {"aws_nodes_cluster_name", "node_join_method"}
    assert "is not set (role aws_nodes)" in found["aws_nodes_cluster_name"]["problem"]


def test_roles_of_the_other_cloud_are_not_asked_for():
    assert check(GCP)["cloud"] == "gcp"  # no aws_network_region, aws_nodes_cluster_name, ...


def test_required_inputs_the_playbook_sets_are_not_asked_from_the_inventory():
    with pytest.raises(InputError) as info:
        validate_scale_out_inputs(GCP, SPECS, provided=[])
    assert {p["variable"] for p in info.value.problems} == set(PROVIDED) - {"aws_nodes_instances"}


def test_types_and_choices_come_from_the_argument_specs():
    found, _ = problems({**GCP, "node_join_method": "magic", "mesh_verify_probe": "maybe",
                         "gcp_nodes_disk_size_gb": "big"})
    assert set(found) == {"node_join_method", "mesh_verify_probe", "gcp_nodes_disk_size_gb"}
    assert "kubeadm, kubeasz, kubespray, none" in found["node_join_method"]["fix"]
    assert "set gcp_nodes_disk_size_gb to a whole number" == found["gcp_nodes_disk_size_gb"]["fix"]


def test_naming_rules_are_the_hostname_plan_s():
    found, _ = problems({**GCP, "node_names_prefix": "AWS-na-k8s-temp"})
    assert "upper-case" in found["node_names_prefix"]["problem"]
    found, _ = problems({**GCP, "node_names_domain": ""})
    assert "node_names_domain" in found


def test_a_leading_digit_is_refused_on_gcp_and_taken_on_aws():
    found, _ = problems({**GCP, "node_names_prefix": "9node"})
    assert "must start with a letter" in found["node_names_prefix"]["problem"]
    assert check({**AWS, "node_names_prefix": "9node"})["cloud"] == "aws"


def test_public_ipip_source_points_at_the_role_variable():
    found, _ = problems({**AWS, "aws_network_extra_rules": [{"proto": "4", "cidr_ip": "8.8.8.0/24"}]})
    assert "aws_network_allow_public_sources: true" in found["aws_network_extra_rules[0]"]["fix"]
    ok = {**AWS, "aws_network_allow_public_sources": True,
          "aws_network_extra_rules": [{"proto": "4", "cidr_ip": "8.8.8.0/24"}]}
    assert check(ok)["cloud"] == "aws"


def test_one_source_for_the_ipip_mode():
    found, _ = problems({**AWS, "aws_nodes_calico_ipip_mode": "Always"})
    assert "remove aws_nodes_calico_ipip_mode" in found["aws_nodes_calico_ipip_mode"]["fix"]


def test_aws_ids_and_gcp_names():
    found, _ = problems({**AWS, "aws_nodes_subnet_id": "my-subnet", "aws_network_vpc_id": "subnet-0123456789abcdef0"})
    assert set(found) == {"aws_nodes_subnet_id", "aws_network_vpc_id"}
    found, _ = problems({**GCP, "gcp_network_ipip_rule_name": "1-ipip", "gcp_network_target_tags": ["Calico"]})
    assert set(found) == {"gcp_network_ipip_rule_name", "gcp_network_target_tags"}


def test_settings_left_unset_are_not_checked_but_bad_declared_ones_are():
    found, _ = problems({**GCP, "calico_network_underlay_mtu": 100, "calico_network_as_number": 0,
                         "calico_network_mesh_enabled": None})
    assert set(found) == {"calico_network_underlay_mtu", "calico_network_as_number"}


def test_the_datastore_is_set_once_and_checked_once(tmp_path):
    cert = tmp_path / "client.pem"
    cert.write_text("x")
    found, _ = problems({**GCP, "calico_fleet_datastore": {"etcd_endpoints": ETCD, "etcd_cert": str(cert),
                                                           "etcd_ca_cert": "/nonexistent"}})
    assert set(found) == {"calico_fleet_datastore.etcd_key", "calico_fleet_datastore.etcd_ca_cert"}
    found, _ = problems({**GCP, "calico_fleet_datastore": {"datastore": "etcdv3"}})
    assert "etcd client URLs" in found["calico_fleet_datastore.etcd_endpoints"]["fix"]
    found, text = problems({**GCP, "calico_fleet_datastore": "etcdv3"})
    assert "calico_fleet_datastore" in found and "mapping" in text
    found, _ = problems({**GCP, "calico_fleet_datastore": {"datastore": "kubernetes"}})
    assert "calico_fleet_datastore.kubeconfig" in found


def test_plan_files_must_be_usable_before_anything_runs(tmp_path):
    saved = tmp_path / "plan.json"
    saved.write_text("{}")
    assert check({**GCP, "scale_out_plan_file": str(tmp_path / "new.json"),
                  "scale_out_plan_expected": str(saved)})["cloud"] == "gcp"
    found, _ = problems({**GCP, "scale_out_plan_file": str(tmp_path / "missing" / "plan.json"),
                         "scale_out_plan_expected": str(tmp_path / "nowhere.json")})
    assert "directory does not exist" in found["scale_out_plan_file"]["problem"]
    assert "not a readable file" in found["scale_out_plan_expected"]["problem"]
    assert "scale_out_plan_file=<file>" in found["scale_out_plan_expected"]["fix"]


def test_module_fails_with_the_problems_and_passes_the_derived_values():
    args = {"argument_specs": SPECS, "provided": PROVIDED}
    bad = run_module("scale_out_inputs", {**args, "variables": with_pool(GCP, block_size=33)})
    assert bad["failed"] and bad["problems"][0]["variable"].endswith(".block_size")
    good = run_module("scale_out_inputs", {**args, "variables": GCP})
    assert not good.get("failed") and good["changed"] is False and good["ipip_mode"] == "Always"
