"""The host records calico_mesh_check takes, built from each host's registered BGP status."""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.check import host_records

STATUS = {"peers": [], "hostname": "node-1", "nodename": "node-1", "joined": True}


def test_a_host_with_bgp_status_carries_its_identity():
    records = host_records(["node-1"], {"node-1": "198.18.0.11"}, {}, {"node-1": STATUS})
    assert records == {"node-1": {"ip": "198.18.0.11", "hostname": "node-1", "nodename": "node-1", "joined": True,
                                  "status": STATUS}}


def test_unreachable_failed_and_silent_hosts_are_reported_not_judged():
    statuses = {"a": {"unreachable": True, "msg": "ssh: connect refused"}, "b": {"failed": True, "msg": "no socket"},
                "c": None}
    records = host_records(["a", "b", "c"], {}, {}, statuses)
    assert records["a"]["status"] == {"unreachable": True, "msg": "ssh: connect refused"}
    assert records["b"]["status"] == {"failed": True, "msg": "no socket"}
    assert records["c"]["status"] == {"unreachable": True, "msg": "no answer"}
    assert records["c"]["ip"] == "c"


def test_identity_from_elsewhere_wins_over_the_status():
    identity = {"ip": "198.18.0.12", "hostname": "renamed", "nodename": "renamed"}
    records = host_records(["node-2"], {"node-2": "198.18.0.12"}, {"node-2": identity}, {"node-2": STATUS})
    assert records["node-2"]["hostname"] == "renamed" and records["node-2"]["joined"] is None
