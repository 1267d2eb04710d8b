"""A local EC2 API (moto) on 127.0.0.1, with one moto bug fixed at launch.

The AWS roles are tested against this server. It runs in its own process so
the fix below never leaks into the process that runs the tests:

    python -m lab.moto_server --port 0        # prints "endpoint http://127.0.0.1:<port>"
    python -m lab.moto_server --port 0 --unpatched   # moto as shipped, bug included

From Python, ``with MotoServer() as server: server.endpoint`` starts and stops
it, and ``create_vpc_and_subnet(endpoint)`` gives tests a VPC to work in.

Wired to the lab (``python -m lab aws start``, which runs
``python -m lab.moto_server --lab --port <18720+slot> --info <file>``), the
server is seeded with the lab as it is (its VPC range, a subnet, the AMIs
``lab-k8s-node`` and ``lab-bare``, the key pair ``lab``, the security group
``lab-cluster`` holding the lab's current rules, one instance per lab node)
and a thread polls moto every 0.5 s: a launched instance boots a bare lab
machine with its private IP and the hostname of its user-data, a terminated
one is removed, and the security groups become the VPC firewall. The ids go
to the info file and the lab's state (`aws`); lab/aws_lab.py has the details
(the wiring itself: lab/aws_reconcile.py).

The bug (moto 5.2.5): an ingress rule for an IP protocol without ports, such
as IP protocol 4 (IPIP) with no FromPort/ToPort, makes moto answer HTTP 500.
``SecurityGroupRule.__init__`` calls ``int(from_port)`` for every protocol
but "-1", and ``int(None)`` raises TypeError. AWS accepts such a rule: ports
only mean something for tcp, udp, icmp and icmpv6, and DescribeSecurityGroups
shows the rule without FromPort/ToPort. amazon.aws ``ec2_security_group``
always strips the ports of numeric protocols, so the IPIP rule cannot be
created against an unpatched moto at all.
"""

import argparse
import functools
import inspect
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from lab import aws_reconcile

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
FAKE_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}
DEFAULT_REGION = "us-east-1"
# Inside 198.18.0.0/15, the range the project keeps all its lab addresses in.
DEFAULT_VPC_CIDR = "198.18.0.0/20"
DEFAULT_SUBNET_CIDR = "198.18.0.0/24"

# Protocols for which EC2 keeps FromPort/ToPort (names and numbers); "-1"
# (all traffic) is already handled by moto.
_PORT_PROTOCOLS = {"tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58", "-1", "all"}
_PATCH_MARK = "_calico_fleet_portless_fix"


class MotoServerError(RuntimeError):
    """The server did not start or stopped unexpectedly."""


def _portless(ip_protocol, from_port, to_port):
    return (
        ip_protocol is not None
        and str(ip_protocol).lower() not in _PORT_PROTOCOLS
        and from_port is None
        and to_port is None
    )


def patch_protocol_without_ports():
    """Let moto accept a security group rule for a port-less IP protocol.

    Smallest fix: wrap ``SecurityGroupRule.__init__``; for a protocol other
    than tcp/udp/icmp/icmpv6 given without ports, hand moto -1/-1 (which it
    can convert) and clear the ports again afterwards, so the rule is stored
    and described without ports, as AWS does. Every other rule is untouched.
    Applying it twice is harmless.
    """
    from moto.ec2.models.security_groups import SecurityGroupRule

    original = SecurityGroupRule.__init__
    if getattr(original, _PATCH_MARK, False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        params = bound.arguments
        portless = _portless(params.get("ip_protocol"), params.get("from_port"), params.get("to_port"))
        if portless:
            params["from_port"] = params["to_port"] = "-1"
        original(*bound.args, **bound.kwargs)
        if portless:
            rule = params["self"]
            rule.from_port = rule.to_port = None

    setattr(__init__, _PATCH_MARK, True)
    SecurityGroupRule.__init__ = __init__


def serve(port=0, patched=True, exit_with_parent=False, lab_info=None, lifetime=None):
    """Run the server in this process until SIGTERM or SIGINT.

    With ``exit_with_parent`` it also stops when its stdin closes, which
    happens when the process that started it dies, even by SIGKILL. With
    ``lab_info`` (a path) it is wired to the lab of env LAB_SLOT and writes
    its ids there once seeded. ``lifetime`` (seconds) bounds its run.
    """
    from moto.server import ThreadedMotoServer

    if patched:
        patch_protocol_without_ports()
    if lab_info:
        aws_reconcile.patch_instances_boot_pending()
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if exit_with_parent:
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    reconciler = None
    if lab_info:
        try:
            reconciler = aws_reconcile.serve_lab(ec2_client(f"http://{host}:{bound_port}"), stop, Path(lab_info))
        except BaseException:
            server.stop()
            raise
    print(f"endpoint http://{host}:{bound_port}", flush=True)
    stop.wait(lifetime)
    stop.set()
    if reconciler:
        reconciler.join(timeout=30)
    server.stop()


class MotoServer:
    """A moto server in a child process; a context manager for tests.

    ``endpoint`` is ``http://127.0.0.1:<free port>``; the port is chosen by
    the child binding port 0, so parallel test runs never collide.
    """

    def __init__(self, patched=True, start_timeout=60):
        self.patched = patched
        self.start_timeout = start_timeout
        self.endpoint = None
        self.process = None
        self.log = None

    def start(self):
        argv = [sys.executable, "-m", "lab.moto_server", "--port", "0", "--exit-with-parent"]
        if not self.patched:
            argv.append("--unpatched")
        # The request log goes to a file: a pipe nobody reads would fill up.
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            argv, cwd=REPO, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.PIPE, text=True
        )
        self.endpoint = self._read_endpoint()
        return self

    def _read_endpoint(self):
        deadline = time.monotonic() + self.start_timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    continue
                line = self.process.stdout.readline()
                if line.startswith("endpoint "):
                    return line.split()[1]
                if not line:
                    break
        self.stop()
        raise MotoServerError(f"moto server did not start within {self.start_timeout}s; log: {self.log.name}")

    def log_text(self):
        """The server's request log so far; tracebacks of 500 answers land here."""
        return Path(self.log.name).read_text(errors="replace") if self.log else ""

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process:
            for stream in (self.process.stdin, self.process.stdout):
                if stream:
                    stream.close()
        if self.log:
            self.log.close()
            Path(self.log.name).unlink(missing_ok=True)
            self.log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def ec2_client(endpoint, region=DEFAULT_REGION):
    """A boto3 EC2 client for the local server, with fake credentials."""
    import boto3
    from botocore.config import Config

    # No retries: a 500 from the server must show up as an error, not a delay.
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    return boto3.client("ec2", endpoint_url=endpoint, region_name=region, config=config, **FAKE_CREDENTIALS)


def create_vpc_and_subnet(endpoint, region=DEFAULT_REGION, vpc_cidr=DEFAULT_VPC_CIDR, subnet_cidr=DEFAULT_SUBNET_CIDR):
    """Create a VPC and one subnet in it; returns their ids and ranges."""
    client = ec2_client(endpoint, region)
    vpc_id = client.create_vpc(CidrBlock=vpc_cidr)["Vpc"]["VpcId"]
    subnet_id = client.create_subnet(VpcId=vpc_id, CidrBlock=subnet_cidr)["Subnet"]["SubnetId"]
    return {
        "region": region,
        "vpc_id": vpc_id,
        "vpc_cidr": vpc_cidr,
        "subnet_id": subnet_id,
        "subnet_cidr": subnet_cidr,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab.moto_server", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--unpatched", action="store_true", help="do not fix the port-less protocol bug")
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when stdin reaches end of file")
    parser.add_argument("--lab", action="store_true", help="wire instances and security groups to the lab (LAB_SLOT)")
    parser.add_argument("--info", help="with --lab: write the seeded ids (JSON) to this file")
    parser.add_argument("--lifetime", type=float, help="stop after this many seconds")
    args = parser.parse_args(argv)
    if args.lab and not args.info:
        parser.error("--lab needs --info FILE")
    serve(port=args.port, patched=not args.unpatched, exit_with_parent=args.exit_with_parent,
          lab_info=args.info if args.lab else None, lifetime=args.lifetime)


if __name__ == "__main__":
    main()
