"""The filters templates render findings with (plugins/filter/finding.py)."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.calico_fleet.fleet.plugins.filter.finding import FilterModule
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Finding, Fix

FILTERS = FilterModule().filters()
FINDINGS = [
    Finding("nodename_mismatch", "warning", hosts=["n2"], node="n2x", evidence=["the file says n2x"],
            cause="renamed", fix=Fix("give n2 one name", playbook="fix_nodename_conflict", limit=["n2"])).to_dict(),
    Finding("bird_down", hosts=["n1"], evidence=["n1 answered nothing", "n2 -> n1: Active"], cause="down",
            fix=Fix("restart calico-node on n1", commands=["kubectl -n calico-system delete pod x"])).to_dict(),
]


def test_lines_put_errors_first_and_name_the_inventory_in_the_commands():
    lines = FILTERS["finding_lines"](FINDINGS, ["inventories/prod"])
    assert lines == [
        "[error] bird_down on n1",
        "    evidence: n1 answered nothing",
        "    evidence: n2 -> n1: Active",
        "    cause:    down",
        "    fix:      restart calico-node on n1. Run: kubectl -n calico-system delete pod x",
        "[warning] nodename_mismatch on n2 node n2x",
        "    evidence: the file says n2x",
        "    cause:    renamed",
        "    fix:      give n2 one name. Run: ansible-playbook -i inventories/prod "
        "calico_fleet.fleet.fix_nodename_conflict --limit n2",
    ]


def test_one_line_each_takes_one_inventory_source_as_a_string():
    lines = FILTERS["finding_line"](FINDINGS, "inv.yml")
    assert len(lines) == 2 and lines[0].startswith("[error] bird_down on n1: n1 answered nothing (+1 more)")
    assert lines[1].endswith("Run: ansible-playbook -i inv.yml calico_fleet.fleet.fix_nodename_conflict --limit n2")


@pytest.mark.parametrize("value", [{"kind": "x"}, "text", [{"field": "ipipMode"}]])
def test_what_is_not_a_list_of_findings_is_refused_naming_what_to_pass(value):
    with pytest.raises(AnsibleFilterError, match="the findings a check returns"):
        FILTERS["finding_lines"](value)
