"""gcp_firewall_rule against the Compute Engine test server, through the real client library."""

import pytest

from tests.conftest import run_module

IPIP = {"name": "calico-ipip", "allowed": [{"protocol": "4"}], "source_ranges": ["198.18.0.0/20"],
        "target_tags": ["calico-node"]}


def writes(server):
    return [(e["method"], e["path"].rsplit("/", 1)[-1]) for e in server.writes()]


def run_check_then_real(server, args):
    """Run in check mode, then for real (both with diff); return both results and the writes each sent."""
    server.clear_log()
    check = run_module("gcp_firewall_rule", args, check=True, diff=True)
    check_writes = writes(server)
    server.clear_log()
    real = run_module("gcp_firewall_rule", args, diff=True)
    return check, check_writes, real, writes(server)


@pytest.mark.parametrize(
    "step, change, expected_write",
    [
        ("create", {}, ("POST", "firewalls")),
        ("no-op", {"allowed": [{"protocol": "ipip"}], "priority": 1000, "network": "default"}, None),
        ("add a tag (PATCH)", {"target_tags": ["calico-node", "extra"]}, ("PATCH", "calico-ipip")),
        ("clear the tags (PUT)", {"target_tags": []}, ("PUT", "calico-ipip")),
        ("delete", {"state": "absent"}, ("DELETE", "calico-ipip")),
        ("delete again", {"state": "absent"}, None),
    ],
)
def test_lifecycle_in_check_mode_then_for_real(compute_server, gcp_args, step, change, expected_write):
    # Bring the rule into the state before this step.
    steps = ["create", "no-op", "add a tag (PATCH)", "clear the tags (PUT)", "delete", "delete again"]
    if steps.index(step) >= 1:
        run_module("gcp_firewall_rule", {**gcp_args, **IPIP})
    if step == "clear the tags (PUT)":
        run_module("gcp_firewall_rule", {**gcp_args, **IPIP, "target_tags": ["calico-node", "extra"]})
    if step == "delete again":
        run_module("gcp_firewall_rule", {**gcp_args, **IPIP, "state": "absent"})

    check, check_writes, real, real_writes = run_check_then_real(compute_server, {**gcp_args, **IPIP, **change})

    assert not check.get("failed") and not real.get("failed"), (check, real)
    assert check["changed"] is real["changed"] is (expected_write is not None)
    assert check_writes == []
    assert real_writes == ([expected_write] if expected_write else [])
    assert check["diff"] == real["diff"]


def test_protocol_number_and_name_and_network_url_compare_equal(compute_server, gcp_args):
    run_module("gcp_firewall_rule", {**gcp_args, **IPIP, "allowed": [{"protocol": "ipip"}]})
    compute_server.clear_log()
    url = "https://www.googleapis.com/compute/v1/projects/calico-test/global/networks/default"
    result = run_module("gcp_firewall_rule", {**gcp_args, **IPIP, "network": url,
                                              "target_tags": ["calico-node", "calico-node"]})
    assert result["changed"] is False and compute_server.writes() == []


@pytest.mark.parametrize(
    "change",
    [{"source_ranges": ["0.0.0.0/0"]}, {"source_ranges": ["10.0.0.0/8", "8.8.8.0/24"]}, {"source_ranges": []},
     {"allowed": [{"protocol": "all"}], "source_ranges": ["::/0"]}],
)
def test_public_source_for_ipip_is_refused_before_any_call(compute_server, gcp_args, change):
    result = run_module("gcp_firewall_rule", {**gcp_args, **IPIP, **change})
    assert result["failed"] and "allow_public_sources" in result["msg"]
    assert compute_server.requests() == []


def test_public_source_allowed_when_asked(compute_server, gcp_args):
    args = {**gcp_args, **IPIP, "source_ranges": ["0.0.0.0/0"], "allow_public_sources": True}
    assert run_module("gcp_firewall_rule", args)["changed"] is True


@pytest.mark.parametrize(
    "change, text",
    [
        ({"name": "Calico_IPIP"}, "name 'Calico_IPIP' is invalid"),
        ({"priority": 70000}, "priority 70000 is out of range"),
        ({"source_ranges": ["10.0.0.0/33"]}, "source_ranges entry '10.0.0.0/33'"),
        ({"allowed": [{"protocol": "4", "ports": ["179"]}]}, "ports are only valid"),
        ({"denied": [{"protocol": "tcp"}]}, "exactly one of allowed or denied"),
    ],
)
def test_bad_input_fails_with_what_to_change_and_sends_nothing(compute_server, gcp_args, change, text):
    result = run_module("gcp_firewall_rule", {**gcp_args, **IPIP, **change})
    assert result["failed"] and text in result["msg"]
    assert compute_server.requests() == []


def test_403_names_the_missing_permission(compute_server, gcp_args):
    compute_server.faults.forbid("calico-test", ["compute.firewalls.create"])
    result = run_module("gcp_firewall_rule", {**gcp_args, **IPIP})
    assert result["failed"] and "compute.firewalls.create" in result["msg"]
    assert result["permission"] == "compute.firewalls.create"


def test_404_names_the_network_and_project(compute_server, gcp_args):
    result = run_module("gcp_firewall_rule", {**gcp_args, **IPIP, "network": "vpc-2"})
    assert result["failed"] and "network 'vpc-2'" in result["msg"] and "project 'calico-test'" in result["msg"]


def test_429_burst_is_retried_until_it_passes(compute_server, gcp_args):
    compute_server.faults.add_burst(429, count=3, method="POST")
    result = run_module("gcp_firewall_rule", {**gcp_args, **IPIP})
    assert result["changed"] is True and not result.get("failed")
    inserts = [e["status"] for e in compute_server.requests("POST") if e["path"].endswith("/firewalls")]
    assert inserts == [429, 429, 429, 200]


def test_retries_are_bounded(compute_server, gcp_args):
    compute_server.faults.add_burst(503, count=50)
    result = run_module("gcp_firewall_rule", {**gcp_args, **IPIP, "retries": 2, "retry_delay": 0.01})
    assert result["failed"] and "503" in result["msg"]
    assert len(compute_server.requests()) == 3
