"""Real BIRD daemons in throw-away network namespaces, for socket tests.

Two namespaces joined by a veth pair (198.18.250.1/30 <-> .2/30) so one BGP
session really reaches Established; namespace A also has a second link
(198.18.252.1/24, far end without address: nobody answers -> Connect/Active) and no route to
198.18.253.0/24 (-> `Socket: Network is unreachable`). All traffic stays in
198.18.0.0/15 inside namespaces created and deleted here.
"""

import itertools
import os
import shutil
import subprocess
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

_COUNTER = itertools.count()

TIMERS = "connect delay time 1; connect retry time 2; error wait time 1,5; hold time 9;"

CONFIG_A = f"""
router id 198.18.250.1;
protocol device {{ scan time 10; }}
template bgp calico {{ local as 64512; {TIMERS} }}
protocol bgp Mesh_198_18_250_2 from calico {{ neighbor 198.18.250.2 as 64512; }}
protocol bgp Node_198_18_252_2_port_1790 from calico {{ neighbor 198.18.252.2 port 1790 as 64512; }}
protocol bgp Mesh_198_18_253_9 from calico {{ neighbor 198.18.253.9 as 64512; }}
protocol bgp Node_198_18_252_4 from calico {{ neighbor 198.18.252.4 as 64512; passive on; }}
protocol bgp Global_198_18_252_3 from calico {{ neighbor 198.18.252.3 as 64513; disabled; }}
"""

CONFIG_B = f"""
router id 198.18.250.2;
protocol device {{ scan time 10; }}
protocol bgp Mesh_198_18_250_1 {{ local as 64512; neighbor 198.18.250.1 as 64512; {TIMERS} }}
"""

# bird6: passive or disabled sessions only, so no IPv6 packet is ever sent.
CONFIG_A6 = """
router id 198.18.250.1;
protocol device { scan time 10; }
protocol bgp Mesh_fd80_24e2_f998_72d7__2 { local as 64512; neighbor fd80:24e2:f998:72d7::2 as 64512; passive on; }
protocol bgp Node_fd80_24e2_f998_72d7__3 { local as 64512; neighbor fd80:24e2:f998:72d7::3 as 64512; disabled; }
"""


def require_bird():
    if os.geteuid() != 0:
        pytest.skip("real BIRD tests need root (network namespaces)")
    for tool in ("bird", "bird6", "ip"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (apt-get install bird iproute2)")


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextmanager
def netns(name):
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


@contextmanager
def bird(ns, workdir, config, binary="bird", sock_name="bird.ctl"):
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / f"{sock_name}.conf"
    cfg.write_text(config)
    sock = workdir / sock_name
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, binary, "-f", "-c", str(cfg), "-s", str(sock)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"{binary} exited: {proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{binary} did not create {sock} within 10 s")
            time.sleep(0.05)
        yield str(sock)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        proc.stderr.close()


@contextmanager
def bird_pair(tmp_path):
    """Namespace A (bird + bird6, socket dir returned) peered with namespace B."""
    require_bird()
    tag = f"{os.getpid()}-{next(_COUNTER)}"
    with ExitStack() as stack:
        ns_a = stack.enter_context(netns(f"cft-bird-{tag}-a"))
        ns_b = stack.enter_context(netns(f"cft-bird-{tag}-b"))
        _ip("-n", ns_a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", ns_b)
        _ip("-n", ns_a, "addr", "add", "198.18.250.1/30", "dev", "va")
        _ip("-n", ns_b, "addr", "add", "198.18.250.2/30", "dev", "vb")
        _ip("-n", ns_a, "link", "set", "va", "up")
        _ip("-n", ns_b, "link", "set", "vb", "up")
        # A second link whose far end has no address: nobody answers ARP there.
        _ip("-n", ns_a, "link", "add", "d0", "type", "veth", "peer", "name", "d1", "netns", ns_b)
        _ip("-n", ns_a, "addr", "add", "198.18.252.1/24", "dev", "d0")
        _ip("-n", ns_a, "link", "set", "d0", "up")
        _ip("-n", ns_b, "link", "set", "d1", "up")
        sock_a = stack.enter_context(bird(ns_a, tmp_path / "a", CONFIG_A))
        stack.enter_context(bird(ns_a, tmp_path / "a", CONFIG_A6, binary="bird6", sock_name="bird6.ctl"))
        stack.enter_context(bird(ns_b, tmp_path / "b", CONFIG_B))
        yield sock_a


def poll(fn, timeout=20, interval=0.2):
    """Call fn until it returns a truthy value (bounded); return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
