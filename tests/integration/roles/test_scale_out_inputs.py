"""The first play's input check as scale-out runs it: the action plugin reads the roles' argument specs and
the play's variables (templated), and names every problem at once. ansible-playbook, local connection."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAY = """\
- name: Check the inputs
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the inputs of the roles
      calico_fleet.fleet.scale_out_inputs:
        roles: [node_names, gcp_network, gcp_nodes, aws_network, aws_nodes, node_join, calico_network]
        provided: [node_names_count, node_names_batch, gcp_nodes_instances, aws_nodes_instances]
      register: checked

    - name: Write what it derived
      ansible.builtin.copy:
        content: "{{ checked | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""
GCP = {
    "fleet_cloud": "gcp", "scale_out_count": 2, "scale_out_batch": "b-1", "node_join_method": "none",
    "node_names_domain": "europe-west1-b.c.p.internal", "node_names_gcp_zones": ["europe-west1-b"],
    "calico_fleet_datastore": {"etcd_endpoints": ["http://198.18.0.2:2379"]},
    "vpc": "10.128.0.0/9", "gcp_network_vpc_range": "{{ vpc }}", "gcp_nodes_zone": "europe-west1-b",
    "calico_network_ippools": [{"name": "default-ipv4-ippool", "cidr": "172.20.0.0/16", "ipip_mode": "Always"}],
}


def run(tmp_path, variables):
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({**variables, "out": str(tmp_path / "out.json"),
                                 "ansible_python_interpreter": sys.executable}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"))
    proc = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                           "-c", "local", str(play), "-e", f"@{extra}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = tmp_path / "out.json"
    return proc, json.loads(out.read_text()) if out.exists() else None


def test_declared_inputs_pass_templated_and_give_the_derived_values(tmp_path):
    proc, checked = run(tmp_path, GCP)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert checked["changed"] is False
    assert (checked["cloud"], checked["ipip_mode"], checked["node_range"]) == ("gcp", "Always", "10.128.0.0/9")


def test_every_problem_is_named_at_once_from_the_specs_and_the_rules(tmp_path):
    bad = {**GCP, "node_join_method": "magic", "vpc": "10.128.0.1/9", "gcp_nodes_disk_size_gb": "big",
           "calico_fleet_datastore": {"datastore": "etcdv3"}}
    proc, checked = run(tmp_path, bad)
    assert proc.returncode == 2 and checked is None
    out = " ".join(proc.stdout.split())
    assert "4 input(s) of scale-out must be fixed before anything is created" in out
    for words in ("node_join_method: value of node_join_method must be one of: kubeadm, kubeasz, kubespray, none",
                  "gcp_network_vpc_range: 10.128.0.1/9 has host bits set",
                  "gcp_nodes_disk_size_gb:", "calico_fleet_datastore.etcd_endpoints: is not set"):
        assert words in out, out
