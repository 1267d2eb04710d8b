"""calico_bgp_configuration and calico_felix_configuration against a real etcd."""

import json

import pytest

from tests.conftest import run_module
from tests.integration.datastore.conftest import CALICO, converge

BGP_KEY = f"{CALICO}bgpconfigurations/default"
FELIX_KEY = f"{CALICO}felixconfigurations/default"



def test_calico_defaults_cause_no_change(etcd, ds_args):
    converge(etcd, "calico_bgp_configuration", {**ds_args, "mesh_enabled": True, "as_number": 64512}, False)
    assert etcd.values() == {}


def test_mesh_and_as_number(etcd, ds_args):
    real = converge(etcd, "calico_bgp_configuration", {**ds_args, "mesh_enabled": False, "as_number": 65001}, True)
    assert [f["field"] for f in real["findings"]] == ["nodeToNodeMeshEnabled", "asNumber"]
    assert real["diff"] == {"before": {"as_number": 64512, "mesh_enabled": True},
                            "after": {"as_number": 65001, "mesh_enabled": False}}
    obj = json.loads(etcd.values()[BGP_KEY])
    assert list(obj) == ["kind", "apiVersion", "metadata", "spec"]
    assert obj["spec"] == {"nodeToNodeMeshEnabled": False, "asNumber": 65001}
    assert "resourceVersion" not in obj["metadata"]
    converge(etcd, "calico_bgp_configuration", {**ds_args, "mesh_enabled": True}, True)
    assert json.loads(etcd.values()[BGP_KEY])["spec"] == {"nodeToNodeMeshEnabled": True, "asNumber": 65001}


def test_keeps_fields_it_does_not_manage(etcd, ds_args):
    etcd.put_json(BGP_KEY, {"kind": "BGPConfiguration", "apiVersion": "projectcalico.org/v3",
                            "metadata": {"name": "default", "uid": "u-1", "creationTimestamp": "2024-05-01T10:00:00Z"},
                            "spec": {"logSeverityScreen": "Info", "serviceClusterIPs": [{"cidr": "10.68.0.0/16"}]}})
    converge(etcd, "calico_bgp_configuration", {**ds_args, "mesh_enabled": False}, True)
    obj = json.loads(etcd.values()[BGP_KEY])
    assert obj["metadata"] == {"name": "default", "uid": "u-1", "creationTimestamp": "2024-05-01T10:00:00Z"}
    assert obj["spec"] == {"logSeverityScreen": "Info", "nodeToNodeMeshEnabled": False,
                           "serviceClusterIPs": [{"cidr": "10.68.0.0/16"}]}


def test_tunnel_mtu_derived_from_gcp_underlay(etcd, ds_args):
    real = converge(etcd, "calico_felix_configuration", {**ds_args, "underlay_mtu": 1460}, True)
    assert real["after"] == {"ipip_mtu": 1440}
    assert "1460 - 20 (IPIP header) = 1440" in real["findings"][0]["cause"]
    assert json.loads(etcd.values()[FELIX_KEY])["spec"] == {"ipipMTU": 1440}
    converge(etcd, "calico_felix_configuration", {**ds_args, "ipip_mtu": 1440}, False)


def test_tunnel_mtu_mismatch_is_a_finding_with_the_reason(etcd, ds_args):
    etcd.put_json(FELIX_KEY, {"kind": "FelixConfiguration", "apiVersion": "projectcalico.org/v3",
                              "metadata": {"name": "default"},
                              "spec": {"ipipMTU": 1480, "logSeverityScreen": "Info", "reportingInterval": "0s"}})
    start = etcd.revision()
    drift = run_module("calico_felix_configuration", {**ds_args, "underlay_mtu": 1460}, check=True)
    assert drift["changed"] is True and etcd.revision() == start
    (finding,) = drift["findings"]
    assert (finding["expected"], finding["actual"]) == (1440, 1480)
    assert "larger than underlay MTU 1460 - 20 (IPIP header) = 1440" in finding["cause"]
    assert "fragmented or silently dropped" in finding["cause"]
    converge(etcd, "calico_felix_configuration", {**ds_args, "underlay_mtu": 1460}, True)
    assert json.loads(etcd.values()[FELIX_KEY])["spec"] == {"ipipMTU": 1440, "logSeverityScreen": "Info",
                                                           "reportingInterval": "0s"}


@pytest.mark.parametrize(("module", "args", "message"), [
    ("calico_bgp_configuration", {"as_number": 0}, "as_number 0 is not a valid AS number"),
    ("calico_felix_configuration", {"underlay_mtu": 100}, "underlay_mtu 100 is not a link MTU"),
    ("calico_felix_configuration", {"ipip_mtu": 1480, "underlay_mtu": 1460}, "contradicts underlay_mtu 1460"),
    ("calico_felix_configuration", {"ipip_mtu": 20000}, "ipip_mtu 20000 is out of range"),
])
def test_invalid_settings_are_refused_with_nothing_written(etcd, ds_args, module, args, message):
    start = etcd.revision()
    result = run_module(module, {**ds_args, **args})
    assert result["failed"] is True and message in result["msg"]
    assert etcd.revision() == start
