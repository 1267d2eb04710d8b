"""Reflector choice: the group wins, else a deterministic round-robin across zones."""

import pytest
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.route_reflectors import (
    ReflectorChoiceError,
    pick_route_reflectors,
)

HOSTS = [f"node{i:02d}" for i in range(1, 10)]
ZONES = {h: "europe-west1-" + "bcd"[i % 3] for i, h in enumerate(HOSTS)}


def test_count_spreads_over_zones_deterministically():
    picked = pick_route_reflectors(list(reversed(HOSTS)), ZONES, 3)
    assert picked == ["node01", "node02", "node03"]
    assert len({ZONES[h] for h in picked}) == 3
    assert pick_route_reflectors(HOSTS, ZONES, 3) == picked


def test_one_zone_takes_the_first_hosts_and_current_reflectors_stay():
    assert pick_route_reflectors(HOSTS, {}, 2) == ["node01", "node02"]
    assert pick_route_reflectors(HOSTS, {}, 2, current=["node07"]) == ["node01", "node07"]
    # A kept reflector's zone is visited last.
    assert pick_route_reflectors(HOSTS, ZONES, 2, current=["node04"]) == ["node02", "node04"]


def test_group_wins_and_must_be_cluster_hosts():
    assert pick_route_reflectors(HOSTS, ZONES, 3, group=["node09", "node05"]) == ["node05", "node09"]
    with pytest.raises(ReflectorChoiceError, match="node99"):
        pick_route_reflectors(HOSTS, ZONES, 3, group=["node99"])
    with pytest.raises(ReflectorChoiceError, match="more than"):
        pick_route_reflectors(HOSTS, ZONES, 10)
