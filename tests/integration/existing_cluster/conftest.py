"""Fixtures for an existing cluster: the private etcd (plain and TLS) of the datastore tests."""

from tests.integration.datastore.conftest import etcd, etcd_server, etcd_tls  # noqa: F401  (fixtures)
