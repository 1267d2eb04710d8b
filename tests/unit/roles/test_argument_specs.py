"""Each role input is declared once, in meta/argument_specs.yml, and the role's files agree with it.

defaults/main.yml holds a value for every input with a default and the spec says the same default;
a required input has no default (its absence is what the spec checks); validate.yml writes no regex:
its rules are the collection's test plugins (plugins/module_utils/validation).
"""

import pathlib
import re

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.argument_spec import validator_spec

from tests.conftest import ROOT

ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def load(path: pathlib.Path):
    return yaml.safe_load(path.read_text()) or {} if path.exists() else {}


def spec_of(role):
    return load(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]


def test_every_role_has_an_argument_spec():
    assert set(ROLES) == {p.name for p in (ROOT / "roles").iterdir() if p.is_dir()}


@pytest.mark.parametrize("role", ROLES)
def test_defaults_and_spec_agree(role):
    spec = spec_of(role)
    defaults = load(ROOT / "roles" / role / "defaults" / "main.yml")
    assert sorted(set(defaults) - set(spec)) == [], "inputs with a default but not declared in the spec"
    for name, option in spec.items():
        assert name.startswith(f"{role}_"), f"{name} is not prefixed with the role's name"
        if option.get("required"):
            assert name not in defaults, f"{name} is required: its absence is checked, it has no default"
            assert "default" not in option
        elif name in defaults and defaults[name] is not None:
            assert "default" in option, f"{name}: the spec does not show its default"
        if "default" in option:
            assert name in defaults, f"{name} has a default in the spec only"
            assert option["default"] == defaults[name], f"{name}: the spec's default is not defaults/main.yml's"
        if isinstance(option.get("default"), str) and "{{" in option["default"]:
            continue
        if name in defaults and defaults[name] is not None and not (
                isinstance(defaults[name], str) and "{{" in defaults[name]):
            result = ArgumentSpecValidator(validator_spec({name: option})).validate({name: defaults[name]})
            assert result.error_messages == [], f"{name}'s default breaks its own spec"


@pytest.mark.parametrize("role", ROLES)
def test_lists_of_dicts_declare_their_keys_or_say_why_not(role):
    open_ended = {"aws_network_node_filters", "mesh_verify_planned_fixes", "node_identity_registered_nodes"}
    for name, option in spec_of(role).items():
        if option.get("type") == "list" and option.get("elements") == "dict" and name not in open_ended:
            assert option.get("options"), f"{name}: a list of dicts declares the keys of its entries"


@pytest.mark.parametrize("role", ROLES)
def test_validate_writes_no_regex(role):
    path = ROOT / "roles" / role / "tasks" / "validate.yml"
    text = path.read_text() if path.exists() else ""
    assert not re.search(r"\b(match|search|regex_search|regex_replace|regex)\b\s*\(", text)
    assert "a-z0-9]" not in text


def test_the_datastore_is_set_once_no_role_mirrors_it():
    mirrors = re.compile(r"_(datastore|etcd_endpoints|etcd_ca_cert|etcd_cert|etcd_key|datastore_kubeconfig)$")
    for role in ROLES:
        found = [n for n in spec_of(role) if mirrors.search(n)]
        assert found == [], f"{role} mirrors calico_fleet_datastore: {found}"
