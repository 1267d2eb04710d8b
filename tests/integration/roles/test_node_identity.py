"""Role node_identity applied to a throw-away host: private UTS and mount namespaces.

Each test runs ansible-playbook (local connection) inside ``unshare --uts --mount``
with /etc on an overlay backed by a tmpfs, so the hostname, /etc/hostname and
/etc/hosts it changes vanish with the namespace. Stand-in for a node: no
systemd there, so the hostname module uses its file strategy. The lab test of
the role is separate.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = pathlib.Path(__file__).parent / "playbooks" / "node_identity.yml"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare for namespaces")

# Runs inside the namespaces: put /etc on an overlay, run each playbook, record
# what a user would look at after each run.
DRIVER = r"""
import json, os, pathlib, socket, subprocess, sys
work = pathlib.Path(sys.argv[1]); runs = json.loads(sys.argv[2]); cmd = json.loads(sys.argv[3])
ovl = work / "ovl"; ovl.mkdir()
subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(ovl)], check=True)
(ovl / "u").mkdir(); (ovl / "w").mkdir()
subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                f"lowerdir=/etc,upperdir={ovl}/u,workdir={ovl}/w", "/etc"], check=True)
# Debian's own line for the hostname, so the role's 127.0.1.1 handling is exercised.
with open("/etc/hosts", "a") as f:
    f.write("127.0.1.1\told-name\n")
subprocess.run(["hostname", "old-name"], check=True)
with open("/etc/hostname", "w") as f:
    f.write("old-name\n")

def state():
    nodename = pathlib.Path(runs[0]["vars"]["node_identity_nodename_file"])
    return {"hostname": socket.gethostname(), "etc_hostname": open("/etc/hostname").read(),
            "etc_hosts": open("/etc/hosts").read(),
            "nodename": nodename.read_text() if nodename.exists() else None}

results = []
for number, run in enumerate(runs):
    extra = work / f"vars{number}.json"
    extra.write_text(json.dumps(run["vars"]))
    before = state()
    proc = subprocess.run(cmd + ["-e", f"@{extra}"] + (["--check", "--diff"] if run["check"] else []),
                          capture_output=True, text=True, timeout=300)
    results.append({"rc": proc.returncode, "out": proc.stdout + proc.stderr, "before": before, "after": state()})
print(json.dumps(results))
"""


def run_role(tmp_path, *runs):
    """Run the role once per (vars, check) in one fresh namespace; return rc, output and state per run."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    base = {"node_identity_nodename_file": str(tmp_path / "calico" / "nodename"),
            "ansible_python_interpreter": sys.executable}
    runs = [{"vars": dict(base, **extra), "check": check} for extra, check in runs]
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
           str(PLAYBOOK)]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        ["unshare", "--uts", "--mount", "--propagation", "private", sys.executable, "-c", DRIVER,
         str(tmp_path), json.dumps(runs), json.dumps(cmd)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def changed(result):
    match = re.search(r"localhost\s+: ok=\d+\s+changed=(\d+)", result["out"])
    assert match, result["out"]
    return int(match.group(1))


NODE = {"node_identity_name": "ip-172-31-7-227", "node_identity_ip": "172.31.7.227",
        "node_identity_fqdn": "ip-172-31-7-227.ec2.internal"}


def test_sets_every_identity_and_a_second_run_changes_nothing(tmp_path):
    first, second = run_role(tmp_path, (NODE, False), (NODE, False))
    assert first["rc"] == 0, first["out"]
    assert changed(first) > 0
    after = first["after"]
    assert after["hostname"] == "ip-172-31-7-227"
    assert after["etc_hostname"].strip() == "ip-172-31-7-227"
    assert after["nodename"] == "ip-172-31-7-227"  # exactly: no trailing newline
    assert "172.31.7.227\tip-172-31-7-227.ec2.internal ip-172-31-7-227\n" in after["etc_hosts"]
    assert "127.0.1.1\tip-172-31-7-227.ec2.internal ip-172-31-7-227\n" in after["etc_hosts"]
    assert "old-name" not in after["etc_hosts"]
    assert second["rc"] == 0, second["out"]
    assert changed(second) == 0
    assert second["after"] == after


def test_check_mode_shows_changes_and_writes_nothing(tmp_path):
    (result,) = run_role(tmp_path, (NODE, True))
    assert result["rc"] == 0, result["out"]
    assert changed(result) > 0
    assert result["after"] == result["before"]
    assert result["after"]["nodename"] is None
    assert "+ip-172-31-7-227" in result["out"]  # the diff of the nodename file


def test_refuses_a_name_a_live_host_holds_and_writes_nothing(tmp_path):
    """The field-notes incident: aws-na-k8s-temp1 is held by live host 172.31.3.33."""
    incident = {"node_identity_name": "aws-na-k8s-temp1", "node_identity_ip": "172.31.7.227",
                "node_identity_registered_nodes": [{"name": "aws-na-k8s-temp1", "ipv4_address": "172.31.3.33/20"}],
                "node_identity_live_ips": ["172.31.3.33", "172.31.7.227"]}
    for check in (False, True):
        (result,) = run_role(tmp_path / str(check), (incident, check))
        assert result["rc"] == 2
        assert result["after"] == result["before"]
        out = " ".join(result["out"].split())
        assert ("aws-na-k8s-temp1 is already registered to Calico Node aws-na-k8s-temp1 with IP 172.31.3.33, "
                "a live host") in out
        assert "Nothing was changed" in out


def test_takes_over_a_stale_registration(tmp_path):
    """A Node left by a machine that is gone (its IP not live) does not block the name."""
    stale = dict(NODE, node_identity_registered_nodes=[
        {"name": "IP-172-31-7-227", "ipv4_address": "172.31.9.9/20"},
        {"name": "aws-na-k8s-temp2", "ipv4_address": "172.31.3.33/20"},
        {"name": "no-address"},
    ], node_identity_live_ips=["172.31.3.33"])
    (result,) = run_role(tmp_path, (stale, False))
    assert result["rc"] == 0, result["out"]
    assert result["after"]["nodename"] == "ip-172-31-7-227"


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"node_identity_name": "AWS-na-k8s-temp1"}, "Set node_identity_name to a lower-case name"),
        ({"node_identity_ip": "172.31.7"}, "Set node_identity_ip to the node's private IPv4 address"),
        ({"node_identity_fqdn": "other.ec2.internal"}, "Set node_identity_fqdn to 'ip-172-31-7-227.<domain>'"),
    ],
)
def test_invalid_inputs_are_refused_before_any_write(tmp_path, bad, message):
    (result,) = run_role(tmp_path, (dict(NODE, **bad), False))
    assert result["rc"] == 2
    assert message in " ".join(result["out"].split())
    assert result["after"] == result["before"]
