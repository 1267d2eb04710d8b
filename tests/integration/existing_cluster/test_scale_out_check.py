"""scale_out.yml --check with the example inventories, on the lab: a pipeline can gate on it.

A check run exits 0, creates nothing (no instance, no firewall rule or
security group, no Calico key), shows what the real run would change and
which verification findings it would fix, and saves its plan as JSON; a
real run told to follow that plan goes ahead when its own plan matches and
stops before any change when it differs.
"""

import json

import pytest

from lab.moto_server import ec2_client
from tests.integration.existing_cluster.test_scale_out_examples import compute_writes, etcd_revision, output, scale_out

pytestmark = pytest.mark.lab


def snapshot(lab, lab_vars):
    return {"nodes": [n["name"] for n in lab.status()["nodes"]], "compute_writes": len(compute_writes()),
            "etcd_revision": etcd_revision(lab_vars["lab_etcd_endpoint"])}


def test_gcp_check_run_exits_0_creates_nothing_and_saves_its_plan(gcp_example_read_only, lab, tmp_path):
    inv, lab_vars = gcp_example_read_only
    before = snapshot(lab, lab_vars)
    plan_file = tmp_path / "plan.json"
    proc = scale_out(inv, "--check", "--diff", "-e", f"scale_out_plan_file={plan_file}")
    assert proc.returncode == 0, output(proc)
    assert snapshot(lab, lab_vars) == before
    # The lab's VPC firewall has GCP's default rules: IPIP is blocked, and the run would fix it.
    assert "ipip_blocked on node-1, node-2, node-3: the run would fix it (create firewall rule calico-ipip)" \
        in proc.stdout, output(proc)
    assert "FAILED" not in proc.stdout

    plan = json.loads(plan_file.read_text())
    assert [n["name"] for n in plan["instances_to_create"]] == ["k8s-node-1", "k8s-node-2"]
    rules = {r["name"]: r for r in plan["network"]}
    assert rules["calico-ipip"]["action"] == "create"
    assert [a["protocol"] for a in rules["calico-ipip"]["after"]["allowed"]] == ["ipip"]
    assert rules["calico-bgp"]["action"] == "create"
    felix = {(c["kind"], c["name"]): c for c in plan["calico"]}[("FelixConfiguration", "default")]
    assert felix["key"] == "/calico/resources/v3/projectcalico.org/felixconfigurations/default"
    assert felix["changes"] == [{"field": "ipipMTU", "from": None, "to": 1440}]


def test_gcp_real_run_stops_before_any_change_when_its_plan_differs(gcp_example_read_only, lab, tmp_path):
    inv, lab_vars = gcp_example_read_only
    plan_file = tmp_path / "plan.json"
    checked = scale_out(inv, "--check", "-e", f"scale_out_plan_file={plan_file}")
    assert checked.returncode == 0, output(checked)
    before = snapshot(lab, lab_vars)

    proc = scale_out(inv, "-e", "scale_out_count=3", "-e", f"scale_out_plan_expected={plan_file}")
    assert proc.returncode != 0
    assert "differs from the saved plan" in proc.stdout, output(proc)
    assert "instances_to_create[k8s-node-3]: in this run's plan, not in the saved one" in proc.stdout
    assert snapshot(lab, lab_vars) == before


def test_gcp_real_run_goes_ahead_when_its_plan_matches(gcp_example, lab, tmp_path):
    inv, lab_vars = gcp_example
    plan_file = tmp_path / "plan.json"
    checked = scale_out(inv, "--check", "-e", f"scale_out_plan_file={plan_file}")
    assert checked.returncode == 0, output(checked)

    proc = scale_out(inv, "-e", f"scale_out_plan_expected={plan_file}")
    assert proc.returncode == 0, output(proc)
    assert "matches the saved plan" in proc.stdout
    assert len(lab.status()["nodes"]) == len(lab_vars["hostvars"]) + 2


def test_aws_check_run_without_the_group_exits_0_and_creates_nothing(aws_example, lab, tmp_path):
    inv, lab_vars, info, env = aws_example
    ec2 = ec2_client(info["endpoint"], info["region"])
    groups = sorted(g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"])
    instances = ec2.describe_instances()["Reservations"]
    assert "calico-nodes" not in groups
    revision = etcd_revision(lab_vars["lab_etcd_endpoint"])
    plan_file = tmp_path / "plan.json"

    proc = scale_out(inv, "--check", "--diff", "-e", f"scale_out_plan_file={plan_file}", env=env)
    assert proc.returncode == 0, output(proc)
    assert "security group calico-nodes, which does not exist yet" in proc.stdout
    assert sorted(g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]) == groups
    assert ec2.describe_instances()["Reservations"] == instances
    assert etcd_revision(lab_vars["lab_etcd_endpoint"]) == revision

    plan = json.loads(plan_file.read_text())
    assert [n["name"] for n in plan["instances_to_create"]] == ["k8s-node-1", "k8s-node-2"]
    [group] = [e for e in plan["network"] if e["resource"] == "ec2_security_group"]
    assert group["name"] == "calico-nodes" and group["action"] == "create"
    [members] = [e for e in plan["network"] if e["resource"] == "ec2_security_group_members"]
    assert len(members["instances"]) == len(lab_vars["hostvars"])
    # The example declares the pool CrossSubnet; the lab's pool is Always.
    pool = {(c["kind"], c["name"]): c for c in plan["calico"]}[("IPPool", "default-ipv4-ippool")]
    assert pool["key"] == "/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool"
    assert {"field": "ipipMode", "from": "Always", "to": "CrossSubnet"} in pool["changes"]
