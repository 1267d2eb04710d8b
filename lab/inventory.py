"""The Ansible inventory of the lab's nodes (inventories/lab/hosts.yml for slot 0)."""

import yaml


def data(cfg, state):
    hosts = {}
    for n in sorted(state["nodes"].values(), key=lambda n: n["index"]):
        hosts[n["name"]] = {"ansible_host": n["ip"], "lab_node_ip": n["ip"], "lab_node_id": n["id"]}
    return {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(cfg.ssh_key),
                # Lab nodes get new host keys at every boot.
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                           "-o LogLevel=ERROR",
                "ansible_python_interpreter": "/usr/bin/python3",
                "lab_slot": cfg.slot,
                "lab_etcd_endpoint": cfg.etcd_endpoint,
                "lab_vpc_range": str(cfg.vpc_range),
            },
            "children": {"calico_nodes": {"hosts": hosts}},
        }
    }


def write(cfg, state):
    path = cfg.inventory_file
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "---\n# Written by `lab up`; do not edit.\n" + yaml.safe_dump(data(cfg, state), sort_keys=False)
    path.write_text(text)


def remove(cfg):
    path = cfg.inventory_file
    if path.exists():
        path.unlink()
