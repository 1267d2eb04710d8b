"""Starting the IPIP probe process (plugins/module_utils/ipip/process.py)."""

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[5]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to nobody")
def test_without_root_the_error_says_root_is_needed():
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import errors, process\n"
            "try:\n    process.start(['198.18.0.12'], 'r1', 5, source='198.18.0.11', state_dir='/tmp')\n"
            "except errors.NeedsRootError as exc:\n    print(exc)\n")
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "/usr/bin/python3", "-c", code, str(ROOT / "collections")],
                          capture_output=True, text=True, timeout=30)
    assert "needs root" in proc.stdout and "become: true" in proc.stdout, proc.stderr
