"""Fixtures: the Compute Engine test server on a free 127.0.0.1 port, in a thread."""

import os
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
def lab_compute_server():
    """A server whose instances are lab nodes and whose firewall is the lab VPC's.

    The caller brings the lab up (``api.up``) for its LAB_SLOT; this fixture only wires the server.
    """
    if not (ROOT / "lab" / "api.py").exists():
        pytest.skip("lab/api.py is missing: the lab is not available yet")
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    with ComputeServer(project=PROJECT, zone=ZONE, vpc_range=VPC_RANGE, backend=LabBackend()) as server:
        yield server
