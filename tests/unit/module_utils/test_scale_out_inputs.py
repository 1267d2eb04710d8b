"""validate_scale_out_inputs: every problem at once, naming the variable the user sets, with a fix."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.scale_out_inputs import (
    ScaleOutInputError,
    validate_scale_out_inputs,
)

from tests.conftest import run_module

ETCD = ["http://198.18.0.2:2379"]
GCP = {
    "fleet_cloud": "gcp", "scale_out_count": 2, "scale_out_batch": "b-1",
    "node_names_domain": "europe-west1-b.c.p.internal", "node_names_gcp_zones": ["europe-west1-b"],
    "node_names_etcd_endpoints": ETCD, "calico_network_etcd_endpoints": ETCD, "mesh_verify_etcd_endpoints": ETCD,
    "gcp_network_vpc_range": "10.128.0.0/9", "gcp_nodes_zone": "europe-west1-b",
    "calico_network_ippools": [{"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16", "ipip_mode": "Always"}],
}
AWS = {
    "fleet_cloud": "aws", "scale_out_count": "1", "scale_out_batch": "b-1", "node_names_aws_region": "eu-west-1",
    "node_names_etcd_endpoints": ETCD, "calico_network_etcd_endpoints": ETCD, "mesh_verify_etcd_endpoints": ETCD,
    "aws_network_region": "eu-west-1", "aws_nodes_region": "eu-west-1", "aws_network_vpc_id": "vpc-0123456789abcdef0",
    "aws_network_vpc_cidr": "10.0.0.0/16", "aws_nodes_subnet_id": "subnet-0123456789abcdef0",
    "aws_nodes_image_id": "ami-0123456789abcdef0",
    "calico_network_ippools": [{"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16", "ipip_mode": "CrossSubnet"}],
}


def problems(variables):
    with pytest.raises(ScaleOutInputError) as info:
        validate_scale_out_inputs(variables)
    return {p["variable"]: p for p in info.value.problems}, str(info.value)


def with_pool(base, **pool):
    return {**base, "calico_network_ippools": [{"name": "p", "cidr": "172.20.0.0/16", **pool}]}


def test_valid_gcp_and_aws_inputs_pass_and_derive_the_ipip_mode():
    assert validate_scale_out_inputs(GCP) == {"cloud": "gcp", "ipip_mode": "Always", "underlay_mtu": None,
                                              "node_range": "10.128.0.0/9"}
    assert validate_scale_out_inputs(AWS)["ipip_mode"] == "CrossSubnet"


def test_no_pool_declared_is_fine_and_the_aws_variable_then_gives_the_mode():
    variables = {**AWS, "calico_network_ippools": [], "aws_nodes_calico_ipip_mode": "Never"}
    assert validate_scale_out_inputs(variables)["ipip_mode"] == "Never"


@pytest.mark.parametrize("pool, variable, words", [
    ({"cidr": "172.20.0.0/33"}, "calico_network_ippools[0] (p).cidr", "not a network"),
    ({"cidr": "10.130.0.0/16"}, "calico_network_ippools[0] (p).cidr", "overlaps the nodes' range 10.128.0.0/9"),
    ({"block_size": 33}, "calico_network_ippools[0] (p).block_size", "use 20..32"),
    ({"ipip_mode": "sometimes"}, "calico_network_ippools[0] (p).ipip_mode", "Always, CrossSubnet, Never"),
    ({"cidr": "172.20.0.1/16"}, "calico_network_ippools[0] (p).cidr", "host bits"),
])
def test_each_bad_pool_is_refused_with_its_variable(pool, variable, words):
    found, message = problems(with_pool(GCP, **pool))
    assert list(found) == [variable]
    assert words in found[variable]["problem"] + found[variable]["fix"]
    assert "calico_network_ippools" in message


def test_messages_name_what_the_user_sets_and_only_what_failed():
    found, message = problems({**GCP, "scale_out_count": 0, "scale_out_batch": "Batch One"})
    assert set(found) == {"scale_out_count", "scale_out_batch"}
    assert "node_names_count" not in message
    assert "2 input(s)" in message


def test_missing_cloud_and_endpoints_are_named():
    variables = dict(GCP)
    del variables["fleet_cloud"]
    del variables["calico_network_etcd_endpoints"]
    found, _ = problems(variables)
    assert {"fleet_cloud", "calico_network_etcd_endpoints"} <= set(found)
    assert "fleet_cloud: gcp" in found["fleet_cloud"]["fix"]


def test_naming_rules_are_the_hostname_plan_s():
    found, _ = problems({**GCP, "node_names_prefix": "AWS-na-k8s-temp"})
    assert "upper-case" in found["node_names_prefix"]["problem"]
    found, _ = problems({**GCP, "node_names_domain": ""})
    assert "node_names_domain" in found


def test_public_ipip_source_points_at_the_role_variable():
    found, _ = problems({**AWS, "aws_network_extra_rules": [{"proto": "4", "cidr_ip": "8.8.8.0/24"}]})
    assert "aws_network_allow_public_sources: true" in found["aws_network_extra_rules[0]"]["fix"]
    ok = {**AWS, "aws_network_allow_public_sources": True,
          "aws_network_extra_rules": [{"proto": "4", "cidr_ip": "8.8.8.0/24"}]}
    assert validate_scale_out_inputs(ok)["cloud"] == "aws"


def test_one_source_for_the_ipip_mode():
    found, _ = problems({**AWS, "aws_nodes_calico_ipip_mode": "Always"})
    assert "remove aws_nodes_calico_ipip_mode" in found["aws_nodes_calico_ipip_mode"]["fix"]


def test_aws_ids_and_join_method():
    found, _ = problems({**AWS, "aws_nodes_subnet_id": "my-subnet", "node_join_method": "magic"})
    assert set(found) == {"aws_nodes_subnet_id", "node_join_method"}


def test_settings_left_unset_are_not_checked_but_bad_declared_ones_are():
    found, _ = problems({**GCP, "calico_network_underlay_mtu": 100, "calico_network_as_number": 0})
    assert set(found) == {"calico_network_underlay_mtu", "calico_network_as_number"}


def test_tls_files_must_exist_and_go_in_pairs(tmp_path):
    cert = tmp_path / "client.pem"
    cert.write_text("x")
    found, _ = problems({**GCP, "calico_network_etcd_cert": str(cert), "node_names_etcd_ca_cert": "/nonexistent"})
    assert set(found) == {"calico_network_etcd_key", "node_names_etcd_ca_cert"}


def test_module_fails_with_the_problems_and_passes_the_derived_values():
    bad = run_module("scale_out_inputs", {"variables": with_pool(GCP, block_size=33)})
    assert bad["failed"] and bad["problems"][0]["variable"].endswith(".block_size")
    good = run_module("scale_out_inputs", {"variables": GCP})
    assert not good.get("failed") and good["changed"] is False and good["ipip_mode"] == "Always"


def test_the_datastore_set_once_serves_every_role():
    variables = {k: v for k, v in GCP.items() if not k.endswith("_etcd_endpoints")}
    once = {**variables, "calico_fleet_datastore": {"etcd_endpoints": ETCD}}
    assert validate_scale_out_inputs(once)["cloud"] == "gcp"
    found, text = problems({**variables, "calico_fleet_datastore": {"datastore": "etcdv3"}})
    assert {"node_names_etcd_endpoints", "calico_network_etcd_endpoints", "mesh_verify_etcd_endpoints"} <= set(found)
    found, text = problems({**variables, "calico_fleet_datastore": "etcdv3"})
    assert "calico_fleet_datastore" in found and "mapping" in text


def test_plan_files_must_be_usable_before_anything_runs(tmp_path):
    saved = tmp_path / "plan.json"
    saved.write_text("{}")
    assert validate_scale_out_inputs({**GCP, "scale_out_plan_file": str(tmp_path / "new.json"),
                                      "scale_out_plan_expected": str(saved)})["cloud"] == "gcp"
    found, _ = problems({**GCP, "scale_out_plan_file": str(tmp_path / "missing" / "plan.json"),
                         "scale_out_plan_expected": str(tmp_path / "nowhere.json")})
    assert "directory does not exist" in found["scale_out_plan_file"]["problem"]
    assert "not a readable file" in found["scale_out_plan_expected"]["problem"]
    assert "scale_out_plan_file=<file>" in found["scale_out_plan_expected"]["fix"]
