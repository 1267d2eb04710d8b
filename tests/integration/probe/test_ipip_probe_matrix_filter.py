"""The ipip_probe_matrix filter inside Ansible (plugins/filter/ipip_probe.py): an ad-hoc run of `ansible`."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
RESULTS = {
    "node-1": {"changed": False, "address": "198.18.0.11",
               "received_from": {"198.18.0.12": True, "198.18.0.13": False}},
    "node-2": {"changed": False, "address": "198.18.0.12",
               "received_from": {"198.18.0.11": True, "198.18.0.13": True}},
    "node-3": {"changed": False, "address": "198.18.0.13",
               "received_from": {"198.18.0.11": True, "198.18.0.12": True}},
}
MATRIX = {
    "198.18.0.11": {"198.18.0.12": True, "198.18.0.13": True},
    "198.18.0.12": {"198.18.0.11": True, "198.18.0.13": True},
    "198.18.0.13": {"198.18.0.11": False, "198.18.0.12": True},
}


def test_filter_loads_inside_ansible(tmp_path):
    """Ansible loads filter plugins without the project's module_utils on its path."""
    (tmp_path / "results.json").write_text(json.dumps({"probe_results": RESULTS}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-m", "ansible.builtin.debug", "-a", "msg={{ probe_results | calico_fleet.fleet.ipip_probe_matrix }}",
         "-e", f"@{tmp_path / 'results.json'}"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["msg"]["matrix"] == MATRIX, proc.stdout
    assert "198.18.0.13  FAIL" in result["msg"]["table"]
