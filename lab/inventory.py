"""The Ansible inventory of the lab's nodes.

`lab up` writes it as JSON in the lab's state directory; the executable
`inventories/lab/lab_nodes.py` prints it, so `inventories/lab` (with its
group_vars) always describes the running lab of the current LAB_SLOT.

Like a cloud's own inventory it gives no machine's creation time: the
Compute test server reports it as the instance's `creationTimestamp` (see
`created`), and the product reads it from there.
"""

import json
import os
from datetime import UTC, datetime


def _boot_time():
    with open("/proc/stat") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("btime "))


def created(n):
    """When machine `n` booted (RFC 3339, microseconds, UTC), or None when it is not running.

    The cloud's creation time of the machine: the Compute test server reports it for the machines
    it adopts (`lab status --json`, field `created`)."""
    pid = (n.get("pids") or {}).get("holder")
    try:
        with open(f"/proc/{pid}/stat") as handle:
            ticks = int(handle.read().rsplit(") ", 1)[1].split()[19])
        seconds = _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def data(cfg, state):
    hostvars = {}
    for n in sorted(state["nodes"].values(), key=lambda n: n["index"]):
        hostvars[n["name"]] = {"ansible_host": n["ip"], "lab_node_ip": n["ip"], "lab_node_id": n["id"],
                               "lab_node_image": n.get("image")}
    lab_vars = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(cfg.ssh_key),
        "lab_slot": cfg.slot,
        "lab_etcd_endpoint": cfg.etcd_endpoint,
        "lab_vpc_range": str(cfg.vpc_range),
    }
    groups = {"calico_nodes": {"hosts": list(hostvars)}}
    kube = state.get("kube")
    if kube:
        # The control-plane host runs `kubeadm token create`; it is also kubeasz's deploy host (ezctl).
        groups["kube_control_plane"] = {"hosts": [kube["control_plane"]]}
        lab_vars.update(lab_kube_api_endpoint=kube["server"].split("://", 1)[1],
                        lab_kubeasz_deploy_host=kube["control_plane"],
                        lab_kubeasz_cluster=kube["kubeasz_cluster"])
    return {"all": {"vars": lab_vars, "children": list(groups)}, **groups, "_meta": {"hostvars": hostvars}}


def write(cfg, state):
    cfg.inventory_file.parent.mkdir(parents=True, exist_ok=True)
    cfg.inventory_file.write_text(json.dumps(data(cfg, state), indent=2))


def remove(cfg):
    if cfg.inventory_file.exists():
        cfg.inventory_file.unlink()
