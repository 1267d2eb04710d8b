"""Shared pytest wiring.

Our modules import their logic as ``ansible.module_utils.<name>`` (that is how
Ansible ships them to a host). Tests import the very same files: we extend the
``ansible.module_utils`` package path with ``plugins/module_utils``.
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

import ansible.module_utils  # noqa: E402

_MU = str(ROOT / "plugins" / "module_utils")
if _MU not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(_MU)


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
