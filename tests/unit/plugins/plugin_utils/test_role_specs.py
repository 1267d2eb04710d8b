"""The roles' argument specs, read from the collection on the controller."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.role_specs import (
    RoleSpecError,
    load_role_spec,
    load_role_specs,
)


def test_reads_the_options_of_the_main_entry_point():
    spec = load_role_spec("node_join")
    assert spec["node_join_method"]["required"] is True
    assert spec["node_join_method"]["choices"] == ["kubeadm", "kubeasz", "kubespray", "none"]
    assert list(load_role_specs(["gcp_network", "node_names"])) == ["gcp_network", "node_names"]


def test_an_unknown_role_or_entry_point_is_named(tmp_path):
    with pytest.raises(RoleSpecError, match="role 'no_such_role' has no argument spec"):
        load_role_spec("no_such_role")
    with pytest.raises(RoleSpecError, match="declares no entry point 'other'"):
        load_role_spec("node_join", entry_point="other")
