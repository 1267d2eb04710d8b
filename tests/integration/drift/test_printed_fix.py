"""A fix the drift check prints runs as printed, in the directory the user ran the check from.

From a checkout, scripts/drift-check.sh (test_drift_check.py pastes its printed fixes). Here, from a
user's project that has only its inventory and the built collection installed: the check runs as
``ansible-playbook -i inventories/lab calico_fleet.fleet.drift_check``, the fix is copied from the
DRIFT REPORT on the console, split as a shell would and run in that project; the next check is clean.
"""

import json
import shlex
import shutil
import subprocess

import pytest

from tests.conftest import ROOT
from tests.integration.collection.test_installed_collection import (
    MAX_VENV,
    _clean_env,
    installed,  # noqa: F401 (fixture)
)
from tests.integration.drift.conftest import patch_rule
from tests.integration.verify.conftest import printed_fix, written_state

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def project(installed):  # noqa: F811 (the fixture imported above)
    """(project directory, environment): the lab's inventory, the collection installed, no checkout."""
    collections_dir, workdir = installed
    directory = workdir / "project"
    shutil.copytree(ROOT / "inventories" / "lab", directory / "inventories" / "lab")
    env = _clean_env(collections_dir, workdir)
    env["PATH"] = f"{MAX_VENV / 'bin'}:{env['PATH']}"
    return directory, env


def drift_check(directory, env, reports):
    """The drift check as a user of the installed collection runs it: (console output, report)."""
    run_env = {**env, "ANSIBLE_CALLBACKS_ENABLED": "calico_fleet.fleet.drift_report",
               "DRIFT_REPORT_DIR": str(reports)}
    proc = subprocess.run(["ansible-playbook", "-i", "inventories/lab", "calico_fleet.fleet.drift_check"],
                          cwd=directory, env=run_env, capture_output=True, text=True, timeout=900)
    path = reports / "drift-report.json"
    assert path.exists(), proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout, json.loads(path.read_text())


def test_a_fix_printed_by_the_installed_collection_runs_as_printed(drift_lab, project, tmp_path):
    lab = drift_lab
    directory, env = project
    vpc = lab.status()["vpc"]["range"]
    patch_rule(lab, "calico-ipip", sourceRanges=[f"{vpc.split('/')[0]}/29"])  # the nodes are .11 and up
    try:
        before = written_state(lab)
        output, report = drift_check(directory, env, tmp_path / "first")
        assert written_state(lab) == before, "the drift check changed the lab"
        [command] = printed_fix(output.splitlines(), "firewall_rule_changed")
        proc = subprocess.run(shlex.split(command), cwd=directory, env=env, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, f"{command}:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
        output_after, after = drift_check(directory, env, tmp_path / "after")
    finally:
        patch_rule(lab, "calico-ipip", sourceRanges=[vpc])
    # The installed collection's command: the playbook by its collection name, the user's inventory.
    assert command == "ansible-playbook -i inventories/lab calico_fleet.fleet.scale_out --tags network"
    assert report["exit_code"] == 2 and report["inventory"] == ["inventories/lab"]
    assert [i["kind"] for i in report["items"]] == ["firewall_rule_changed", "ipip_blocked"]
    assert (after["exit_code"], after["items"]) == (0, []), output_after[-4000:]
