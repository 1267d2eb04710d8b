# Copyright: calico-fleet contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What decides a host's Calico node name, read on the host itself."""

from __future__ import annotations

import os
from collections.abc import Sequence

HOSTNAME_FILE = "/proc/sys/kernel/hostname"
NODENAME_FILE = "/var/lib/calico/nodename"


def read_identity(hostname_file: str = HOSTNAME_FILE, nodename_file: str = NODENAME_FILE) -> dict[str, str | None]:
    """The running hostname and the raw nodename file (None when it does not exist)."""
    with open(hostname_file) as handle:
        hostname = handle.read().strip()
    try:
        with open(nodename_file) as handle:
            nodename = handle.read()
    except FileNotFoundError:
        nodename = None
    return {"hostname": hostname, "nodename": nodename, "nodename_file": nodename_file}


# The kubelet's kubeconfig, written when a machine joins Kubernetes: kubeadm
# and kubespray write kubelet.conf, kubeasz kubelet.kubeconfig.
KUBELET_KUBECONFIGS = ("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/kubelet.kubeconfig")


def read_membership(kubeconfigs: Sequence[str] = KUBELET_KUBECONFIGS) -> dict:
    """Whether the host is joined to Kubernetes: the first kubelet kubeconfig that exists.

    Without it, the calico-node DaemonSet never lands on the host, so BIRD not
    answering there is a membership problem, not a BGP one."""
    found = next((path for path in kubeconfigs if os.path.exists(path)), None)
    return {"joined": found is not None, "kubelet_kubeconfig": found}
