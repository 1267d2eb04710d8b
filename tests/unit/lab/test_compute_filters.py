"""The list-filter grammar of the Compute test server (lab/compute/filters.py)."""

import pytest

from lab.compute.filters import FilterError, apply_filter, compile_filter, field_values

ZONE = "https://www.googleapis.com/compute/v1/projects/p/zones/"
RESOURCES = [
    {"name": "node-1", "status": "RUNNING", "zone": ZONE + "z1", "labels": {"role": "worker", "env": "prod"},
     "scheduling": {"automaticRestart": False}, "tags": {"items": ["calico-node", "ssh"]},
     "networkInterfaces": [{"networkIP": "198.18.0.10"}], "id": "12"},
    {"name": "node-2", "status": "STOPPED", "zone": ZONE + "z2", "labels": {"role": "control-plane"},
     "scheduling": {"automaticRestart": True}, "networkInterfaces": [{"networkIP": "198.18.0.11"}], "id": "9"},
    {"name": "bastion", "status": "RUNNING", "zone": ZONE + "z1", "id": "100"},
]


def names(text):
    return [resource["name"] for resource in apply_filter(text, RESOURCES)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", ["node-1", "node-2", "bastion"]),
        ('name = "node-1"', ["node-1"]),
        ("name = 'node-1'", ["node-1"]),
        ("name = node-1", ["node-1"]),
        ("name=node-1", ["node-1"]),
        ("name != node-1", ["node-2", "bastion"]),
        ("labels.role = worker", ["node-1"]),
        ("labels.role != worker", ["node-2", "bastion"]),
        ("labels.env:*", ["node-1"]),
        ("(labels.role = worker) AND (status = RUNNING)", ["node-1"]),
        ("(status = RUNNING) (name = bastion)", ["bastion"]),
        ("status = RUNNING name = bastion", ["bastion"]),
        ("(status = STOPPED) OR (name = bastion)", ["node-2", "bastion"]),
        # AIP-160: OR binds tighter than AND
        ("(status = STOPPED) OR (name = bastion) AND (zone = z1)", ["bastion"]),
        ("NOT status = RUNNING", ["node-2"]),
        ("-status = RUNNING", ["node-2"]),
        ("scheduling.automaticRestart = false", ["node-1"]),
        ("tags.items = ssh", ["node-1"]),
        ("tags.items:calico-node", ["node-1"]),
        ("networkInterfaces.networkIP = 198.18.0.11", ["node-2"]),
        ("zone = z1", ["node-1", "bastion"]),
        (f'zone = "{ZONE}z2"', ["node-2"]),
        ("name = node-*", ["node-1", "node-2"]),
        ("id > 10", ["node-1", "bastion"]),
        ("id <= 12", ["node-1", "node-2"]),
        ("name eq 'node-.*'", ["node-1", "node-2"]),
        ('name eq "node-.*"', ["node-1", "node-2"]),
        ("name eq node-.*", ["node-1", "node-2"]),
        ("name eq node", []),  # the regex must match the whole field
        ("name ne .*-1", ["node-2", "bastion"]),
        ("name eq (node|bastion).*", ["node-1", "node-2", "bastion"]),
        ("(name eq node-.*) (status ne STOPPED)", ["node-1"]),
        ("labels.role eq work.*", ["node-1"]),
        ("labels.role ne work.*", ["node-2", "bastion"]),
    ],
)
def test_filter_forms(text, expected):
    assert names(text) == expected


@pytest.mark.parametrize(
    "text, why",
    [
        ("name =", "value expected"),
        ("name", "'field OPERATOR value' expected"),
        ("node-1", "'field OPERATOR value' expected"),
        ("(name = x", "unbalanced"),
        ("name = x)", "unexpected ')'"),
        ("name ~ x", "'field OPERATOR value' expected"),
        ('name = "x', "unterminated"),
        ("AND name = x", "'AND' needs an expression"),
        ("name = x AND", "expression expected"),
        ("name = =", "is not a value"),
        ("(name eq x) (status = y)", "cannot be mixed"),
        ("name eq (a", "invalid regular expression"),
        ("name eq (a)\\1", "not an RE2"),
        ("name eq a(?=b)", "not an RE2"),
    ],
)
def test_unparseable_filters_raise(text, why):
    with pytest.raises(FilterError, match=why.replace("(", r"\(").replace(")", r"\)")):
        compile_filter(text)


def test_field_values_flatten_lists_and_skip_missing():
    assert field_values(RESOURCES[0], "networkInterfaces.networkIP") == ["198.18.0.10"]
    assert field_values(RESOURCES[2], "labels.role") == []
    assert field_values(RESOURCES[0], "tags.items") == ["calico-node", "ssh"]
