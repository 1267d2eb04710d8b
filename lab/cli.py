"""`python -m lab ...`: bring the lab up and down, inspect it, drive it."""

import argparse
import json
import sys
import time

from lab import api
from lab.sh import LabError


def _print_status(st):
    if not st["up"]:
        print(f"lab (slot {st['slot']}) is down")
        return
    vpc = st["vpc"]
    print(f"lab slot {st['slot']}: VPC {vpc['range']} (netns {vpc['netns']}), etcd {vpc['etcd']}")
    print(f"firewall: {', '.join(vpc['firewall'])}")
    print(f"inventory: {st['inventory']}")
    if st.get("cloud"):
        print(f"Compute Engine test server: {st['cloud']['url']}")
    if st.get("aws"):
        print(f"AWS test server: {st['aws']['endpoint']} (VPC {st['aws']['vpc_id']})")
    header = f"{'NODE':<14} {'IP':<15} {'HOSTNAME':<18} {'CALICO NODE':<18} {'BGP UP':>6}  SESSIONS"
    print(header)
    for n in st["nodes"]:
        calico = n["calico_node_name"] if n["calico_node_running"] else f"(down) {n['calico_node_name'] or ''}"
        sessions = ", ".join(f"{k}={v or '-'}" for k, v in sorted(n["bgp_sessions"].items()))
        print(f"{n['name']:<14} {n['ip']:<15} {str(n['hostname']):<18} {str(calico):<18} "
              f"{n['bgp_established']:>6}  {sessions}")
        if n["calico_node_error"]:
            print(f"{'':<14} calico-node error: {n['calico_node_error']}")


def _aws(args):
    if args.action == "stop":
        api.aws_stop()
        print("AWS test server stopped")
        return 0
    aws = api.aws_start() if args.action == "start" else api.aws_info()
    if aws is None:
        print("lab: the AWS test server is not running: `lab aws start`", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(aws, indent=2, sort_keys=True))
        return 0
    print(f"AWS test server at {aws['endpoint']} (region {aws['region']}, credentials: any, e.g. testing)")
    print(f"VPC {aws['vpc_id']} {aws['vpc_cidr']}, subnet {aws['subnet_id']} {aws['subnet_cidr']}")
    print(f"security group {aws['security_group_id']} ({aws['security_group_name']}), key pair {aws['key_name']}")
    print("AMIs: " + ", ".join(f"{name} {ami}" for name, ami in sorted(aws["amis"].items())))
    seeded = sorted((node, iid) for iid, node in aws["seeded_instances"].items())
    print("lab nodes as instances: " + ", ".join(f"{node} {iid}" for node, iid in seeded))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="lab", description="calico-fleet's local multi-node lab (root only)")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="create the VPC, etcd and N nodes, wait for a full BGP mesh")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--cloud", action="store_true", help="also start the Compute Engine test server")
    p.add_argument("--no-wait", action="store_true")
    sub.add_parser("down", help="remove every namespace, mount, process and file of the lab")
    p = sub.add_parser("status", help="VPC and nodes, with BGP sessions")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("add-node", help="boot one more node")
    p.add_argument("name", nargs="?")
    p.add_argument("--ip")
    p.add_argument("--hostname")
    p.add_argument("--tag", action="append", default=[])
    p.add_argument("--bare", action="store_true",
                   help="boot a new machine (sshd only running), not a node of the lab's cluster")
    p.add_argument("--image", help="lab image of a --bare machine (lab/images.py; default lab-k8s-node)")
    p = sub.add_parser("remove-node", help="remove a node (the machine is gone)")
    p.add_argument("name")
    p = sub.add_parser("restart-calico-node", help="restart calico-node (stand-in) on a node")
    p.add_argument("name")
    p = sub.add_parser("stop-calico-node", help="stop calico-node (and BIRD) on a node")
    p.add_argument("name")
    p = sub.add_parser("firewall", help="show the VPC firewall, or replace it from a JSON file")
    p.add_argument("--set", metavar="FILE", help="JSON list of GCP Firewall resources ('-' = stdin)")
    p = sub.add_parser("exec", help="run a command inside a node")
    p.add_argument("name")
    p.add_argument("argv", nargs=argparse.REMAINDER)
    p = sub.add_parser("cloud", help="the Compute Engine test server wired to this lab")
    p.add_argument("action", choices=["start", "stop"])
    p = sub.add_parser("aws", help="the AWS test server (moto) wired to this lab")
    p.add_argument("action", choices=["start", "stop", "info"])
    p.add_argument("--json", action="store_true", help="print the endpoint and ids as JSON")
    p = sub.add_parser("wait-mesh", help="wait until every node has every BGP session Established")
    p.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args(argv)

    try:
        if args.cmd == "up":
            start = time.monotonic()
            st = api.up(args.nodes, wait=not args.no_wait)
            if args.cloud:
                api.cloud_start()
                st = api.status()
            _print_status(st)
            print(f"lab up with {len(st['nodes'])} nodes in {time.monotonic() - start:.1f}s")
        elif args.cmd == "down":
            api.down()
            print("lab down")
        elif args.cmd == "status":
            st = api.status()
            print(json.dumps(st, indent=2)) if args.json else _print_status(st)
        elif args.cmd == "add-node":
            n = api.add_node(args.name, ip=args.ip, hostname=args.hostname, tags=args.tag,
                             joined=not args.bare, image=args.image)
            state = "bare machine" if args.bare else "joined"
            print(f"node {n['name']} up at {n['ip']} (hostname {n['hostname']}, image {n['image']}, {state})")
        elif args.cmd == "remove-node":
            api.remove_node(args.name)
        elif args.cmd == "restart-calico-node":
            api.restart_calico_node(args.name)
        elif args.cmd == "stop-calico-node":
            api.stop_calico_node(args.name)
        elif args.cmd == "firewall":
            if args.set:
                text = sys.stdin.read() if args.set == "-" else open(args.set).read()
                api.set_firewall(json.loads(text))
            print(json.dumps(api.get_firewall(), indent=2))
        elif args.cmd == "exec":
            proc = api.node_exec(args.name, args.argv, capture_output=False, timeout=600)
            return proc.returncode
        elif args.cmd == "cloud":
            if args.action == "start":
                cloud = api.cloud_start()
                print(f"Compute Engine test server at {cloud['url']} (project {cloud['project']}, "
                      f"zone {cloud['zone']})")
            else:
                api.cloud_stop()
        elif args.cmd == "aws":
            return _aws(args)
        elif args.cmd == "wait-mesh":
            print(f"full mesh after {api.wait_for_mesh(args.timeout):.1f}s")
    except LabError as exc:
        print(f"lab: {exc}", file=sys.stderr)
        return 1
    return 0
