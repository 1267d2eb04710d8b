"""Fixtures for an existing cluster: the datastore tests' private etcd (plain and TLS), the example inventories."""

from tests.integration.datastore.conftest import etcd, etcd_server, etcd_tls  # noqa: F401  (fixtures)
from tests.integration.existing_cluster.test_scale_out_examples import (  # noqa: F401  (fixtures)
    aws_example,
    gcp_example,
    gcp_example_read_only,
)
