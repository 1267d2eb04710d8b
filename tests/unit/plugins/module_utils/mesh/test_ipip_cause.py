"""The cause of ipip_blocked is chosen from the cloud's rules, never hard-coded.

GCP: rule missing, a node without the rule's target tag (named, with the command that adds it), a deny
rule of higher priority, the rule present and applying (remaining suspects). AWS: a node outside the
security group whose rule allows protocol 4. Rules not read: every suspect, no claim.
"""

import json
import shlex

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import playbook_command
from ansible_collections.calico_fleet.fleet.plugins.module_utils.in_process import ModuleFailure
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.check import mesh_check
from ansible_collections.calico_fleet.fleet.plugins.module_utils.mesh.cloud_rules import CloudRules

from .mesh_cluster import Cluster

VPC = "10.0.0.0/16"
DEFAULT_INTERNAL = {"name": "default-allow-internal", "priority": 65534, "direction": "INGRESS",
                    "source_ranges": [VPC], "allowed": [{"protocol": "tcp", "ports": ["0-65535"]},
                                                        {"protocol": "udp", "ports": ["0-65535"]},
                                                        {"protocol": "icmp"}]}
CALICO_IPIP = {"name": "calico-ipip", "priority": 1000, "direction": "INGRESS", "source_ranges": [VPC],
               "target_tags": ["calico-node"], "allowed": [{"protocol": "ipip"}]}


def gcp(cluster, firewalls, untagged=()):
    instances = [{"name": inv, "zone": "europe-west1-b", "private_ip": cluster.ip(inv),
                  "tags": [] if inv in untagged else ["calico-node"]} for inv in cluster.hosts]
    return {"provider": "gcp", "project": "prod", "network": "default", "firewalls": firewalls,
            "instances": instances}


def blocked_towards(cluster, *targets):
    return {(a, t) for t in targets for a in cluster.hosts if a != t}


def everywhere(cluster):
    return {(a, b) for a in cluster.hosts for b in cluster.hosts if a != b}


def only_ipip(report):
    found = [f for f in report["findings"] if f.kind == "ipip_blocked"]
    assert len(found) == 1, report["findings"]
    return found[0]


def test_rule_missing_names_the_rules_seen_instead_of_a_fixed_text():
    cluster = Cluster(3)
    f = only_ipip(cluster.evaluate(probe=cluster.probe_matrix(everywhere(cluster)),
                                   cloud_rules=gcp(cluster, [DEFAULT_INTERNAL])))
    assert "No enabled VPC firewall rule allows IP protocol 4 towards node1, node2, node3" in f.cause
    assert "allows only tcp, udp and icmp" not in f.cause
    assert ("firewall rule default-allow-internal (priority 65534) allows tcp, udp, icmp from 10.0.0.0/16 to "
            "every instance") in f.evidence
    assert f.fix.to_text().endswith("ansible-playbook calico_fleet.fleet.scale_out --tags network")


def test_node_without_the_target_tag_is_named_with_the_command_that_adds_it():
    cluster = Cluster(3)
    f = only_ipip(cluster.evaluate(probe=cluster.probe_matrix(blocked_towards(cluster, "node3")),
                                   cloud_rules=gcp(cluster, [DEFAULT_INTERNAL, CALICO_IPIP], untagged=["node3"])))
    assert f.hosts == ["node3"]
    assert ("firewall rule calico-ipip (priority 1000) allows ipip from 10.0.0.0/16 to instances tagged "
            "calico-node") in f.evidence
    assert "Instance node3 (node3) lacks the network tag calico-node that firewall rule calico-ipip targets" in f.cause
    command = f.fix.to_text().split(": ", 1)[1]
    argv = shlex.split(command)
    assert argv[:4] == ["ansible-playbook", "calico_fleet.fleet.scale_out", "--tags", "network"]
    assert json.loads(argv[argv.index("-e") + 1]) == {"gcp_network_node_instances": ["node3"],
                                                       "gcp_network_node_zones": ["europe-west1-b"]}


def test_deny_rule_of_higher_priority_is_named():
    cluster = Cluster(3)
    deny = {"name": "deny-ipip", "priority": 900, "direction": "INGRESS", "source_ranges": ["0.0.0.0/0"],
            "denied": [{"protocol": "4"}]}
    f = only_ipip(cluster.evaluate(probe=cluster.probe_matrix(everywhere(cluster)),
                                   cloud_rules=gcp(cluster, [DEFAULT_INTERNAL, CALICO_IPIP, deny])))
    assert "Firewall rule deny-ipip (priority 900) denies IP protocol 4 and takes precedence" in f.cause
    assert "gcloud compute firewall-rules delete deny-ipip --project prod" in f.fix.to_text()
    assert """-e '{"gcp_network_priority": 899}'""" in f.fix.to_text()


def test_rule_present_and_applying_lists_the_remaining_suspects():
    cluster = Cluster(3)
    f = only_ipip(cluster.evaluate(probe=cluster.probe_matrix(everywhere(cluster)),
                                   cloud_rules=gcp(cluster, [DEFAULT_INTERNAL, CALICO_IPIP])))
    assert "Firewall rule calico-ipip allows IP protocol 4 from the other nodes and applies to all nodes" in f.cause
    assert "the rule is present" in f.cause
    for suspect in ("hierarchical firewall policy", "host firewall"):
        assert suspect in f.cause
    assert "No enabled VPC firewall rule" not in f.cause and "lacks the network tag" not in f.cause
    assert "gcloud compute networks get-effective-firewalls default --project prod" in f.fix.to_text()
    assert "scale_out" not in f.fix.to_text()  # the network play would change nothing


def test_rules_not_read_claim_nothing_and_list_every_suspect():
    cluster = Cluster(3)
    for rules in (None, {"provider": "gcp", "error": "403 compute.firewalls.list"}):
        f = only_ipip(cluster.evaluate(probe=cluster.probe_matrix(everywhere(cluster)), cloud_rules=rules))
        assert "not looked at" in f.cause and "not narrowed down" in f.cause
        for suspect in ("missing rule", "network tag", "deny rule of higher priority", "host firewall"):
            assert suspect in f.cause
    assert "403 compute.firewalls.list" in f.cause


def test_aws_node_outside_the_group_is_named_with_the_command_that_adds_it():
    cluster = Cluster(3)
    own = {"group_id": "sg-0own", "group_name": "k8s-nodes",
           "ip_permissions": [{"ip_protocol": "tcp", "from_port": 22, "to_port": 22,
                               "ip_ranges": [{"cidr_ip": VPC}]}]}
    calico = {"group_id": "sg-0calico", "group_name": "calico-nodes",
              "ip_permissions": [{"ip_protocol": "4", "ip_ranges": [{"cidr_ip": VPC}]},
                                 {"ip_protocol": "tcp", "from_port": 179, "to_port": 179,
                                  "user_id_group_pairs": [{"group_id": "sg-0calico"}]}]}
    instances = [{"instance_id": f"i-0{n}", "private_ip_address": cluster.ip(inv), "tags": {"Name": inv},
                  "security_groups": [{"group_id": "sg-0own", "group_name": "k8s-nodes"}]
                  + ([] if inv == "node2" else [{"group_id": "sg-0calico", "group_name": "calico-nodes"}])}
                 for n, inv in enumerate(cluster.hosts, start=1)]
    rules = {"provider": "aws", "vpc_id": "vpc-0abc", "instances": instances, "security_groups": [own, calico]}
    f = only_ipip(cluster.evaluate(probe=cluster.probe_matrix(blocked_towards(cluster, "node2")), cloud="aws",
                                   cloud_rules=rules))
    assert f.hosts == ["node2"]
    assert "Instance node2 (node2, i-02) is not a member of security group calico-nodes" in f.cause
    assert """-e '{"aws_network_node_filters": {"instance-id": ["i-02"]}}'""" in f.fix.to_text()
    assert "security group k8s-nodes (sg-0own) allows protocols tcp" in f.evidence


def test_verdicts_one_direction_at_a_time():
    rules = CloudRules({"provider": "gcp", "firewalls": [CALICO_IPIP, {
        "name": "deny-low", "priority": 2000, "denied": [{"protocol": "all"}], "source_ranges": ["0.0.0.0/0"]}],
        "instances": [{"name": "a", "private_ip": "10.0.0.1", "tags": ["calico-node"]},
                      {"name": "b", "private_ip": "10.0.0.2", "tags": []}]})
    assert rules.verdict("10.0.0.2", "10.0.0.1")[0] == "allowed"
    kind, detail = rules.verdict("10.0.0.1", "10.0.0.2")
    assert kind == "denied" and detail["rule"]["name"] == "deny-low"  # the tagged allow does not reach b
    assert rules.verdict("10.0.0.1", "10.0.0.9")[0] == "unknown"


def test_printed_commands_name_the_inventory_in_use(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inv").mkdir()
    inventory = [str(tmp_path / "inv"), "/etc/ansible/other inventory"]
    assert playbook_command("scale_out", tags="network", inventory=inventory) == (
        "ansible-playbook -i inv -i '/etc/ansible/other inventory' calico_fleet.fleet.scale_out --tags network")
    cluster = Cluster(3)
    args = cluster.check_input(probe=cluster.probe_matrix(everywhere(cluster)),
                               cloud_rules=gcp(cluster, [DEFAULT_INTERNAL]))
    result = mesh_check({**args, "inventory": ["inv"], "fail_on_findings": False, "bgp_configuration": cluster.bgp})
    # The returned finding keeps the fix as data; the inventory is named only when it is rendered.
    fix = result["findings"][0]["fix"]
    assert (fix["playbook"], fix["tags"]) == ("scale_out", ["network"])
    with pytest.raises(ModuleFailure) as failure:
        mesh_check({**args, "inventory": ["inv"], "fail_on_findings": True, "bgp_configuration": cluster.bgp})
    assert "Run: ansible-playbook -i inv calico_fleet.fleet.scale_out --tags network" in failure.value.msg
