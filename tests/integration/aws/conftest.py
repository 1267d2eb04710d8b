"""A local EC2 API (moto, with its protocol-4 bug patched) and a way to run
the AWS roles against it with ansible-playbook.

Faked: AWS itself. moto stands in for EC2 and the credentials are dummies
(AWS_ACCESS_KEY_ID=testing); everything else (ansible-playbook, amazon.aws,
boto3, the roles) is the real thing.
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import uuid

import pytest

from lab.moto_server import DEFAULT_REGION, MotoServer, create_vpc_and_subnet, ec2_client

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOKS = pathlib.Path(__file__).resolve().parent / "playbooks"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": DEFAULT_REGION,
}


@pytest.fixture(scope="session")
def moto_endpoint():
    """Start one patched moto server for the session; yield its endpoint URL."""
    with MotoServer() as server:
        yield server.endpoint


@pytest.fixture
def ec2(moto_endpoint):
    return ec2_client(moto_endpoint)


@pytest.fixture
def network(moto_endpoint):
    """A fresh VPC (198.18.0.0/20) with one subnet, so tests do not see each other."""
    return create_vpc_and_subnet(moto_endpoint)


@pytest.fixture
def unique():
    """A short random suffix for names that must not collide between tests."""
    return uuid.uuid4().hex[:8]


def _json_report(stdout):
    """The JSON callback's document; profile_tasks (from ansible.cfg) prints around it."""
    for match in re.finditer(r"^\{", stdout, re.MULTILINE):
        try:
            return json.JSONDecoder().raw_decode(stdout, match.start())[0]
        except json.JSONDecodeError:
            continue
    return None


class PlaybookRun:
    def __init__(self, proc):
        self.proc = proc
        self.returncode = proc.returncode
        self.stderr = proc.stderr
        self.stdout = proc.stdout
        self.report = _json_report(proc.stdout)

    @property
    def stats(self):
        return self.report["stats"]

    def changed(self, host="localhost"):
        return self.stats[host]["changed"]

    def task_results(self, name):
        """{host: result} of the task whose name contains ``name``."""
        for play in self.report["plays"]:
            for task in play["tasks"]:
                if name in task["task"]["name"]:
                    return task["hosts"]
        raise KeyError(f"no task named like {name!r}")

    def failure_messages(self):
        """The ``msg`` of every failed task result."""
        return [
            result.get("msg", "")
            for play in self.report["plays"]
            for task in play["tasks"]
            for result in task["hosts"].values()
            if result.get("failed")
        ]

    def explain(self):
        return f"rc={self.returncode}\nstdout:\n{self.stdout[-6000:]}\nstderr:\n{self.stderr[-3000:]}"


@pytest.fixture
def run_playbook(tmp_path):
    """Run tests/integration/aws/playbooks/<name>.yml with extra vars; JSON output parsed.

    ``aws_env`` replaces the dummy credentials (e.g. with an IAM user's keys).
    """

    def run(name, extra_vars, *options, aws_env=None):
        vars_file = tmp_path / f"vars-{uuid.uuid4().hex[:6]}.json"
        vars_file.write_text(json.dumps(extra_vars))
        env = dict(os.environ)
        for key in FAKE_AWS_ENV:
            env.pop(key, None)
        env.update(aws_env or FAKE_AWS_ENV)
        env.update(
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"),
            # boto3 lives next to the interpreter that runs the tests.
            ANSIBLE_PYTHON_INTERPRETER=sys.executable,
        )
        argv = [
            str(ROOT / ".venv" / "bin" / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"@{vars_file}",
            *options,
            str(PLAYBOOKS / f"{name}.yml"),
        ]
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        return PlaybookRun(proc)

    return run
