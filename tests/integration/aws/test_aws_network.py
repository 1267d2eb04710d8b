"""roles/aws_network through ansible-playbook against a local EC2 API (moto).

Faked: AWS (moto server, dummy credentials); see conftest.py.
"""

import pytest

ADMIN_SSH = {"proto": "tcp", "ports": [22], "cidr_ip": "203.0.113.0/24", "rule_desc": "SSH from the admin network"}


def role_vars(network, endpoint, **overrides):
    values = {
        "aws_network_region": network["region"],
        "aws_network_vpc_id": network["vpc_id"],
        "aws_network_vpc_cidr": network["vpc_cidr"],
        "aws_network_endpoint_url": endpoint,
    }
    values.update(overrides)
    return values


def groups(ec2, network):
    """Every security group of the VPC, as EC2 describes it, sorted by name."""
    found = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [network["vpc_id"]]}])
    return sorted(found["SecurityGroups"], key=lambda group: group["GroupName"])


def nodes_group(ec2, network, name="calico-nodes"):
    [group] = [group for group in groups(ec2, network) if group["GroupName"] == name]
    return group


def ingress_rules(group):
    """Ingress as (protocol, from port, to port, source) tuples."""
    rules = set()
    for perm in group["IpPermissions"]:
        key = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        rules |= {(*key, ip_range["CidrIp"]) for ip_range in perm["IpRanges"]}
        rules |= {(*key, pair["GroupId"]) for pair in perm["UserIdGroupPairs"]}
    return rules


def test_group_has_exactly_the_calico_rules_and_the_extra_ones(run_playbook, ec2, network, moto_endpoint):
    run = run_playbook("aws_network", role_vars(network, moto_endpoint, aws_network_extra_rules=[ADMIN_SSH]))
    assert run.returncode == 0, run.explain()
    assert run.changed() == 1

    group = nodes_group(ec2, network)
    assert ingress_rules(group) == {
        ("4", None, None, "198.18.0.0/20"),
        ("tcp", 179, 179, group["GroupId"]),
        ("tcp", 22, 22, "203.0.113.0/24"),
    }
    descriptions = {r.get("Description") for p in group["IpPermissions"] for r in p["IpRanges"] + p["UserIdGroupPairs"]}
    assert "IPIP (IP protocol 4) between Calico nodes in the VPC" in descriptions
    assert "BGP between Calico nodes" in descriptions


def test_second_run_changes_nothing(run_playbook, ec2, network, moto_endpoint):
    values = role_vars(network, moto_endpoint, aws_network_extra_rules=[ADMIN_SSH])
    assert run_playbook("aws_network", values).returncode == 0
    before = groups(ec2, network)

    again = run_playbook("aws_network", values)
    assert again.returncode == 0, again.explain()
    assert again.changed() == 0
    assert groups(ec2, network) == before


def test_check_mode_on_a_new_vpc_reports_the_group_and_writes_nothing(run_playbook, ec2, network, moto_endpoint):
    before = groups(ec2, network)
    run = run_playbook("aws_network", role_vars(network, moto_endpoint), "--check", "--diff")
    assert run.returncode == 0, run.explain()
    assert run.changed() == 1
    assert groups(ec2, network) == before
    assert [group["GroupName"] for group in before] == ["default"]


def test_check_mode_reports_drift_and_writes_nothing(run_playbook, ec2, network, moto_endpoint):
    values = role_vars(network, moto_endpoint)
    assert run_playbook("aws_network", values).returncode == 0
    group = nodes_group(ec2, network)
    ec2.revoke_security_group_ingress(
        GroupId=group["GroupId"], IpPermissions=[{"IpProtocol": "4", "IpRanges": [{"CidrIp": "198.18.0.0/20"}]}]
    )
    before = groups(ec2, network)

    run = run_playbook("aws_network", values, "--check")
    assert run.returncode == 0, run.explain()
    assert run.changed() == 1
    assert groups(ec2, network) == before


def test_drift_is_undone(run_playbook, ec2, network, moto_endpoint):
    """A hand-made rule disappears and a deleted IPIP rule comes back."""
    values = role_vars(network, moto_endpoint)
    assert run_playbook("aws_network", values).returncode == 0
    group = nodes_group(ec2, network)
    ec2.revoke_security_group_ingress(
        GroupId=group["GroupId"], IpPermissions=[{"IpProtocol": "4", "IpRanges": [{"CidrIp": "198.18.0.0/20"}]}]
    )
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )

    run = run_playbook("aws_network", values)
    assert run.returncode == 0, run.explain()
    assert run.changed() == 1
    assert ingress_rules(nodes_group(ec2, network)) == {
        ("4", None, None, "198.18.0.0/20"),
        ("tcp", 179, 179, group["GroupId"]),
    }


def test_diff_shows_the_added_rule_and_check_mode_diff_matches_the_real_one(run_playbook, ec2, network, moto_endpoint):
    assert run_playbook("aws_network", role_vars(network, moto_endpoint)).returncode == 0
    values = role_vars(network, moto_endpoint, aws_network_extra_rules=[ADMIN_SSH])

    checked = run_playbook("aws_network", values, "--check", "--diff")
    real = run_playbook("aws_network", values, "--diff")
    assert checked.returncode == 0 and real.returncode == 0, checked.explain() + real.explain()

    def diff_of(run):
        [result] = run.task_results("Ensure the Calico nodes security group").values()
        assert result["changed"] is True
        [diff] = result["diff"]
        return diff

    def keys(permissions):
        """(protocol, from port, CIDRs): the diff writes ports as text on one side, numbers on the other."""
        return {
            (p["ip_protocol"], str(p.get("from_port")), tuple(r["cidr_ip"] for r in p["ip_ranges"]))
            for p in permissions
        }

    checked_diff, real_diff = diff_of(checked), diff_of(real)
    added = keys(real_diff["after"]["ip_permissions"]) - keys(real_diff["before"]["ip_permissions"])
    assert added == {("tcp", "22", ("203.0.113.0/24",))}
    assert checked_diff == real_diff


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"aws_network_vpc_cidr": "0.0.0.0/0"}, "aws_network_allow_public_sources"),
        (
            {"aws_network_extra_rules": [{"proto": "-1", "cidr_ip": "8.8.8.0/24"}]},
            "IP protocol 4 (or all traffic) from 8.8.8.0/24",
        ),
        ({"aws_network_vpc_cidr": "198.18.0.0/33"}, "Set aws_network_vpc_cidr"),
        ({"aws_network_vpc_id": "my-vpc"}, "aws_network_vpc_id"),
        ({"aws_network_extra_rules": [{"proto": "ipip", "cidr_ip": "10.0.0.0/8"}]}, 'write proto: "4"'),
        ({"aws_network_extra_rules": [{"proto": "tcp", "ports": [22], "cidr_ip": "10.0.0/8"}]}, "cidr_ip 10.0.0/8"),
    ],
)
def test_bad_input_is_refused_before_any_api_call(run_playbook, ec2, network, moto_endpoint, overrides, message):
    before = groups(ec2, network)
    run = run_playbook("aws_network", role_vars(network, moto_endpoint, **overrides))
    assert run.returncode != 0
    [failure] = run.failure_messages()
    assert message in failure, run.explain()
    assert groups(ec2, network) == before


def test_public_source_is_accepted_when_explicitly_allowed(run_playbook, ec2, network, moto_endpoint):
    public_ipip = {"proto": "4", "cidr_ip": "192.0.2.0/24", "rule_desc": "IPIP from the partner site"}
    run = run_playbook(
        "aws_network",
        role_vars(network, moto_endpoint, aws_network_extra_rules=[public_ipip], aws_network_allow_public_sources=True),
    )
    assert run.returncode == 0, run.explain()
    assert ("4", None, None, "192.0.2.0/24") in ingress_rules(nodes_group(ec2, network))


def cluster_with_its_own_group(ec2, network, unique):
    """An existing cluster: its own group (kubelet 10250 added by hand) and two nodes in it."""
    cluster_group = ec2.create_security_group(GroupName=f"k8s-{unique}", Description="the cluster's own group",
                                              VpcId=network["vpc_id"])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=cluster_group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 10250, "ToPort": 10250, "IpRanges": [{"CidrIp": network["vpc_cidr"]}]}])
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    reservation = ec2.run_instances(
        ImageId=image, MinCount=2, MaxCount=2, SubnetId=network["subnet_id"], SecurityGroupIds=[cluster_group],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "cluster", "Value": unique}]}])
    return cluster_group, sorted(i["InstanceId"] for i in reservation["Instances"])


def instance_groups(ec2, instance_ids):
    found = ec2.describe_instances(InstanceIds=instance_ids)
    return {i["InstanceId"]: sorted(g["GroupId"] for g in i["SecurityGroups"])
            for r in found["Reservations"] for i in r["Instances"]}


def test_rules_of_the_cluster_s_own_group_survive_and_existing_nodes_join_the_group(
        run_playbook, ec2, network, moto_endpoint, unique):
    cluster_group, instances = cluster_with_its_own_group(ec2, network, unique)
    values = role_vars(network, moto_endpoint, aws_network_node_filters={"tag:cluster": unique})

    checked = run_playbook("aws_network", values, "--check", "--diff")
    assert checked.returncode == 0, checked.explain()
    assert instance_groups(ec2, instances) == {i: [cluster_group] for i in instances}

    run = run_playbook("aws_network", values, "--diff")
    assert run.returncode == 0, run.explain()
    owned = nodes_group(ec2, network)["GroupId"]
    assert instance_groups(ec2, instances) == {i: sorted([cluster_group, owned]) for i in instances}
    [members] = run.task_results("Make every existing cluster node a member").values()
    assert members["changed"] is True and sorted(members["added_to"]) == instances
    diff = members["diff"]
    assert all(owned in groups and cluster_group in groups for groups in diff["after"].values())
    assert all(groups == [cluster_group] for groups in diff["before"].values())

    [kept] = [g for g in groups(ec2, network) if g["GroupId"] == cluster_group]
    assert ingress_rules(kept) == {("tcp", 10250, 10250, network["vpc_cidr"])}

    again = run_playbook("aws_network", values)
    assert again.returncode == 0 and again.changed() == 0, again.explain()
