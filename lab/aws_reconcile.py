"""The AWS test server's lab wiring, run inside the moto server process
(``python -m lab.moto_server --lab``): seed moto with the lab as it is, then
poll moto and bring the lab in line (launched instances boot bare lab
machines, terminated ones go, security groups become the VPC firewall).
lab/aws_lab.py describes the model and holds the translations; this module
drives the lab through lab.api.
"""

import ipaddress
import json
import logging
import os
import re
import sys
import threading

from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models.instances import Instance, InstanceState, StateReason

from lab import api, config
from lab.aws_lab import (
    IMAGES,
    KEY_NAME,
    NODE_IMAGE,
    REGION,
    SECURITY_GROUP_NAME,
    decode_user_data,
    endpoint,
    firewall_rules,
    hostname_from_user_data,
    permissions_from_rules,
)
from lab.sh import LabError
from lab.state import load

log = logging.getLogger("lab.aws")

POLL_INTERVAL = 0.5
_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def _ec2_backend():
    return get_backend("ec2")[DEFAULT_ACCOUNT_ID][REGION]


def patch_instances_boot_pending():
    """New moto instances start `pending` (moto makes them `running` at once)."""
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
        inst.state_reason = StateReason(f"Server.InternalError: {reason}", "Server.InternalError")
        inst._reason = f"Server.InternalError: {reason}"
        return
    inst._state.name, inst._state.code = name, code


class LabReconciler:
    """Seeds moto with the lab, then keeps the lab in line with moto."""

    def __init__(self, client, cfg, lab_api=api):
        self.client = client
        self.cfg = cfg
        self.api = lab_api
        self.info = {}
        self.nodes = {}  # instance id -> lab node name
        self.failed = set()
        self.applied = None
        self.lock = threading.Lock()

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
        self.api.add_node(name, ip=ip, hostname=hostname, tags=[f"{k}={v}" for k, v in sorted(tags.items())],
                          joined=False, image=image)
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
