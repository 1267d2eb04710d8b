"""Compute Engine v1 REST test server (test equipment, not an emulator of all of GCE).

In-process::

    from lab.compute import ComputeServer
    with ComputeServer(project="p", zone="z", operation_latency=2) as server:
        server.url, server.requests(), server.faults.add_burst(429, count=3)

As a process: ``python -m lab.compute --port 0`` prints its URL.
"""

from lab.compute.backends import LabBackend, NullBackend
from lab.compute.server import ComputeServer

__all__ = ["ComputeServer", "LabBackend", "NullBackend"]
