"""Fixtures: the Compute Engine test server on a free 127.0.0.1 port, in a thread."""

import pathlib

import pytest

from lab.compute import ComputeServer, LabBackend

ROOT = pathlib.Path(__file__).resolve().parents[3]
PROJECT = "calico-test"
ZONE = "europe-west1-b"
VPC_RANGE = "198.18.0.0/20"


@pytest.fixture
def compute_server():
    """A fresh server (no lab behind it); operations take 0.2 s."""
    with ComputeServer(project=PROJECT, zone=ZONE, vpc_range=VPC_RANGE, operation_latency=0.2) as server:
        yield server


@pytest.fixture
def gcp_args(compute_server):
    """Module arguments that point at the test server, with short retry delays."""
    return {"api_endpoint": compute_server.url, "project": PROJECT, "retry_delay": 0.05}


@pytest.fixture
def lab_compute_server(lab):
    """A server whose instances become lab nodes and whose firewall rules become the lab VPC's.

    Uses the running lab of this LAB_SLOT (fixture ``lab``); addresses come from the lab's VPC
    range, from host 100 up so they never meet the nodes ``api.up`` made.
    Example: insert ``calico-ipip`` with gcp_firewall_rule (``gcp_args`` with this server's URL),
    probe protocol 4 between two nodes, delete the rule, probe again.
    """
    if not (ROOT / "lab" / "api.py").exists():
        pytest.skip("lab/api.py is missing: the lab is not available yet")
    from lab import config

    cfg = config.current()
    with ComputeServer(project=PROJECT, zone=ZONE, vpc_range=str(cfg.vpc_range), first_host=100,
                       backend=LabBackend()) as server:
        yield server


@pytest.fixture
def lab_gcp_args(lab_compute_server):
    """Module arguments for the lab-wired server."""
    return {"api_endpoint": lab_compute_server.url, "project": PROJECT, "retry_delay": 0.05}
