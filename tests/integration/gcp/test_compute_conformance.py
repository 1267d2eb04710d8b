"""The Compute test server as two real clients see it.

google-api-python-client (discovery-based, its own copy of the discovery
document, httplib2) and google-cloud-compute (generated, REST over requests)
list, filter, insert and retry against the same server and must agree with it.
"""

import json
import uuid

import httplib2
import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import compute_v1
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from lab.compute import ComputeServer
from tests.integration.gcp.conftest import PROJECT, VPC_RANGE

ZONES = ("europe-west1-b", "europe-west1-c", "europe-west1-d")
IMAGE = "projects/debian-cloud/global/images/family/debian-12"


@pytest.fixture
def server():
    with ComputeServer(project=PROJECT, zone=ZONES[0], extra_zones=ZONES[1:], vpc_range=VPC_RANGE) as srv:
        yield srv


@pytest.fixture
def discovery(server):
    """The discovery-based client: static discovery document, no credentials, plain http."""
    return build("compute", "v1", http=httplib2.Http(timeout=10), static_discovery=True,
                 client_options={"api_endpoint": f"{server.url}/compute/v1/"})


@pytest.fixture
def instances(server):
    return compute_v1.InstancesClient(credentials=AnonymousCredentials(), transport="rest",
                                      client_options={"api_endpoint": server.url})


def instance_body(name, zone, **extra):
    return {
        "name": name,
        "machineType": f"zones/{zone}/machineTypes/e2-standard-2",
        "disks": [{"boot": True, "autoDelete": True, "initializeParams": {"sourceImage": IMAGE, "diskSizeGb": "20"}}],
        "networkInterfaces": [{"network": "global/networks/default"}],
        **extra,
    }


def as_proto(name, zone):
    return compute_v1.Instance.from_json(json.dumps(instance_body(name, zone)))


def test_discovery_client_inserts_lists_and_filters_firewalls(server, discovery):
    for name in ("calico-ipip", "calico-bgp"):
        rule = {"name": name, "network": "global/networks/default", "sourceRanges": ["198.18.0.0/15"],
                "allowed": [{"IPProtocol": "4"}] if name == "calico-ipip" else
                [{"IPProtocol": "tcp", "ports": ["179"]}]}
        op = discovery.firewalls().insert(project=PROJECT, body=rule, requestId=str(uuid.uuid4())).execute()
        done = discovery.globalOperations().wait(project=PROJECT, operation=op["name"]).execute()
        assert done["status"] == "DONE" and "error" not in done
    listed = discovery.firewalls().list(project=PROJECT, filter='name = "calico-ipip"').execute()
    assert [rule["name"] for rule in listed["items"]] == ["calico-ipip"]
    regex = discovery.firewalls().list(project=PROJECT, filter="name eq 'calico-.*'").execute()
    assert sorted(rule["name"] for rule in regex["items"]) == ["calico-bgp", "calico-ipip"]
    none = discovery.firewalls().list(project=PROJECT, filter="name ne 'calico-.*'").execute()
    assert "items" not in none
    with pytest.raises(HttpError) as bad:
        discovery.firewalls().list(project=PROJECT, filter="name =").execute()
    assert bad.value.status_code == 400 and "filter" in bad.value.reason


def test_discovery_client_pages_and_aggregates_instances(server, discovery):
    for index in range(5):
        zone = ZONES[index % 3]
        body = instance_body(f"node-{index}", zone, labels={"role": "worker" if index else "control-plane"})
        discovery.instances().insert(project=PROJECT, zone=zone, body=body, requestId=str(uuid.uuid4())).execute()
    request = discovery.instances().aggregatedList(project=PROJECT, maxResults=2, filter="labels.role = worker")
    seen = {}
    for _ in range(10):  # bounded: 4 workers in pages of 2
        page = request.execute()
        for scope, scoped in page["items"].items():
            assert ("instances" in scoped) != ("warning" in scoped)
            seen.setdefault(scope, []).extend(i["name"] for i in scoped.get("instances", []))
        request = discovery.instances().aggregatedList_next(request, page)
        if request is None:
            break
    assert seen == {f"zones/{ZONES[0]}": ["node-3"], f"zones/{ZONES[1]}": ["node-1", "node-4"],
                    f"zones/{ZONES[2]}": ["node-2"]}
    zonal = discovery.instances().list(project=PROJECT, zone=ZONES[1], filter="name eq node-[14]").execute()
    assert [i["name"] for i in zonal["items"]] == ["node-1", "node-4"]


def test_discovery_client_sees_501_for_an_unmodelled_method(discovery):
    with pytest.raises(HttpError) as err:
        discovery.instances().stop(project=PROJECT, zone=ZONES[0], instance="node-0").execute()
    assert err.value.status_code == 501
    assert err.value.error_details[0]["reason"] == "notImplemented"
    assert "compute.instances.stop" in err.value.reason


def test_cloud_client_aggregated_list_iterates_every_zone(server, instances):
    instances.insert_unary(request={"project": PROJECT, "zone": ZONES[1],
                                    "instance_resource": as_proto("node-a", ZONES[1])})
    scopes = dict(instances.aggregated_list(request={"project": PROJECT}))
    assert sorted(scopes) == [f"zones/{zone}" for zone in ZONES]
    assert [i.name for i in scopes[f"zones/{ZONES[1]}"].instances] == ["node-a"]
    assert scopes[f"zones/{ZONES[0]}"].warning.code == "NO_RESULTS_ON_PAGE"
    filtered = dict(instances.aggregated_list(request={"project": PROJECT, "filter": "name != node-a"}))
    assert not any(scoped.instances for scoped in filtered.values())


def test_cloud_client_retry_after_a_lost_reply_yields_one_machine(server, instances):
    server.drop_next_reply("POST", r"/instances$")
    request = {"project": PROJECT, "zone": ZONES[0], "request_id": str(uuid.uuid4()),
               "instance_resource": as_proto("node-a", ZONES[0])}
    with pytest.raises(requests.exceptions.ConnectionError):
        instances.insert_unary(request=request)
    first = server.requests("POST")[-1]
    assert first["dropped"] is True
    op = instances.insert_unary(request=request)
    assert op.operation_type == "insert"
    assert [i.name for i in instances.list(request={"project": PROJECT, "zone": ZONES[0]})] == ["node-a"]
    with pytest.raises(gexc.BadRequest):
        instances.insert_unary(request={**request, "request_id": "not-a-uuid"})


def test_set_tags_needs_the_current_fingerprint_and_returns_a_zone_operation(server, instances, discovery):
    zone = ZONES[0]
    instances.insert_unary(request={"project": PROJECT, "zone": zone, "instance_resource": as_proto("node-a", zone)})
    first = instances.get(project=PROJECT, zone=zone, instance="node-a").tags
    assert list(first.items) == [] and first.fingerprint
    request = {"project": PROJECT, "zone": zone, "instance": "node-a"}
    with pytest.raises(gexc.BadRequest, match="fingerprint"):
        instances.set_tags_unary(request={**request, "tags_resource": compute_v1.Tags(items=["calico-node"])})
    op = instances.set_tags_unary(request={**request, "tags_resource": compute_v1.Tags(
        items=["calico-node"], fingerprint=first.fingerprint)})
    assert (op.operation_type, op.zone.rsplit("/", 1)[-1]) == ("setTags", zone)
    assert op.target_link.endswith(f"/zones/{zone}/instances/node-a")
    done = compute_v1.ZoneOperationsClient(credentials=AnonymousCredentials(), transport="rest",
                                           client_options={"api_endpoint": server.url}).wait(
        project=PROJECT, zone=zone, operation=op.name)
    assert done.status == compute_v1.Operation.Status.DONE and not done.error.errors
    now = instances.get(project=PROJECT, zone=zone, instance="node-a").tags
    assert list(now.items) == ["calico-node"] and now.fingerprint != first.fingerprint
    # The old fingerprint is stale now: 412, as GCE answers a concurrent change; nothing is written.
    with pytest.raises(gexc.PreconditionFailed):
        instances.set_tags_unary(request={**request, "tags_resource": compute_v1.Tags(
            items=["other"], fingerprint=first.fingerprint)})
    stale = discovery.instances().setTags(project=PROJECT, zone=zone, instance="node-a",
                                          body={"items": ["other"], "fingerprint": first.fingerprint})
    with pytest.raises(HttpError) as err:
        stale.execute()
    assert err.value.status_code == 412 and err.value.error_details[0]["reason"] == "conditionNotMet"
    assert list(instances.get(project=PROJECT, zone=zone, instance="node-a").tags.items) == ["calico-node"]
    # The discovery client, with the current fingerprint, clears them again.
    discovery.instances().setTags(project=PROJECT, zone=zone, instance="node-a",
                                  body={"fingerprint": now.fingerprint}).execute()
    assert list(instances.get(project=PROJECT, zone=zone, instance="node-a").tags.items) == []
