"""Names in use around a cluster, gathered from every source the naming plan reads."""

from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.names_in_use import batch_machines, names_in_use

GCP = {"instances": [
    {"name": "k8s-node-1", "zone": "europe-west1-b", "private_ip": "10.128.0.5",
     "hostname": "k8s-node-1.europe-west1-b.c.proj.internal", "labels": {"calico-fleet-batch": "b2"}},
]}
AWS = {"instances": [
    {"instance_id": "i-1", "state": {"name": "running"},
     "tags": {"Name": "aws-na-k8s-temp1", "calico-fleet-batch": "b2"},
     "private_ip_address": "172.31.3.33", "private_dns_name": "ip-172-31-3-33.ec2.internal"},
    {"instance_id": "i-2", "state": {"name": "terminated"}, "tags": {"Name": "aws-na-k8s-temp9"},
     "private_ip_address": None, "private_dns_name": ""},
    {"instance_id": "i-3", "state": {"name": "running"}, "tags": {}, "private_ip_address": "172.31.7.227",
     "private_dns_name": "ip-172-31-7-227.ec2.internal"},
]}
CALICO = {"nodes": [{"name": "ip-172-31-1-50", "ipv4_address": "172.31.1.50"}]}
K8S = {"resources": [{"metadata": {"name": "ip-172-31-2-247"}}]}


def test_every_source_lands_with_where_it_lives():
    names = names_in_use(gcp=GCP, aws=AWS, calico=CALICO, k8s=K8S, inventory={"node-a": "10.0.0.1"})
    assert names == [
        {"name": "k8s-node-1", "source": "cloud_instance", "location": "GCP instance in europe-west1-b",
         "ip": "10.128.0.5"},
        {"name": "k8s-node-1.europe-west1-b.c.proj.internal", "source": "cloud_hostname",
         "location": "hostname of GCP instance k8s-node-1", "ip": "10.128.0.5"},
        {"name": "aws-na-k8s-temp1", "source": "cloud_instance", "location": "AWS instance i-1", "ip": "172.31.3.33"},
        {"name": "ip-172-31-3-33.ec2.internal", "source": "cloud_hostname", "location": "DNS name of AWS instance i-1",
         "ip": "172.31.3.33"},
        {"name": "ip-172-31-7-227.ec2.internal", "source": "cloud_hostname",
         "location": "DNS name of AWS instance i-3", "ip": "172.31.7.227"},
        {"name": "ip-172-31-1-50", "source": "calico_node", "ip": "172.31.1.50"},
        {"name": "ip-172-31-2-247", "source": "kubernetes_node"},
        {"name": "node-a", "source": "inventory", "ip": "10.0.0.1"},
    ]


def test_sources_not_read_count_as_empty():
    skipped = {"skipped": True, "changed": False}
    assert names_in_use(gcp=skipped, aws=None, calico={"nodes": []}, k8s=skipped, inventory=None) == []


def test_terminated_machines_free_their_names():
    assert "aws-na-k8s-temp9" not in {n["name"] for n in names_in_use(aws=AWS)}


def test_batch_machines_are_the_ones_carrying_the_batch_label_or_tag():
    assert batch_machines("b2", gcp=GCP, aws=AWS) == [
        {"name": "k8s-node-1", "ip": "10.128.0.5"}, {"name": "aws-na-k8s-temp1", "ip": "172.31.3.33"}]
    assert batch_machines("b3", gcp=GCP, aws=AWS) == []


def test_a_name_carried_by_two_live_instances_is_a_duplicate():
    from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.names_in_use import ec2_duplicate_names

    twice = AWS["instances"] + [{"instance_id": "i-4", "state": {"name": "pending"},
                                 "tags": {"Name": "aws-na-k8s-temp1"}}]
    assert ec2_duplicate_names(twice, ["aws-na-k8s-temp1", "aws-na-k8s-temp9"]) == ["aws-na-k8s-temp1 (i-1, i-4)"]
    assert ec2_duplicate_names(AWS["instances"], ["aws-na-k8s-temp1"]) == []
