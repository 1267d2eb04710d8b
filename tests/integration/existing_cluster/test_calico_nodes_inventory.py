"""The calico_nodes inventory plugin through ansible-inventory, against a real etcd (TLS with client certs)."""

import json
import os
import subprocess
from pathlib import Path

from tests.integration.datastore.conftest import CALICO

ROOT = Path(__file__).resolve().parents[3]


def node(name, address=None, rr=None, tunnel=None, hostname=None):
    bgp = {}
    if address:
        bgp["ipv4Address"] = address
    if rr:
        bgp["routeReflectorClusterID"] = rr
    if tunnel:
        bgp["ipv4IPIPTunnelAddr"] = tunnel
    meta = {"name": name}
    if hostname:
        meta["labels"] = {"kubernetes.io/hostname": hostname}
    return {"kind": "Node", "apiVersion": "projectcalico.org/v3", "metadata": meta, "spec": {"bgp": bgp}}


def seed(server):
    server.wipe()
    for obj in (
        node("ip-10-0-1-50", "10.0.1.50/24", tunnel="172.20.84.128", hostname="ip-10-0-1-50.eu-west-1.internal"),
        node("ip-10-0-2-247", "10.0.2.247/24", tunnel="172.20.139.64"),
        node("rr-1", "10.0.1.10/24", rr="224.0.0.1"),
        node("aws-na-k8s-temp1", "10.0.3.33/24"),
        node("ip-10-0-3-33", "10.0.3.33/24"),
        node("gone-node"),
    ):
        server.put_json(f"{CALICO}nodes/{obj['metadata']['name']}", obj)


def inventory(tmp_path, config, *args):
    source = tmp_path / "cluster.calico_nodes.yml"
    source.write_text(json.dumps({"plugin": "calico_fleet.fleet.calico_nodes", **config}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_INVENTORY_UNPARSED_FAILED="1")
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-inventory"), "-i", str(source), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    return proc


def plain(value):
    """ansible-inventory marks values from inventory sources as unsafe ({"__ansible_unsafe": ...})."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def listing(tmp_path, config):
    proc = inventory(tmp_path, config, "--list")
    assert proc.returncode == 0, proc.stderr
    return plain(json.loads(proc.stdout))


def test_every_node_with_tls_client_certificates_stale_ones_flagged(tmp_path, etcd_tls):
    seed(etcd_tls)
    certs = etcd_tls.certs
    found = listing(tmp_path, {
        "etcd_endpoints": [etcd_tls.endpoint], "etcd_ca_cert": certs["ca"], "etcd_cert": certs["client_cert"],
        "etcd_key": certs["client_key"], "timeout": 5,
        "keyed_groups": [{"key": "calico_node_rr_cluster_id", "prefix": "rr_cluster", "separator": "_"}],
        "compose": {"node_ip": "calico_node_ipv4_address"},
        "groups": {"tunnelled": "calico_node_ipip_tunnel_addr is not none"},
    })
    hostvars = found["_meta"]["hostvars"]
    assert sorted(hostvars) == ["aws-na-k8s-temp1", "gone-node", "ip-10-0-1-50", "ip-10-0-2-247",
                                "ip-10-0-3-33", "rr-1"]
    first = hostvars["ip-10-0-1-50"]
    assert first["ansible_host"] == "10.0.1.50" and first["node_ip"] == "10.0.1.50"
    assert first["calico_node_hostname"] == "ip-10-0-1-50.eu-west-1.internal"
    assert first["calico_node_ipip_tunnel_addr"] == "172.20.84.128"
    assert first["calico_fleet_stale"] is False
    assert hostvars["ip-10-0-2-247"]["calico_node_hostname"] == "ip-10-0-2-247"
    assert hostvars["rr-1"]["calico_node_rr_cluster_id"] == "224.0.0.1"
    assert "ansible_host" not in hostvars["gone-node"]
    assert "no BGP IPv4 address" in hostvars["gone-node"]["calico_fleet_stale_reason"]
    assert "ip-10-0-3-33" in hostvars["aws-na-k8s-temp1"]["calico_fleet_stale_reason"]

    assert sorted(found["calico_nodes"]["hosts"]) == ["aws-na-k8s-temp1", "ip-10-0-1-50", "ip-10-0-2-247",
                                                      "ip-10-0-3-33", "rr-1"]
    assert found["calico_route_reflectors"]["hosts"] == ["rr-1"]
    assert sorted(found["calico_stale_nodes"]["hosts"]) == ["aws-na-k8s-temp1", "gone-node", "ip-10-0-3-33"]
    assert found["rr_cluster_224_0_0_1"]["hosts"] == ["rr-1"]
    assert sorted(found["tunnelled"]["hosts"]) == ["ip-10-0-1-50", "ip-10-0-2-247"]


def test_without_the_client_certificate_the_source_fails_with_the_reason(tmp_path, etcd_tls):
    seed(etcd_tls)
    proc = inventory(tmp_path, {"etcd_endpoints": [etcd_tls.endpoint], "etcd_ca_cert": etcd_tls.certs["ca"],
                                "timeout": 5}, "--list")
    assert proc.returncode != 0
    assert "cannot read the Calico Nodes" in proc.stderr


def test_plain_etcd_and_custom_group_names(tmp_path, etcd):
    seed(etcd)
    found = listing(tmp_path, {"etcd_endpoints": [etcd.endpoint], "nodes_group": "k8s_nodes",
                               "stale_group": "stale"})
    assert len(found["k8s_nodes"]["hosts"]) == 5 and len(found["stale"]["hosts"]) == 3


def test_with_cache_the_second_parse_reads_the_cache_not_the_datastore(tmp_path, etcd):
    seed(etcd)
    config = {"etcd_endpoints": [etcd.endpoint], "cache": True, "cache_plugin": "ansible.builtin.jsonfile",
              "cache_connection": str(tmp_path / "cache"), "cache_timeout": 3600}
    first = listing(tmp_path, config)
    assert len(first["calico_nodes"]["hosts"]) == 5
    # The datastore is emptied and made unreachable: only the cache can still answer.
    etcd.wipe()
    unreachable = {**config, "etcd_endpoints": ["http://127.0.0.1:9"], "timeout": 1}
    assert listing(tmp_path, unreachable)["_meta"]["hostvars"] == first["_meta"]["hostvars"]
    # --flush-cache reads the datastore again (a datastore that cannot be read leaves the cache as it was).
    proc = inventory(tmp_path, unreachable, "--list", "--flush-cache")
    assert proc.returncode != 0 and "cannot read the Calico Nodes" in proc.stderr
    flushed = plain(json.loads(inventory(tmp_path, config, "--list", "--flush-cache").stdout))
    assert flushed["_meta"]["hostvars"] == {}
    assert listing(tmp_path, unreachable)["_meta"]["hostvars"] == {}


# -- the cloud source on AWS (a moto EC2 server) and what the merge makes of it ---------------------------


def test_aws_source_lists_every_tagged_machine_and_names_the_displaced_one_apart(tmp_path, etcd):
    from lab.moto_server import DEFAULT_REGION, MotoServer, create_vpc_and_subnet, ec2_client

    etcd.wipe()
    # The newcomer (198.18.0.24) took Calico Node aws-na-k8s-temp1 from the machine at 198.18.0.21.
    for obj in (node("aws-na-k8s-temp1", "198.18.0.24/24"), node("aws-na-k8s-temp2", "198.18.0.22/24"),
                node("gone", "198.18.0.99/24")):
        etcd.put_json(f"{CALICO}nodes/{obj['metadata']['name']}", obj)
    with MotoServer() as server:
        net = create_vpc_and_subnet(server.endpoint)
        ec2 = ec2_client(server.endpoint)

        def launch(name, ip, tagged=True):
            tags = [{"Key": "Name", "Value": name}] + ([{"Key": "calico-fleet/cluster", "Value": "k8s-prod"}]
                                                       if tagged else [])
            return ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=net["subnet_id"],
                                     PrivateIpAddress=ip, TagSpecifications=[{"ResourceType": "instance",
                                                                              "Tags": tags}])["Instances"][0]

        old = launch("aws-na-k8s-temp1", "198.18.0.21")
        launch("aws-na-k8s-temp2", "198.18.0.22")
        new = launch("AWS-na-k8s-temp1", "198.18.0.24")
        launch("other-cluster", "198.18.0.30", tagged=False)
        config = {"etcd_endpoints": [etcd.endpoint], "cloud": "aws", "region": DEFAULT_REGION,
                  "endpoint_url": server.endpoint, "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
                  "aws_tags": {"calico-fleet/cluster": "k8s-prod"}}
        found = listing(tmp_path, config)
        described = {i["InstanceId"]: i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    hostvars = found["_meta"]["hostvars"]
    displaced = f"aws-na-k8s-temp1-{old['InstanceId']}"
    assert sorted(hostvars) == sorted(["aws-na-k8s-temp1", "aws-na-k8s-temp2", "gone", displaced])
    assert hostvars["aws-na-k8s-temp1"]["calico_fleet_instance_id"] == new["InstanceId"]
    assert hostvars[displaced]["ansible_host"] == "198.18.0.21"
    assert hostvars[displaced]["calico_fleet_calico_node"] is None
    assert hostvars[displaced]["calico_fleet_created"] == described[old["InstanceId"]]["LaunchTime"].isoformat()
    assert hostvars[displaced]["calico_fleet_zone"] == described[old["InstanceId"]]["Placement"]["AvailabilityZone"]
    assert hostvars[displaced]["calico_fleet_sources"] == ["aws", "calico"]
    assert hostvars["gone"]["calico_fleet_machine_missing"] is True
    assert sorted(found["calico_nodes"]["hosts"]) == sorted(["aws-na-k8s-temp1", "aws-na-k8s-temp2", displaced])
    assert "gone" in found["calico_stale_nodes"]["hosts"]


def test_a_cloud_that_cannot_be_read_is_reported_per_on_datastore_error(tmp_path, etcd):
    seed(etcd)
    config = {"etcd_endpoints": [etcd.endpoint], "cloud": "aws", "region": "us-east-1",
              "endpoint_url": "http://127.0.0.1:9", "aws_access_key_id": "testing",
              "aws_secret_access_key": "testing", "aws_tags": {"calico-fleet/cluster": "k8s-prod"}}
    proc = inventory(tmp_path, config, "--list")
    assert proc.returncode != 0 and "cannot read the EC2 instances" in proc.stderr
    proc = inventory(tmp_path, {**config, "on_datastore_error": "warn"}, "--list")
    assert proc.returncode == 0, proc.stderr
    assert "cannot read the EC2 instances" in proc.stderr
    hostvars = plain(json.loads(proc.stdout))["_meta"]["hostvars"]
    assert hostvars["ip-10-0-1-50"]["calico_fleet_sources"] == ["calico"]


def test_cloud_without_its_label_is_refused(tmp_path, etcd):
    proc = inventory(tmp_path, {"etcd_endpoints": [etcd.endpoint], "cloud": "gcp", "project": "p"}, "--list")
    assert proc.returncode != 0 and "gcp_labels: {cluster: k8s-prod}" in proc.stderr
