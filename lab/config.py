"""Addresses, names and paths of one lab instance.

Several labs can run side by side: each has a slot (env LAB_SLOT, default 0)
that picks its namespace names, its state directory and its address ranges.
Every address lives in 198.18.0.0/15 (RFC 2544 benchmarking space).
"""

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATE_ROOT = Path(os.environ.get("LAB_STATE_ROOT", "/var/tmp/calico-fleet-lab"))
MAX_SLOT = 15


@dataclass(frozen=True)
class LabConfig:
    slot: int

    @property
    def prefix(self):
        return f"cfl{self.slot}"

    @property
    def vpc_netns(self):
        return f"{self.prefix}-vpc"

    def node_netns(self, node_id):
        return f"{self.prefix}-{node_id}"

    @property
    def mgmt_host_if(self):
        # The controller's side of the management link, in the root namespace.
        return f"{self.prefix}-mgmt"

    @property
    def vpc_range(self):
        # 198.18.0.0/20 for slot 0, 198.18.16.0/20 for slot 1, ...
        return ipaddress.ip_network(f"198.18.{self.slot * 16}.0/20")

    def vpc_host(self, n):
        return str(self.vpc_range.network_address + n)

    @property
    def gateway_ip(self):
        return self.vpc_host(1)

    @property
    def etcd_ip(self):
        return self.vpc_host(2)

    @property
    def etcd_port(self):
        return 2379

    @property
    def etcd_endpoint(self):
        return f"http://{self.etcd_ip}:{self.etcd_port}"

    def node_ip(self, index):
        """Address of node number `index` (1-based): .11, .12, ..."""
        return self.vpc_host(10 + index)

    @property
    def compute_port(self):
        """The lab's Compute Engine test server (127.0.0.1) when started with `lab cloud start`."""
        return 18700 + self.slot

    @property
    def compute_url(self):
        return f"http://127.0.0.1:{self.compute_port}"

    @property
    def mgmt_host_ip(self):
        return f"198.19.{self.slot}.1"

    @property
    def mgmt_vpc_ip(self):
        return f"198.19.{self.slot}.2"

    @property
    def state_dir(self):
        return STATE_ROOT / str(self.slot)

    @property
    def state_file(self):
        return self.state_dir / "state.json"

    @property
    def ssh_key(self):
        return self.state_dir / "id_ed25519"

    @property
    def inventory_file(self):
        return self.state_dir / "inventory.json"


def current():
    slot = int(os.environ.get("LAB_SLOT", "0"))
    if not 0 <= slot <= MAX_SLOT:
        raise SystemExit(f"LAB_SLOT must be between 0 and {MAX_SLOT}, got {slot}")
    return LabConfig(slot)
