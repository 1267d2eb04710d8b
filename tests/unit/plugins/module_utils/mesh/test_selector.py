"""Calico label selectors calico-fleet evaluates (plugins/module_utils/mesh/selector.py)."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.selector import SelectorError, selects

LABELS = {"route-reflector": "true", "topology.kubernetes.io/zone": "europe-west1-b", "edge": ""}


@pytest.mark.parametrize("selector,expected", [
    ("all()", True),
    ("has(edge)", True),
    ("has(missing)", False),
    ("route-reflector == 'true'", True),
    ('route-reflector == "true"', True),
    ("route-reflector == 'false'", False),
    ("route-reflector != 'false'", True),
    ("missing != 'x'", True),  # an absent label is "not equal", as in Calico
    ("missing == ''", False),
    ("edge == ''", True),
    ("topology.kubernetes.io/zone == 'europe-west1-b' && has(route-reflector)", True),
    ("all() && route-reflector != 'true'", False),
])
def test_supported_selectors(selector, expected):
    assert selects(selector, LABELS) is expected


@pytest.mark.parametrize("selector,part", [
    ("a == 'x' || b == 'y'", "a == 'x' || b == 'y'"),
    ("!has(edge)", "!has(edge)"),
    ("zone in {'a', 'b'}", "zone in {'a', 'b'}"),
    ("has(a) && (b == 'c')", "(b == 'c')"),
    ("global()", "global()"),
    ("has(a) && ", "''"),
])
def test_anything_else_is_refused_naming_the_part(selector, part):
    with pytest.raises(SelectorError) as exc:
        selects(selector, LABELS)
    assert str(exc.value).startswith(part if part == "''" else repr(part))
    assert "it evaluates all(), has(k), k == 'v', k != 'v', joined by &&" in str(exc.value)


def test_empty_selector_is_refused():
    with pytest.raises(SelectorError, match="empty"):
        selects("  ", LABELS)
