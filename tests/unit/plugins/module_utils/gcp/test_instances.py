"""Compute Engine instances (plugins/module_utils/gcp/instances.py), called directly.

The client is the real google-cloud-compute client; it talks to the lab's
Compute Engine test server, started in this process (no lab behind it).
"""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.client import Gce
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.errors import GceInputError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.gcp.instances import (
    INSTANCES_SPEC,
    TAGS_SPEC,
    add_tags,
    desired,
    differences,
    ensure,
    list_instances,
    valid_hostname,
)

from lab.compute import ComputeServer

PROJECT, ZONE = "unit", "europe-west1-b"


def defaults(spec, **params):
    """Module parameters as AnsibleModule fills them: every option, its default unless given."""
    return {**{key: option.get("default") for key, option in spec.items()}, **params}


def request(*names, **params):
    entries = [name if isinstance(name, dict) else {"name": name} for name in names]
    return defaults(INSTANCES_SPEC, **{"zone": ZONE, "instances": entries, **params})


@pytest.fixture
def server():
    with ComputeServer(project=PROJECT, zone=ZONE, extra_zones=("europe-west1-c",), operation_latency=0) as srv:
        yield srv


@pytest.fixture
def gce(server):
    return Gce({"api_endpoint": server.url, "project": PROJECT, "retries": 1, "retry_delay": 0.01})


@pytest.mark.parametrize("hostname, valid", [
    ("node-1.cluster.internal", True),
    ("node-1", False),  # one label: GCE wants a fully qualified name
    ("Node-1.cluster.internal", False),
    ("1node.cluster.internal", False),  # RFC 1035 labels start with a letter
    ("node-1.cluster.internal." + "x" * 230, False),  # over 253 characters
])
def test_hostnames_must_be_fully_qualified_rfc1035(hostname, valid):
    assert valid_hostname(hostname) is valid


def test_unpinned_instances_are_spread_over_zones_in_list_order():
    params = request("a", {"name": "b", "zone": "europe-west1-d"}, "c", "d",
                     zones=["europe-west1-b", "europe-west1-c"])
    assert [(i["name"], i["zone"], i["pinned"]) for i in desired(params)] == [
        ("a", "europe-west1-b", False), ("b", "europe-west1-d", True),
        ("c", "europe-west1-c", False), ("d", "europe-west1-b", False)]


@pytest.mark.parametrize("params, message", [
    (request("Node_1"), "Instance name 'Node_1' is invalid"),
    (request("a", "a"), "Instance 'a' is listed twice"),
    (request("a", zone=None), "No zone for instance 'a'"),
    (request({"name": "a", "hostname": "x.internal"}, {"name": "b", "hostname": "x.internal"}),
     "Instances 'a' and 'b' both have hostname 'x.internal'"),
    (request("a", disk_size_gb=5), "boot disks need at least 10 GB"),
    (request("a", metadata={"startup-script": "x"}, startup_script="y"),
     "metadata key 'startup-script' is also set by its own option"),
])
def test_bad_requests_name_what_to_change(params, message):
    with pytest.raises(GceInputError, match=message):
        desired(params)


def test_check_mode_writes_nothing_and_reports_what_a_real_run_creates(server, gce):
    params = request("node-a", "node-b", tags=["calico-node"])
    check = ensure(gce, params, check_mode=True)
    assert server.writes() == []
    assert check["changed"] is True and check["created"] == ["node-a", "node-b"] and check["instances"] == []

    real = ensure(gce, params, check_mode=False)
    assert [e["method"] for e in server.writes()] == ["POST", "POST"]
    assert real["created"] == check["created"] and real["diff"] == check["diff"]
    assert {i["name"]: i["created"] for i in real["instances"]} == {"node-a": True, "node-b": True}

    server.clear_log()
    again = ensure(gce, params, check_mode=False)
    assert again["changed"] is False and again["created"] == [] and server.writes() == []


def test_a_running_machine_that_differs_is_reported_never_changed(server, gce):
    ensure(gce, request("node-a", machine_type="e2-small", labels={"team": "net"}), check_mode=False)
    server.clear_log()
    result = ensure(gce, request("node-a", machine_type="e2-standard-4", labels={"team": "net"}), check_mode=False)
    assert result["changed"] is False and server.writes() == []
    [entry] = result["differences"]
    assert entry["fields"] == [{"field": "machine_type", "have": "e2-small", "want": "e2-standard-4",
                                "needs_recreate_or_stop": True}]
    assert "left as it is" in result["warnings"][0]


def test_server_defaults_are_no_difference(gce):
    # The server reports the default service account by its email and adds metadata of its own.
    params = request("node-a", metadata={"role": "worker"})
    ensure(gce, params, check_mode=False)
    inst = gce.call(gce.instances.get, project=PROJECT, zone=ZONE, instance="node-a")
    assert differences(desired(params)[0], inst, ZONE) == []


def test_a_machine_found_in_another_zone_is_not_created_twice(server, gce):
    ensure(gce, request("node-a", zone="europe-west1-c"), check_mode=False)
    server.clear_log()
    result = ensure(gce, request("node-a", zones=["europe-west1-b", "europe-west1-c"], zone=None), check_mode=False)
    assert result["changed"] is False and server.writes() == []
    assert [(i["name"], i["zone"]) for i in result["instances"]] == [("node-a", "europe-west1-c")]


def test_absent_deletes_only_what_exists(server, gce):
    ensure(gce, request("node-a"), check_mode=False)
    server.clear_log()
    result = ensure(gce, request("node-a", "node-gone", state="absent"), check_mode=False)
    assert result["deleted"] == ["node-a"]
    assert [e["method"] for e in server.writes()] == ["DELETE"]
    assert list_instances(gce, [ZONE]) == []


def test_list_instances_shows_labels_and_creation_time(gce):
    ensure(gce, request("node-a", labels={"cluster": "k8s"}, tags=["calico-node"]), check_mode=False)
    [inst] = list_instances(gce, [ZONE])
    assert inst["name"] == "node-a" and inst["labels"] == {"cluster": "k8s"} and inst["tags"] == ["calico-node"]
    assert inst["creation_timestamp"] and "created" not in inst


def test_add_tags_keeps_the_other_tags_and_selects_by_label(server, gce):
    ensure(gce, request("node-a", "node-b", labels={"cluster": "k8s"}, tags=["web"]), check_mode=False)
    ensure(gce, request("other", labels={"cluster": "else"}), check_mode=False)
    params = defaults(TAGS_SPEC, tags=["calico-node"], zones=[ZONE], labels={"cluster": "k8s"})
    server.clear_log()
    check = add_tags(gce, params, check_mode=True)
    assert server.writes() == []
    real = add_tags(gce, params, check_mode=False)
    assert check == real
    assert real["tagged"] == ["node-a", "node-b"]
    assert real["diff"]["after"] == {"node-a": ["calico-node", "web"], "node-b": ["calico-node", "web"]}
    tags = {i["name"]: i["tags"] for i in list_instances(gce, [ZONE])}
    assert tags == {"node-a": ["calico-node", "web"], "node-b": ["calico-node", "web"], "other": []}
    assert add_tags(gce, params, check_mode=False)["changed"] is False


def test_add_tags_refuses_unknown_instances_before_writing(server, gce):
    params = defaults(TAGS_SPEC, tags=["calico-node"], zones=[ZONE], instances=["missing"])
    with pytest.raises(GceInputError, match="Instance\\(s\\) missing not found"):
        add_tags(gce, params, check_mode=False)
    assert server.writes() == []
