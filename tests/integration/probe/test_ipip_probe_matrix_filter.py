"""The ipip_probe_matrix filter inside Ansible (plugins/filter/ipip_probe.py): an ad-hoc run of `ansible`
loads it by its FQCN, without the project's module_utils on its path."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
A, B = "198.18.0.21", "198.18.0.22"


def test_filter_loads_inside_ansible(tmp_path):
    # A heard B, B did not hear A: the path A -> B fails.
    results = {"a": {"address": A, "received_from": {B: True}}, "b": {"address": B, "received_from": {A: False}}}
    (tmp_path / "results.json").write_text(json.dumps({"probe_results": results}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-m", "ansible.builtin.debug", "-a", "msg={{ probe_results | calico_fleet.fleet.ipip_probe_matrix }}",
         "-e", f"@{tmp_path / 'results.json'}"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["msg"]["matrix"] == {A: {B: False}, B: {A: True}}, proc.stdout
    assert result["msg"]["failed"] == [[A, B]]
    assert f"{A}  -            FAIL" in result["msg"]["table"]
