"""The hostname plan: unique, lower-case, deterministic names for new machines."""

import random

import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils import hostnames
from ansible_collections.calico_fleet.fleet.plugins.module_utils.hostnames import (
    InvalidInputError,
    InvalidSchemeError,
    NameCollisionError,
    plan_hostnames,
)

# The AWS scale-out incident (field notes, section 3).
INCIDENT_EXISTING = {
    "cloud_instance": [{"name": "aws-na-k8s-temp1", "location": "us-east-1", "ip": "172.31.3.33"}],
    "cloud_hostname": [{"name": "ip-172-31-3-33.ec2.internal", "ip": "172.31.3.33"}],
    # kubeasz names Kubernetes nodes by IP
    "kubernetes_node": ["172.31.3.33", "172.31.8.108"],
    "calico_node": [{"name": "aws-na-k8s-temp1", "ip": "172.31.3.33"}],
    "inventory": ["aws-na-k8s-temp1"],
}


def names(plan):
    return [entry["name"] for entry in plan]


def test_upper_case_prefix_of_the_incident_is_refused_with_lower_case_advice():
    with pytest.raises(InvalidSchemeError) as err:
        plan_hostnames(3, INCIDENT_EXISTING, scheme="prefix", prefix="AWS-na-k8s-temp", separator="")
    message = str(err.value)
    assert "upper-case" in message
    assert "use lower case: 'aws-na-k8s-temp'" in message
    assert "'AWS-na-k8s-temp1' and 'aws-na-k8s-temp1' would be the same node" in message


def test_lower_case_prefix_continues_after_the_existing_machine():
    plan = plan_hostnames(3, INCIDENT_EXISTING, scheme="prefix", prefix="aws-na-k8s-temp", separator="")
    assert names(plan) == ["aws-na-k8s-temp2", "aws-na-k8s-temp3", "aws-na-k8s-temp4"]
    assert all(entry["hostname"] == entry["name"] and not entry["reused"] for entry in plan)


def test_stale_calico_node_name_is_skipped():
    existing = dict(INCIDENT_EXISTING, calico_node=["aws-na-k8s-temp1", "aws-na-k8s-temp2"])
    plan = plan_hostnames(3, existing, scheme="prefix", prefix="aws-na-k8s-temp", separator="")
    assert names(plan) == ["aws-na-k8s-temp3", "aws-na-k8s-temp4", "aws-na-k8s-temp5"]


def test_existing_names_compare_case_insensitively_and_by_short_name():
    existing = {
        "cloud_instance": ["AWS-na-k8s-temp1"],
        "cloud_hostname": ["aws-na-k8s-temp2.ec2.internal"],
        "kubernetes_node": ["AWS-NA-K8S-TEMP3.cluster.local"],
    }
    plan = plan_hostnames(2, existing, scheme="prefix", prefix="aws-na-k8s-temp", separator="")
    assert names(plan) == ["aws-na-k8s-temp4", "aws-na-k8s-temp5"]


def test_default_separator_gives_prefix_dash_index():
    plan = plan_hostnames(2, {"inventory": ["web-1", "web-7", "webserver-9"]}, scheme="prefix", prefix="web")
    assert names(plan) == ["web-8", "web-9"]


def test_ip_derived_names_like_the_operators_fix():
    plan = plan_hostnames(["172.31.7.227", {"ip": "172.31.1.50"}], INCIDENT_EXISTING)
    assert plan == [
        {"name": "ip-172-31-1-50", "hostname": "ip-172-31-1-50", "ip": "172.31.1.50", "reused": False},
        {"name": "ip-172-31-7-227", "hostname": "ip-172-31-7-227", "ip": "172.31.7.227", "reused": False},
    ]


def test_ipv6_names_use_all_groups_and_stay_valid():
    plan = plan_hostnames(["2001:db8::", "fd00::1"], None)
    assert names(plan) == [
        "ip-2001-0db8-0000-0000-0000-0000-0000-0000",
        "ip-fd00-0000-0000-0000-0000-0000-0000-0001",
    ]
    assert all(hostnames.is_valid_name(name) for name in names(plan))


def test_ip_scheme_recognises_the_machine_itself_by_its_ip():
    """AWS already gives a new machine the hostname ip-a-b-c-d; that is not a clash."""
    existing = {"cloud_hostname": [{"name": "ip-172-31-7-227.ec2.internal", "ip": "172.31.7.227"}]}
    assert names(plan_hostnames(["172.31.7.227"], existing)) == ["ip-172-31-7-227"]


def test_ip_scheme_clash_names_the_other_name_and_where_it_lives():
    existing = {"calico_node": [{"name": "ip-172-31-7-227", "ip": "172.31.9.9"}]}
    with pytest.raises(NameCollisionError) as err:
        plan_hostnames(["172.31.7.227"], existing)
    message = str(err.value)
    assert message.startswith(
        "ip-172-31-7-227 (from IP 172.31.7.227) is already used by Calico Node ip-172-31-7-227 (datastore)")
    assert "calicoctl delete node ip-172-31-7-227" in message
    assert err.value.other.source == "calico_node"


def test_ip_scheme_needs_ips():
    with pytest.raises(InvalidInputError, match="give each new machine its 'ip'"):
        plan_hostnames(2, None, scheme="ip")


def test_template_with_cluster_role_and_index():
    plan = plan_hostnames(
        [{"ip": "10.0.1.5", "role": "worker"}, {"ip": "10.0.1.4", "role": "master"}, {"ip": "10.0.1.6"}],
        {"kubernetes_node": ["na-worker-1"]},
        scheme="template", template="{cluster}-{role}-{index}", variables={"cluster": "na", "role": "worker"})
    assert names(plan) == ["na-master-1", "na-worker-2", "na-worker-3"]


def test_template_with_ip_placeholder():
    plan = plan_hostnames(["10.0.1.5"], None, scheme="template", template="k8s-{ip}")
    assert names(plan) == ["k8s-10-0-1-5"]


@pytest.mark.parametrize(
    ("template", "variables", "reason"),
    [
        ("{cluster}-node", {"cluster": "na"}, "same name; include {index} or {ip}"),
        ("{cluster}-{host}-{index}", {"cluster": "na"}, "unknown placeholder {host}"),
        ("Node-{index}", None, "use lower case: 'node-{index}'"),
        ("node_{index}", None, "'node_' is not allowed"),
        ("node-{index:03d}", None, "takes no format spec"),
        ("node-{index!r}", None, "takes no format spec or conversion"),
        ("node-{index", None, "is not valid"),
        ("{}-{index}", None, "unknown placeholder {}"),
        ("{cluster}-{index}", None, "set variables.cluster"),
        ("{cluster}-{index}", {"cluster": "NA"}, "use lower case: 'na'"),
        ("{cluster}-{index}", {"cluster": "n.a"}, "is not valid in a name"),
        ("{index}-{index}", None, "use {index} once"),
        ("", None, "needs a template"),
    ],
)
def test_invalid_templates_are_refused(template, variables, reason):
    with pytest.raises(InvalidSchemeError) as err:
        plan_hostnames(2, None, scheme="template", template=template, variables=variables)
    assert reason in str(err.value)


@pytest.mark.parametrize(
    ("prefix", "separator", "reason"),
    [
        ("AWS-na-k8s-temp", "-", "use lower case: 'aws-na-k8s-temp'"),
        ("", "-", "needs a prefix"),
        (None, "-", "needs a prefix"),
        ("node_", "-", "only a-z, 0-9 and '-'"),
        ("node-", "-", "must not end with '-'"),
        ("node1", "", "ends with a digit"),
        ("node", "_", "separator '_' is not allowed"),
        ("n" * 62, "-", "at most 61 leave room for the index"),
    ],
)
def test_invalid_prefixes_are_refused(prefix, separator, reason):
    with pytest.raises(InvalidSchemeError) as err:
        plan_hostnames(1, None, scheme="prefix", prefix=prefix, separator=separator)
    assert reason in str(err.value)


def test_a_leading_digit_is_refused_on_gcp_only_where_the_name_is_the_instance_name():
    # GCE instance names are RFC 1035 (a letter first); Kubernetes and Calico node names, EC2 Name tags
    # and Linux hostnames are RFC 1123 labels, which may start with a digit.
    for cloud in ("gcp",):
        with pytest.raises(InvalidSchemeError, match="must start with a letter"):
            plan_hostnames(1, None, scheme="prefix", prefix="9node", cloud=cloud, domain="c.p.internal")
        with pytest.raises(InvalidSchemeError, match="must start with a letter"):
            plan_hostnames(2, None, scheme="template", template="{index}-node", cloud=cloud, domain="c.p.internal")
    assert [e["name"] for e in plan_hostnames(1, None, scheme="prefix", prefix="9node", cloud="aws")] == ["9node-1"]
    assert [e["name"] for e in plan_hostnames(1, None, scheme="template", template="{index}-node")] == ["1-node"]


def test_unknown_scheme_is_refused():
    with pytest.raises(InvalidSchemeError, match="use one of ip, prefix, template"):
        plan_hostnames(1, None, scheme="random")


def test_names_stay_within_63_characters():
    prefix = "n" * 60
    plan = plan_hostnames(2, {"inventory": [prefix + "-97"]}, scheme="prefix", prefix=prefix)
    assert names(plan) == [prefix + "-98", prefix + "-99"]
    assert all(len(name) == 63 for name in names(plan))
    with pytest.raises(InvalidSchemeError, match=f"gives '{prefix}-100'.*64 characters, more than 63"):
        plan_hostnames(3, {"inventory": [prefix + "-97"]}, scheme="prefix", prefix=prefix)


def test_same_inputs_same_plan_whatever_the_order():
    machines = [{"ip": f"10.0.{i // 200}.{i % 200 + 1}", "role": "worker"} for i in range(30)]
    existing = [{"name": f"na-worker-{i}", "source": src}
                for i, src in zip(range(1, 40, 3), ["calico_node", "inventory", "kubernetes_node"] * 20,
                                  strict=False)]
    kwargs = {"scheme": "template", "template": "{cluster}-{role}-{index}", "variables": {"cluster": "na"}}
    first = plan_hostnames(machines, existing, **kwargs)
    assert plan_hostnames(machines, existing, **kwargs) == first
    rng = random.Random(5)
    for _ in range(5):
        rng.shuffle(machines)
        rng.shuffle(existing)
        assert plan_hostnames(machines, existing, **kwargs) == first
    assert len(set(names(first))) == 30


def test_clash_reported_is_the_same_whatever_the_order():
    existing = [
        {"name": "ip-10-0-0-5", "source": "inventory"},
        {"name": "ip-10-0-0-5", "source": "calico_node"},
        {"name": "IP-10-0-0-5.example.org", "source": "cloud_hostname"},
    ]
    messages = set()
    for order in (existing, existing[::-1]):
        with pytest.raises(NameCollisionError) as err:
            plan_hostnames(["10.0.0.5"], order)
        messages.add(str(err.value))
    assert len(messages) == 1
    assert "cloud instance hostname IP-10-0-0-5.example.org (cloud)" in messages.pop()


def test_rerun_after_partial_failure_reuses_names_already_given():
    first = plan_hostnames(3, INCIDENT_EXISTING, scheme="prefix", prefix="aws-na-k8s-temp", separator="")
    created = [{"name": entry["name"], "ip": ip} for entry, ip in zip(first[:2], ["172.31.5.1", "172.31.5.2"],
                                                                       strict=True)]
    # The two machines that were created now exist in the cloud, the inventory and the datastore.
    existing = {key: list(value) for key, value in INCIDENT_EXISTING.items()}
    existing["cloud_instance"] += created
    existing["inventory"] += [c["name"] for c in created]
    existing["calico_node"] += created[:1]
    rerun = plan_hostnames(3, existing, scheme="prefix", prefix="aws-na-k8s-temp", separator="",
                           assigned=created)
    assert names(rerun) == names(first)
    assert [entry["reused"] for entry in rerun] == [True, True, False]
    assert [entry["ip"] for entry in rerun] == ["172.31.5.1", "172.31.5.2", None]


def test_without_names_already_given_a_rerun_plans_fresh_names():
    existing = dict(INCIDENT_EXISTING, inventory=["aws-na-k8s-temp1", "aws-na-k8s-temp2"])
    plan = plan_hostnames(2, existing, scheme="prefix", prefix="aws-na-k8s-temp", separator="")
    assert names(plan) == ["aws-na-k8s-temp3", "aws-na-k8s-temp4"]


def test_name_already_given_that_another_live_node_holds_is_refused():
    existing = {"calico_node": [{"name": "aws-na-k8s-temp2", "ip": "172.31.9.9"}]}
    with pytest.raises(NameCollisionError, match=r"aws-na-k8s-temp2 is already used by Calico Node "
                                                 r"aws-na-k8s-temp2 \(datastore\) with IP 172.31.9.9"):
        plan_hostnames(["172.31.5.1"], existing, scheme="prefix", prefix="aws-na-k8s-temp", separator="",
                       assigned=[{"name": "aws-na-k8s-temp2", "ip": "172.31.5.1"}])


def test_more_names_given_than_machines_is_refused():
    with pytest.raises(InvalidInputError, match="ask for at least as many machines"):
        plan_hostnames(1, None, scheme="prefix", prefix="a", assigned=["a-1", "a-2"])


def test_gcp_hostnames_are_fqdns_the_api_accepts():
    domain = "us-central1-a.c.my-project.internal"
    plan = plan_hostnames(2, None, scheme="prefix", prefix="gke-pool", domain=domain, cloud="gcp")
    assert [entry["hostname"] for entry in plan] == [f"gke-pool-1.{domain}", f"gke-pool-2.{domain}"]
    for entry in plan:
        assert hostnames.is_valid_fqdn(entry["hostname"], rfc1035=True)
        assert len(entry["hostname"].split(".")) >= 2


def test_gcp_needs_a_domain_and_a_valid_one():
    with pytest.raises(InvalidInputError, match=r"<zone>\.c\.<project>\.internal"):
        plan_hostnames(1, None, scheme="prefix", prefix="a", cloud="gcp")
    with pytest.raises(InvalidInputError, match="label '1zone' is not a valid"):
        plan_hostnames(1, None, scheme="prefix", prefix="a", cloud="gcp", domain="1zone.c.p.internal")
    with pytest.raises(InvalidInputError, match="use lower case: 'c.p.internal'"):
        plan_hostnames(1, None, scheme="prefix", prefix="a", cloud="gcp", domain="C.P.internal")
    with pytest.raises(InvalidInputError, match="more than 253"):
        plan_hostnames(1, None, scheme="prefix", prefix="a", cloud="gcp", domain=".".join(["d" * 63] * 4))


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("ip-172-31-7-227", True),
        ("a", True),
        ("a" * 63, True),
        ("a" * 64, False),
        ("AWS-na-k8s-temp1", False),
        ("node-", False),
        ("1node", True),
        ("node.example", False),
        ("", False),
        (None, False),
    ],
)
def test_is_valid_name(name, valid):
    assert hostnames.is_valid_name(name) is valid
    assert hostnames.is_valid_name(name, cloud="aws") is valid


def test_on_gcp_a_node_name_starts_with_a_letter():
    assert not hostnames.is_valid_name("1node", cloud="gcp")
    assert hostnames.is_valid_name("node1", cloud="gcp")


@pytest.mark.parametrize(
    ("existing", "reason"),
    [
        ([{"name": "a-1"}], "has source None"),
        ([{"name": "a-1", "source": "dns"}], "use one of cloud_instance"),
        ([{"source": "inventory"}], "non-empty 'name'"),
        ({"inventory": "a-1"}, "must be a list"),
        ([{"name": "a-1", "source": "inventory", "ip": "10.0.0.300"}], "not an IP address"),
        ("a-1", "must be a list"),
    ],
)
def test_malformed_existing_names_are_refused(existing, reason):
    with pytest.raises(InvalidInputError, match=reason):
        plan_hostnames(1, existing, scheme="prefix", prefix="a")


def test_duplicate_new_ips_are_refused():
    with pytest.raises(InvalidInputError, match="listed for two new machines"):
        plan_hostnames(["10.0.0.1", "10.0.0.1"], None)
