# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The datastore options every Calico module takes, and ``connect``: options in, a ``Datastore`` out.

The Kubernetes options carry kubernetes.core's names (``kubeconfig``, ``context``, ``host``,
``api_key``, ``ca_cert``, ``client_cert``, ``client_key``, ``validate_certs``); the names
calico-fleet used before are aliases. plugins/doc_fragments/calico_datastore.py documents the
same options (tests/unit/plugins/modules/test_module_docs.py compares the two). A play sets them
once for every Calico module through the action group:

    module_defaults:
      group/calico_fleet.fleet.calico_datastore: "{{ calico_fleet_datastore | default({}) }}"
"""

from __future__ import annotations

from typing import Any

from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.base import Datastore
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.errors import DatastoreConnectionError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.etcd import EtcdDatastore
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.etcd_v3 import EtcdClient, EtcdError
from ansible_collections.calico_fleet.fleet.plugins.module_utils.datastore.kubernetes import (
    KubeApi,
    KubernetesDatastore,
)


def datastore_argument_spec() -> dict[str, dict[str, Any]]:
    """Options shared by every module that reads or writes Calico resources."""
    return dict(
        datastore=dict(type="str", default="etcdv3", choices=["etcdv3", "kubernetes"]),
        etcd_endpoints=dict(type="list", elements="str"),
        etcd_ca_cert=dict(type="path"),
        etcd_cert=dict(type="path"),
        etcd_key=dict(type="path", no_log=False),
        kubeconfig=dict(type="path"),
        context=dict(type="str", aliases=["kube_context"]),
        host=dict(type="str", aliases=["api_host"]),
        api_key=dict(type="str", no_log=True, aliases=["api_token"]),
        ca_cert=dict(type="path", aliases=["api_ca_cert"]),
        client_cert=dict(type="path", aliases=["api_client_cert"]),
        client_key=dict(type="path", no_log=False, aliases=["api_client_key"]),
        validate_certs=dict(type="bool", default=True),
        allow_crd_v1=dict(type="bool", default=False),
        timeout=dict(type="float", default=10),
    )


DATASTORE_REQUIRED_IF = [("datastore", "etcdv3", ["etcd_endpoints"])]


def connect(params: dict[str, Any]) -> Datastore:
    """A Datastore for module params shaped like ``datastore_argument_spec()``."""
    if params.get("datastore", "etcdv3") == "etcdv3":
        try:
            client = EtcdClient(
                params.get("etcd_endpoints") or [],
                ca_cert=params.get("etcd_ca_cert"),
                cert=params.get("etcd_cert"),
                key=params.get("etcd_key"),
                timeout=params.get("timeout") or 10,
            )
        except EtcdError as exc:
            raise DatastoreConnectionError(str(exc), endpoint=exc.endpoint) from exc
        return EtcdDatastore(client)
    return KubernetesDatastore(KubeApi.from_params(params), allow_crd_v1=bool(params.get("allow_crd_v1")))


def nodes_info(datastore: Datastore) -> dict[str, Any]:
    """What calico_nodes_info returns: every Calico Node, the BGP configuration and the BGPPeers."""
    return {"nodes": datastore.read_nodes(), "bgp_configuration": datastore.read_bgp_configuration(),
            "bgp_peers": datastore.read_bgp_peers()}


def read_nodes_info(params: dict[str, Any]) -> dict[str, Any]:
    """``nodes_info`` of the datastore ``params`` name."""
    return nodes_info(connect(params))
