"""Route reflectors on a 12-node lab: full mesh -> 3 reflectors -> full mesh, by the role.

While each playbook runs, a sampler reads every node's BIRD sessions about
every 0.5 s (the lab's own API, not the code under test) and records any
moment a node had no Established session. Afterwards verify-mesh.yml must
pass in each topology, with the expected peers read from the datastore.
"""

import base64
import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab import api
from tests.integration.conftest import ROOT, run_playbook
from tests.integration.verify.conftest import etcd_state, verify

NODES = 12
PLAYBOOK = ROOT / "playbooks" / "route-reflectors.yml"


@pytest.fixture(scope="module")
def lab12():
    import os

    if os.geteuid() != 0:
        pytest.skip("lab tests need root")
    api.down()
    api.up(NODES)
    api.wait_for_mesh(timeout=180)
    yield api
    api.down()


class Sampler(threading.Thread):
    """Every node's count of Established sessions, about every 0.5 s, until stopped."""

    def __init__(self, names):
        super().__init__(daemon=True)
        self.names = names
        self.stop_event = threading.Event()
        self.samples = 0
        self.zero = {}  # node -> [monotonic times it had no Established session]

    def established(self, name):
        return sum(info.startswith("Established") for info in api.bgp_sessions(name).values())

    def run(self):
        with ThreadPoolExecutor(max_workers=4) as pool:
            while not self.stop_event.is_set():
                started = time.monotonic()
                for name, count in zip(self.names, pool.map(self.established, self.names), strict=True):
                    if count == 0:
                        self.zero.setdefault(name, []).append(started)
                self.samples += 1
                self.stop_event.wait(max(0.0, 0.5 - (time.monotonic() - started)))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.join(timeout=30)


def node_names():
    return [n["name"] for n in api.status()["nodes"]]


def calico_resources(lab, plural):
    """{name: object} under /calico/resources/v3/projectcalico.org/<plural>/, read via etcd's JSON gateway."""
    prefix = f"/calico/resources/v3/projectcalico.org/{plural}/".encode()
    body = json.dumps({"key": base64.b64encode(prefix).decode(),
                       "range_end": base64.b64encode(prefix[:-1] + b"0").decode()}).encode()
    req = urllib.request.Request(f"{lab.etcd_endpoint()}/v3/kv/range", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        kvs = json.load(resp).get("kvs", [])
    return {base64.b64decode(kv["key"]).decode().rsplit("/", 1)[1]: json.loads(base64.b64decode(kv["value"]))
            for kv in kvs}


def calico_nodes(lab):
    return calico_resources(lab, "nodes")


def move(state):
    names = node_names()
    with Sampler(names) as sampler:
        run_playbook(PLAYBOOK, "-e", f"route_reflectors_state={state}", "-e", "route_reflectors_count=3",
                     timeout=900)
        time.sleep(1)
    assert sampler.samples > 5, "the sampler did not run during the move"
    return sampler


# A reflector's own cluster-ID change renames its BIRD protocols (Mesh_ -> Node_
# with `rr client`, and back), and BIRD restarts renamed sessions: that node
# alone may be without a session for a moment. Every other node keeps one.
REFLECTOR_RESTART_WINDOW = 5.0


def assert_every_node_kept_a_session(sampler, reflectors, when):
    clients = {name: times for name, times in sampler.zero.items() if name not in reflectors}
    assert clients == {}, f"nodes without any Established session {when}: {clients}"
    for name, times in sampler.zero.items():
        assert max(times) - min(times) <= REFLECTOR_RESTART_WINDOW, (
            f"reflector {name} was without a session for more than its own restart {when}: {times}")


def test_full_mesh_to_route_reflectors_and_back(lab12):
    names = node_names()

    # Check mode: the plan, nothing written.
    before = etcd_state(lab12)
    dry = run_playbook(PLAYBOOK, "--check", "-e", "route_reflectors_count=3")
    assert "Route reflectors " in dry.stdout and etcd_state(lab12) == before

    sampler = move("enabled")
    nodes = calico_nodes(lab12)
    reflectors = sorted(n for n, obj in nodes.items()
                        if obj["spec"]["bgp"].get("routeReflectorClusterID") == "244.0.0.1")
    assert len(reflectors) == 3
    assert_every_node_kept_a_session(sampler, reflectors, "while moving to reflectors")
    assert all(nodes[n]["metadata"]["labels"]["route-reflector"] == "true" for n in reflectors)
    sessions = {n: api.bgp_sessions(n) for n in names}
    assert all(not any(p.startswith("Mesh_") for p in s) for s in sessions.values())
    assert all(len(sessions[n]) == 3 for n in names if n not in reflectors)
    assert all(len(sessions[n]) == NODES - 1 for n in reflectors)
    result = verify(lab12, "--skip-tags", "probe", report_only=False)
    assert result["healthy"] and result["findings"] == []

    # A second run changes nothing.
    again = run_playbook(PLAYBOOK, "-e", "route_reflectors_count=3")
    assert "changed=0" in again.stdout.split("PLAY RECAP", 1)[1]

    sampler = move("disabled")
    assert_every_node_kept_a_session(sampler, reflectors, "on the way back")
    nodes = calico_nodes(lab12)
    assert not any(obj["spec"]["bgp"].get("routeReflectorClusterID") for obj in nodes.values())
    assert not any((obj["metadata"].get("labels") or {}).get("route-reflector") for obj in nodes.values())
    assert calico_resources(lab12, "bgppeers") == {}
    assert api.mesh_complete()
    result = verify(lab12, "--skip-tags", "probe", report_only=False)
    assert result["healthy"] and result["findings"] == []
