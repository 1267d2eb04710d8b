"""The hostname plan filters as a scale-out play runs them: through ansible-playbook (local connection)."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "hostname_plan.yml"
ANSIBLE_PLAYBOOK = pathlib.Path(sys.executable).parent / "ansible-playbook"

INCIDENT_EXISTING = {
    "cloud_instance": ["aws-na-k8s-temp1"],
    "calico_node": ["aws-na-k8s-temp1", "aws-na-k8s-temp2"],
    "kubernetes_node": ["172.31.3.33"],
}


def run_playbook(tmp_path, **plan_vars):
    """Run the test playbook on localhost (local connection) with the project's ansible.cfg."""
    output = tmp_path / "plan.json"
    extra = {"plan_machines": 3, "plan_existing": None, "plan_scheme": "ip", "plan_prefix": None,
             "plan_separator": "-", "plan_domain": None, "plan_cloud": None, "plan_output": str(output),
             # local connection: run modules with this very Python, not whatever PATH offers
             "ansible_python_interpreter": sys.executable}
    extra.update(plan_vars)
    extra_file = tmp_path / "vars.json"
    extra_file.write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(PLAYBOOK), "-e", f"@{extra_file}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    plan = json.loads(output.read_text()) if output.exists() else None
    return proc, plan


def test_playbook_plans_the_incident_batch(tmp_path):
    proc, plan = run_playbook(tmp_path, plan_existing=INCIDENT_EXISTING, plan_scheme="prefix",
                              plan_prefix="aws-na-k8s-temp", plan_separator="")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [entry["name"] for entry in plan] == ["aws-na-k8s-temp3", "aws-na-k8s-temp4", "aws-na-k8s-temp5"]


def test_playbook_gcp_hostnames(tmp_path):
    proc, plan = run_playbook(tmp_path, plan_machines=["10.128.0.7"], plan_cloud="gcp",
                              plan_domain="us-central1-a.c.my-project.internal")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert plan[0]["hostname"] == "ip-10-128-0-7.us-central1-a.c.my-project.internal"


def test_playbook_shows_the_user_why_an_upper_case_prefix_is_refused(tmp_path):
    proc, plan = run_playbook(tmp_path, plan_existing=INCIDENT_EXISTING, plan_scheme="prefix",
                              plan_prefix="AWS-na-k8s-temp", plan_separator="")
    assert proc.returncode == 2
    assert plan is None
    out = " ".join(proc.stdout.split())
    assert "prefix 'AWS-na-k8s-temp' has upper-case letters; use lower case: 'aws-na-k8s-temp'" in out


def test_playbook_shows_the_clash_and_where_the_other_name_lives(tmp_path):
    existing = {"calico_node": [{"name": "ip-172-31-7-227", "ip": "172.31.9.9"}]}
    proc, plan = run_playbook(tmp_path, plan_machines=["172.31.7.227"], plan_existing=existing)
    assert proc.returncode == 2
    assert plan is None
    out = " ".join(proc.stdout.split())
    assert ("ip-172-31-7-227 (from IP 172.31.7.227) is already used by Calico Node ip-172-31-7-227 "
            "(datastore) with IP 172.31.9.9") in out
