"""The Ansible inventory of the lab's nodes.

`lab up` writes it as JSON in the lab's state directory; the executable
`inventories/lab/lab_nodes.py` prints it, so `inventories/lab` (with its
group_vars) always describes the running lab of the current LAB_SLOT.
"""

import json


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
