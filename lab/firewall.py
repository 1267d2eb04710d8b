"""The VPC firewall: GCP Firewall resources rendered as an nftables ruleset.

Model (GCP's): ingress rules evaluated by priority (lower first; at equal
priority deny before allow), each with source ranges and/or source tags,
optional target tags, optional destination ranges (the rule applies only to
packets addressed there), and allowed or denied protocols with ports. Anything
not allowed is dropped (GCP's implied deny-ingress). Only forwarded traffic,
i.e. node to node, is filtered; the controller's management link and the
VPC's own services (etcd) are outside the rules, as a cloud's control plane is.

Connection tracking is stateful for tcp, udp and icmp, like GCP's; other
protocols (IPIP) need a rule in each direction, so removing a rule stops them
at once.
"""

import ipaddress

PROTOCOL_NUMBERS = {"icmp": 1, "ipip": 4, "tcp": 6, "udp": 17, "esp": 50, "ah": 51, "sctp": 132}
PORT_PROTOCOLS = {"tcp", "udp", "sctp"}


def default_rules(vpc_range):
    """The equivalent of GCP's `default-allow-internal`: no protocol 4."""
    return [
        {
            "name": "default-allow-internal",
            "network": "default",
            "direction": "INGRESS",
            "priority": 65534,
            "sourceRanges": [str(vpc_range)],
            "allowed": [
                {"IPProtocol": "tcp", "ports": ["0-65535"]},
                {"IPProtocol": "udp", "ports": ["0-65535"]},
                {"IPProtocol": "icmp"},
            ],
        }
    ]


def protocol_name(value):
    """'4', 'ipip' -> 'ipip'; '6', 'TCP' -> 'tcp'; 'all' stays 'all'."""
    text = str(value).strip().lower()
    if text.isdigit():
        number = int(text)
        for name, num in PROTOCOL_NUMBERS.items():
            if num == number:
                return name
        return str(number)
    if text == "all" or text in PROTOCOL_NUMBERS:
        return text
    raise ValueError(f"unknown IP protocol {value!r}: use a name (tcp, udp, icmp, ipip, ...) or a number")


def _l4(name):
    return str(PROTOCOL_NUMBERS.get(name, name))


def _q(name):
    return f'"{name}"'


def _set(items):
    items = list(items)
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _match_protocol(entry):
    name = protocol_name(entry["IPProtocol"])
    if name == "all":
        return [""]
    ports = [p.replace(" ", "") for p in entry.get("ports", [])]
    if ports and name in PORT_PROTOCOLS:
        return [f"meta l4proto {_l4(name)} th dport {_set(ports)}"]
    return [f"meta l4proto {_l4(name)}"]


def _sources(rule, nodes):
    ranges = [str(ipaddress.ip_network(r, strict=False)) for r in rule.get("sourceRanges", [])]
    tags = set(rule.get("sourceTags", []))
    ranges += sorted(n["ip"] + "/32" for n in nodes if tags & set(n.get("tags", [])))
    if not ranges:
        return None
    if any(r == "0.0.0.0/0" for r in ranges):
        return ""
    return f"ip saddr {_set(sorted(set(ranges)))}"


def _targets(rule, nodes):
    tags = set(rule.get("targetTags", []))
    if not tags:
        return f"oifname {_set(sorted(_q(n['veth']) for n in nodes))}" if nodes else None
    veths = sorted(_q(n["veth"]) for n in nodes if tags & set(n.get("tags", [])))
    return f"oifname {_set(veths)}" if veths else None


def _destinations(rule):
    ranges = sorted({str(ipaddress.ip_network(r, strict=False)) for r in rule.get("destinationRanges", [])})
    return f"ip daddr {_set(ranges)}" if ranges else ""


def ordered(rules):
    active = [r for r in rules if not r.get("disabled") and r.get("direction", "INGRESS") == "INGRESS"]
    return sorted(active, key=lambda r: (int(r.get("priority", 1000)), 0 if r.get("denied") else 1, r["name"]))


def render(rules, nodes, mgmt_if, table="vpc"):
    """nft script for `rules` (GCP Firewall dicts) and `nodes` ({ip, veth, tags})."""
    lines = [
        f"table inet {table}",
        f"delete table inet {table}",
        f"table inet {table} {{",
        "  chain forward {",
        "    type filter hook forward priority filter; policy drop;",
        "    # the management link (controller <-> nodes) is not subject to VPC rules",
        f'    iifname "{mgmt_if}" accept',
        f'    oifname "{mgmt_if}" accept',
        "    ct state established,related meta l4proto { tcp, udp, icmp } accept",
    ]
    for rule in ordered(rules):
        source = _sources(rule, nodes)
        target = _targets(rule, nodes)
        if source is None or target is None:
            continue
        verdict = "drop" if rule.get("denied") else "accept"
        for entry in rule.get("denied") or rule.get("allowed") or []:
            for proto in _match_protocol(entry):
                match = " ".join(part for part in (target, _destinations(rule), source, proto) if part)
                lines.append(f'    {match} counter {verdict} comment "{rule["name"]}"')
    lines += ["  }", "}", ""]
    return "\n".join(lines)
