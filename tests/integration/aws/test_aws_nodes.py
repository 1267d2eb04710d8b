"""roles/aws_nodes through ansible-playbook against a local EC2 API (moto).

Faked: AWS (moto server, dummy credentials; moto's instances are records,
nothing boots); see conftest.py.
"""

import base64

import pytest

LIVE = ["pending", "running", "stopping", "stopped"]


@pytest.fixture(scope="session")
def image_id(moto_endpoint):
    from lab.moto_server import ec2_client

    return ec2_client(moto_endpoint).describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


@pytest.fixture
def nodes_group(ec2, network):
    """The nodes' security group, as aws_network would leave it (its rules do not matter here)."""
    return ec2.create_security_group(GroupName="calico-nodes", Description="nodes", VpcId=network["vpc_id"])["GroupId"]


@pytest.fixture
def role_vars(network, moto_endpoint, image_id, nodes_group, unique):
    def make(count=3, **overrides):
        values = {
            "aws_nodes_instances": [
                {"name": f"aws-na-k8s-{i}", "hostname": f"aws-na-k8s-{i}.k8s.internal"} for i in range(1, count + 1)
            ],
            "aws_nodes_region": network["region"],
            "aws_nodes_subnet_id": network["subnet_id"],
            "aws_nodes_image_id": image_id,
            "aws_nodes_cluster_name": f"test-{unique}",
            "aws_nodes_endpoint_url": moto_endpoint,
            "aws_nodes_wait_delay": 1,
            "aws_nodes_wait_timeout": 60,
        }
        values.update(overrides)
        return values

    return make


def live_instances(ec2, cluster):
    found = ec2.describe_instances(
        Filters=[
            {"Name": "tag:calico-fleet/cluster", "Values": [cluster]},
            {"Name": "instance-state-name", "Values": LIVE},
        ]
    )
    instances = [i for reservation in found["Reservations"] for i in reservation["Instances"]]
    return sorted(instances, key=lambda i: name_of(i))


def name_of(instance):
    return {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}.get("Name")


def source_dest_check(ec2, instance):
    answer = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="sourceDestCheck")
    return answer["SourceDestCheck"]["Value"]


def added_hosts(run):
    """{inventory host: (ansible_host, aws_nodes_instance)} as the playbook's second play sees them."""
    shown = run.task_results("Show each node's address")
    return {host: (result["msg"]["ansible_host"], result["msg"]["instance"]) for host, result in shown.items()}


def launch_changes(run):
    """Names of the planned instances the launch task changed."""
    [result] = run.task_results("Launch each planned instance").values()
    return [item["item"]["name"] for item in result["results"] if item["changed"]]


def test_instances_are_tagged_in_the_group_and_added_one_host_each(run_playbook, ec2, role_vars, nodes_group):
    values = role_vars(aws_nodes_calico_ipip_mode="CrossSubnet")
    run = run_playbook("aws_nodes", values)
    assert run.returncode == 0, run.explain()

    instances = live_instances(ec2, values["aws_nodes_cluster_name"])
    assert [name_of(i) for i in instances] == ["aws-na-k8s-1", "aws-na-k8s-2", "aws-na-k8s-3"]
    for instance in instances:
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [nodes_group]
        assert instance["SubnetId"] == values["aws_nodes_subnet_id"]
        assert instance["State"]["Name"] == "running"
        user_data = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
        text = base64.b64decode(user_data["UserData"]["Value"]).decode()
        assert text.startswith("#cloud-config\n")
        assert f"hostname: {name_of(instance)}\n" in text
        assert f"fqdn: {name_of(instance)}.k8s.internal\n" in text
        # CrossSubnet: same-subnet pod traffic is not encapsulated.
        assert source_dest_check(ec2, instance) is False

    assert added_hosts(run) == {
        name_of(i): (
            i["PrivateIpAddress"],
            {
                "name": name_of(i),
                "hostname": f"{name_of(i)}.k8s.internal",
                "private_ip": i["PrivateIpAddress"],
                "instance_id": i["InstanceId"],
            },
        )
        for i in instances
    }


def test_source_dest_check_stays_on_with_always_and_follows_a_mode_change(run_playbook, ec2, role_vars):
    values = role_vars(count=2, aws_nodes_calico_ipip_mode="Always")
    assert run_playbook("aws_nodes", values).returncode == 0
    instances = live_instances(ec2, values["aws_nodes_cluster_name"])
    assert [source_dest_check(ec2, i) for i in instances] == [True, True]

    switched = run_playbook("aws_nodes", dict(values, aws_nodes_calico_ipip_mode="CrossSubnet"))
    assert switched.returncode == 0, switched.explain()
    assert launch_changes(switched) == ["aws-na-k8s-1", "aws-na-k8s-2"]
    after = live_instances(ec2, values["aws_nodes_cluster_name"])
    assert [i["InstanceId"] for i in after] == [i["InstanceId"] for i in instances]
    assert [source_dest_check(ec2, i) for i in after] == [False, False]


def test_rerun_creates_nothing_and_adds_the_same_hosts(run_playbook, ec2, role_vars):
    values = role_vars()
    first = run_playbook("aws_nodes", values)
    assert first.returncode == 0, first.explain()
    before = live_instances(ec2, values["aws_nodes_cluster_name"])

    again = run_playbook("aws_nodes", values)
    assert again.returncode == 0, again.explain()
    assert launch_changes(again) == []
    assert again.changed() == 0
    assert live_instances(ec2, values["aws_nodes_cluster_name"]) == before
    assert added_hosts(again) == added_hosts(first)


def test_scale_out_launches_only_the_missing_instance(run_playbook, ec2, role_vars):
    values = role_vars(count=2)
    assert run_playbook("aws_nodes", values).returncode == 0
    before = {i["InstanceId"] for i in live_instances(ec2, values["aws_nodes_cluster_name"])}

    bigger = role_vars(count=3)
    run = run_playbook("aws_nodes", bigger)
    assert run.returncode == 0, run.explain()
    assert launch_changes(run) == ["aws-na-k8s-3"]
    after = live_instances(ec2, values["aws_nodes_cluster_name"])
    assert before < {i["InstanceId"] for i in after}
    assert [name_of(i) for i in after] == ["aws-na-k8s-1", "aws-na-k8s-2", "aws-na-k8s-3"]
    assert len(added_hosts(run)) == 3


def test_check_mode_launches_nothing(run_playbook, ec2, role_vars):
    values = role_vars()
    before = ec2.describe_instances()["Reservations"]
    run = run_playbook("aws_nodes", values, "--check")
    assert run.returncode == 0, run.explain()
    assert launch_changes(run) == ["aws-na-k8s-1", "aws-na-k8s-2", "aws-na-k8s-3"]
    assert ec2.describe_instances()["Reservations"] == before


def test_two_instances_with_one_name_are_reported(run_playbook, ec2, role_vars, image_id, network):
    """The AWS incident: a leftover machine with a planned name makes a second one."""
    values = role_vars(count=2)
    assert run_playbook("aws_nodes", values).returncode == 0
    tags = [
        {"Key": "Name", "Value": "aws-na-k8s-1"},
        {"Key": "calico-fleet/cluster", "Value": values["aws_nodes_cluster_name"]},
    ]
    ec2.run_instances(
        ImageId=image_id,
        MinCount=1,
        MaxCount=1,
        SubnetId=network["subnet_id"],
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )

    run = run_playbook("aws_nodes", values)
    assert run.returncode != 0
    [failure] = run.failure_messages()
    assert "aws-na-k8s-1 (i-" in failure and "Terminate the extra instances" in failure, run.explain()


@pytest.mark.parametrize(
    "instances, message",
    [
        ([{"name": "AWS-na-k8s-temp1", "hostname": "aws-na-k8s-temp1"}], "AWS-na-k8s-temp1"),
        (
            [{"name": "n1", "hostname": "same"}, {"name": "n2", "hostname": "same"}],
            "duplicated: same",
        ),
        ([{"name": "n1", "hostname": "node_1.k8s"}], "node_1.k8s"),
        ([{"name": "n1"}], "missing required arguments: hostname found in aws_nodes_instances"),
    ],
)
def test_bad_plan_is_refused_before_any_api_call(run_playbook, ec2, role_vars, instances, message):
    before = ec2.describe_instances()["Reservations"]
    run = run_playbook("aws_nodes", role_vars(aws_nodes_instances=instances))
    assert run.returncode != 0
    [failure] = run.failure_messages()
    assert message in failure, run.explain()
    assert ec2.describe_instances()["Reservations"] == before
