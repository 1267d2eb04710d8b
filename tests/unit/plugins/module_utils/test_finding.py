"""The one finding model: the fix is data, rendered into a command that runs as printed."""

import json
import shlex

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils import finding as fm


def test_a_finding_survives_the_round_trip_through_a_module_result():
    found = fm.Finding("ipip_blocked", hosts=["node-b", "node-a", "node-a"], peer="node-c",
                    evidence=["no reply"], cause="the firewall drops protocol 4",
                    fix=fm.Fix("Open IP protocol 4 between the nodes.", playbook="scale_out", tags=["network"]))
    data = json.loads(json.dumps(found.to_dict()))
    back = fm.Finding.from_dict(data)
    assert back == found
    assert back.hosts == ["node-a", "node-b"]
    assert back.fix.playbook == "scale_out"


def test_the_fix_command_names_the_collection_playbook_and_the_inventory():
    fix = fm.Fix("Rewrite the nodename file.", playbook="fix_nodename_conflict", limit=["node-a"],
              extra_vars={"nodename_conflict_confirm": True})
    cmd = fix.command(inventory=["inventories/gcp/calico.yml"])
    argv = shlex.split(cmd)
    assert argv[:4] == ["ansible-playbook", "-i", "inventories/gcp/calico.yml",
                        "calico_fleet.fleet.fix_nodename_conflict"]
    assert argv[argv.index("--limit") + 1] == "node-a"
    assert json.loads(argv[argv.index("-e") + 1]) == {"nodename_conflict_confirm": True}
    assert fix.to_text().startswith("Rewrite the nodename file. Run: ansible-playbook calico_fleet.fleet.")


def test_a_fix_without_a_playbook_prints_its_commands_in_order():
    fix = fm.Fix("Restart calico-node.", commands=["kubectl -n calico-system delete pod x", "kubectl logs y"])
    assert fix.command() is None
    assert fix.to_text() == "Restart calico-node. Run: kubectl -n calico-system delete pod x, then kubectl logs y"


def test_errors_sort_before_warnings_and_decide_health():
    warn = fm.Finding("nodename_differs", fm.WARNING, hosts=["a"])
    err = fm.Finding("bgp_down", fm.ERROR, hosts=["b"])
    assert fm.sort_findings([warn.to_dict(), err]) == [err, warn]
    assert fm.is_healthy([warn]) and not fm.is_healthy([warn, err.to_dict()])


def test_an_unknown_severity_is_refused():
    with pytest.raises(ValueError, match="severity"):
        fm.Finding("x", "fatal")


def test_the_line_names_the_field_that_differs_and_the_fix():
    found = fm.Finding("ip_pool_changed", section="calico_settings", resource="IPPool/default-ipv4-ippool",
                    field="ipipMode", expected="Always", actual="Never", cause="edited by hand",
                    fix=fm.Fix(playbook="scale_out", tags="calico_network"))
    line = found.to_line(inventory=["inv.yml"])
    assert "on IPPool/default-ipv4-ippool" in line
    assert "ipipMode: 'Never', expected 'Always'" in line
    assert line.endswith("Run: ansible-playbook -i inv.yml calico_fleet.fleet.scale_out --tags calico_network")


def test_the_block_lists_every_piece_of_evidence_then_cause_and_fix():
    found = fm.Finding("bird_down", hosts=["n1"], evidence=["n1 answered nothing", "n2 -> n1: Active"],
                    cause="calico-node is not running.",
                    fix=fm.Fix("restart calico-node on n1", commands=["kubectl -n calico-system delete pod x"]))
    assert found.to_lines() == [
        "[error] bird_down on n1",
        "    evidence: n1 answered nothing",
        "    evidence: n2 -> n1: Active",
        "    cause:    calico-node is not running.",
        "    fix:      restart calico-node on n1. Run: kubectl -n calico-system delete pod x",
    ]
    assert found.to_line() == ("[error] bird_down on n1: n1 answered nothing (+1 more). Likely cause: calico-node "
                               "is not running. Fix: restart calico-node on n1. Run: kubectl -n calico-system "
                               "delete pod x")


def test_the_line_names_where_what_cause_and_fix():
    f = fm.Finding(
        "tcp179_blocked", fm.ERROR, hosts=["n1", "n2"], node="n1", peer="10.0.0.2",
        evidence=["n1 -> 10.0.0.2: Mesh_10_0_0_2 state start 'Active Socket: Connection refused'", "more"],
        cause="TCP 179 is blocked.", fix=fm.Fix("allow TCP 179", playbook="scale_out", tags=["network"]),
    )
    text = f.to_line()
    for part in ("tcp179_blocked on n1, n2", "node n1", "peer 10.0.0.2", "Connection refused", "(+1 more)",
                 "Likely cause: TCP 179 is blocked.",
                 "Fix: allow TCP 179. Run: ansible-playbook calico_fleet.fleet.scale_out --tags network"):
        assert part in text
