"""The collection as a user gets it: built, installed into an empty directory,
used from a directory outside the repository, with the lowest and the highest
ansible-core that meta/runtime.yml claims.

Nothing here reads the checkout's ansible.cfg or its collections/ link: the
only copy of calico_fleet.fleet Ansible can find is the installed tarball.
"""

import json
import os
import re
import shutil
import subprocess
import tarfile

import pytest
import yaml

from tests.conftest import ROOT
from tests.integration.datastore.conftest import ETCD, ETCDCTL, Etcd

MIN_VENV = ROOT / ".venv-ansible-min"
MAX_VENV = ROOT / ".venv"
RUNTIME = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())


def _versions():
    low = re.match(r">=([0-9.]+),<([0-9.]+)", RUNTIME["requires_ansible"])
    return low.group(1), low.group(2)


def _clean_env(collections_dir, workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections_dir), ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"),
               ANSIBLE_REMOTE_TEMP=str(workdir / "tmp"), ANSIBLE_NOCOLOR="1", HOME=str(workdir))
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(collections dir, workdir outside the repository) with the built tarball installed."""
    base = tmp_path_factory.mktemp("collection")
    build = subprocess.run([str(MAX_VENV / "bin" / "ansible-galaxy"), "collection", "build", "--force",
                            "--output-path", str(base)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = base / f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    assert tarball.exists(), build.stdout
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    # Test equipment and the checkout's link never ship.
    assert not [n for n in names if n.startswith(("lab/", "collections/", "molecule/", ".venv"))], names
    collections_dir = base / "installed"
    # A clean environment: with the checkout's ansible.cfg, ansible-galaxy would find the checkout's
    # copy of calico_fleet.fleet on its path and skip the install.
    install = subprocess.run([str(MAX_VENV / "bin" / "ansible-galaxy"), "collection", "install", "--no-deps",
                              "--force", "-p", str(collections_dir), str(tarball)], cwd=base,
                             env=_clean_env(base / "nothing", base), capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    assert (collections_dir / "ansible_collections" / "calico_fleet" / "fleet" / "galaxy.yml").exists() or \
        (collections_dir / "ansible_collections" / "calico_fleet" / "fleet" / "MANIFEST.json").exists(), install.stdout
    # galaxy.yml's dependencies, from the `ansible` package in the venv (no Galaxy here).
    bundle = next((MAX_VENV / "lib").glob("python3*/site-packages/ansible_collections"))
    for dependency in GALAXY["dependencies"]:
        namespace, name = dependency.split(".")
        shutil.copytree(bundle / namespace / name, collections_dir / "ansible_collections" / namespace / name)
    workdir = base / "work"
    (workdir / "tmp").mkdir(parents=True)
    return collections_dir, workdir


def _plugins(collections_dir):
    """(type, FQCN) of every plugin of the installed collection."""
    root = collections_dir / "ansible_collections" / "calico_fleet" / "fleet" / "plugins"
    found = []
    for kind, folder in (("module", "modules"), ("callback", "callback"), ("inventory", "inventory"),
                         ("lookup", "lookup")):
        for path in sorted((root / folder).glob("*.py")) if (root / folder).exists() else []:
            if path.stem != "__init__":
                found.append((kind, f"calico_fleet.fleet.{path.stem}"))
    for kind, folder in (("filter", "filter"), ("test", "test")):
        for path in sorted((root / folder).glob("*.yml")) if (root / folder).exists() else []:
            found.append((kind, f"calico_fleet.fleet.{path.stem}"))
    return found


@pytest.mark.parametrize("venv", [MIN_VENV, MAX_VENV], ids=["lowest", "highest"])
def test_every_plugin_documents_itself_by_fqcn(installed, venv):
    collections_dir, workdir = installed
    low, high = _versions()
    version = subprocess.run([str(venv / "bin" / "ansible"), "--version"], capture_output=True, text=True,
                             timeout=60).stdout.splitlines()[0]
    core = re.search(r"core ([0-9.]+)", version).group(1)
    if venv == MIN_VENV:
        assert core == low, f"{venv} has ansible-core {core}, runtime.yml claims >={low}"
    else:
        assert tuple(map(int, core.split("."))) < tuple(map(int, high.split("."))), core
    plugins = _plugins(collections_dir)
    assert {kind for kind, _ in plugins} >= {"module", "filter", "test", "callback"}
    for kind, fqcn in plugins:
        proc = subprocess.run([str(venv / "bin" / "ansible-doc"), "--json", "-t", kind, fqcn], cwd=workdir,
                              env=_clean_env(collections_dir, workdir), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"ansible-doc -t {kind} {fqcn}: {proc.stderr}"
        doc = json.loads(proc.stdout)[fqcn]["doc"]
        assert doc.get("short_description"), f"{fqcn} has no short_description"


PLAYBOOK = """
- name: Use calico_fleet.fleet by FQCN from outside the repository
  hosts: localhost
  gather_facts: false
  vars:
    calico_fleet_datastore:
      datastore: etcdv3
      etcd_endpoints: ["{endpoint}"]
  module_defaults:
    group/calico_fleet.fleet.calico_datastore: "{{{{ calico_fleet_datastore }}}}"
  tasks:
    - name: Create an IP pool, the datastore coming from the action group's defaults
      calico_fleet.fleet.calico_ippool:
        name: fleet-test-pool
        cidr: 172.20.0.0/16
        ipip_mode: Always
      register: pool

    - name: Plan two names with the role
      ansible.builtin.include_role:
        name: calico_fleet.fleet.node_names
      vars:
        node_names_count: 2
        node_names_batch: b1
        node_names_prefix: k8s-node

    - name: Write what the module, the role and a filter gave
      ansible.builtin.copy:
        dest: "{out}"
        mode: "0600"
        content: "{{{{ {{'pool_changed': pool.changed,
                       'names': node_names_plan | map(attribute='name') | list,
                       'valid': node_names_plan | map(attribute='name')
                                | map('calico_fleet.fleet.fleet_hostname_valid') | list}} | to_json }}}}"
"""


@pytest.mark.skipif(not (ETCD and ETCDCTL), reason="etcd is not installed")
@pytest.mark.parametrize("venv", [MIN_VENV, MAX_VENV], ids=["lowest", "highest"])
def test_module_filter_and_role_run_from_the_installed_collection(installed, venv, tmp_path):
    collections_dir, workdir = installed
    etcd = Etcd(tmp_path)
    try:
        out = tmp_path / "out.json"
        playbook = workdir / f"use-{venv.name}.yml"
        playbook.write_text(PLAYBOOK.format(endpoint=etcd.endpoint, out=out))
        python = venv / "bin" / "python"
        argv = [str(venv / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                "-e", f"ansible_python_interpreter={python}", str(playbook)]
        proc = subprocess.run(argv, cwd=workdir, env=_clean_env(collections_dir, workdir), capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        result = json.loads(out.read_text())
        assert result == {"pool_changed": True, "names": ["k8s-node-1", "k8s-node-2"], "valid": [True, True]}
        assert json.loads(etcd.values()[
            "/calico/resources/v3/projectcalico.org/ippools/fleet-test-pool"])["spec"]["ipipMode"] == "Always"
    finally:
        etcd.stop()


def test_playbooks_run_by_fqcn_from_the_installed_collection(installed):
    collections_dir, workdir = installed
    for name in ("scale_out", "verify_mesh", "drift_check", "fix_nodename_conflict"):
        proc = subprocess.run([str(MAX_VENV / "bin" / "ansible-playbook"), "--syntax-check", "-i", "localhost,",
                               f"calico_fleet.fleet.{name}"], cwd=workdir,
                              env=_clean_env(collections_dir, workdir), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"calico_fleet.fleet.{name}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
