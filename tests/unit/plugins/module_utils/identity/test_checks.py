"""The identity checks (hosts vs registered Calico nodes), each finding with its fix as data."""

from ansible_collections.calico_fleet.fleet.plugins.module_utils import addresses
from ansible_collections.calico_fleet.fleet.plugins.module_utils.identity import checks

FIX_PLAYBOOK = "ansible-playbook calico_fleet.fleet.fix_nodename_conflict --limit"


def host(ip, hostname, nodename=None):
    return {"ip": ip, "hostname": hostname, "nodename": nodename}


def node(name, ip, rr=""):
    return {"name": name, "ipv4_address": ip, "ipv4_network": f"{ip}/24", "rr_cluster_id": rr}


def kinds(found):
    return sorted(f.kind for f in found)


# The field-notes cluster after the bad scale-out (incident 3).
INCIDENT_HOSTS = {
    "old-temp1": host("172.31.8.108", "aws-na-k8s-temp1", "aws-na-k8s-temp1"),
    "new-temp1": host("172.31.7.227", "AWS-na-k8s-temp1"),
    "temp2": host("172.31.3.33", "aws-na-k8s-temp2", "aws-na-k8s-temp2"),
}
INCIDENT_NODES = [node("aws-na-k8s-temp1", "172.31.8.108"), node("aws-na-k8s-temp2", "172.31.3.33")]


def test_field_notes_incident_two_hosts_one_name_upper_case_collides():
    found, explained = checks.identity_findings(INCIDENT_HOSTS, INCIDENT_NODES)
    assert kinds(found) == ["duplicate_nodename"]
    dup = found[0]
    assert dup.hosts == ["new-temp1", "old-temp1"]
    assert dup.node == "aws-na-k8s-temp1"
    # the registration points at old-temp1, so the new machine is the one to rename
    assert dup.fix.command() == f"{FIX_PLAYBOOK} new-temp1"
    assert any("172.31.8.108" in line for line in dup.evidence)
    assert set(explained) == {"new-temp1", "old-temp1"}


def test_nodename_with_trailing_newline_or_upper_case():
    hosts = {
        "n1": host("10.0.0.1", "n1", "n1\n"),
        "n2": host("10.0.0.2", "n2", "N2"),
        "n3": host("10.0.0.3", "n3", "n3"),
    }
    nodes = [node("n1", "10.0.0.1"), node("n2", "10.0.0.2"), node("n3", "10.0.0.3")]
    found, explained = checks.identity_findings(hosts, nodes)
    assert kinds(found) == ["nodename_invalid", "nodename_invalid"]
    by_host = {f.hosts[0]: f for f in found}
    assert "'n1\\n'" in by_host["n1"].evidence[0] and "newline" in by_host["n1"].evidence[0]
    assert "printf '%s' n1 > /var/lib/calico/nodename" in by_host["n1"].fix.to_text()
    assert "upper case" in by_host["n2"].evidence[0]
    assert set(explained) == {"n1", "n2"}


def test_nodename_differs_from_hostname_is_a_warning():
    hosts = {"n1": host("10.0.0.1", "ip-10-0-0-1", "old-name"), "n2": host("10.0.0.2", "n2.example.internal", "n2")}
    found, _ = checks.identity_findings(hosts, [node("old-name", "10.0.0.1"), node("n2", "10.0.0.2")])
    assert [(f.kind, f.severity, f.hosts) for f in found] == [("nodename_mismatch", "warning", ["n1"])]
    assert found[0].fix.command() == f"{FIX_PLAYBOOK} n1"


def test_two_names_for_one_ip_deletes_the_name_the_host_does_not_use():
    hosts = {"n1": host("10.0.0.1", "ip-10-0-0-1", "ip-10-0-0-1")}
    nodes = [node("ip-10-0-0-1", "10.0.0.1"), node("old-n1", "10.0.0.1")]
    found, _ = checks.identity_findings(hosts, nodes)
    assert kinds(found) == ["duplicate_ip"]
    assert found[0].fix.commands == ["calicoctl delete node old-n1"]
    assert found[0].peer == "10.0.0.1"


def test_stale_registration_of_a_removed_machine():
    hosts = {"n1": host("10.0.0.1", "n1", "n1")}
    found, explained = checks.identity_findings(hosts, [node("n1", "10.0.0.1"), node("gone", "10.0.0.9")])
    assert kinds(found) == ["stale_node"]
    assert (found[0].node, found[0].peer, found[0].fix.commands) == ("gone", "10.0.0.9", ["calicoctl delete node gone"])
    assert explained == {}


def test_host_without_registration():
    hosts = {"n1": host("10.0.0.1", "n1", "n1"), "n2": host("10.0.0.2", "n2")}
    found, explained = checks.identity_findings(hosts, [node("n1", "10.0.0.1/24")])
    assert [(f.kind, f.hosts, f.peer) for f in found] == [("unregistered_host", ["n2"], "10.0.0.2")]
    assert set(explained) == {"n2"}


def test_consistent_identities_give_no_findings():
    hosts = {f"n{i}": host(f"10.0.0.{i}", f"n{i}", f"n{i}" if i % 2 else None) for i in range(1, 6)}
    nodes = [node(f"n{i}", f"10.0.0.{i}") for i in range(1, 6)]
    assert checks.identity_findings(hosts, nodes) == ([], {})


def test_normalize_ip():
    assert addresses.normalize_ip("10.0.1.202/24") == "10.0.1.202"
    assert addresses.normalize_ip(" 10.0.1.202 ") == "10.0.1.202"
    assert addresses.normalize_ip("") is None and addresses.normalize_ip("node1") is None
