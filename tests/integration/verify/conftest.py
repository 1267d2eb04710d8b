"""Helpers for the mesh verification tests on the lab.

`verify()` runs playbooks/verify-mesh.yml as a user does and returns what it
registered (mesh_verify_result), read from Ansible's JSON output. Every run
is also checked to have written nothing: recap changed=0 on every host, the
etcd revision, the VPC firewall, hostnames and nodename files unchanged.
The lab is read with its own API, etcd's JSON gateway and nft, never with
the code under test.
"""

import base64
import json
import subprocess
import time
import urllib.request

import pytest

from tests.integration.conftest import ROOT, ansible_env

HERE = ROOT / "tests" / "integration" / "verify"
VERIFY_MESH = ROOT / "playbooks" / "verify-mesh.yml"


def run_json(playbook, *args, timeout=600):
    """ansible-playbook with the JSON stdout callback: (returncode, parsed output)."""
    env = ansible_env()
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    # ansible.cfg enables profile_tasks, whose text would land in the JSON on stdout.
    env["ANSIBLE_CALLBACKS_ENABLED"] = "ansible.posix.json"
    proc = subprocess.run([str(ROOT / ".venv" / "bin" / "ansible-playbook"), str(playbook), *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"{playbook} printed no JSON ({proc.returncode}):\n{proc.stdout[-3000:]}"
                             f"\n{proc.stderr[-3000:]}") from None


def verify(lab, *args, report_only=True):
    """mesh_verify_result of one verify-mesh.yml run, which must write nothing.

    report_only: pass mesh_verify_fail_on_findings=false (the run then must not fail).
    """
    before = written_state(lab)
    extra = ("-e", "mesh_verify_fail_on_findings=false") if report_only else ()
    rc, out = run_json(VERIFY_MESH, *extra, *args)
    assert rc == 0, json.dumps(out.get("stats"), indent=1)
    assert out["stats"] and all(s["changed"] == 0 and s["failures"] == 0 for s in out["stats"].values()), \
        out["stats"]
    assert written_state(lab) == before, "verify-mesh.yml changed the lab"
    results = [res for play in out["plays"] for task in play["tasks"] for res in task["hosts"].values()
               if {"healthy", "findings", "matrix"} <= set(res)]
    assert len(results) == 1, f"expected one mesh check result, got {len(results)}"
    # What the run printed (the findings with their fixes), as the user reads it.
    printed = [line for play in out["plays"] for task in play["tasks"] for res in task["hosts"].values()
               if isinstance(res.get("msg"), list) for line in res["msg"] if isinstance(line, str)]
    return {**results[0], "printed": printed}


def printed_fix(lines, kind):
    """The commands after "Run: " on the fix line of the first finding of `kind` in printed findings
    (verify's report, the drift check's console), as a user copies them."""
    start = next(n for n, line in enumerate(lines) if line.startswith(("[error] ", "[warning] "))
                 and line.split()[1] == kind)
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        if line.startswith("    fix:") and "Run: " in line:
            return line.split("Run: ", 1)[1].split(", then ")
    raise AssertionError(f"no printed fix for {kind} in:\n" + "\n".join(lines)[-3000:])


def written_state(lab):
    """What a read-only run must leave alone: etcd, the VPC firewall, hostnames and nodename files."""
    return etcd_state(lab), firewall_state(lab), node_identity(lab)


def summary(result):
    """The findings as comparable tuples: (kind, hosts, node, peer)."""
    return sorted((f["kind"], tuple(f["hosts"]), f["node"], f["peer"]) for f in result["findings"])


def wait(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


def ip(lab, name):
    return lab.get_node(name)["ip"]


def established(lab, name):
    """Peer IPs whose BGP session is Established on node `name`."""
    return {
        proto.split("_", 1)[1].replace("_", ".")
        for proto, info in lab.bgp_sessions(name).items()
        if info.startswith("Established")
    }


def allow_ipip(lab):
    """Add the rule the field notes' operator added by hand (IP protocol 4 from the VPC range)."""
    rule = {"name": "allow-ipip", "priority": 1000, "direction": "INGRESS",
            "sourceRanges": [lab.status()["vpc"]["range"]], "allowed": [{"IPProtocol": "4"}]}
    lab.set_firewall([r for r in lab.get_firewall() if r["name"] != rule["name"]] + [rule])


def deny(name, protocol, source_ip, ports=None, target_tags=None):
    """A GCP deny rule at priority 900 (before the allow rules) from one node's /32."""
    entry = {"IPProtocol": protocol}
    if ports:
        entry["ports"] = ports
    rule = {"name": name, "priority": 900, "direction": "INGRESS", "sourceRanges": [f"{source_ip}/32"],
            "denied": [entry]}
    if target_tags:
        rule["targetTags"] = target_tags
    return rule


@pytest.fixture
def open_lab(lab):
    """The shared lab with protocol 4 allowed; its firewall is put back afterwards."""
    rules = lab.get_firewall()
    allow_ipip(lab)
    yield lab
    lab.set_firewall(rules)


def etcd_state(lab):
    """(revision, {key: mod_revision}) of the whole datastore, read through etcd's JSON gateway."""
    body = json.dumps({"key": base64.b64encode(b"\0").decode(), "range_end": base64.b64encode(b"\0").decode(),
                       "keys_only": True}).encode()
    req = urllib.request.Request(f"{lab.etcd_endpoint()}/v3/kv/range", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        reply = json.load(resp)
    keys = {base64.b64decode(kv["key"]).decode(): kv["mod_revision"] for kv in reply.get("kvs", [])}
    return reply["header"]["revision"], keys


def firewall_state(lab):
    """The rules the lab holds and the nftables ruleset it enforces (without counters)."""
    netns = lab.status()["vpc"]["netns"]
    nft = subprocess.run(["ip", "netns", "exec", netns, "nft", "-s", "list", "ruleset"],
                         capture_output=True, text=True, timeout=20, check=True).stdout
    return lab.get_firewall(), nft


def node_identity(lab):
    """Per node: hostname, /etc/hostname and the raw nodename file."""
    script = "hostname; echo ---; cat /etc/hostname; echo ---; cat /var/lib/calico/nodename"
    return {n["name"]: lab.node_exec(n["name"], ["sh", "-c", script]).stdout for n in lab.status()["nodes"]}
