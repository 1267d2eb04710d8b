"""The lab's machine images: what a new machine has installed when it boots.

Every image boots sshd and takes its hostname from the instance's
metadata/user-data; none runs anything of Kubernetes or Calico. Swap is off on
every image (the lab's machines share the host's swap state, which is off).
The Compute test server picks the image from the last path segment of the
boot disk's `sourceImage`; a name not in this table boots DEFAULT, with a
log line saying so (docs/lab.md).
"""

import sys

IMAGES = {
    # A cloud image prepared for kubeadm: runtime, kubelet, kubeadm, kubectl.
    "lab-k8s-node": {"binaries": ("kubeadm", "kubelet", "kubectl", "containerd", "crictl")},
    # A plain OS image: sshd only.
    "lab-bare": {"binaries": ()},
}
DEFAULT = "lab-k8s-node"
# The extras of the control-plane and kubeasz deploy host (node-1 of `lab up`).
CONTROL_PLANE_BINARIES = ("ezctl",)


def resolve(name, log=None):
    """The image to boot for `name` (None: DEFAULT). An unknown name boots DEFAULT and says so."""
    if not name:
        return DEFAULT
    if name in IMAGES:
        return name
    print(f"lab: unknown image {name!r}: booting the default image {DEFAULT!r} "
          f"(lab images: {', '.join(sorted(IMAGES))})", file=log or sys.stderr, flush=True)
    return DEFAULT


def binaries(name):
    return IMAGES[name]["binaries"]
