"""The Compute Engine v1 test server, spoken to over raw HTTP like any client."""

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from lab.compute import ComputeServer, LabBackend

ROOT = "/compute/v1/projects/p"
IPIP = {"name": "calico-ipip", "network": "global/networks/default", "allowed": [{"IPProtocol": "4"}],
        "sourceRanges": ["198.18.0.0/15"]}


def instance(name, **extra):
    return {
        "name": name,
        "machineType": "zones/z/machineTypes/e2-small",
        "disks": [{"boot": True, "autoDelete": True,
                   "initializeParams": {"sourceImage": "projects/debian-cloud/global/images/family/debian-12"}}],
        "networkInterfaces": [{"network": "global/networks/default"}],
        **extra,
    }


def call(server, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def server():
    with ComputeServer(project="p", zone="z", vpc_range="198.18.0.0/28", first_host=2) as srv:
        yield srv


def assert_google_error(status, body, code, reason, text):
    assert status == code
    error = body["error"]
    assert error["code"] == code and error["errors"][0]["reason"] == reason
    assert text in error["message"]


@pytest.mark.parametrize(
    "body, text",
    [
        (dict(IPIP, name="Calico_IPIP"), "Must be a match of regex"),
        (dict(IPIP, name="x" * 64), "Must be a match of regex"),
        (dict(IPIP, sourceRange=["10.0.0.0/8"]), 'Unknown name "sourceRange"'),
        (dict(IPIP, priority="high"), "Expected an integer"),
        (dict(IPIP, direction="SIDEWAYS"), "Must be one of"),
        (dict(IPIP, disabled="no"), "Expected a boolean"),
        (dict(IPIP, allowed=[{"IPProtocol": "4", "port": ["1"]}]), 'Unknown name "port"'),
        ({k: v for k, v in IPIP.items() if k != "name"}, "Required field 'resource.name'"),
        (dict(IPIP, priority=70000), "between 0 and 65535"),
        (dict(IPIP, sourceRanges=["10.0.0.0/33"]), "valid CIDR"),
        (dict(IPIP, allowed=[{"IPProtocol": "4", "ports": ["179"]}]), "Ports may only"),
        (dict(IPIP, network="default"), "The URL is malformed"),
        (dict(IPIP, targetTags=["a"], targetServiceAccounts=["s@x"]), "mutually exclusive"),
    ],
)
def test_invalid_firewall_bodies_are_refused_in_google_error_format(server, body, text):
    status, answer = call(server, "POST", f"{ROOT}/global/firewalls", body)
    assert_google_error(status, answer, 400, "invalid", text)
    assert call(server, "GET", f"{ROOT}/global/firewalls")[1].get("items") is None


def test_firewall_get_returns_server_defaults(server):
    status, op = call(server, "POST", f"{ROOT}/global/firewalls", IPIP)
    assert status == 200 and op["kind"] == "compute#operation"
    status, rule = call(server, "GET", f"{ROOT}/global/firewalls/calico-ipip")
    assert status == 200
    assert rule["priority"] == 1000 and rule["disabled"] is False and rule["direction"] == "INGRESS"
    assert rule["network"] == "https://www.googleapis.com/compute/v1/projects/p/global/networks/default"
    assert rule["selfLink"].endswith("/projects/p/global/firewalls/calico-ipip")
    assert rule["id"].isdigit() and rule["creationTimestamp"]
    assert rule["allowed"] == [{"IPProtocol": "4"}]


def test_ingress_rule_without_source_is_open_to_everything(server):
    call(server, "POST", f"{ROOT}/global/firewalls", {k: v for k, v in IPIP.items() if k != "sourceRanges"})
    assert call(server, "GET", f"{ROOT}/global/firewalls/calico-ipip")[1]["sourceRanges"] == ["0.0.0.0/0"]


def test_duplicate_is_409_and_missing_things_are_404(server):
    call(server, "POST", f"{ROOT}/global/firewalls", IPIP)
    assert_google_error(*call(server, "POST", f"{ROOT}/global/firewalls", IPIP), 409, "alreadyExists", "already exists")
    assert_google_error(*call(server, "GET", f"{ROOT}/global/firewalls/nope"), 404, "notFound", "firewalls/nope")
    assert_google_error(*call(server, "GET", "/compute/v1/projects/q/global/firewalls"), 404, "notFound", "projects/q")
    other_net = dict(IPIP, name="x", network="global/networks/vpc-2")
    assert_google_error(*call(server, "POST", f"{ROOT}/global/firewalls", other_net), 404, "notFound", "networks/vpc-2")


def test_patch_merges_and_put_replaces(server):
    call(server, "POST", f"{ROOT}/global/firewalls", dict(IPIP, targetTags=["a"], priority=900))
    call(server, "PATCH", f"{ROOT}/global/firewalls/calico-ipip", {"name": "calico-ipip", "targetTags": ["b"]})
    rule = call(server, "GET", f"{ROOT}/global/firewalls/calico-ipip")[1]
    assert rule["targetTags"] == ["b"] and rule["priority"] == 900
    call(server, "PUT", f"{ROOT}/global/firewalls/calico-ipip", IPIP)
    rule = call(server, "GET", f"{ROOT}/global/firewalls/calico-ipip")[1]
    assert "targetTags" not in rule and rule["priority"] == 1000


def test_instances_get_unique_ips_from_the_vpc_range_and_run(server):
    for name in ("a", "b"):
        body = instance(name, hostname=f"{name}.example.internal")
        assert call(server, "POST", f"{ROOT}/zones/z/instances", body)[0] == 200
    items = call(server, "GET", f"{ROOT}/zones/z/instances")[1]["items"]
    ips = [i["networkInterfaces"][0]["networkIP"] for i in items]
    assert ips == ["198.18.0.2", "198.18.0.3"]
    assert {i["status"] for i in items} == {"RUNNING"}
    assert items[0]["networkInterfaces"][0]["network"].endswith("/projects/p/global/networks/default")
    assert items[0]["hostname"] == "a.example.internal" and items[0]["canIpForward"] is False


@pytest.mark.parametrize("hostname", ["single-label", "Upper.example.internal", "bad_.example.internal"])
def test_instance_hostname_must_be_fully_qualified_rfc1035(server, hostname):
    status, answer = call(server, "POST", f"{ROOT}/zones/z/instances", instance("a", hostname=hostname))
    assert_google_error(status, answer, 400, "invalid", "resource.hostname")


def test_operations_go_pending_running_done_and_wait_blocks(server):
    server.set_latency(0.6)
    op = call(server, "POST", f"{ROOT}/zones/z/instances", instance("a"))[1]
    assert op["status"] == "PENDING" and op["zone"].endswith("/zones/z")
    seen = [op["status"]]
    for _ in range(200):
        status = call(server, "GET", f"{ROOT}/zones/z/operations/{op['name']}")[1]["status"]
        if status != seen[-1]:
            seen.append(status)
        if status == "DONE":
            break
        time.sleep(0.02)
    assert seen == ["PENDING", "RUNNING", "DONE"]
    op2 = call(server, "DELETE", f"{ROOT}/zones/z/instances/a")[1]
    assert call(server, "POST", f"{ROOT}/zones/z/operations/{op2['name']}/wait")[1]["status"] == "DONE"
    assert call(server, "GET", f"{ROOT}/zones/z/instances/a")[0] == 404
    assert call(server, "GET", f"{ROOT}/global/operations/{op2['name']}")[0] == 404


def test_burst_fault_answers_429_then_recovers(server):
    server.faults.add_burst(429, count=2)
    codes = [call(server, "GET", f"{ROOT}/global/firewalls")[0] for _ in range(3)]
    assert codes == [429, 429, 200]
    server.faults.add_burst(503, count=1, method="POST")
    assert call(server, "GET", f"{ROOT}/global/firewalls")[0] == 200
    assert_google_error(*call(server, "POST", f"{ROOT}/global/firewalls", IPIP), 503, "backendError", "unavailable")


def test_failing_instance_operation_reports_http_error_and_leaves_no_instance(server):
    server.faults.fail_instance("b")
    call(server, "POST", f"{ROOT}/zones/z/instances", instance("a"))
    op = call(server, "POST", f"{ROOT}/zones/z/instances", instance("b"))[1]
    done = call(server, "POST", f"{ROOT}/zones/z/operations/{op['name']}/wait")[1]
    assert done["status"] == "DONE" and done["httpErrorStatusCode"] == 503
    assert done["httpErrorMessage"] == "SERVICE UNAVAILABLE"
    assert done["error"]["errors"][0]["code"] == "ZONE_RESOURCE_POOL_EXHAUSTED"
    assert [i["name"] for i in call(server, "GET", f"{ROOT}/zones/z/instances")[1]["items"]] == ["a"]
    # The fault fires once: a retry succeeds.
    assert call(server, "POST", f"{ROOT}/zones/z/instances", instance("b"))[0] == 200


def test_forbidden_project_names_the_permission(server):
    server.faults.forbid("p", ["compute.firewalls.create"])
    assert call(server, "GET", f"{ROOT}/global/firewalls")[0] == 200
    assert_google_error(*call(server, "POST", f"{ROOT}/global/firewalls", IPIP), 403, "forbidden",
                        "Required 'compute.firewalls.create' permission for 'projects/p/global/firewalls/calico-ipip'")


def test_admin_endpoints_expose_log_and_take_faults(server):
    call(server, "POST", f"{ROOT}/global/firewalls", IPIP)
    log = call(server, "GET", "/_test/log")[1]["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [("POST", f"{ROOT}/global/firewalls", 200)]
    assert log[0]["body"] == IPIP and log[0]["time"] > 0
    call(server, "POST", "/_test/faults", {"burst": {"status": 429, "count": 1}})
    assert call(server, "GET", f"{ROOT}/global/firewalls")[0] == 429
    call(server, "DELETE", "/_test/log")
    assert call(server, "GET", "/_test/log")[1]["requests"] == []


class RecordingLabApi:
    """Stand-in for ``lab.api`` (the real lab needs root and namespaces): records the calls."""

    def __init__(self, nodes=(), rules=()):
        self.calls = []
        self.nodes, self.rules = list(nodes), list(rules)

    def status(self):
        return {"nodes": self.nodes}

    def get_firewall(self):
        return self.rules

    def add_node(self, name, ip=None, hostname=None, tags=(), joined=False, image=None):
        self.calls.append(("add_node", name, ip, hostname, tuple(tags)))
        self.boots = [*getattr(self, "boots", []), {"name": name, "joined": joined, "image": image}]

    def remove_node(self, name):
        self.calls.append(("remove_node", name))

    def set_firewall(self, rules):
        self.calls.append(("set_firewall", [r["name"] for r in rules], rules))


def test_lab_backend_receives_nodes_and_the_stored_firewall_rules():
    api = RecordingLabApi()
    with ComputeServer(project="p", zone="z", backend=LabBackend(api)) as srv:
        call(srv, "POST", f"{ROOT}/zones/z/instances",
             instance("n1", hostname="n1.example.internal", tags={"items": ["calico"]}))
        call(srv, "POST", f"{ROOT}/global/firewalls", IPIP)
        stored = call(srv, "GET", f"{ROOT}/global/firewalls/calico-ipip")[1]
        call(srv, "DELETE", f"{ROOT}/global/firewalls/calico-ipip")
        call(srv, "DELETE", f"{ROOT}/zones/z/instances/n1")
    assert api.calls[0] == ("add_node", "n1", "198.18.0.10", "n1", ("calico",))  # the OS gets the short name
    assert api.calls[1] == ("set_firewall", ["calico-ipip"], [stored])
    assert api.calls[2] == ("set_firewall", [], [])
    assert api.calls[3] == ("remove_node", "n1")


def test_lab_backend_boots_bare_machines_from_the_boot_disk_image():
    """Instances boot bare (joining them is the product's job); the lab image is the last path
    segment of the boot disk's sourceImage (the lab boots its default image for unknown names)."""
    api = RecordingLabApi()
    with ComputeServer(project="p", zone="z", backend=LabBackend(api)) as srv:
        call(srv, "POST", f"{ROOT}/zones/z/instances", instance("n1"))
        bare = instance("n2")
        bare["disks"][0]["initializeParams"]["sourceImage"] = "projects/p/global/images/lab-bare"
        call(srv, "POST", f"{ROOT}/zones/z/instances", bare)
    assert sorted(api.boots, key=lambda b: b["name"]) == [
        {"name": "n1", "joined": False, "image": "debian-12"},
        {"name": "n2", "joined": False, "image": "lab-bare"},
    ]


def test_a_server_wired_to_a_running_lab_adopts_its_nodes_and_rules():
    """The lab's existing cluster shows as instances; its default rule stays when rules are added."""
    default = {"name": "default-allow-internal", "network": "default", "priority": 65534,
               "sourceRanges": ["198.18.0.0/20"], "allowed": [{"IPProtocol": "tcp", "ports": ["0-65535"]}]}
    api = RecordingLabApi(nodes=[{"name": "node-1", "ip": "198.18.0.11", "hostname": "node-1", "tags": []}],
                          rules=[default])
    with ComputeServer(project="p", zone="z", backend=LabBackend(api)) as srv:
        listed = call(srv, "GET", f"{ROOT}/zones/z/instances")[1]["items"]
        assert [(i["name"], i["networkInterfaces"][0]["networkIP"], i["status"]) for i in listed] == [
            ("node-1", "198.18.0.11", "RUNNING")]
        call(srv, "POST", f"{ROOT}/global/firewalls", IPIP)
        # a new instance never gets an address the lab already uses
        call(srv, "POST", f"{ROOT}/zones/z/instances", instance("node-2"))
    firewall_calls = [c for c in api.calls if c[0] == "set_firewall"]
    assert firewall_calls[0][1] == ["calico-ipip", "default-allow-internal"]
    added = [c for c in api.calls if c[0] == "add_node"]
    assert added and added[0][2] != "198.18.0.11"


# -- list filters, aggregatedList, unmodelled methods, requestId, lost replies --------------
def test_list_calls_honour_filter_and_refuse_a_bad_one_with_400(server):
    call(server, "POST", f"{ROOT}/global/firewalls", IPIP)
    call(server, "POST", f"{ROOT}/global/firewalls", dict(IPIP, name="calico-bgp"))
    for name, labels in (("a", {"role": "worker"}), ("b", {"role": "control-plane"})):
        call(server, "POST", f"{ROOT}/zones/z/instances", instance(name, labels=labels))

    def listed(path, text):
        status, body = call(server, "GET", f"{path}?{urllib.parse.urlencode({'filter': text})}")
        assert status == 200, body
        return [item["name"] for item in body.get("items", [])]

    assert listed(f"{ROOT}/global/firewalls", 'name = "calico-ipip"') == ["calico-ipip"]
    assert listed(f"{ROOT}/global/firewalls", "name != calico-ipip") == ["calico-bgp"]
    assert listed(f"{ROOT}/global/firewalls", "name eq 'calico-.*'") == ["calico-bgp", "calico-ipip"]
    assert listed(f"{ROOT}/zones/z/instances", "labels.role = worker") == ["a"]
    assert listed(f"{ROOT}/zones/z/instances", "(labels.role = worker) AND (name = b)") == []
    assert listed(f"{ROOT}/zones/z/instances", "name ne a") == ["b"]
    status, body = call(server, "GET", f"{ROOT}/zones/z/instances?filter=name%20%3D")
    assert_google_error(status, body, 400, "invalid", "Invalid value for field 'filter': 'name ='")


def test_filter_applies_before_pagination(server):
    for name in ("a1", "b1", "a2", "b2", "a3"):
        call(server, "POST", f"{ROOT}/zones/z/instances", instance(name))
    first = call(server, "GET", f"{ROOT}/zones/z/instances?maxResults=2&filter=name%20eq%20a.*")[1]
    assert [i["name"] for i in first["items"]] == ["a1", "a2"] and first["nextPageToken"]
    rest = call(server, "GET", f"{ROOT}/zones/z/instances?maxResults=2&filter=name%20eq%20a.*"
                               f"&pageToken={first['nextPageToken']}")[1]
    assert [i["name"] for i in rest["items"]] == ["a3"] and "nextPageToken" not in rest
    assert_google_error(*call(server, "GET", f"{ROOT}/zones/z/instances?maxResults=501"), 400, "invalid",
                        "maxResults")


def test_aggregated_list_keys_every_zone_and_warns_on_empty_ones():
    with ComputeServer(project="p", zone="z", extra_zones=("y", "x")) as srv:
        call(srv, "POST", f"{ROOT}/zones/z/instances", instance("a"))
        call(srv, "POST", f"{ROOT}/zones/y/instances", instance("b", machineType="zones/y/machineTypes/e2-small"))
        status, body = call(srv, "GET", f"{ROOT}/aggregated/instances?returnPartialSuccess=true")
        assert status == 200 and body["kind"] == "compute#instanceAggregatedList"
        assert sorted(body["items"]) == ["zones/x", "zones/y", "zones/z"]
        assert [i["name"] for i in body["items"]["zones/z"]["instances"]] == ["a"]
        assert [i["name"] for i in body["items"]["zones/y"]["instances"]] == ["b"]
        warning = body["items"]["zones/x"]["warning"]
        assert warning["code"] == "NO_RESULTS_ON_PAGE" and warning["data"] == [{"key": "scope", "value": "zones/x"}]
        filtered = call(srv, "GET", f"{ROOT}/aggregated/instances?filter=name%20%3D%20b")[1]["items"]
        assert "instances" not in filtered["zones/z"] and [i["name"] for i in filtered["zones/y"]["instances"]] == ["b"]
        assert_google_error(*call(srv, "GET", f"{ROOT}/aggregated/instances?returnPartialSuccess=maybe"),
                            400, "invalid", "returnPartialSuccess")


@pytest.mark.parametrize(
    "method, path, method_id",
    [
        ("POST", f"{ROOT}/zones/z/instances/a/stop", "compute.instances.stop"),
        ("GET", f"{ROOT}/global/networks", "compute.networks.list"),
        ("GET", f"{ROOT}/aggregated/disks", "compute.disks.aggregatedList"),
        ("PUT", f"{ROOT}/zones/z/instances/a", "compute.instances.update"),
        ("GET", "/compute/v1/projects/p/no-such-collection", None),
    ],
)
def test_unmodelled_methods_answer_501_naming_the_method(server, method, path, method_id):
    status, body = call(server, method, path, {} if method in ("POST", "PUT") else None)
    assert_google_error(status, body, 501, "notImplemented", f"({method} {path}) is not implemented")
    assert (f"'{method_id}'" in body["error"]["message"]) if method_id else "No Compute v1 method" in \
        body["error"]["message"]
    assert body["error"]["status"] == "UNIMPLEMENTED"


def test_404_only_for_missing_resources_of_modelled_collections(server):
    assert_google_error(*call(server, "GET", f"{ROOT}/zones/z/instances/nope"), 404, "notFound", "instances/nope")
    assert_google_error(*call(server, "DELETE", f"{ROOT}/global/firewalls/nope"), 404, "notFound", "firewalls/nope")
    assert_google_error(*call(server, "GET", f"{ROOT}/zones/z/operations/nope"), 404, "notFound", "operations/nope")


def test_operations_can_be_listed_and_filtered(server):
    call(server, "POST", f"{ROOT}/zones/z/instances", instance("a"))
    call(server, "DELETE", f"{ROOT}/zones/z/instances/a")
    call(server, "POST", f"{ROOT}/global/firewalls", IPIP)
    zone_ops = call(server, "GET", f"{ROOT}/zones/z/operations")[1]
    assert zone_ops["kind"] == "compute#operationList"
    assert [op["operationType"] for op in zone_ops["items"]] == ["insert", "delete"]
    deletes = call(server, "GET", f"{ROOT}/zones/z/operations?filter=operationType%20%3D%20delete")[1]["items"]
    assert [op["operationType"] for op in deletes] == ["delete"]
    assert [op["operationType"] for op in call(server, "GET", f"{ROOT}/global/operations")[1]["items"]] == ["insert"]


REQUEST_ID = "5a0d6a5e-4b8e-4c7e-9a55-5f1c1e0b8d21"


@pytest.mark.parametrize(
    "first, repeat",
    [
        (("POST", f"{ROOT}/zones/z/instances", instance("a")), None),
        (("POST", f"{ROOT}/global/firewalls", IPIP), None),
        (("PATCH", f"{ROOT}/global/firewalls/calico-ipip", {"name": "calico-ipip", "priority": 10}), "firewall"),
        (("PUT", f"{ROOT}/global/firewalls/calico-ipip", IPIP), "firewall"),
        (("DELETE", f"{ROOT}/global/firewalls/calico-ipip", None), "firewall"),
        (("DELETE", f"{ROOT}/zones/z/instances/a", None), "instance"),
    ],
)
def test_a_repeated_request_id_returns_the_first_operation_and_acts_once(server, first, repeat):
    if repeat == "firewall":
        call(server, "POST", f"{ROOT}/global/firewalls", IPIP)
    if repeat == "instance":
        call(server, "POST", f"{ROOT}/zones/z/instances", instance("a"))
    server.clear_log()
    method, path, body = first
    status, op1 = call(server, method, f"{path}?requestId={REQUEST_ID}", body)
    assert status == 200, op1
    status, op2 = call(server, method, f"{path}?requestId={REQUEST_ID}", body)
    assert status == 200 and op2["name"] == op1["name"] and op2["id"] == op1["id"]
    if method == "POST":  # without the id, the same insert is a conflict: nothing was done twice
        assert call(server, method, path, body)[0] == 409
    if method == "DELETE":
        assert call(server, method, path)[0] == 404
    kind = path.split("/")[-1] if method == "POST" else path.split("/")[-2]
    scope = "zones/z" if kind == "instances" else "global"
    ops = call(server, "GET", f"{ROOT}/{scope}/operations")[1]["items"]
    assert [op["name"] for op in ops].count(op1["name"]) == 1
    assert len([op for op in ops if op["operationType"] == op1["operationType"]]) == 1


def test_request_ids_are_per_project_and_must_be_uuids():
    with ComputeServer(project="p", zone="z", extra_projects=("q",)) as srv:
        call(srv, "POST", f"{ROOT}/zones/z/instances?requestId={REQUEST_ID}", instance("a"))
        other = "/compute/v1/projects/q/zones/z/instances"
        assert call(srv, "POST", f"{other}?requestId={REQUEST_ID}", instance("a"))[0] == 200
        assert len(call(srv, "GET", other)[1]["items"]) == 1
        for bad in ("not-a-uuid", "00000000-0000-0000-0000-000000000000", REQUEST_ID.replace("-", "")):
            assert_google_error(*call(srv, "POST", f"{ROOT}/zones/z/instances?requestId={bad}", instance("b")),
                                400, "invalid", "requestId")
        assert [i["name"] for i in call(srv, "GET", f"{ROOT}/zones/z/instances")[1]["items"]] == ["a"]


def test_a_refused_request_leaves_its_request_id_unused(server):
    bad = instance("a", machineType="e2-small")
    assert call(server, "POST", f"{ROOT}/zones/z/instances?requestId={REQUEST_ID}", bad)[0] == 400
    assert call(server, "POST", f"{ROOT}/zones/z/instances?requestId={REQUEST_ID}", instance("a"))[0] == 200
    assert [i["name"] for i in call(server, "GET", f"{ROOT}/zones/z/instances")[1]["items"]] == ["a"]


def test_dropped_reply_is_performed_and_a_retry_with_the_same_request_id_creates_one_machine(server):
    status, _ = call(server, "POST", "/_test/drop-next-reply", {"method": "POST", "path": r"/instances$"})
    assert status == 200
    with pytest.raises((ConnectionError, urllib.error.URLError, http.client.HTTPException)):
        call(server, "POST", f"{ROOT}/zones/z/instances?requestId={REQUEST_ID}", instance("a"))
    entry = server.requests("POST")[-1]
    assert entry["dropped"] is True and entry["status"] == 200
    status, op = call(server, "POST", f"{ROOT}/zones/z/instances?requestId={REQUEST_ID}", instance("a"))
    assert status == 200 and op["operationType"] == "insert"
    assert [i["name"] for i in call(server, "GET", f"{ROOT}/zones/z/instances")[1]["items"]] == ["a"]
    # only the next matching request was dropped; GETs never matched
    assert [e.get("dropped", False) for e in server.requests("POST")] == [True, False]


def test_drop_reply_through_faults_counts_and_clears(server):
    call(server, "POST", "/_test/faults", {"drop_reply": {"method": "GET", "path": "/firewalls", "count": 2}})
    assert call(server, "GET", "/_test/faults")[1]["drop_replies"][0]["remaining"] == 2
    for _ in range(2):
        with pytest.raises((ConnectionError, urllib.error.URLError, http.client.HTTPException)):
            call(server, "GET", f"{ROOT}/global/firewalls")
    assert call(server, "GET", f"{ROOT}/global/firewalls")[0] == 200
    call(server, "POST", "/_test/drop-next-reply", {"path": "/firewalls"})
    call(server, "DELETE", "/_test/faults")
    assert call(server, "GET", f"{ROOT}/global/firewalls")[0] == 200
    assert call(server, "POST", "/_test/drop-next-reply", {"path": "("})[0] == 400


def test_set_labels_replaces_the_map_guarded_by_the_fingerprint(server):
    call(server, "POST", f"{ROOT}/zones/z/instances", instance("node-1", labels={"role": "worker"}))
    inst = call(server, "GET", f"{ROOT}/zones/z/instances/node-1")[1]
    path = f"{ROOT}/zones/z/instances/node-1/setLabels"
    status, body = call(server, "POST", path, {"labels": {"cluster": "k8s-prod"}})
    assert_google_error(status, body, 400, "invalid", "Fingerprint is required")
    status, body = call(server, "POST", path, {"labels": {"cluster": "k8s-prod"}, "labelFingerprint": "stale"})
    assert_google_error(status, body, 412, "conditionNotMet", "fingerprint")
    status, body = call(server, "POST", path, {"labels": {"Cluster": "x"},
                                               "labelFingerprint": inst["labelFingerprint"]})
    assert_google_error(status, body, 400, "invalid", "lowercase")
    status, op = call(server, "POST", path, {"labels": {"role": "worker", "cluster": "k8s-prod"},
                                             "labelFingerprint": inst["labelFingerprint"]})
    assert status == 200 and op["operationType"] == "setLabels" and op["targetLink"].endswith("/node-1")
    call(server, "POST", f"{ROOT}/zones/z/operations/{op['name']}/wait")
    after = call(server, "GET", f"{ROOT}/zones/z/instances/node-1")[1]
    assert after["labels"] == {"role": "worker", "cluster": "k8s-prod"}
    assert after["labelFingerprint"] != inst["labelFingerprint"]
    status, body = call(server, "POST", f"{ROOT}/zones/z/instances/nope/setLabels", {"labels": {}})
    assert status == 404


def test_adopted_lab_machines_keep_their_boot_time_as_creation_timestamp():
    api = RecordingLabApi(nodes=[{"name": "node-1", "ip": "198.18.0.11", "hostname": "node-1", "tags": [],
                                  "created": "2026-11-01T10:00:00.000000Z"}], rules=[])
    with ComputeServer(project="p", zone="z", backend=LabBackend(api)) as srv:
        listed = call(srv, "GET", f"{ROOT}/zones/z/instances")[1]["items"]
    assert listed[0]["creationTimestamp"] == "2026-11-01T10:00:00.000000Z"
