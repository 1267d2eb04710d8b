"""Every module documents exactly the options its argument_spec accepts.

The documentation is read as a user sees it: ``ansible-doc --json`` with the
project's ansible.cfg, so documentation fragments are resolved. The argument
spec is captured the way ansible-test's validate-modules does it: the module's
``main()`` runs with ``AnsibleModule.__init__`` replaced by a stand-in that
records the spec and stops, so no module logic runs (modules built on
``CalicoModule`` or ``GcpModule`` are captured with the options their base merges in).
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from ansible.module_utils.basic import AnsibleModule

from tests.conftest import ROOT

MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))
# What AnsibleModule assumes when the spec leaves a key out.
SPEC_DEFAULTS = {"type": "str", "required": False, "default": None, "choices": None, "elements": None,
                 "aliases": None}


class _SpecCaptured(Exception):
    def __init__(self, argument_spec):
        super().__init__("argument_spec captured")
        self.argument_spec = argument_spec


def _capture(self, *args, **kwargs):
    del self
    raise _SpecCaptured(kwargs["argument_spec"] if "argument_spec" in kwargs else args[0])


def argument_spec(name, monkeypatch):
    spec = importlib.util.spec_from_file_location(f"_docs_check_{name}", ROOT / "plugins" / "modules" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(AnsibleModule, "__init__", _capture)
    with pytest.raises(_SpecCaptured) as captured:
        module.main()
    return captured.value.argument_spec


@pytest.fixture(scope="module")
def docs():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    out = subprocess.run(
        [sys.executable, "-m", "ansible.cli.doc", "--json", "-t", "module",
         *(f"calico_fleet.fleet.{m}" for m in MODULES)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )
    return {name.rsplit(".", 1)[-1]: entry["doc"] for name, entry in json.loads(out.stdout).items()}


def _mismatches(documented, accepted, where=""):
    """Lines naming each option whose documentation disagrees with the spec."""
    problems = []
    for name in sorted(set(documented) | set(accepted)):
        path = f"{where}{name}"
        if name not in accepted:
            problems.append(f"{path}: documented but not in argument_spec")
            continue
        if name not in documented:
            problems.append(f"{path}: in argument_spec but not documented")
            continue
        doc, arg = documented[name], accepted[name]
        for key, fallback in SPEC_DEFAULTS.items():
            doc_value = doc.get(key, None if key != "required" else False)
            arg_value = arg.get(key, fallback)
            if key == "type" and doc_value is None:
                doc_value = "str"
            if key == "aliases":
                doc_value, arg_value = sorted(doc_value or []), sorted(arg_value or [])
            if doc_value != arg_value:
                problems.append(f"{path}: {key} documented {doc_value!r}, argument_spec {arg_value!r}")
        if doc.get("suboptions") or arg.get("options"):
            problems += _mismatches(doc.get("suboptions") or {}, arg.get("options") or {}, f"{path}.")
    return problems


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_match_argument_spec(docs, name, monkeypatch):
    assert name in docs, f"ansible-doc did not render {name}"
    assert _mismatches(docs[name].get("options") or {}, argument_spec(name, monkeypatch)) == []


def test_kubernetes_options_take_kubernetes_core_names_with_the_old_ones_as_aliases(docs):
    options = docs["calico_ippool"]["options"]
    assert {name: sorted(options[name].get("aliases") or []) for name in
            ("kubeconfig", "context", "host", "api_key", "ca_cert", "client_cert", "client_key", "validate_certs")} \
        == {"kubeconfig": [], "context": ["kube_context"], "host": ["api_host"], "api_key": ["api_token"],
            "ca_cert": ["api_ca_cert"], "client_cert": ["api_client_cert"], "client_key": ["api_client_key"],
            "validate_certs": []}


@pytest.mark.parametrize("name", MODULES)
def test_attributes_say_check_mode_diff_and_platform(docs, name):
    attributes = docs[name].get("attributes") or {}
    assert {"check_mode", "diff_mode", "platform"} <= set(attributes), name
    assert attributes["check_mode"]["support"] == "full", name
