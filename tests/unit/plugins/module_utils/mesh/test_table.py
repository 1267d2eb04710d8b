"""The mesh as text (mesh/table.py): a grid up to 30 hosts, a per-host summary beyond."""

from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh import table

from tests.unit.plugins.module_utils.mesh.mesh_cluster import Cluster


def test_table_is_a_host_by_host_grid():
    cluster = Cluster(3)
    cluster.session("node1", cluster.ip("node2"), "start", "Connect")
    cluster.session("node2", cluster.ip("node1"), "start", "Passive")
    report = cluster.evaluate()
    text = table.render_table(cluster.hosts, report["matrix"], report["findings"], report["down"])
    lines = text.splitlines()
    assert lines[0] == "Calico BGP mesh: 3 hosts, 4/6 expected sessions Established, 1 finding(s)"
    assert lines[1].split() == ["node1", "node2", "node3"]
    assert lines[2].split() == ["node1", "(10.0.1.201)", "-", "Connect", "Established"]
    assert lines[3].split() == ["node2", "(10.0.1.202)", "Passive", "-", "Established"]


def test_table_marks_hosts_that_answered_nothing():
    cluster = Cluster(3)
    cluster.fail_host("node3")
    report = cluster.evaluate()
    text = table.render_table(cluster.hosts, report["matrix"], report["findings"], report["down"])
    assert text.splitlines()[4].split() == ["node3", "(10.0.1.203)", "no", "answer", "no", "answer", "-"]


def test_large_clusters_get_a_per_host_summary():
    cluster = Cluster(40)
    cluster.session("node7", cluster.ip("node9"), "start", "Active")
    report = cluster.evaluate()
    text = table.render_table(cluster.hosts, report["matrix"], report["findings"], report["down"])
    lines = text.splitlines()
    assert len(lines) == 42
    row7 = next(line for line in lines if line.startswith("node7 "))
    assert row7.split() == ["node7", "10.0.1.207", "39", "38", "node9=Active"]
