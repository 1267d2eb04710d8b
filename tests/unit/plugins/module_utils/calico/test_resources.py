"""IPPool / settings models: Calico's defaulting, JSON shape, validation messages."""

import json

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico.resources import (
    ImmutableFieldError,
    ResourceValidationError,
    bgp_configuration_state,
    check_immutable,
    implied_encapsulation,
    ippool_comparable,
    ippool_defaults,
    ippool_object,
    tunnel_mtu,
    validate_ippool,
)
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.etcd import calico_json


@pytest.mark.parametrize(("underlay", "tunnel"), [(1460, 1440), (1500, 1480), (9001, 8981)])
def test_tunnel_mtu_is_underlay_minus_ipip_header(underlay, tunnel):
    assert tunnel_mtu(underlay) == tunnel


def test_calico_defaults():
    assert ippool_defaults({"cidr": "172.20.0.0/16"}) == {
        "cidr": "172.20.0.0/16", "blockSize": 26, "nodeSelector": "all()", "ipipMode": "Never",
        "vxlanMode": "Never", "allowedUses": ["Workload", "Tunnel"], "natOutgoing": False, "disabled": False,
        "disableBGPExport": False}
    assert ippool_defaults({"cidr": "fd00:10::/64"})["blockSize"] == 122
    assert bgp_configuration_state(None) == {"exists": False, "mesh_enabled": True, "as_number": 64512}


def test_object_in_go_field_order_with_false_booleans_omitted():
    obj = ippool_object("p", {"cidr": "172.20.0.0/16", "ipipMode": "Always", "natOutgoing": False,
                              "disabled": True})
    assert list(obj) == ["kind", "apiVersion", "metadata", "spec"]
    assert list(obj["spec"]) == ["cidr", "vxlanMode", "ipipMode", "disabled", "blockSize", "nodeSelector",
                                 "allowedUses"]


def test_go_json_escaping_of_selectors():
    text = calico_json({"spec": {"nodeSelector": "a == 'x' && b != 'y' || c < 1"}})
    assert text == '{"spec":{"nodeSelector":"a == \'x\' \\u0026\\u0026 b != \'y\' || c \\u003c 1"}}'
    assert json.loads(text)["spec"]["nodeSelector"] == "a == 'x' && b != 'y' || c < 1"


def test_ipv6_spelling_is_not_a_change():
    stored = {"spec": {"cidr": "fd00:0010:0000::/64", "blockSize": 122}}
    assert ippool_comparable(stored) == ippool_comparable({"spec": {"cidr": "fd00:10::/64"}})
    check_immutable("p", stored["spec"], {"cidr": "fd00:10::/64"})


def test_immutable_message_explains_the_migration():
    with pytest.raises(ImmutableFieldError) as err:
        check_immutable("old", {"cidr": "172.20.0.0/16"}, {"cidr": "172.20.0.0/16", "blockSize": 24})
    assert "block_size (stored 26, asked 24)" in str(err.value)
    assert "create a new pool" in str(err.value) and "set disabled: true on 'old'" in str(err.value)
    assert err.value.field == "block_size"


def test_pool_as_large_as_its_block_is_fine_but_smaller_is_not():
    validate_ippool("p", ippool_defaults({"cidr": "172.20.0.0/26"}))
    with pytest.raises(ResourceValidationError, match="use block_size >= 27 or a larger cidr"):
        validate_ippool("p", ippool_defaults({"cidr": "172.20.0.0/27"}))


def test_other_ip_family_never_overlaps():
    other = {"metadata": {"name": "v6"}, "spec": {"cidr": "fd00:10::/64"}}
    validate_ippool("p", ippool_defaults({"cidr": "172.20.0.0/16"}), [other], service_cidr="fd00:20::/108")


@pytest.mark.parametrize(("wanted", "implied"), [
    ({"ipipMode": "Always"}, {"vxlanMode": "Never"}),
    ({"ipipMode": "CrossSubnet"}, {"vxlanMode": "Never"}),
    ({"vxlanMode": "Always"}, {"ipipMode": "Never"}),
    ({"ipipMode": "Always", "vxlanMode": "Never"}, {}),  # declared: nothing to imply
    ({"ipipMode": "Always", "vxlanMode": "Always"}, {}),  # declared both: validation refuses, not this
    ({"ipipMode": "Never"}, {}),  # off says nothing about the other mode
    ({"natOutgoing": True}, {}),
])
def test_a_declared_encapsulation_turns_the_other_off(wanted, implied):
    assert implied_encapsulation(wanted) == implied
