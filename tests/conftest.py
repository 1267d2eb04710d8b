"""Shared pytest wiring.

The repository is the collection ``calico_fleet.fleet``; a checkout reaches it
as ``collections/ansible_collections/calico_fleet/fleet`` (a link to the
repository root). Tests import plugins and module_utils by their collection
names, the way Ansible loads them.
"""

import io
import json
import pathlib
import runpy
import sys
from contextlib import redirect_stdout

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLLECTIONS = ROOT / "collections"
sys.path.insert(0, str(COLLECTIONS))


def run_module(name, args, check=False, diff=False):
    """Run plugins/modules/<name>.py in-process, the way Ansible would.

    Returns the module's JSON result as a dict; ``failed`` is set when the
    module called fail_json.
    """
    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    payload = dict(args)
    payload["_ansible_check_mode"] = check
    payload["_ansible_diff"] = diff
    basic._ANSIBLE_ARGS = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    basic._ANSIBLE_PROFILE = "legacy"
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            runpy.run_path(str(ROOT / "plugins" / "modules" / f"{name}.py"), run_name="__main__")
        except SystemExit:
            pass
    text = out.getvalue().strip()
    return json.loads(text.splitlines()[-1] if text.startswith("{") is False else text)


@pytest.fixture
def module_runner():
    return run_module
