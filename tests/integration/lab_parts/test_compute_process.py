"""The Compute Engine v1 test server as a process (``python -m lab.compute``)."""

import json
import subprocess
import sys
import urllib.request

from lab import config

ROOT = "/compute/v1/projects/p"


def test_runs_as_a_process_and_prints_its_url():
    proc = subprocess.Popen([sys.executable, "-m", "lab.compute", "--host", "127.0.0.1", "--port", "0",
                             "--project", "p", "--zone", "z", "--vpc-range", "198.18.0.0/20"],
                            stdout=subprocess.PIPE, text=True, cwd=str(config.REPO))
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + f"{ROOT}/global/firewalls", timeout=10) as response:
            assert json.loads(response.read())["kind"] == "compute#firewallList"
    finally:
        proc.terminate()
        proc.wait(10)
