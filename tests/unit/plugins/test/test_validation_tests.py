"""The Jinja test plugins: each one the Python rule of plugins/module_utils/validation, documented for ansible-doc."""

import json
import os
import subprocess
import sys

import jinja2
import pytest
from ansible_collections.calico_fleet.fleet.plugins.test import aws, ippool, names, network

from tests.conftest import ROOT

TESTS = {**names.TestModule().tests(), **network.TestModule().tests(), **ippool.TestModule().tests(),
         **aws.TestModule().tests()}


def test_every_test_is_registered_once_and_documented():
    assert set(TESTS) == {"dns_label", "gce_name", "hostname", "batch_id", "ipv4_cidr", "ipv4_address",
                          "private_range", "ippool", "aws_region", "aws_id"}
    assert {p.stem for p in (ROOT / "plugins" / "test").glob("*.yml")} == set(TESTS)


def test_ansible_doc_renders_every_test():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    out = subprocess.run([sys.executable, "-m", "ansible.cli.doc", "--json", "-t", "test",
                          *(f"calico_fleet.fleet.{name}" for name in TESTS)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    docs = json.loads(out.stdout)
    assert {name.rsplit(".", 1)[-1] for name in docs} == set(TESTS)
    assert all(entry["doc"]["short_description"] for entry in docs.values())


@pytest.mark.parametrize(("expression", "expected"), [
    ("'k8s-node-1' is calico_fleet.fleet.dns_label", True),
    ("'1-node' is calico_fleet.fleet.dns_label", True),
    ("'1-node' is calico_fleet.fleet.gce_name", False),
    ("'node-1.c.p.internal' is calico_fleet.fleet.hostname(fqdn=true, cloud='gcp')", True),
    ("'node-1' is calico_fleet.fleet.hostname(fqdn=true)", False),
    ("'Batch One' is calico_fleet.fleet.batch_id", False),
    ("'10.0.0.0/16' is calico_fleet.fleet.ipv4_cidr", True),
    ("'10.0.0.0/33' is calico_fleet.fleet.ipv4_cidr", False),
    ("'10.0.1.7' is calico_fleet.fleet.ipv4_address", True),
    ("'8.8.8.0/24' is calico_fleet.fleet.private_range", False),
    ("{'name': 'p', 'cidr': '172.20.0.0/16', 'ipip_mode': 'Always'} is calico_fleet.fleet.ippool", True),
    ("{'name': 'p', 'cidr': '172.20.0.0/16', 'block_size': 33} is calico_fleet.fleet.ippool", False),
    ("'eu-west-1' is calico_fleet.fleet.aws_region", True),
    ("'vpc-0123456789abcdef0' is calico_fleet.fleet.aws_id('subnet')", False),
    ("['a', '1-b', 'C'] | reject('calico_fleet.fleet.dns_label') | list == ['C']", True),
])
def test_the_tests_as_a_role_writes_them(expression, expected):
    # Plain Jinja with the tests under their FQCNs, as Ansible registers them (Ansible's own loader is
    # exercised by the roles' playbook tests).
    env = jinja2.Environment()
    env.tests.update({f"calico_fleet.fleet.{name}": test for name, test in TESTS.items()})
    assert env.from_string("{{ (" + expression + ") | tojson }}").render() == str(expected).lower()
