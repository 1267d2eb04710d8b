"""IPAM release semantics of calico_node_delete (Calico v3.30's allocationBlock.release), pure Python."""

import ipaddress

from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.node_delete import (
    block_empty,
    release_in_block,
)


def ips(*addresses):
    return [ipaddress.ip_address(a) for a in addresses]


def test_release_renumbers_the_attributes_left():
    block = {"cidr": "10.0.0.0/30", "affinity": "host:a", "allocations": [0, 1, 2, 1], "unallocated": [],
             "attributes": [{"handle_id": "h0"}, {"handle_id": "h1"}, {"handle_id": "h2"}],
             "sequenceNumberForAllocation": {"0": 1, "1": 1, "2": 1, "3": 1}}
    released, handles = release_in_block(block, ips("10.0.0.0", "10.0.0.1"))
    assert released == ["10.0.0.0", "10.0.0.1"] and handles == {"h0": 1, "h1": 1}
    # h0 has no allocation left and goes; h1 is still referenced by ordinal 3; indexes shift down.
    assert block["attributes"] == [{"handle_id": "h1"}, {"handle_id": "h2"}]
    assert block["allocations"] == [None, None, 1, 0]
    assert block["unallocated"] == [0, 1]
    assert block["sequenceNumberForAllocation"] == {"2": 1, "3": 1}


def test_release_of_free_or_foreign_addresses_changes_nothing():
    block = {"cidr": "10.0.0.0/30", "allocations": [None, 0, None, None], "unallocated": [0, 2, 3],
             "attributes": [{"handle_id": "h\r\neth0"}]}
    assert release_in_block(dict(block), ips("10.0.0.0", "10.0.0.9")) == ([], {})
    released, handles = release_in_block(block, ips("10.0.0.1", "10.0.0.1"))
    assert released == ["10.0.0.1"] and handles == {"h": 1}  # deduplicated, handle sanitised as Calico does
    assert block_empty(block) and block["attributes"] == []


def test_windows_reserved_allocations_leave_a_block_empty():
    block = {"allocations": [0, None], "attributes": [{"handle_id": "Windows-Reserved-IPAM-Handle"}]}
    assert block_empty(block)
    assert not block_empty({"allocations": [0], "attributes": [{"handle_id": None}]})
