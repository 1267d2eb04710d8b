"""cluster_members: machines, Kubernetes Nodes and Calico Nodes merged by private IPv4 address."""

import datetime

from ansible_collections.calico_fleet.fleet.plugins.inventory.calico_nodes import node_hosts
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils import cluster_members as cm


def calico(name, ip):
    return {"name": name, "ipv4_address": f"{ip}/24" if ip else None, "ipv4_network": None,
            "ipip_tunnel_addr": None, "rr_cluster_id": None, "asn": None}


def machine(name, ip, instance_id, created="2026-11-01T10:00:00.000-07:00", zone="europe-west1-b"):
    return {"source": "gcp", "instance_id": instance_id, "instance_name": name, "zone": zone, "ip": ip,
            "created": created, "status": "RUNNING", "labels": {"cluster": "k8s-prod"}}


def kube(name, ip):
    return {"name": name, "ip": ip, "ready": True}


def test_the_seed_incident_lists_both_machines_without_a_name_clash():
    # The newcomer (10.0.0.14) took Calico Node node-1; the displaced machine (10.0.0.11) is only in the
    # cloud and in Kubernetes, under the name node-1.
    calico_hosts = node_hosts([calico("node-1", "10.0.0.14"), calico("node-2", "10.0.0.12")])
    machines = [machine("node-1", "10.0.0.11", "101", created="2026-11-01T10:00:00Z"),
                machine("node-2", "10.0.0.12", "102"),
                machine("node-4", "10.0.0.14", "104", created="2026-12-01T10:00:00Z")]
    nodes = [kube("node-1", "10.0.0.11"), kube("node-2", "10.0.0.12"), kube("10.0.0.14", "10.0.0.14")]
    hosts = cm.merge(calico_hosts, machines, nodes, ["calico", "gcp", "kubernetes"])
    assert sorted(hosts) == ["node-1", "node-1-101", "node-2"]
    newcomer, displaced = hosts["node-1"], hosts["node-1-101"]
    assert newcomer["calico_fleet_instance_name"] == "node-4" and newcomer["calico_fleet_instance_id"] == "104"
    assert newcomer["calico_fleet_created"] == "2026-12-01T10:00:00Z"
    assert newcomer["calico_fleet_kubernetes_node"] == "10.0.0.14"
    assert newcomer["calico_fleet_calico_node"] == "node-1"
    assert displaced["ansible_host"] == "10.0.0.11" and displaced["calico_fleet_calico_node"] is None
    assert displaced["calico_fleet_kubernetes_node"] == "node-1"
    assert displaced["calico_fleet_instance_name"] == "node-1" and displaced["calico_fleet_zone"] == "europe-west1-b"
    assert displaced["calico_fleet_sources"] == ["calico", "gcp", "kubernetes"]


def test_a_machine_calico_does_not_know_takes_a_free_name():
    hosts = cm.merge(node_hosts([calico("node-1", "10.0.0.11")]),
                     [machine("node-1", "10.0.0.11", "1"), machine("node-9", "10.0.0.19", "9")],
                     [kube("k8s-node-9", "10.0.0.19")], ["calico", "gcp", "kubernetes"])
    assert sorted(hosts) == ["k8s-node-9", "node-1"]
    assert hosts["k8s-node-9"]["calico_fleet_instance_name"] == "node-9"


def test_names_compare_lower_case_and_a_kubernetes_only_node_is_named_by_its_address():
    hosts = cm.merge(node_hosts([calico("node-1", "10.0.0.11")]), None, [kube("NODE-1", "10.0.0.30")],
                     ["calico", "kubernetes"])
    assert sorted(hosts) == ["NODE-1-10-0-0-30", "node-1"]
    assert hosts["NODE-1-10-0-0-30"]["calico_fleet_instance_id"] is None


def test_a_calico_node_no_labelled_machine_carries_is_stale_only_when_the_cloud_was_read():
    calico_hosts = node_hosts([calico("node-1", "10.0.0.11"), calico("gone", "10.0.0.50")])
    read = cm.merge(calico_hosts, [machine("node-1", "10.0.0.11", "1")], None, ["calico", "gcp"])
    assert read["gone"]["calico_fleet_machine_missing"] is True
    assert "no machine carrying the cluster's label" in read["gone"]["calico_fleet_stale_reason"]
    assert "calico_fleet_machine_missing" not in read["node-1"]
    unread = cm.merge(calico_hosts, None, None, ["calico"])
    assert unread["gone"]["calico_fleet_stale"] is False and unread["gone"]["calico_fleet_instance_id"] is None


def test_aws_rows_carry_launch_time_zone_and_name_tag():
    row = cm.aws_machine({"InstanceId": "i-0abc", "PrivateIpAddress": "10.0.1.5",
                          "LaunchTime": datetime.datetime(2026, 11, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
                          "Placement": {"AvailabilityZone": "eu-west-1a"}, "State": {"Name": "running"},
                          "Tags": [{"Key": "Name", "Value": "k8s-node-1"}, {"Key": "calico-fleet/cluster",
                                                                            "Value": "k8s-prod"}]})
    assert row["instance_name"] == "k8s-node-1" and row["created"] == "2026-11-02T03:04:05+00:00"
    assert row["zone"] == "eu-west-1a" and row["ip"] == "10.0.1.5"
    assert cm.aws_filters({"calico-fleet/cluster": "k8s-prod", "team": ""})[:2] == [
        {"Name": "tag:calico-fleet/cluster", "Values": ["k8s-prod"]}, {"Name": "tag-key", "Values": ["team"]}]


def test_kubernetes_rows_take_the_internal_ipv4_address():
    row = cm.kubernetes_node({"metadata": {"name": "node-1"}, "status": {
        "addresses": [{"type": "Hostname", "address": "node-1"}, {"type": "InternalIP", "address": "fd00::1"},
                      {"type": "InternalIP", "address": "10.0.0.11"}],
        "conditions": [{"type": "Ready", "status": "True"}]}})
    assert row == {"name": "node-1", "ip": "10.0.0.11", "ready": True}


def test_labels_match_every_wanted_key():
    assert cm.labels_match({"cluster": "k8s-prod", "x": "1"}, {"cluster": "k8s-prod"})
    assert not cm.labels_match({"cluster": "other"}, {"cluster": "k8s-prod"})
    assert cm.labels_match({"cluster": "any"}, {"cluster": ""})
    assert not cm.labels_match({}, {"cluster": ""})
