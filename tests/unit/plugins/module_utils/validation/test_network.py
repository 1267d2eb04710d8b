"""IPv4 addresses and networks, as the roles and the input check take them."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation import network


@pytest.mark.parametrize(("text", "why"), [
    ("10.0.0.0/16", None),
    ("0.0.0.0/0", None),
    ("10.0.0.1/16", "host bits set (the network is 10.0.0.0/16)"),
    ("10.0.0.0/33", "not a network"),
    ("10.0.0.0", "not a network"),
    ("fd00::/8", "not an IPv4 network"),
    (None, "not a network"),
])
def test_ipv4_cidr(text, why):
    problem = network.ipv4_cidr_problem(text)
    assert (problem is None) if why is None else (why in problem)
    assert network.is_ipv4_cidr(text) is (why is None)


@pytest.mark.parametrize(("text", "valid"), [
    ("10.0.1.7", True), ("198.18.0.12", True), ("10.0.1.256", False), ("10.0.1", False), ("10.0.1.7/32", False),
    ("", False), (None, False), ("fd00::1", False),
])
def test_ipv4_address(text, valid):
    assert network.is_ipv4_address(text) is valid
