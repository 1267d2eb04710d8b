"""The AWS test server (moto) wired to the lab, as the Compute test server is.

`python -m lab aws start` runs ``python -m lab.moto_server --lab`` for the
lab of the current slot on 127.0.0.1:<18720 + slot>. At start the server is
seeded so that it describes the lab as it is:

- a VPC with the lab's range (198.18.<16*slot>.0/20) and one subnet
  (its first /24) that holds every lab node; the subnet's lower half is an
  explicit CIDR reservation, so new instances get addresses from .128 on and
  never take one the lab hands its own nodes (.11, .12, ...);
- two AMIs, ``lab-k8s-node`` (a node image: what the cluster's nodes run)
  and ``lab-bare`` (sshd only);
- a key pair ``lab`` with the lab's SSH public key;
- a security group ``lab-cluster`` standing for the cluster's existing
  group, with the lab firewall's current rules (tcp/udp/icmp from the VPC
  range: the same as GCP's default-allow-internal);
- one running instance per lab node, with the node's private IP, Name tag =
  node name, AMI ``lab-k8s-node`` and group ``lab-cluster``.

From then on a thread in the server process polls moto every 0.5 s and
brings the lab in line:

- an instance launched (RunInstances) into the subnet stays ``pending``
  until a bare lab machine has booted for it, then turns ``running``: its
  private IP, the hostname from its user-data (see ``hostname_from_user_data``),
  its tags as ``Key=Value`` strings, and the lab image of its AMI. The lab
  node is named after the Name tag when that is a free, plain name, else
  after the instance id. An instance the lab cannot boot (unknown AMI,
  address outside the lab VPC, boot error) goes to ``terminated`` with the
  reason in its StateReason;
- a terminated instance's lab node is removed;
- the security groups become the VPC firewall (see ``firewall_rules``).
  While the server runs, the groups own the lab firewall; `lab aws stop`
  puts back the rules the lab had at start (launched nodes stay).

Not modelled: stop/start (the machine keeps running), egress rules, IPv6,
prefix lists, instances outside the subnet's VPC. AWS tracks connections
for every protocol; the lab firewall only for tcp, udp and icmp, so IPIP
needs a rule on both ends (a group rule from the VPC range gives that).

This module holds the translations and the lab side (start, stop); the
seeding and the polling thread run in the server process (lab/aws_reconcile.py).
"""

import base64
import binascii
import ipaddress
import json
import os
import re
import shlex
import sys

import yaml

from lab import config, firewall, vpc
from lab.node import LIFETIME
from lab.sh import LabError, alive, spawn, stop, wait_until
from lab.state import locked

PORT_BASE = 18720
REGION = "us-east-1"
SECURITY_GROUP_NAME = "lab-cluster"
KEY_NAME = "lab"
# AMI Name -> (lab image name, description). The lab image decides what a
# launched machine runs; every launched machine boots unjoined.
IMAGES = {
    "lab-k8s-node": "lab-k8s-node: a Kubernetes node image (sshd, kubeadm, kubelet, container runtime)",
    "lab-bare": "lab-bare: a bare machine image (sshd only)",
}
NODE_IMAGE = "lab-k8s-node"
LIVE_STATES = {"pending", "running", "stopping", "stopped"}
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def port(cfg):
    return PORT_BASE + cfg.slot


def endpoint(cfg):
    return f"http://127.0.0.1:{port(cfg)}"


def info_file(cfg):
    return cfg.state_dir / "aws.json"


# -- user-data -> hostname ---------------------------------------------------

def default_hostname(ip):
    """EC2's hostname for a machine nothing renames: ip-a-b-c-d."""
    return "ip-" + str(ip).replace(".", "-")


def _decode(user_data):
    if user_data is None:
        return ""
    if isinstance(user_data, bytes):
        return user_data.decode("utf-8", "replace")
    return str(user_data)


def decode_user_data(value):
    """User-data as moto describes it (base64) -> text; text that is not base64 stays."""
    if not value:
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return _decode(value)


def _cloud_config_hostname(text):
    """cloud-init's cc_set_hostname: hostname/fqdn/prefer_fqdn_over_hostname/preserve_hostname."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict) or doc.get("preserve_hostname") is True:
        return None
    fqdn = doc.get("fqdn")
    hostname = doc.get("hostname")
    fqdn = str(fqdn) if fqdn not in (None, "") else None
    hostname = str(hostname) if hostname not in (None, "") else None
    if fqdn:
        hostname = hostname or fqdn.split(".")[0]
    elif hostname and "." in hostname:
        fqdn, hostname = hostname, hostname.split(".")[0]
    if not hostname:
        return None
    return fqdn if doc.get("prefer_fqdn_over_hostname") is True and fqdn else hostname


_SET_HOSTNAME = re.compile(r"^\s*(?:sudo\s+)?hostnamectl\s+(?:set-hostname|hostname)\s+(\S+)\s*(?:;|&&)?\s*$")


def _script_hostname(text):
    """The last literal `hostnamectl set-hostname NAME` line of a shell script."""
    found = None
    for line in text.splitlines()[1:]:
        match = _SET_HOSTNAME.match(line.split(" #")[0])
        if not match:
            continue
        try:
            words = shlex.split(match.group(1))
        except ValueError:
            continue
        if len(words) == 1 and not re.search(r"[$`*?\[]", words[0]):
            found = words[0]
    return found


def hostname_from_user_data(user_data, ip):
    """The hostname a machine boots with, given its user-data (text) and private IP.

    `#cloud-config`: cloud-init's rules (hostname, fqdn, prefer_fqdn_over_hostname,
    preserve_hostname); `#!` shell script: a literal `hostnamectl set-hostname X`;
    anything else, or nothing usable: EC2's default `ip-a-b-c-d`.
    """
    text = _decode(user_data).lstrip("\ufeff")
    first = text.split("\n", 1)[0].strip()
    name = None
    if first == "#cloud-config":
        name = _cloud_config_hostname(text)
    elif first.startswith("#!") and re.search(r"(^|/)(ba|da)?sh\b", first):
        name = _script_hostname(text)
    if name and _HOSTNAME.match(name) and len(name) <= 253:
        return name
    return default_hostname(ip)


# -- security groups -> lab firewall ------------------------------------------

def _members(groups, instances):
    """{group id: sorted private IPs of live instances carrying it}.

    An instance launched without a group has its VPC's `default` group, as on AWS.
    """
    defaults = {g.get("VpcId"): g["GroupId"] for g in groups if g.get("GroupName") == "default"}
    members = {}
    for inst in instances:
        if inst.get("State", {}).get("Name") not in LIVE_STATES or not inst.get("PrivateIpAddress"):
            continue
        carried = [g["GroupId"] for g in inst.get("SecurityGroups") or []]
        if not carried and defaults.get(inst.get("VpcId")):
            carried = [defaults[inst.get("VpcId")]]
        for group_id in carried:
            members.setdefault(group_id, set()).add(inst["PrivateIpAddress"])
    return {gid: sorted(ips, key=ipaddress.ip_address) for gid, ips in members.items()}


def _port_text(lo, hi):
    if lo is None or hi is None or int(lo) == -1:
        return None
    return str(lo) if int(lo) == int(hi) else f"{lo}-{hi}"


def _allowed(permission):
    """An IpPermission's protocol/ports as a GCP `allowed` entry (None: not for IPv4)."""
    proto = str(permission.get("IpProtocol", "-1")).lower()
    if proto in ("-1", "all"):
        return {"IPProtocol": "all"}
    if proto in ("icmpv6", "58"):
        return None
    name = firewall.protocol_name(proto)
    if name in ("tcp", "udp"):
        ports = _port_text(permission.get("FromPort"), permission.get("ToPort"))
        return {"IPProtocol": name, "ports": [ports]} if ports else {"IPProtocol": name}
    # icmp: FromPort/ToPort are type and code; the lab allows all of icmp.
    return {"IPProtocol": name}


def firewall_rules(groups, instances):
    """Lab firewall rules (GCP Firewall dicts) for EC2 security groups.

    ``groups`` and ``instances`` as DescribeSecurityGroups/DescribeInstances
    return them. Every ingress permission of every group attached to at
    least one live instance becomes one rule: sources are its CIDRs plus the
    private IPs (/32) of the live instances of each group it references;
    `destinationRanges` are the private IPs of the group's own instances,
    so the rule reaches exactly them. A permission with no source left is
    dropped; so are IPv6 ranges, prefix lists and icmpv6.
    """
    members = _members(groups, instances)
    rules = []
    for group in sorted(groups, key=lambda g: g["GroupId"]):
        targets = members.get(group["GroupId"])
        if not targets:
            continue
        for index, permission in enumerate(group.get("IpPermissions") or []):
            allowed = _allowed(permission)
            sources = {str(ipaddress.ip_network(r["CidrIp"], strict=False)) for r in permission.get("IpRanges") or []}
            for pair in permission.get("UserIdGroupPairs") or []:
                sources.update(f"{ip}/32" for ip in members.get(pair.get("GroupId"), []))
            if allowed is None or not sources:
                continue
            rules.append({
                "name": f"aws-{group['GroupId']}-{index}",
                "description": f"security group {group.get('GroupName', group['GroupId'])}, ingress rule {index}",
                "network": "default",
                "direction": "INGRESS",
                "priority": 1000,
                "sourceRanges": sorted(sources, key=ipaddress.ip_network),
                "destinationRanges": [f"{ip}/32" for ip in targets],
                "allowed": [allowed],
            })
    return rules


def permissions_from_rules(rules):
    """The lab firewall's plain allow rules (source ranges, every node) as IpPermissions.

    Used to seed the cluster's group with what the lab allows today; rules with
    tags, denies or destinations have no plain group equivalent and are skipped.
    """
    permissions = []
    for rule in firewall.ordered(rules):
        if rule.get("denied") or rule.get("targetTags") or rule.get("sourceTags") or rule.get("destinationRanges"):
            continue
        ranges = [{"CidrIp": str(ipaddress.ip_network(r, strict=False))} for r in rule.get("sourceRanges", [])]
        if not ranges:
            continue
        for entry in rule.get("allowed") or []:
            name = firewall.protocol_name(entry["IPProtocol"])
            if name == "all":
                permissions.append({"IpProtocol": "-1", "IpRanges": ranges})
            elif name in ("tcp", "udp"):
                for ports in entry.get("ports") or ["0-65535"]:
                    lo, _, hi = ports.replace(" ", "").partition("-")
                    permissions.append({"IpProtocol": name, "FromPort": int(lo), "ToPort": int(hi or lo),
                                        "IpRanges": ranges})
            elif name == "icmp":
                permissions.append({"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": ranges})
            else:
                number = firewall.PROTOCOL_NUMBERS.get(name, name)
                permissions.append({"IpProtocol": str(number), "IpRanges": ranges})
    return permissions


# -- the lab side: start and stop -------------------------------------------------

def running(state):
    aws = state.get("aws") or {}
    return alive(aws.get("pid"))


def start(cfg, timeout=60):
    """Start the AWS test server for this lab; returns state['aws'] (see the module doc)."""
    with locked(cfg) as state:
        if not vpc.running(cfg, state):
            raise LabError("the lab is not up: run `lab up` first")
        if running(state):
            return state["aws"]
        if alive((state.get("cloud") or {}).get("pid")):
            raise LabError("the Compute Engine test server runs on this lab; the AWS test server is an "
                           "alternative to it: run `lab cloud stop` first")
        info_file(cfg).unlink(missing_ok=True)
        argv = [sys.executable, "-m", "lab.moto_server", "--lab", "--port", port(cfg),
                "--info", info_file(cfg), "--lifetime", LIFETIME]
        env = {**os.environ, "LAB_SLOT": str(cfg.slot), "PYTHONPATH": str(config.REPO)}
        pid = spawn(argv, cfg.state_dir / "aws.log", env=env)
        # `lab aws stop` puts these rules back: while the server runs, the groups own the firewall.
        saved = state.get("firewall") or []
        state["aws"] = {"pid": pid, "endpoint": endpoint(cfg), "lab_firewall": saved}

    def ready():
        if not alive(pid):
            raise LabError(f"the AWS test server stopped while starting; see {cfg.state_dir / 'aws.log'}")
        return info_file(cfg).exists()

    try:
        wait_until(ready, timeout=timeout, what=f"the AWS test server at {endpoint(cfg)}")
    except LabError as exc:
        stop_server(cfg)
        logfile = cfg.state_dir / "aws.log"
        tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-15:]) if logfile.exists() else ""
        raise LabError(f"{exc}\n--- {logfile.name} ---\n{tail}") from None
    info = json.loads(info_file(cfg).read_text())
    with locked(cfg) as state:
        state["aws"] = {"pid": pid, "lab_firewall": saved, **info}
        return dict(state["aws"])


def stop_server(cfg):
    """Stop the server; the lab keeps its nodes and gets back the firewall rules it had at start."""
    with locked(cfg) as state:
        aws = state.get("aws") or {}
        stop([aws.get("pid")])
        state["aws"] = None
        if aws.get("lab_firewall") is not None and vpc.running(cfg, state):
            vpc.apply_firewall(cfg, state, aws["lab_firewall"])
    info_file(cfg).unlink(missing_ok=True)

