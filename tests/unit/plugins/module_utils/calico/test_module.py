"""calico.module.CalicoModule, the base of the Calico modules: the datastore options merged in (old names as
aliases), typed errors turned into fail_json with their context, the diff only when asked for.

The modules run in-process (tests.conftest.run_module) against FakeDatastore (a FAKE in-memory Datastore,
see test_apply.py) put in place of ``connect``; nothing is started.
"""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.calico import module as calico_module

from tests.conftest import run_module
from tests.unit.plugins.module_utils.calico.test_apply import FakeDatastore

POOL = {"name": "pool", "cidr": "172.20.0.0/16", "ipip_mode": "Always", "etcd_endpoints": ["http://198.18.0.1:2379"]}


@pytest.fixture
def fake(monkeypatch):
    datastore = FakeDatastore()
    seen = []

    def connect(params):
        seen.append(params)
        return datastore

    monkeypatch.setattr(calico_module, "connect", connect)
    datastore.seen = seen
    return datastore


def test_diff_only_when_asked_and_check_mode_writes_nothing(fake):
    plain = run_module("calico_ippool", POOL, check=True)
    assert plain["changed"] and "diff" not in plain and fake.writes == []
    with_diff = run_module("calico_ippool", POOL, check=True, diff=True)
    assert with_diff["diff"]["after"]["spec"]["ipipMode"] == "Always" and fake.writes == []
    assert run_module("calico_ippool", POOL)["changed"] and fake.writes == [("put", "IPPool", "pool")]


def test_old_kubernetes_option_names_reach_connect_under_the_new_ones(fake):
    result = run_module("calico_nodes_info", {"datastore": "kubernetes", "api_host": "https://198.18.0.1:6443",
                                              "api_token": "t", "kube_context": "prod"})
    assert not result.get("failed"), result
    params = fake.seen[-1]
    assert (params["host"], params["api_key"], params["context"]) == ("https://198.18.0.1:6443", "t", "prod")


def test_a_validation_error_names_the_option_to_change(fake):
    result = run_module("calico_ippool", {**POOL, "cidr": "172.20.0.1/16"})
    assert result["failed"] and result["field"] == "cidr" and result["name"] == "pool" and fake.writes == []


def test_a_datastore_error_fails_with_the_endpoint():
    # No fake: nothing listens on port 9, so the etcd client's error reaches fail_json with its context.
    result = run_module("calico_ippool", {**POOL, "etcd_endpoints": ["http://127.0.0.1:9"], "timeout": 1})
    assert result["failed"] and result["endpoint"] == "http://127.0.0.1:9" and result["name"] == "pool"
    assert "cannot reach etcd" in result["msg"]


def test_etcdv3_without_endpoints_is_refused_before_connecting(fake):
    result = run_module("calico_ippool", {"name": "pool", "cidr": "172.20.0.0/16"})
    assert result["failed"] and "etcd_endpoints" in result["msg"] and fake.seen == []
