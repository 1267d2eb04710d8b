"""The calico_network role through ansible-playbook on localhost, against the private etcd."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.datastore.conftest import CALICO

ROOT = Path(__file__).resolve().parents[3]
PLAY = """\
- name: Apply the Calico network
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/calico_fleet.fleet.calico_datastore: "{{ calico_fleet_datastore | default({}) }}"
  roles:
    - role: calico_fleet.fleet.calico_network
"""
RECAP = re.compile(r"localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


@pytest.fixture
def play(tmp_path, etcd):
    playbook = tmp_path / "calico_network.yml"
    playbook.write_text(PLAY)

    def run(extra, check=False):
        vars_file = tmp_path / "vars.json"
        vars_file.write_text(json.dumps({"calico_fleet_datastore": {"etcd_endpoints": [etcd.endpoint]}, **extra}))
        argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{vars_file}", str(playbook)]
        if check:
            argv += ["--check", "--diff"]
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        match = RECAP.search(proc.stdout)
        assert match, proc.stdout + proc.stderr
        ok, changed, unreachable, failed = map(int, match.groups())
        return {"changed": changed, "failed": failed, "rc": proc.returncode, "out": proc.stdout}

    return run


POOLS = {
    "calico_network_ippools": [
        {"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16", "ipip_mode": "Always", "nat_outgoing": True},
        {"name": "batch-pool", "cidr": "172.21.0.0/16", "ipip_mode": "CrossSubnet", "block_size": 24},
    ],
    "calico_network_service_cidr": "10.68.0.0/16",
    "calico_network_node_cidr": "10.0.1.0/24",
    "calico_network_underlay_mtu": 1460,
}


def test_check_then_apply_then_no_change_then_drift(etcd, play):
    start = etcd.revision()
    dry = play(POOLS, check=True)
    assert dry["rc"] == 0 and dry["changed"] == 2, dry["out"]  # pools (one loop task) + MTU
    assert etcd.revision() == start, "--check wrote to etcd"

    real = play(POOLS)
    assert real["rc"] == 0 and real["changed"] == 2, real["out"]
    stored = {key[len(CALICO):]: json.loads(value) for key, value in etcd.values().items()}
    assert sorted(stored) == ["felixconfigurations/default", "ippools/batch-pool", "ippools/default-ipv4-ippool"]
    assert stored["ippools/batch-pool"]["spec"]["blockSize"] == 24
    assert stored["felixconfigurations/default"]["spec"] == {"ipipMTU": 1440}

    assert play(POOLS)["changed"] == 0
    moved = etcd.revision()
    assert play(POOLS, check=True)["changed"] == 0

    # Someone edits the datastore by hand: the drift check shows it and writes nothing.
    felix = stored["felixconfigurations/default"]
    felix["spec"]["ipipMTU"] = 1480
    etcd.put_json(f"{CALICO}felixconfigurations/default", felix)
    moved = etcd.revision()
    drift = play(POOLS, check=True)
    assert drift["changed"] == 1 and etcd.revision() == moved
    assert "ipipMTU 1480 is larger than underlay MTU 1460 - 20" in drift["out"]


@pytest.mark.parametrize(("extra", "message"), [
    ({"calico_fleet_datastore": {"datastore": "etcdv3"}}, "etcd_endpoints"),
    ({"calico_network_ippools": [{"name": "p"}]}, "each pool needs a unique name and a cidr"),
    ({"calico_network_ippools": [{"name": "p", "cidr": "172.20.0.0/16"}, {"name": "p", "cidr": "172.21.0.0/16"}]},
     "each pool needs a unique name"),
    ({"calico_network_ippools": [{"name": "p", "cidr": "172.20.0.0/16", "ipip": "Always"}]},
     "calico_network_ippools.ipip. Supported parameters include"),
    ({"calico_network_underlay_mtu": 100}, "calico_network_underlay_mtu"),
    ({"calico_network_ippools": [{"name": "p", "cidr": "172.20.0.0/16"}],
      "calico_network_service_cidr": "172.20.0.0/24"}, "overlaps the Service CIDR"),
])
def test_invalid_inventory_is_refused_with_nothing_written(etcd, play, extra, message):
    start = etcd.revision()
    result = play({**POOLS, **extra})
    assert result["rc"] != 0 and result["failed"] == 1
    assert message in result["out"]
    assert etcd.revision() == start
