"""The etcd v3 JSON-gateway client against a real etcd, plain and with TLS client certificates."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.etcd_v3 import (
    EtcdClient,
    EtcdConfigError,
    EtcdConflictError,
    EtcdConnectionError,
    prefix_range_end,
)

from tests.integration.datastore.conftest import free_port


def test_put_get_prefix_delete_and_revision(etcd):
    client = EtcdClient([etcd.endpoint], timeout=5)
    start = client.revision()
    assert start == etcd.revision()
    rev = client.put("/calico/a/1", '{"x":1}')
    client.put("/calico/a/2", "two")
    client.put("/calico/b", "other")
    assert rev == start + 1 and client.revision() == start + 3
    assert etcd.values("/calico/a/") == {"/calico/a/1": '{"x":1}', "/calico/a/2": "two"}
    kv = client.get("/calico/a/1")
    assert kv.value == b'{"x":1}' and kv.mod_revision == rev and kv.version == 1
    assert [kv.key for kv in client.get_prefix("/calico/a/")] == ["/calico/a/1", "/calico/a/2"]
    assert client.get("/calico/missing") is None
    assert client.delete("/calico/a/1") == 1 and client.delete("/calico/a/1") == 0
    assert "/calico/a/1" not in etcd.values("/calico/")


def test_compare_and_swap_on_mod_revision(etcd):
    client = EtcdClient(etcd.endpoint, timeout=5)
    created = client.put_if("/k", "v1", 0)
    with pytest.raises(EtcdConflictError, match="/k changed since it was read"):
        client.put_if("/k", "again", 0)  # create-only: it exists now
    client.put("/k", "changed-by-someone-else")
    start = etcd.revision()
    with pytest.raises(EtcdConflictError):
        client.put_if("/k", "v2", created)
    with pytest.raises(EtcdConflictError):
        client.delete_if("/k", created)
    assert etcd.revision() == start and etcd.values("/k") == {"/k": "changed-by-someone-else"}
    current = client.get("/k").mod_revision
    client.put_if("/k", "v2", current)
    assert etcd.values("/k") == {"/k": "v2"}
    client.delete_if("/k", client.get("/k").mod_revision)
    assert etcd.values("/k") == {}


def test_falls_back_to_the_next_endpoint(etcd):
    dead = f"http://127.0.0.1:{free_port()}"
    client = EtcdClient([dead, etcd.endpoint], timeout=2)
    client.put("/fallback", "ok")
    assert etcd.values("/fallback") == {"/fallback": "ok"}


def test_unreachable_endpoints_are_named():
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(EtcdConnectionError) as err:
        EtcdClient([dead], timeout=2).get("/x")
    assert dead in str(err.value) and err.value.endpoint == dead


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"endpoints": []}, "no etcd endpoint given"),
    ({"endpoints": ["127.0.0.1:2379"]}, "has no scheme"),
    ({"endpoints": ["https://127.0.0.1:2379"], "cert": "/nonexistent.pem"}, "needs both etcd_cert and etcd_key"),
    ({"endpoints": ["https://127.0.0.1:2379"], "ca_cert": "/nonexistent-ca.pem"}, "cannot load etcd TLS files"),
])
def test_bad_settings_say_what_to_change(kwargs, message):
    with pytest.raises(EtcdConfigError, match=message):
        EtcdClient(**kwargs)


def test_prefix_range_end():
    assert prefix_range_end("/calico/") == b"/calico0"
    assert prefix_range_end(b"a\xff") == b"b"


def test_tls_with_client_certificate(etcd_tls):
    certs = etcd_tls.certs
    client = EtcdClient([etcd_tls.endpoint], ca_cert=certs["ca"], cert=certs["client_cert"],
                        key=certs["client_key"], timeout=5)
    client.put("/calico/tls", "secure")
    assert etcd_tls.values("/calico/tls") == {"/calico/tls": "secure"}
    assert client.get("/calico/tls").value == b"secure"


def test_tls_without_client_certificate_is_refused(etcd_tls):
    client = EtcdClient([etcd_tls.endpoint], ca_cert=etcd_tls.certs["ca"], timeout=5)
    with pytest.raises(EtcdConnectionError) as err:
        client.get("/calico/tls")
    assert etcd_tls.endpoint in str(err.value)


def test_tls_with_the_wrong_ca_is_refused(etcd_tls):
    certs = etcd_tls.certs
    client = EtcdClient([etcd_tls.endpoint], ca_cert=certs["client_cert"], cert=certs["client_cert"],
                        key=certs["client_key"], timeout=5)
    with pytest.raises(EtcdConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        client.get("/calico/tls")
