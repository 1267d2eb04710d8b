#!/usr/bin/env python3
"""Inventory of the running local lab (the slot in env LAB_SLOT, default 0).

`lab up` writes the node list; this script hands it to Ansible. With the lab
down it returns an empty inventory and says how to bring the lab up.
"""

import json
import os
import sys

root = os.environ.get("LAB_STATE_ROOT", "/var/tmp/calico-fleet-lab")
path = os.path.join(root, os.environ.get("LAB_SLOT", "0"), "inventory.json")
if len(sys.argv) > 1 and sys.argv[1] == "--host":
    print("{}")
    sys.exit(0)
try:
    with open(path) as handle:
        print(handle.read())
except FileNotFoundError:
    if not os.environ.get("LAB_INVENTORY_QUIET"):  # Molecule reads it before its create step
        print(f"lab inventory: the lab is down ({path} missing); run `make lab-up`", file=sys.stderr)
    print(json.dumps({"_meta": {"hostvars": {}}}))
