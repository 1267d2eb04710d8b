"""An inventory IP pool checked as Calico checks it (the rule calico_ippool applies)."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.ippool import ippool_problems, is_ippool

POOL = {"name": "p", "cidr": "172.20.0.0/16"}


@pytest.mark.parametrize(("pool", "field", "words"), [
    ({"name": "p"}, "cidr", "is not set"),
    ({"cidr": "172.20.0.0/16"}, "name", "is not set"),
    ({**POOL, "state": "gone"}, "state", "present or absent"),
    ({**POOL, "cidr": "172.20.0.1/16"}, "cidr", "host bits"),
    ({**POOL, "block_size": 33}, "block_size", "use 20..32"),
    ({**POOL, "cidr": "172.20.0.0/24", "block_size": 20}, "block_size", "larger than the pool"),
    ({**POOL, "block_size": "big"}, "block_size", "not a number"),
    ({**POOL, "ipip_mode": "always"}, "ipip_mode", "case matters"),
    ({**POOL, "ipip_mode": "Always", "vxlan_mode": "CrossSubnet"}, "vxlan_mode", "cannot both be on"),
    ({**POOL, "cidr": "fd00:1::/64", "ipip_mode": "Always", "block_size": 122}, "ipip_mode", "IPv4 only"),
    ({**POOL, "nat_outgoing": "yes"}, "nat_outgoing", "true or false"),
    ({**POOL, "allowed_uses": ["Workload", "Everything"]}, "allowed_uses", "distinct values"),
    ({**POOL, "cidr": "169.254.0.0/16"}, "cidr", "link-local"),
    ({**POOL, "ipip": "Always"}, "", "unknown key(s) ipip"),
    ("p", "", "not a mapping"),
])
def test_what_calico_refuses_is_named_by_field(pool, field, words):
    found = dict(ippool_problems(pool))
    assert field in found and words in found[field], found
    assert not is_ippool(pool)


def test_good_pools_and_absent_ones_pass():
    assert is_ippool({**POOL, "ipip_mode": "CrossSubnet", "nat_outgoing": True, "block_size": 26})
    assert is_ippool({"name": "old", "state": "absent"})


def test_overlaps_with_other_pools_and_the_service_cidr():
    found = dict(ippool_problems({"name": "q", "cidr": "172.20.128.0/17"}, [POOL]))
    assert "overlaps IPPool 'p'" in found["cidr"]
    found = dict(ippool_problems(POOL, service_cidr="172.20.0.0/24"))
    assert "overlaps the Service CIDR" in found["cidr"]
