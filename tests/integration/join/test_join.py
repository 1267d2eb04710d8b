"""Scale-out joins its new machines to Kubernetes (role node_join), on the lab.

The lab's existing nodes are joined; machines the Compute test server boots
are bare (sshd, their hostname) until something joins them. Each test starts
from the clean 3-node lab and leaves it to be rebuilt.
"""

import json

import pytest

from tests.integration.conftest import recap
from tests.integration.join.conftest import (
    NEW,
    SCALE_OUT,
    bootstrap_tokens,
    ca_hash,
    compute_requests,
    node_file_exists,
    output,
    scale_out,
)
from tests.integration.verify.conftest import etcd_state, run_json

pytestmark = pytest.mark.lab
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"


def mesh_result(out):
    results = [res for play in out["plays"] for task in play["tasks"] for res in task["hosts"].values()
               if {"healthy", "findings", "matrix"} <= set(res)]
    assert len(results) == 1, f"expected one mesh check result, got {len(results)}"
    return results[0]


def test_join_skipped_fails_verification_naming_each_new_node_as_not_joined(cloud_lab):
    rc, out = run_json(SCALE_OUT, "--skip-tags", "join", "-e", "scale_out_batch=skip-1",
                       "-e", "mesh_verify_wait_timeout=5")
    assert rc != 0
    result = mesh_result(out)
    assert result["healthy"] is False
    kinds = {(f["kind"], tuple(f["hosts"])) for f in result["findings"]}
    assert kinds == {("node_not_joined", (n,)) for n in NEW}, result["findings"]
    for finding in result["findings"]:
        assert finding["node"] == finding["hosts"][0]
        assert "is not joined to Kubernetes" in finding["evidence"][0]
        assert "not a BGP fault" in finding["cause"]
    assert not any(node_file_exists(n, KUBELET_CONF) for n in NEW)


def test_real_run_joins_under_the_planned_names_and_shows_no_token_or_hash(cloud_lab, tmp_path):
    log = tmp_path / "ansible.log"
    proc = scale_out("-v", "-e", "scale_out_batch=tok-1", log=log)
    assert proc.returncode == 0, output(proc)
    for name in NEW:
        conf = json.loads(cloud_lab.node_exec(name, ["cat", KUBELET_CONF]).stdout)
        assert conf["users"][0]["name"] == f"system:node:{name}"  # kubelet name = planned name
    tokens = bootstrap_tokens()
    assert tokens, "the run made no bootstrap token"
    digest = ca_hash()
    for where, text in (("stdout", proc.stdout), ("stderr", proc.stderr), ("log", log.read_text())):
        for token in tokens:
            assert token not in text and token.split(".")[1] not in text, f"bootstrap token in {where}"
        assert "sha256:" not in text and digest.split(":")[1] not in text, f"CA hash in {where}"


def test_check_mode_creates_no_machine_and_joins_nothing(cloud_lab):
    nodes_before = [n["name"] for n in cloud_lab.status()["nodes"]]
    etcd_before = etcd_state(cloud_lab)
    tokens_before = bootstrap_tokens()
    requests_before = len(compute_requests())
    # Verification judges the real mesh (protocol 4 stays blocked: the rules were not created)
    # and reports that the run would fix it, without failing the check run.
    proc = scale_out("--check", "-e", "scale_out_batch=check-1")
    assert proc.returncode == 0, output(proc)
    assert "the run would fix it (create firewall rule" in proc.stdout, output(proc)
    writes = [r for r in compute_requests()[requests_before:] if r["method"] != "GET"]
    assert writes == []
    assert etcd_state(cloud_lab) == etcd_before
    assert bootstrap_tokens() == tokens_before
    assert [n["name"] for n in cloud_lab.status()["nodes"]] == nodes_before
    assert all(h["changed"] == 0 for name, h in recap(proc.stdout).items() if name != "localhost")


def test_bare_image_is_refused_before_the_join_naming_what_is_missing(cloud_lab):
    tokens_before = bootstrap_tokens()
    proc = scale_out("-e", "scale_out_batch=bare-1", "-e", "gcp_nodes_image=projects/lab/global/images/lab-bare")
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    for name in NEW:
        assert f"{name} cannot be joined with kubeadm: missing kubeadm, kubelet, a container runtime" in text, \
            output(proc)
    assert "install them in the machine image (or in its startup script / user-data)" in text, output(proc)
    assert bootstrap_tokens() == tokens_before
    assert not any(node_file_exists(n, KUBELET_CONF) for n in NEW)
