"""Helpers for the drift check tests on the lab.

One healthy lab per test module (`drift_lab`): the lab's joined nodes, the
Compute test server, the cloud rules and the Calico network applied once as
the scale-out leaves them. Each test breaks one thing, runs
scripts/drift-check.sh as a nightly job does, and puts the thing back.

Every run is checked to have written nothing: the etcd revision, the VPC
firewall, hostnames and nodename files are the same before and after, and
the Compute test server received no write. The lab is read and changed with
its own API, etcd's JSON gateway and the Compute REST API, never with the
code under test.
"""

import base64
import json
import os
import subprocess
import urllib.request
from xml.etree import ElementTree

import jsonschema
import pytest
from ansible_collections.calico_fleet.fleet.plugins.module_utils.finding import Fix
from ansible_collections.calico_fleet.fleet.plugins.plugin_utils.drift_report.report import subject
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import ROOT, run_playbook
from tests.integration.verify.conftest import established, ip, printed_fix, wait, written_state

HERE = ROOT / "tests" / "integration" / "drift"
SCHEMA = json.loads((ROOT / "docs" / "drift-report.schema.json").read_text())
PROJECT = "calico-fleet-lab"
FIREWALLS = f"/compute/v1/projects/{PROJECT}/global/firewalls"


def compute(lab, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{lab.status()['cloud']['url']}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.load(resp)


def compute_writes(lab):
    """Write requests the Compute test server received since the log was cleared."""
    log = compute(lab, "GET", "/_test/log")["requests"]
    return [(r["method"], r["path"]) for r in log if r["method"] in ("POST", "PATCH", "PUT", "DELETE")
            and not r["path"].startswith("/_test") and not r["path"].endswith("/wait")]


def patch_rule(lab, name, **fields):
    """Edit a firewall rule by hand (as in the console) and wait until the server holds it."""
    compute(lab, "PATCH", f"{FIREWALLS}/{name}", {"name": name, **fields})
    wait(lambda: all(compute(lab, "GET", f"{FIREWALLS}/{name}").get(k) == v for k, v in fields.items()),
         f"rule {name} to be patched", timeout=30)
    # The server hands the new rules to the lab's VPC firewall after it answers: wait for the
    # lab too, so a check that starts now sees a settled lab (its "wrote nothing" comparison).
    wait(lambda: any(rule.get("name") == name and all(rule.get(k) == v for k, v in fields.items())
                     for rule in lab.get_firewall()), f"the lab firewall to apply rule {name}", timeout=30)


def etcd_call(lab, path, body):
    req = urllib.request.Request(f"{lab.etcd_endpoint()}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def etcd_get(lab, key):
    kvs = etcd_call(lab, "/v3/kv/range", {"key": _b64(key)}).get("kvs") or []
    return json.loads(base64.b64decode(kvs[0]["value"])) if kvs else None


def etcd_put(lab, key, value):
    etcd_call(lab, "/v3/kv/put", {"key": _b64(key), "value": _b64(json.dumps(value))})


def etcd_delete(lab, key):
    etcd_call(lab, "/v3/kv/deleterange", {"key": _b64(key)})


def full_mesh(lab):
    names = [n["name"] for n in lab.status()["nodes"]]
    return all(established(lab, n) == {ip(lab, o) for o in names if o != n} for n in names)


class Run:
    """One drift check run: exit code, the four reports, the console output."""

    def __init__(self, proc, directory):
        self.proc = proc
        self.rc = proc.returncode
        self.dir = directory
        path = directory / "drift-report.json"
        self.report = json.loads(path.read_text()) if path.exists() else None

    def __repr__(self):
        found = json.dumps({k: self.report[k] for k in ("items", "not_checked")}, indent=1) if self.report else ""
        return f"drift check exit {self.rc}: {found}\n{self.proc.stdout[-3000:]}\n{self.proc.stderr[-2000:]}"

    def items(self):
        """(section, resource, kind, field, severity) of every item."""
        return [(i["section"], subject(i), i["kind"], i["field"], i["severity"]) for i in self.report["items"]]

    def fix_command(self, item):
        """The playbook run of an item's fix, with the report's inventory (as every renderer prints it)."""
        return Fix.from_dict(item["fix"]).command(self.report["inventory"])

    def printed_fix(self, kind):
        """The commands the console's DRIFT REPORT prints for the first item of this kind, as a user copies them."""
        return printed_fix(self.proc.stdout.splitlines(), kind)

    def not_checked(self):
        return [(n["section"], n["resource"]) for n in self.report["not_checked"]]

    def sections(self):
        return {name: s["status"] for name, s in self.report["sections"].items()}

    def junit(self):
        return ElementTree.parse(self.dir / "drift-report.junit.xml").getroot()

    def metrics(self):
        """{(name, frozenset(labels)): value} parsed with prometheus_client's own parser."""
        text = (self.dir / "drift-report.prom").read_text()
        return {(s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}


def drift_check(lab, tmp_path, *args):
    """scripts/drift-check.sh as a nightly job runs it; asserts it wrote nothing and all four reports."""
    directory = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}"
    env = {**os.environ, "DRIFT_REPORT_DIR": str(directory)}
    compute(lab, "DELETE", "/_test/log") if lab.status().get("cloud") else None
    before = written_state(lab)
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "drift-check.sh"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    run = Run(proc, directory)
    assert run.report is not None, run
    assert written_state(lab) == before, "the drift check changed the lab"
    if lab.status().get("cloud"):
        assert compute_writes(lab) == [], "the drift check wrote to the Compute API"
    assert sorted(p.name for p in directory.iterdir()) == [
        "drift-report.json", "drift-report.junit.xml", "drift-report.md", "drift-report.prom"]
    jsonschema.validate(run.report, SCHEMA)
    assert run.report["exit_code"] == run.rc, run
    return run


@pytest.fixture(scope="module")
def drift_lab(lab_session):
    """The shared lab, healthy: cloud rules and the Calico network as the scale-out leaves them."""
    lab = lab_session
    lab.cloud_start()
    run_playbook(HERE / "playbooks" / "baseline.yml")
    wait(lambda: full_mesh(lab), "a full mesh", timeout=60)
    yield lab
    lab.cloud_stop()
