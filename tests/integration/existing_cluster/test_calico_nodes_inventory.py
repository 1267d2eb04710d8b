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
