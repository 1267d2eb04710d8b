"""Fixtures for the join tests: the lab's 3-node cluster with its Compute
Engine test server, rebuilt after each test (scale-out adds machines).

What a run did is read from the lab itself (its Compute request log, etcd's
JSON gateway, the API stand-in's bootstrap tokens, files on the nodes), never
with the code under test.
"""

import json
import subprocess
import urllib.request

import pytest

from lab import api, config, kube
from tests.integration.conftest import ROOT, ansible_env

SCALE_OUT = ROOT / "playbooks" / "scale-out.yml"
NEW = ("node-4", "node-5")


@pytest.fixture
def cloud_lab(dirty_lab):
    """The 3-node lab (joined, full mesh) with the Compute test server; rebuilt afterwards."""
    dirty_lab.cloud_start()
    yield dirty_lab
    dirty_lab.cloud_stop()


def scale_out(*args, log=None, env=None, timeout=900):
    """playbooks/scale-out.yml as a user runs it: the CompletedProcess (log: ANSIBLE_LOG_PATH too)."""
    run_env = ansible_env()
    run_env.update(env or {})
    if log:
        run_env["ANSIBLE_LOG_PATH"] = str(log)
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), str(SCALE_OUT), *args]
    return subprocess.run(cmd, cwd=ROOT, env=run_env, capture_output=True, text=True, timeout=timeout)


def output(proc):
    return f"{proc.stdout[-8000:]}\n{proc.stderr[-3000:]}"


def compute_requests():
    """Every request the Compute test server answered (its request log)."""
    url = f"http://127.0.0.1:{18700 + config.current().slot}/_test/log"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)["requests"]


def kube_dir():
    return config.current().state_dir / "kube"


def bootstrap_tokens():
    """'<id>.<secret>' of every bootstrap token the API stand-in holds."""
    store = json.loads((kube_dir() / "store.json").read_text())
    return [f"{token_id}.{token['secret']}" for token_id, token in store["tokens"].items()]


def ca_hash():
    return kube.ca_cert_hash((kube_dir() / "ca.crt").read_text())


def node_file_exists(name, path):
    return api.node_exec(name, ["test", "-e", path], check=False).returncode == 0
