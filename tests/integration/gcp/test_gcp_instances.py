"""gcp_instances against the Compute Engine test server, through the real client library."""

import ipaddress

import pytest

from tests.conftest import run_module
from tests.integration.gcp.conftest import PROJECT, VPC_RANGE, ZONE


def batch(count, start=0):
    return [{"name": f"node-{i}", "hostname": f"node-{i}.cluster.internal"} for i in range(start, start + count)]


def inserts(server):
    return [e for e in server.requests("POST") if e["path"].endswith("/instances")]


@pytest.fixture
def args(gcp_args):
    return {**gcp_args, "zone": ZONE, "tags": ["calico-node"], "instances": batch(2)}


@pytest.mark.parametrize(
    "step, before, change, expected",
    [
        ("create", [], {}, ["POST", "POST"]),
        ("no-op", batch(2), {}, []),
        ("grow by one", batch(2), {"instances": batch(3)}, ["POST"]),
        ("delete", batch(2), {"state": "absent"}, ["DELETE", "DELETE"]),
        ("delete again", [], {"state": "absent"}, []),
    ],
)
def test_lifecycle_in_check_mode_then_for_real(compute_server, args, step, before, change, expected):
    if before:
        assert run_module("gcp_instances", {**args, "instances": before})["changed"] is True
    compute_server.clear_log()
    check = run_module("gcp_instances", {**args, **change}, check=True, diff=True)
    assert compute_server.writes() == []
    real = run_module("gcp_instances", {**args, **change}, diff=True)
    sent = [e["method"] for e in compute_server.writes()]

    assert check["changed"] is real["changed"] is bool(expected)
    assert sent == expected
    assert check["diff"] == real["diff"]
    key = "deleted" if change.get("state") == "absent" else "created"
    assert check[key] == real[key]


def test_returns_name_hostname_private_ip_and_status(compute_server, args):
    instances = [{"name": "node-a", "hostname": "node-a.cluster.internal"}, {"name": "node-b"}]
    result = run_module("gcp_instances", {**args, "instances": instances})
    by_name = {i["name"]: i for i in result["instances"]}
    assert by_name["node-a"]["hostname"] == "node-a.cluster.internal"
    assert by_name["node-b"]["hostname"] == f"node-b.{ZONE}.c.{PROJECT}.internal"
    ips = {i["private_ip"] for i in result["instances"]}
    assert len(ips) == 2 and all(ipaddress.ip_address(ip) in ipaddress.ip_network(VPC_RANGE) for ip in ips)
    assert {i["status"] for i in result["instances"]} == {"RUNNING"}
    body = inserts(compute_server)[0]["body"]
    assert body["tags"] == {"items": ["calico-node"]} and body["canIpForward"] is False


def test_batch_of_eight_inserts_everything_before_the_first_wait(compute_server, args):
    compute_server.set_latency(2.0)
    result = run_module("gcp_instances", {**args, "instances": batch(8)})
    assert result["changed"] is True and len(result["created"]) == 8
    log = compute_server.requests()
    insert_seqs = [e["seq"] for e in log if e["method"] == "POST" and e["path"].endswith("/instances")]
    wait_seqs = [e["seq"] for e in log if e["path"].endswith("/wait")]
    assert len(insert_seqs) == 8 and len(wait_seqs) == 8
    assert max(insert_seqs) < min(wait_seqs)


def test_429_burst_on_insert_is_recovered(compute_server, args):
    compute_server.faults.add_burst(429, count=3, method="POST", path="/instances")
    result = run_module("gcp_instances", {**args, "instances": batch(3)})
    assert result["changed"] is True and not result.get("failed")
    assert [e["status"] for e in inserts(compute_server)] == [429, 429, 429, 200, 200, 200]


def test_one_failing_instance_is_reported_and_a_rerun_creates_only_it(compute_server, args):
    compute_server.faults.fail_instance("node-3")
    first = run_module("gcp_instances", {**args, "instances": batch(6)})
    assert first["failed"] and "node-3" in first["msg"]
    assert [f["name"] for f in first["failures"]] == ["node-3"]
    assert "ZONE_RESOURCE_POOL_EXHAUSTED" in first["failures"][0]["msg"]
    assert sorted(i["name"] for i in first["instances"]) == [f"node-{i}" for i in (0, 1, 2, 4, 5)]

    compute_server.clear_log()
    second = run_module("gcp_instances", {**args, "instances": batch(6)})
    assert second["changed"] is True and second["created"] == ["node-3"] and not second.get("failed")
    assert [e["body"]["name"] for e in inserts(compute_server)] == ["node-3"]
    assert len(second["instances"]) == 6


@pytest.mark.parametrize(
    "instances, text",
    [
        ([{"name": "a", "hostname": "same.cluster.internal"}, {"name": "b", "hostname": "same.cluster.internal"}],
         "both have hostname 'same.cluster.internal'"),
        ([{"name": "a", "hostname": "AWS-na-k8s-temp1"}], "hostname 'AWS-na-k8s-temp1' of instance 'a' is invalid"),
        ([{"name": "Node_1"}], "Instance name 'Node_1' is invalid"),
        ([{"name": "a"}, {"name": "a"}], "listed twice"),
    ],
)
def test_bad_input_fails_before_any_call(compute_server, args, instances, text):
    result = run_module("gcp_instances", {**args, "instances": instances})
    assert result["failed"] and text in result["msg"]
    assert compute_server.requests() == []


def test_hostname_taken_by_another_instance_is_refused_with_nothing_written(compute_server, args):
    run_module("gcp_instances", {**args, "instances": [{"name": "old", "hostname": "n1.cluster.internal"}]})
    compute_server.clear_log()
    result = run_module("gcp_instances", {**args, "instances": [{"name": "new", "hostname": "n1.cluster.internal"}]})
    assert result["failed"] and "already used by instance 'old'" in result["msg"]
    assert compute_server.writes() == []


def test_403_on_insert_names_the_permission(compute_server, args):
    compute_server.faults.forbid(PROJECT, ["compute.instances.create"])
    result = run_module("gcp_instances", args)
    assert result["failed"] and all("compute.instances.create" in f["msg"] for f in result["failures"])
