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
"""

import base64
import binascii
import inspect
import ipaddress
import json
import logging
import os
import re
import shlex
import sys
import threading

from lab import config, firewall
from lab.sh import LabError, alive, spawn, stop, wait_until
from lab.state import load, locked

log = logging.getLogger("lab.aws")

PORT_BASE = 18720
REGION = "us-east-1"
SECURITY_GROUP_NAME = "lab-cluster"
KEY_NAME = "lab"
POLL_INTERVAL = 0.5
# AMI Name -> (lab image name, description). The lab image decides what a
# launched machine runs; every launched machine boots unjoined.
IMAGES = {
    "lab-k8s-node": "lab-k8s-node: a Kubernetes node image (sshd, kubeadm, kubelet, container runtime)",
    "lab-bare": "lab-bare: a bare machine image (sshd only)",
}
NODE_IMAGE = "lab-k8s-node"
LIVE_STATES = {"pending", "running", "stopping", "stopped"}
_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
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
    import yaml  # noqa: PLC0415 - only needed for cloud-config

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


# -- the server side: seeding and reconciling -----------------------------------

def _ec2_backend():
    from moto.backends import get_backend  # noqa: PLC0415
    from moto.core import DEFAULT_ACCOUNT_ID  # noqa: PLC0415

    return get_backend("ec2")[DEFAULT_ACCOUNT_ID][REGION]


def patch_instances_boot_pending():
    """New moto instances start `pending` (moto makes them `running` at once)."""
    from moto.ec2.models.instances import Instance, InstanceState  # noqa: PLC0415

    original = Instance.__init__
    if getattr(original, "_lab_pending", False):
        return

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._state = InstanceState("pending", 0)

    __init__._lab_pending = True
    Instance.__init__ = __init__


def _set_state(instance_id, name, code, reason=None):
    inst = _ec2_backend().get_instance(instance_id)
    if name == "terminated":
        _ec2_backend().terminate_instances([instance_id])
        from moto.ec2.models.instances import StateReason  # noqa: PLC0415

        inst.state_reason = StateReason(f"Server.InternalError: {reason}", "Server.InternalError")
        inst._reason = f"Server.InternalError: {reason}"
        return
    inst._state.name, inst._state.code = name, code


class LabReconciler:
    """Seeds moto with the lab, then keeps the lab in line with moto."""

    def __init__(self, client, cfg, api=None):
        if api is None:
            from lab import api  # noqa: PLC0415
        self.client = client
        self.cfg = cfg
        self.api = api
        self.info = {}
        self.nodes = {}  # instance id -> lab node name
        self.failed = set()
        self.applied = None
        self.lock = threading.Lock()
        params = inspect.signature(api.add_node).parameters
        self.bare_boot = "joined" in params and "image" in params
        if not self.bare_boot:
            log.warning("lab.api.add_node takes no joined/image yet: launched instances boot as full lab nodes")

    # seeding
    def seed(self):
        c, cfg = self.client, self.cfg
        state = load(cfg)
        vpc_cidr = str(cfg.vpc_range)
        subnet_cidr = str(next(cfg.vpc_range.subnets(new_prefix=24)))
        vpc_id = c.create_vpc(CidrBlock=vpc_cidr)["Vpc"]["VpcId"]
        c.create_tags(Resources=[vpc_id], Tags=[{"Key": "Name", "Value": f"lab-{cfg.slot}"}])
        subnet_id = c.create_subnet(VpcId=vpc_id, CidrBlock=subnet_cidr)["Subnet"]["SubnetId"]
        # Addresses the lab hands its own nodes are never auto-assigned (AWS's explicit reservation).
        reserved = str(next(ipaddress.ip_network(subnet_cidr).subnets(prefixlen_diff=1)))
        c.create_subnet_cidr_reservation(SubnetId=subnet_id, Cidr=reserved, ReservationType="explicit",
                                         Description="lab nodes")
        amis = {}
        for name, description in IMAGES.items():
            amis[name] = c.register_image(Name=name, Description=description, RootDeviceName="/dev/sda1",
                                          Architecture="x86_64", VirtualizationType="hvm")["ImageId"]
        if cfg.ssh_key.with_suffix(".pub").exists():
            c.import_key_pair(KeyName=KEY_NAME, PublicKeyMaterial=cfg.ssh_key.with_suffix(".pub").read_bytes())
        group_id = c.create_security_group(GroupName=SECURITY_GROUP_NAME, VpcId=vpc_id,
                                           Description="the lab cluster's existing group")["GroupId"]
        permissions = permissions_from_rules(state.get("firewall") or [])
        if permissions:
            c.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions)
        for node in sorted(state["nodes"].values(), key=lambda n: n["index"]):
            if ipaddress.ip_address(node["ip"]) not in ipaddress.ip_network(subnet_cidr):
                log.warning("lab node %s (%s) is outside subnet %s: not listed", node["name"], node["ip"], subnet_cidr)
                continue
            inst = c.run_instances(
                ImageId=amis[NODE_IMAGE], MinCount=1, MaxCount=1, InstanceType="t3.medium", KeyName=KEY_NAME,
                SubnetId=subnet_id, PrivateIpAddress=node["ip"], SecurityGroupIds=[group_id],
                TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": node["name"]}]}],
            )["Instances"][0]
            _set_state(inst["InstanceId"], "running", 16)
            self.nodes[inst["InstanceId"]] = node["name"]
        self.info = {
            "endpoint": endpoint(cfg), "region": REGION, "vpc_id": vpc_id, "vpc_cidr": vpc_cidr,
            "subnet_id": subnet_id, "subnet_cidr": subnet_cidr, "security_group_id": group_id,
            "security_group_name": SECURITY_GROUP_NAME, "key_name": KEY_NAME, "amis": amis,
            "seeded_instances": dict(self.nodes),
        }
        self.amis = {ami: name for name, ami in amis.items()}
        self.subnet = ipaddress.ip_network(subnet_cidr)
        self.step()
        return self.info

    # reconciling
    def _describe(self):
        instances = [i for r in self.client.describe_instances()["Reservations"] for i in r["Instances"]]
        groups = self.client.describe_security_groups()["SecurityGroups"]
        return instances, groups

    def step(self):
        with self.lock:
            instances, groups = self._describe()
            for inst in instances:
                self._reconcile_instance(inst)
            instances, groups = self._describe()
            rules = firewall_rules(groups, [i for i in instances if i["InstanceId"] in self.nodes])
            if rules != self.applied:
                self.api.set_firewall(rules)
                self.applied = rules
                log.info("firewall: %s", ", ".join(r["name"] for r in rules) or "(no rules)")

    def _reconcile_instance(self, inst):
        iid, state = inst["InstanceId"], inst["State"]["Name"]
        if iid in self.nodes:
            if state in ("shutting-down", "terminated"):
                name = self.nodes.pop(iid)
                try:
                    self.api.remove_node(name)
                    log.info("instance %s terminated: lab node %s removed", iid, name)
                except LabError as exc:
                    log.warning("instance %s terminated; removing lab node %s: %s", iid, name, exc)
            return
        if state != "pending" or iid in self.failed:
            return
        try:
            name = self._boot(inst)
        except (LabError, ValueError) as exc:
            self.failed.add(iid)
            log.warning("instance %s cannot boot: %s", iid, exc)
            _set_state(iid, "terminated", 48, reason=str(exc))
            return
        self.nodes[iid] = name
        _set_state(iid, "running", 16)

    def _boot(self, inst):
        iid, ip = inst["InstanceId"], inst.get("PrivateIpAddress")
        image = self.amis.get(inst.get("ImageId"))
        if image is None:
            known = ", ".join(f"{ami} ({name})" for ami, name in sorted(self.amis.items()))
            raise LabError(f"AMI {inst.get('ImageId')} has no lab image; use one of {known}")
        if not ip or ipaddress.ip_address(ip) not in self.subnet:
            raise LabError(f"private IP {ip} is outside the lab subnet {self.subnet}")
        attr = self.client.describe_instance_attribute(InstanceId=iid, Attribute="userData")
        hostname = hostname_from_user_data(decode_user_data(attr.get("UserData", {}).get("Value")), ip)
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags") or []}
        used = set(load(self.cfg)["nodes"])
        name = tags.get("Name", "")
        if not _NODE_NAME.match(name) or name in used:
            name = iid
        kwargs = {"ip": ip, "hostname": hostname, "tags": [f"{k}={v}" for k, v in sorted(tags.items())]}
        if self.bare_boot:
            kwargs.update(joined=False, image=image)
        self.api.add_node(name, **kwargs)
        log.info("instance %s booted as lab node %s (%s, hostname %s, image %s)", iid, name, ip, hostname, image)
        return name

    def run(self, stop_event, interval=POLL_INTERVAL):
        while not stop_event.wait(interval):
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - keep reconciling; the log says what failed
                log.warning("reconcile: %s: %s", type(exc).__name__, exc)


def serve_lab(client, stop_event, info_path):
    """Seed moto with the lab, write the ids to ``info_path``, reconcile until ``stop_event``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the 0.5 s polls would flood the log
    reconciler = LabReconciler(client, config.current())
    info = reconciler.seed()
    tmp = info_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True))
    os.replace(tmp, info_path)
    thread = threading.Thread(target=reconciler.run, args=(stop_event,), name="lab-reconcile", daemon=True)
    thread.start()
    return thread


# -- the lab side: start and stop -------------------------------------------------

def running(state):
    aws = state.get("aws") or {}
    return alive(aws.get("pid"))


def start(cfg, timeout=60):
    """Start the AWS test server for this lab; returns state['aws'] (see the module doc)."""
    from lab import vpc  # noqa: PLC0415
    from lab.node import LIFETIME  # noqa: PLC0415

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
    from lab import vpc  # noqa: PLC0415

    with locked(cfg) as state:
        aws = state.get("aws") or {}
        stop([aws.get("pid")])
        state["aws"] = None
        if aws.get("lab_firewall") is not None and vpc.running(cfg, state):
            vpc.apply_firewall(cfg, state, aws["lab_firewall"])
    info_file(cfg).unlink(missing_ok=True)

