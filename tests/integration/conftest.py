"""Lab fixtures for integration tests (root required).

`lab` gives the running 3-node lab, brought up once per session; a test that
breaks it (firewall, hostnames, stopped daemons) asks for `dirty_lab`
instead, and the lab is rebuilt clean after that test.
"""

import os
import subprocess

import pytest

from lab import api, config

ROOT = config.REPO
NODES = 3


def _require_root():
    if os.geteuid() != 0:
        pytest.skip("lab tests need root")


@pytest.fixture(scope="session")
def lab_session():
    _require_root()
    api.down()
    api.up(NODES)
    yield api
    api.down()


@pytest.fixture
def lab(lab_session):
    return lab_session


@pytest.fixture
def dirty_lab(lab_session):
    yield lab_session
    api.down()
    api.up(NODES)


def ansible_env():
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    return env


def run_playbook(playbook, *args, inventory=None, check=True, timeout=600):
    """ansible-playbook as a user runs it; returns the CompletedProcess."""
    cmd = [str(ROOT / ".venv" / "bin" / "ansible-playbook"), str(playbook), *args]
    if inventory:
        cmd += ["-i", str(inventory)]
    proc = subprocess.run(cmd, cwd=ROOT, env=ansible_env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def recap(output):
    """{host: {ok, changed, unreachable, failed, ...}} from a PLAY RECAP."""
    hosts = {}
    in_recap = False
    for line in output.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if in_recap and ":" in line and "=" in line:
            host, _, rest = line.partition(":")
            hosts[host.strip()] = {k: int(v) for k, v in (kv.split("=") for kv in rest.split())}
    return hosts
