"""A role's inputs checked against its argument spec with Ansible's own validator, one problem per variable."""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.argument_spec import (
    spec_problems,
    validator_spec,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.problems import InputProblems

SPEC = {
    "r_method": {"type": "str", "required": True, "choices": ["a", "b"], "description": "How."},
    "r_count": {"type": "int", "default": 1, "description": "How many."},
    "r_items": {"type": "list", "elements": "dict", "default": [], "description": "Items.",
                "options": {"name": {"type": "str", "required": True, "description": "Its name."}}},
}


def check(variables, provided=()):
    out = InputProblems()
    spec_problems(SPEC, variables, out, provided=provided, role="r")
    return {p["variable"]: p for p in out.problems}


def test_documentation_is_left_out_of_what_the_validator_sees():
    assert validator_spec(SPEC)["r_items"] == {"type": "list", "elements": "dict", "default": [],
                                               "options": {"name": {"type": "str", "required": True}}}


def test_declared_values_pass_and_undeclared_optional_ones_are_not_checked():
    assert check({"r_method": "a", "r_count": "2", "r_items": [{"name": "x"}]}) == {}
    assert check({"r_method": "b"}) == {}


def test_each_problem_names_its_variable_and_the_fix():
    found = check({"r_method": "c", "r_count": "many", "r_items": [{"name": "x", "nom": "y"}]})
    assert set(found) == {"r_method", "r_count", "r_items[0] (x)"}
    assert found["r_method"]["fix"] == "set r_method to one of a, b"
    assert found["r_count"]["fix"] == "set r_count to a whole number"
    assert found["r_items[0] (x)"]["fix"] == "write each entry of r_items with the keys name only"


def test_a_problem_in_a_list_of_dicts_names_its_entry():
    found = check({"r_method": "a", "r_items": [{"name": "x"}, {}]})
    assert set(found) == {"r_items[1]"}
    assert "missing required arguments: name found in r_items" in found["r_items[1]"]["problem"]
    assert found["r_items[1]"]["fix"].startswith("change the entry of r_items as the message says (keys: name")


def test_required_is_asked_unless_the_playbook_provides_it():
    assert check({})["r_method"]["problem"] == "is not set (role r)"
    assert check({"r_method": ""})["r_method"]["problem"] == "is empty (role r)"
    assert check({}, provided=["r_method"]) == {}
