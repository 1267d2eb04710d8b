"""gcp_instances_info lists what the hostname plan must not collide with."""

from tests.conftest import run_module
from tests.integration.gcp.conftest import ZONE


def test_lists_names_hostnames_ips_and_labels_without_writing(compute_server, gcp_args):
    created = run_module("gcp_instances", {**gcp_args, "zone": ZONE, "labels": {"calico-fleet-batch": "b1"},
                                           "instances": [{"name": "aws-na-k8s-temp1",
                                                          "hostname": "aws-na-k8s-temp1.k8s.internal"},
                                                         {"name": "node-2"}]})
    assert created["changed"] is True
    compute_server.clear_log()
    for check in (False, True):
        info = run_module("gcp_instances_info", {**gcp_args, "zones": [ZONE]}, check=check)
        assert info["changed"] is False and not info.get("failed"), info
        assert [i["name"] for i in info["instances"]] == ["aws-na-k8s-temp1", "node-2"]
        first, second = info["instances"]
        assert first["hostname"] == "aws-na-k8s-temp1.k8s.internal"
        assert second["hostname"] == f"node-2.{ZONE}.c.{gcp_args['project']}.internal"  # GCE's default
        assert first["labels"] == {"calico-fleet-batch": "b1"} and first["private_ip"].startswith("198.18.")
    assert compute_server.writes() == []


def test_unknown_zone_names_the_zone(compute_server, gcp_args):
    info = run_module("gcp_instances_info", {**gcp_args, "zones": ["mars-north1-a"]})
    assert info["failed"] and "mars-north1-a" in info["msg"]
