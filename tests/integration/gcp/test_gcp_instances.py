"""gcp_instances against the Compute Engine test server, through the real client library."""

import ipaddress
import uuid

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


# -- cluster-node settings, zones, requestId, state absent (three zones) ------------------------
ZONES = [ZONE, "europe-west1-c", "europe-west1-d"]
NODE_SETTINGS = {
    "zones": ZONES,
    "tags": ["calico-node"],
    "labels": {"role": "worker"},
    "service_account_email": "k8s-node@calico-test.iam.gserviceaccount.com",
    "scopes": ["cloud-platform", "https://www.googleapis.com/auth/devstorage.read_only"],
    "ssh_keys": ["admin:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBdmG6s1Y0gY admin"],
    "startup_script": "#!/bin/sh\necho ready > /run/node-ready\n",
    "metadata": {"enable-oslogin": "FALSE"},
    "disk_type": "pd-ssd",
    "disk_size_gb": 50,
    "machine_type": "e2-standard-4",
}


@pytest.fixture
def zones_server():
    from lab.compute import ComputeServer

    with ComputeServer(project=PROJECT, zone=ZONES[0], extra_zones=ZONES[1:], vpc_range=VPC_RANGE,
                       operation_latency=0.1) as server:
        yield server


@pytest.fixture
def node_args(zones_server):
    return {"api_endpoint": zones_server.url, "project": PROJECT, "retry_delay": 0.05, **NODE_SETTINGS,
            "instances": [{"name": f"node-{i}"} for i in range(8)]}


def machines(server):
    """{name: (zone, id)} of every instance the server holds, over all zones."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/compute/v1/projects/{PROJECT}/aggregated/instances", timeout=10) as r:
        items = json.loads(r.read())["items"]
    return {i["name"]: (scope.split("/")[1], i["id"]) for scope, s in items.items() for i in s.get("instances", [])}


def request_ids(entries):
    return [e["query"].get("requestId", [None])[0] for e in entries]


def test_batch_of_eight_over_three_zones_with_node_settings_then_rerun_is_a_no_op(zones_server, node_args):
    check = run_module("gcp_instances", node_args, check=True, diff=True)
    assert zones_server.writes() == [] and check["changed"] is True and len(check["created"]) == 8

    real = run_module("gcp_instances", node_args, diff=True)
    assert real["changed"] is True and not real.get("failed") and real["failures"] == []
    assert real["diff"] == check["diff"] and real["created"] == check["created"]
    posts = inserts(zones_server)
    assert len(posts) == 8
    ids = request_ids(posts)
    assert len(set(ids)) == 8 and all(uuid.UUID(i).version == 4 for i in ids)
    placed = machines(zones_server)
    assert [placed[f"node-{i}"][0] for i in range(8)] == [ZONES[i % 3] for i in range(8)]
    body = posts[0]["body"]
    assert body["serviceAccounts"] == [{"email": NODE_SETTINGS["service_account_email"], "scopes": [
        "https://www.googleapis.com/auth/cloud-platform", "https://www.googleapis.com/auth/devstorage.read_only"]}]
    assert {i["key"]: i["value"] for i in body["metadata"]["items"]} == {
        "enable-oslogin": "FALSE", "ssh-keys": NODE_SETTINGS["ssh_keys"][0],
        "startup-script": NODE_SETTINGS["startup_script"]}
    params = body["disks"][0]["initializeParams"]
    assert params["diskType"] == f"zones/{ZONE}/diskTypes/pd-ssd" and int(params["diskSizeGb"]) == 50
    assert body["scheduling"] == {"provisioningModel": "STANDARD"}
    assert body["machineType"] == f"zones/{ZONE}/machineTypes/e2-standard-4"

    zones_server.clear_log()
    for check_mode in (True, False):
        again = run_module("gcp_instances", node_args, check=check_mode, diff=True)
        assert again["changed"] is False and again["differences"] == [] and not again.get("warnings")
        assert again["diff"]["before"] == again["diff"]["after"]
    assert zones_server.writes() == []
    # the spread is found again even when it would now place instances elsewhere
    shifted = run_module("gcp_instances", {**node_args, "zones": list(reversed(ZONES))})
    assert shifted["changed"] is False and zones_server.writes() == []


def test_a_dropped_insert_reply_is_retried_with_the_same_request_id_and_yields_one_machine(zones_server, node_args):
    zones_server.drop_next_reply("POST", r"/instances$")
    args = {**node_args, "instances": [{"name": "node-a"}, {"name": "node-b"}]}
    result = run_module("gcp_instances", args)
    assert result["changed"] is True and result["failures"] == [] and result["created"] == ["node-a", "node-b"]
    posts = inserts(zones_server)
    assert [e.get("dropped", False) for e in posts] == [True, False, False]
    assert request_ids(posts)[0] == request_ids(posts)[1] != request_ids(posts)[2]
    assert sorted(machines(zones_server)) == ["node-a", "node-b"]
    assert [e["status"] for e in posts] == [200, 200, 200]  # the retry got the first operation, not a 409


def test_state_absent_for_two_removes_them_and_leaves_the_rest_untouched(zones_server, node_args):
    run_module("gcp_instances", node_args)
    before = machines(zones_server)
    gone = {**node_args, "state": "absent", "instances": [{"name": "node-1"}, {"name": "node-5"}]}
    zones_server.clear_log()

    check = run_module("gcp_instances", gone, check=True, diff=True)
    assert zones_server.writes() == [] and check["changed"] is True and check["deleted"] == ["node-1", "node-5"]
    zones_server.drop_next_reply("DELETE", r"/instances/node-5$")  # a lost reply on delete is retried too
    real = run_module("gcp_instances", gone, diff=True)
    assert real["changed"] is True and real["failures"] == [] and real["deleted"] == ["node-1", "node-5"]
    assert real["diff"] == check["diff"]
    deletes = [e for e in zones_server.writes() if e["method"] == "DELETE"]
    assert [e["path"].rsplit("/", 1)[-1] for e in deletes] == ["node-1", "node-5", "node-5"]
    assert request_ids(deletes)[1] == request_ids(deletes)[2]
    after = machines(zones_server)  # gone once the module returns: it waited
    assert after == {name: place for name, place in before.items() if name not in ("node-1", "node-5")}

    zones_server.clear_log()
    for check_mode in (True, False):
        again = run_module("gcp_instances", gone, check=check_mode)
        assert again["changed"] is False and again["deleted"] == []
    assert zones_server.writes() == []


def test_a_setting_a_running_machine_cannot_take_is_reported_never_recreated(zones_server, node_args):
    args = {**node_args, "instances": [{"name": "node-a", "zone": ZONES[1]}]}
    run_module("gcp_instances", args)
    zones_server.clear_log()
    changed = {**args, "machine_type": "e2-standard-8", "provisioning_model": "spot", "labels": {"role": "cp"},
               "instances": [{"name": "node-a", "zone": ZONES[2]}]}
    for check_mode in (True, False):
        result = run_module("gcp_instances", changed, check=check_mode, diff=True)
        assert result["changed"] is False and not result.get("failed")
        [entry] = result["differences"]
        assert entry["name"] == "node-a" and entry["zone"] == ZONES[1]
        fields = {f["field"]: f for f in entry["fields"]}
        assert sorted(fields) == ["labels", "machine_type", "provisioning_model", "zone"]
        assert fields["machine_type"] == {"field": "machine_type", "have": "e2-standard-4", "want": "e2-standard-8",
                                          "needs_recreate_or_stop": True}
        assert fields["labels"]["needs_recreate_or_stop"] is False
        warnings = str(result["warnings"])  # ansible-core 2.19 returns warning summaries
        assert "Instance 'node-a'" in warnings and "machine_type (have 'e2-standard-4'" in warnings
        assert [i["zone"] for i in result["instances"]] == [ZONES[1]]
    assert zones_server.writes() == []


def test_spot_machines_get_the_scheduling_gce_requires(zones_server, node_args):
    args = {**node_args, "provisioning_model": "spot", "spot_termination_action": "delete",
            "service_account_email": "", "instances": [{"name": "node-s"}]}
    assert run_module("gcp_instances", args)["changed"] is True
    body = inserts(zones_server)[0]["body"]
    assert body["scheduling"] == {"provisioningModel": "SPOT", "instanceTerminationAction": "DELETE",
                                  "automaticRestart": False, "onHostMaintenance": "TERMINATE"}
    assert "serviceAccounts" not in body
    assert run_module("gcp_instances", args)["changed"] is False


@pytest.mark.parametrize(
    "change, text",
    [
        ({"disk_size_gb": 5}, "at least 10 GB"),
        ({"metadata": {"ssh-keys": "x"}}, "metadata key 'ssh-keys' is also set"),
        ({"zones": [], "zone": None}, "No zone for instance"),
    ],
)
def test_bad_settings_fail_before_any_request(zones_server, node_args, change, text):
    result = run_module("gcp_instances", {**node_args, **change})
    assert result["failed"] is True and text in result["msg"]
    assert zones_server.requests() == []
