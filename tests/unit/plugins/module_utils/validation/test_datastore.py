"""calico_fleet_datastore, set once and checked once."""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.validation.datastore import datastore_problems

ETCD = ["https://10.0.1.1:2379"]


def keys(setting):
    return [key for key, _problem, _fix in datastore_problems(setting)]


def test_usable_settings_pass():
    assert keys({"datastore": "etcdv3", "etcd_endpoints": ETCD}) == []
    assert keys({"etcd_endpoints": ETCD}) == []  # etcdv3 is the default
    assert keys({"datastore": "kubernetes", "host": "https://10.0.1.1:6443", "api_key": "t"}) == []


def test_etcdv3_needs_endpoints_and_kubernetes_a_kubeconfig_or_host():
    assert keys({}) == ["etcd_endpoints"]
    assert keys({"datastore": "kubernetes"}) == ["kubeconfig"]
    assert keys({"datastore": "consul"}) == ["datastore"]


def test_a_certificate_goes_with_its_key_and_files_must_exist(tmp_path):
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    assert keys({"etcd_endpoints": ETCD, "etcd_cert": str(cert)}) == ["etcd_key"]
    assert keys({"datastore": "kubernetes", "host": "h", "client_key": str(cert)}) == ["client_cert"]
    found = datastore_problems({"etcd_endpoints": ETCD, "etcd_ca_cert": "/nonexistent/ca.pem"})
    assert found == [("etcd_ca_cert", "/nonexistent/ca.pem is not a file on the controller", found[0][2])]


def test_old_kubernetes_names_are_taken_and_unknown_keys_refused():
    assert keys({"datastore": "kubernetes", "api_host": "https://10.0.1.1:6443"}) == []
    assert keys({"etcd_endpoints": ETCD, "endpoints": ETCD}) == [""]
    assert keys("etcdv3") == [""]
