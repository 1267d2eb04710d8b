"""gcp_network and gcp_nodes run by ansible-playbook against the Compute test server."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.integration.gcp.conftest import PROJECT, ROOT, VPC_RANGE, ZONE

PLAYBOOK = ROOT / "tests" / "integration" / "gcp" / "playbooks" / "gcp_cluster.yml"
NODES = [{"name": f"k8s-node-{i}", "hostname": f"k8s-node-{i}.cluster.internal"} for i in range(1, 4)]


@pytest.fixture
def playbook(compute_server, tmp_path):
    """Run the test playbook with the given extra vars; returns (returncode, output)."""
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        f"all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    out_dir = tmp_path / "hosts-added"
    out_dir.mkdir()

    def run(*options, **overrides):
        extra = {
            "gcp_network_api_endpoint": compute_server.url, "gcp_network_project": PROJECT,
            "gcp_network_vpc_range": VPC_RANGE, "gcp_network_target_tags": ["calico-node"],
            "gcp_nodes_api_endpoint": compute_server.url, "gcp_nodes_project": PROJECT,
            "gcp_nodes_zone": ZONE, "gcp_nodes_instances": NODES, "gcp_test_out_dir": str(out_dir),
            **overrides,
        }
        (tmp_path / "vars.json").write_text(json.dumps(extra))
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        proc = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory), "-e", f"@{tmp_path / 'vars.json'}",
             str(PLAYBOOK), *options],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        return proc.returncode, proc.stdout + proc.stderr

    run.out_dir = out_dir
    return run


def changed_count(output, host="localhost"):
    return int(re.search(rf"^{host}\s+: ok=\d+\s+changed=(\d+)", output, re.M).group(1))


def test_roles_create_rules_and_nodes_then_converge(compute_server, playbook):
    rc, out = playbook()
    assert rc == 0, out
    rules = {r["name"]: r for r in compute_server.cloud.firewall_list(PROJECT)}
    assert rules["calico-ipip"]["allowed"] == [{"IPProtocol": "ipip"}]
    assert rules["calico-ipip"]["sourceRanges"] == [VPC_RANGE]
    assert rules["calico-bgp"]["allowed"] == [{"IPProtocol": "tcp", "ports": ["179"]}]
    assert rules["calico-bgp"]["sourceTags"] == ["calico-node"] and rules["calico-bgp"]["targetTags"] == ["calico-node"]
    instances = compute_server.cloud.instance_list(PROJECT, ZONE)
    assert [i["hostname"] for i in instances] == [n["hostname"] for n in NODES]
    # One inventory host per machine, reachable at its private IP.
    added = {p.name: p.read_text().split() for p in playbook.out_dir.iterdir()}
    assert added == {i["name"]: [i["networkInterfaces"][0]["networkIP"], i["hostname"]] for i in instances}

    compute_server.clear_log()
    rc, out = playbook()
    assert rc == 0 and changed_count(out) == 0, out
    assert compute_server.writes() == []


def test_check_mode_writes_nothing(compute_server, playbook):
    rc, out = playbook("--check", "--diff")
    assert rc == 0, out
    assert changed_count(out) == 3
    assert compute_server.writes() == []


def test_bad_vpc_range_is_refused_before_any_call(compute_server, playbook):
    rc, out = playbook(gcp_network_vpc_range="10.0.0.0/33")
    assert rc != 0 and "gcp_network_vpc_range must be your VPC's internal IPv4 CIDR" in out
    assert compute_server.requests() == []


def test_duplicate_hostnames_are_refused_before_any_instance_call(compute_server, playbook):
    twins = [{"name": "a", "hostname": "twin.cluster.internal"}, {"name": "b", "hostname": "twin.cluster.internal"}]
    rc, out = playbook("--tags", "gcp_nodes", gcp_nodes_instances=twins)
    assert rc != 0 and "unique, fully qualified lower-case hostnames" in out
    assert compute_server.requests() == []
