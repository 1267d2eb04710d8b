"""The IPIP probe's inputs (plugins/module_utils/ipip/inputs.py)."""


import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.ipip import errors, inputs


def test_peers_are_normalised_and_bad_ones_named():
    assert inputs.check_peers([" 198.18.0.12", "198.18.0.9", "198.18.0.12"]) == ["198.18.0.9", "198.18.0.12"]
    with pytest.raises(errors.ProbeError, match="peer 'node-2' is not an IPv4 address"):
        inputs.check_peers(["node-2"])
