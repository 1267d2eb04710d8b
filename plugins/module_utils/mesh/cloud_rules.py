# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the cloud's rules say about IP protocol 4 between two nodes: the evidence behind an IPIP finding.

Input (calico_mesh_check's ``cloud_rules``), as the read-only modules return it:

- GCP: ``{provider: gcp, project, network, firewalls: [gcp_firewall_info rules], instances:
  [gcp_instances_info instances], managed: {ipip_rule, target_tags}}``. Firewall rules are judged as
  GCE does for ingress: enabled INGRESS rules whose targets (every instance, or the target tags)
  include the receiving instance and whose sources (ranges, or source tags of the sending instance)
  include the sender, lowest priority number first, deny before allow at equal priority, anything
  not allowed denied.
- AWS: ``{provider: aws, vpc_id, instances: [ec2_instance_info instances], security_groups:
  [ec2_security_group_info groups], managed: {group}}``. Security groups only allow: the receiving
  instance's groups allow protocol 4 (``4`` or ``-1``) from a CIDR holding the sender or from a group
  the sender is a member of.
- ``{provider, error: why}`` when they could not be read.

:func:`verdict` answers for one direction: ``allowed`` (by which rule), ``denied`` (by which rule of
higher precedence), ``not_applied`` (a rule would allow it, but the receiving instance lacks the
network tag / security group it targets, or the sender lacks its source tag), ``no_rule`` (no rule
allows it at all) or ``unknown`` (the instance is not in the cloud's answer).
"""

import ipaddress

IPIP_NAMES = ("ipip", "4", "all", "-1")


def _net(cidr):
    try:
        return ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return None


def _in_ranges(ip, ranges):
    address = ipaddress.ip_address(ip)
    return any(net is not None and address in net for net in (_net(r) for r in ranges or []))


def _protocols(entries):
    return [str(e.get("protocol", e.get("IPProtocol", ""))).lower() for e in entries or []]


class CloudRules:
    """The cloud's rules and instances, normalised; built once per check."""

    def __init__(self, data):
        data = data or {}
        self.provider = data.get("provider") or "gcp"
        self.error = data.get("error") or None
        self.project = data.get("project") or ""
        self.network = data.get("network") or "default"
        self.vpc_id = data.get("vpc_id") or ""
        self.managed = data.get("managed") or {}
        self.instances = {}  # IPv4 -> {name, zone, tags, groups: {id: name}}
        self.rules = []
        self.groups = {}  # AWS group id -> {name, rules}
        if self.error:
            return
        if self.provider == "aws":
            self._aws(data)
        else:
            self._gcp(data)

    # -- normalisation ------------------------------------------------------
    def _gcp(self, data):
        for inst in data.get("instances") or []:
            if inst.get("private_ip"):
                self.instances[inst["private_ip"]] = {"name": inst.get("name"), "zone": inst.get("zone"),
                                                      "tags": set(inst.get("tags") or []), "groups": {}}
        for rule in data.get("firewalls") or []:
            if rule.get("disabled") or (rule.get("direction") or "INGRESS") != "INGRESS":
                continue
            denied = bool(rule.get("denied"))
            entries = rule.get("denied") if denied else rule.get("allowed")
            self.rules.append({
                "name": rule.get("name"),
                "priority": int(rule.get("priority", 1000)),
                "action": "deny" if denied else "allow",
                "protocols": _protocols(entries),
                "source_ranges": list(rule.get("source_ranges") or []),
                "source_tags": set(rule.get("source_tags") or []),
                "target_tags": set(rule.get("target_tags") or []),
                "target_service_accounts": list(rule.get("target_service_accounts") or []),
            })
        self.rules.sort(key=lambda r: (r["priority"], r["action"] != "deny", r["name"] or ""))

    def _aws(self, data):
        for group in data.get("security_groups") or []:
            rules = []
            for perm in group.get("ip_permissions") or []:
                rules.append({
                    "protocol": str(perm.get("ip_protocol", "")).lower(),
                    "ranges": [r.get("cidr_ip") for r in perm.get("ip_ranges") or [] if r.get("cidr_ip")],
                    "groups": {p.get("group_id") for p in perm.get("user_id_group_pairs") or []},
                })
            self.groups[group.get("group_id")] = {"name": group.get("group_name") or group.get("group_id"),
                                                  "rules": rules}
        for inst in data.get("instances") or []:
            ip = inst.get("private_ip_address")
            if not ip:
                continue
            tags = inst.get("tags") or {}
            self.instances[ip] = {
                "name": tags.get("Name") or inst.get("instance_id"), "id": inst.get("instance_id"),
                "zone": (inst.get("placement") or {}).get("availability_zone"), "tags": set(),
                "groups": {g.get("group_id"): g.get("group_name") for g in inst.get("security_groups") or []},
            }

    # -- judging ------------------------------------------------------------
    def instance(self, ip):
        return self.instances.get(ip)

    def verdict(self, src_ip, dst_ip):
        """(kind, detail) for IP protocol 4 from src_ip to dst_ip (module docstring)."""
        if self.error:
            return "unknown", {"why": self.error}
        dst, src = self.instances.get(dst_ip), self.instances.get(src_ip)
        if dst is None:
            return "unknown", {"why": f"no instance with the private address {dst_ip} in the cloud's answer"}
        if self.provider == "aws":
            return self._aws_verdict(src_ip, src, dst)
        return self._gcp_verdict(src_ip, src, dst)

    def _gcp_verdict(self, src_ip, src, dst):
        src_tags = src["tags"] if src else set()
        lacking = []
        for rule in self.rules:
            if not any(p in IPIP_NAMES for p in rule["protocols"]):
                continue
            if rule["target_service_accounts"]:
                continue  # targets by service account: not judged here
            source_ok = _in_ranges(src_ip, rule["source_ranges"]) or bool(rule["source_tags"] & src_tags)
            target_ok = not rule["target_tags"] or bool(rule["target_tags"] & dst["tags"])
            if source_ok and target_ok:
                return ("allowed" if rule["action"] == "allow" else "denied"), {"rule": rule}
            if rule["action"] == "allow":
                missing = {}
                if not target_ok:
                    missing["target"] = (dst["name"], sorted(rule["target_tags"]))
                if not source_ok and rule["source_tags"] and not rule["source_ranges"] and src is not None:
                    missing["source"] = (src["name"], sorted(rule["source_tags"]))
                if missing:
                    lacking.append((rule, missing))
        if lacking:
            return "not_applied", {"rule": lacking[0][0], "missing": lacking[0][1]}
        return "no_rule", {}

    def _aws_verdict(self, src_ip, src, dst):
        src_groups = set(src["groups"]) if src else set()

        def allows(group_id):
            for rule in self.groups.get(group_id, {}).get("rules", []):
                if rule["protocol"] in IPIP_NAMES and (_in_ranges(src_ip, rule["ranges"])
                                                       or rule["groups"] & src_groups):
                    return True
            return False

        for group_id in sorted(dst["groups"]):
            if allows(group_id):
                return "allowed", {"group": self.groups[group_id]["name"], "group_id": group_id}
        for group_id in sorted(self.groups):
            if group_id not in dst["groups"] and allows(group_id):
                return "not_applied", {"group": self.groups[group_id]["name"], "group_id": group_id,
                                       "missing": {"member": (dst["name"], [self.groups[group_id]["name"]])}}
        return "no_rule", {}

    # -- evidence -----------------------------------------------------------
    def describe_rule(self, rule):
        protocols = ", ".join(rule["protocols"]) or "?"
        whom = f"instances tagged {', '.join(sorted(rule['target_tags']))}" if rule["target_tags"] else "every instance"
        sources = ", ".join(rule["source_ranges"] + sorted(f"tag {t}" for t in rule["source_tags"])) or "-"
        return (f"firewall rule {rule['name']} (priority {rule['priority']}) {rule['action']}s {protocols} from "
                f"{sources} to {whom}")

    def rules_for(self, dst_ips):
        """Evidence lines: the enabled ingress rules that reach these nodes (GCP) or their groups (AWS)."""
        if self.provider == "aws":
            ids = sorted({g for ip in dst_ips for g in (self.instances.get(ip) or {}).get("groups", {})})
            lines = []
            for group_id in ids:
                group = self.groups.get(group_id)
                if group is None:
                    continue
                allowed = sorted({r["protocol"] for r in group["rules"]}) or ["nothing"]
                lines.append(f"security group {group['name']} ({group_id}) allows protocols "
                             f"{', '.join(allowed)}")
            return lines
        tags = set()
        for ip in dst_ips:
            tags |= (self.instances.get(ip) or {}).get("tags", set())
        return [self.describe_rule(r) for r in self.rules if not r["target_tags"] or r["target_tags"] & tags]
