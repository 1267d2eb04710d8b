"""The name rules, settled once: RFC 1123 for node names and hostnames, RFC 1035 for GCE names."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import names


@pytest.mark.parametrize(("name", "label", "gce"), [
    ("k8s-node-1", True, True),
    ("1-node", True, False),          # Kubernetes and Calico take a leading digit; GCE does not
    ("a" * 63, True, True),
    ("a" * 64, False, False),
    ("Node-1", False, False),
    ("node-", False, False),
    ("-node", False, False),
    ("node_1", False, False),
    ("node.example", False, False),
    ("", False, False),
    (None, False, False),
    (7, False, False),
])
def test_dns_label_and_gce_name(name, label, gce):
    assert names.is_dns_label(name) is label
    assert names.is_gce_name(name) is gce


@pytest.mark.parametrize(("name", "reason"), [
    ("Node-1", "upper-case"),
    ("node_1", "only a-z, 0-9 and '-'"),
    ("node-", "end with a letter or digit"),
    ("a" * 64, "more than 63"),
])
def test_a_refused_label_says_why(name, reason):
    assert reason in names.dns_label_problem(name)


def test_gce_says_a_letter_first():
    assert names.gce_name_problem("1-node") == "it must start with a letter"
    assert names.node_name_problem("1-node", cloud="gcp") == "it must start with a letter"
    assert names.node_name_problem("1-node", cloud="aws") is None


@pytest.mark.parametrize(("name", "fqdn", "rfc1035", "valid"), [
    ("node-1", False, False, True),
    ("node-1", True, False, False),
    ("node-1.c.p.internal", True, True, True),
    ("1node.example.internal", True, False, True),
    ("1node.example.internal", True, True, False),
    ("node-1.Example.internal", True, False, False),
    ("node..internal", False, False, False),
    (".".join(["d" * 63] * 4), False, False, False),
])
def test_hostname(name, fqdn, rfc1035, valid):
    assert names.is_hostname(name, fqdn=fqdn, rfc1035=rfc1035) is valid


@pytest.mark.parametrize(("batch", "valid"), [
    ("2026-11-26", True), ("lab_1", True), ("b", True), ("Batch One", False), ("-b", False), ("b" * 64, False),
    (1, False),
])
def test_batch_id(batch, valid):
    assert (names.batch_problem(batch) is None) is valid
