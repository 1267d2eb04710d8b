"""Run the Compute Engine v1 test server as a process; prints its URL on stdout."""

import argparse
import signal
import sys

from lab.compute import ComputeServer, LabBackend, NullBackend


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lab.compute", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--project", default="p")
    parser.add_argument("--zone", default="z")
    parser.add_argument("--vpc-range", default="198.18.0.0/20", help="networkIP addresses come from here")
    parser.add_argument("--operation-latency", type=float, default=0.0, help="seconds until DONE")
    parser.add_argument("--lab", action="store_true", help="wire instances and firewalls to the lab")
    parser.add_argument("--first-host", type=int, default=10,
                        help="first host number handed out as networkIP")
    args = parser.parse_args(argv)
    server = ComputeServer(
        host=args.host, port=args.port, project=args.project, zone=args.zone, vpc_range=args.vpc_range,
        operation_latency=args.operation_latency, first_host=args.first_host,
        backend=LabBackend() if args.lab else NullBackend(),
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server._httpd.server_close()


if __name__ == "__main__":
    main()
