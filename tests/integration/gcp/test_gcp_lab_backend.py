"""The Compute test server wired to the lab: instances become lab nodes, rules the VPC firewall."""

import pytest

from tests.conftest import run_module
from tests.integration.gcp.conftest import ZONE

pytestmark = pytest.mark.lab


def test_instance_boots_a_lab_node_and_firewall_reaches_the_vpc(dirty_lab, lab_compute_server, lab_gcp_args):
    """Replaces the lab firewall, hence ``dirty_lab`` (the lab is rebuilt afterwards)."""
    lab = dirty_lab
    instances = [{"name": "gcp-extra-1", "hostname": "gcp-extra-1.cluster.internal"}]
    created = run_module("gcp_instances", {**lab_gcp_args, "zone": ZONE, "tags": ["calico-node"],
                                           "instances": instances})
    assert created["changed"] is True and not created.get("failed"), created
    ip = created["instances"][0]["private_ip"]
    try:
        node = lab.get_node("gcp-extra-1")
        assert node["ip"] == ip and node["hostname"] == "gcp-extra-1"  # the OS gets the short name
        assert node["tags"] == ["calico-node"]

        vpc_range = str(lab_compute_server.cloud.vpc)
        rule = {"name": "calico-ipip", "allowed": [{"protocol": "4"}], "source_ranges": [vpc_range]}
        assert run_module("gcp_firewall_rule", {**lab_gcp_args, **rule})["changed"] is True
        # The lab's own rules were adopted by the server: they stay in force.
        assert [r["name"] for r in lab.get_firewall()] == ["calico-ipip", "default-allow-internal"]
        assert lab.get_firewall()[0] == lab_compute_server.cloud.firewall_get("calico-test", "calico-ipip")
        assert run_module("gcp_firewall_rule", {**lab_gcp_args, **rule, "state": "absent"})["changed"] is True
        assert [r["name"] for r in lab.get_firewall()] == ["default-allow-internal"]
    finally:
        deleted = run_module("gcp_instances", {**lab_gcp_args, "zone": ZONE, "instances": instances, "state": "absent"})
    assert deleted["changed"] is True
    assert "gcp-extra-1" not in [n["name"] for n in lab.status()["nodes"]]


def _ipip_passes(lab, src, dst):
    """Raw protocol-4 packets from lab node `src` reach lab node `dst`."""
    import subprocess

    from tests.integration.lab.test_lab import RAW

    listener = subprocess.Popen(lab.node_argv(dst, ["python3", str(RAW), "listen", "2"]),
                                stdout=subprocess.PIPE, text=True)
    assert listener.stdout.readline().strip() == "ready"
    lab.node_exec(src, ["python3", str(RAW), "send", lab.get_node(dst)["ip"]], check=True)
    out, _ = listener.communicate(timeout=10)
    return lab.get_node(src)["ip"] in out.split()


def test_ipip_rule_through_the_real_client_lets_protocol_4_pass(dirty_lab, lab_compute_server, lab_gcp_args):
    """The field-notes GCP incident and its fix, end to end through google-cloud-compute."""
    lab = dirty_lab
    assert not _ipip_passes(lab, "node-1", "node-2")  # GCP's default rules: no protocol 4
    vpc_range = lab.status()["vpc"]["range"]
    rule = {"name": "allow-ipip", "allowed": [{"protocol": "4"}], "source_ranges": [vpc_range]}
    assert run_module("gcp_firewall_rule", {**lab_gcp_args, **rule})["changed"] is True
    assert _ipip_passes(lab, "node-1", "node-2") and _ipip_passes(lab, "node-2", "node-1")
    assert all(v.startswith("Established") for v in lab.bgp_sessions("node-1").values())  # BGP untouched
    assert run_module("gcp_firewall_rule", {**lab_gcp_args, **rule, "state": "absent"})["changed"] is True
    assert not _ipip_passes(lab, "node-1", "node-2")
