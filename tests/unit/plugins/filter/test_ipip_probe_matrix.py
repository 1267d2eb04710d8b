"""The ipip_probe_matrix filter (plugins/filter/ipip_probe.py), called directly
(tests/integration/probe runs it inside Ansible)."""

from ansible_collections.calico_fleet.fleet.plugins.filter.ipip_probe import FilterModule

RESULTS = {
    "node-1": {"changed": False, "address": "198.18.0.11",
               "received_from": {"198.18.0.12": True, "198.18.0.13": False}},
    "node-2": {"changed": False, "address": "198.18.0.12",
               "received_from": {"198.18.0.11": True, "198.18.0.13": True}},
    "node-3": {"changed": False, "address": "198.18.0.13",
               "received_from": {"198.18.0.11": True, "198.18.0.12": True}},
}
MATRIX = {
    "198.18.0.11": {"198.18.0.12": True, "198.18.0.13": True},
    "198.18.0.12": {"198.18.0.11": True, "198.18.0.13": True},
    "198.18.0.13": {"198.18.0.11": False, "198.18.0.12": True},
}
ipip_probe_matrix = FilterModule().filters()["ipip_probe_matrix"]


def test_matrix_from_results_by_host():
    out = ipip_probe_matrix(RESULTS)
    assert out["matrix"] == MATRIX
    assert out["failed"] == [["198.18.0.13", "198.18.0.11"]]


def test_matrix_from_hostvars_with_a_registered_name():
    hostvars = {host: {"ansible_host": res["address"], "__probe": res} for host, res in RESULTS.items()}
    hostvars["node-4"] = {"ansible_host": "198.18.0.14"}  # the probe task did not run there
    out = ipip_probe_matrix(hostvars, ["node-1", "node-2", "node-3", "node-4"], "__probe")
    assert out["matrix"] == MATRIX
    assert out["unmeasured"] == ["node-4"]


def test_hosts_limit_what_is_read():
    out = ipip_probe_matrix(RESULTS, ["node-1"])
    assert out["matrix"]["198.18.0.12"] == {"198.18.0.11": True, "198.18.0.13": None}
