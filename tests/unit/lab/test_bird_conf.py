"""The calico-node stand-in renders BIRD's mesh with confd's rules."""

from lab import bird_conf


def node(ip, rr=None):
    bgp = {"ipv4Address": f"{ip}/32"}
    if rr:
        bgp["routeReflectorClusterID"] = rr
    return {"spec": {"bgp": bgp}}


NODES = {
    "a": node("198.18.0.11"),
    "b": node("198.18.0.12"),
    "c": node("198.18.0.9"),
    "rr": node("198.18.0.20", "1.0.0.1"),
}


def test_one_mesh_peer_per_other_node_self_skipped_by_ip_rr_skipped():
    assert bird_conf.mesh_peers("198.18.0.11", NODES, None) == ["198.18.0.12", "198.18.0.9"]


def test_self_is_skipped_by_ip_even_under_another_name():
    nodes = dict(NODES, dup=node("198.18.0.11"))
    assert "198.18.0.11" not in bird_conf.mesh_peers("198.18.0.11", nodes, None)


def test_passive_when_peer_ip_string_is_greater():
    cfg = bird_conf.render("198.18.0.11", NODES, None)
    block_12 = cfg.split("protocol bgp Mesh_198_18_0_12")[1].split("}")[0]
    block_9 = cfg.split("protocol bgp Mesh_198_18_0_9")[1].split("}")[0]
    assert "passive on" in block_12  # "198.18.0.12" > "198.18.0.11"
    assert "passive on" in block_9  # "198.18.0.9" > "198.18.0.11" as strings, not as numbers


def test_mesh_disabled_and_as_number_from_bgp_configuration():
    off = {"spec": {"nodeToNodeMeshEnabled": False}}
    assert bird_conf.mesh_peers("198.18.0.11", NODES, off) == []
    cfg = bird_conf.render("198.18.0.11", NODES, {"spec": {"asNumber": 65001}})
    assert "local as 65001;" in cfg and "neighbor 198.18.0.12 as 65001;" in cfg
    assert "local as 64512;" in bird_conf.render("198.18.0.11", NODES, None)
