"""Where the server's resource changes land.

NullBackend keeps everything in the server (unit and integration tests).
LabBackend turns them into lab reality: an instance becomes a bare lab
machine with its IP, hostname, tags and image; the firewall rules become the lab VPC's firewall.
"""

import threading

from lab import api


class NullBackend:
    def add_node(self, name, ip=None, hostname=None, tags=(), image=None):
        return None

    def remove_node(self, name):
        return None

    def set_tags(self, name, tags):
        return None

    def set_firewall(self, rules):
        return None


class LabBackend:
    """Calls the lab's Python API (lab.api, or a stand-in with the same functions)."""

    def __init__(self, lab_api=api):
        self.api = lab_api
        # The lab changes namespaces and nftables: one change at a time.
        self._lock = threading.Lock()

    def add_node(self, name, ip=None, hostname=None, tags=(), image=None):
        """Boot a bare lab machine, as a cloud image boots: sshd and its hostname, nothing of
        Kubernetes or Calico (joining it is the product's job). `image` is the last path segment
        of the boot disk's sourceImage; the lab boots its default image for a name it does not know."""
        # GCE's Debian images set the short name as the OS hostname; the FQDN
        # only resolves through the metadata server (here: not modelled).
        short = hostname.split(".")[0] if hostname else name
        with self._lock:
            return self.api.add_node(name, ip=ip, hostname=short, tags=list(tags), joined=False, image=image)

    def remove_node(self, name):
        with self._lock:
            return self.api.remove_node(name)

    def set_tags(self, name, tags):
        """instances.setTags: the machine's network tags, so that the firewall rules targeting them apply."""
        with self._lock:
            return self.api.set_node_tags(name, list(tags))

    def set_firewall(self, rules):
        with self._lock:
            return self.api.set_firewall(rules)

    def existing(self):
        """The lab as it is now: its firewall rules and its running nodes.

        A server wired to a running lab starts from them, so the lab's
        existing cluster shows up as instances and its default rules
        (`default-allow-internal`) stay in force when rules are added.
        """
        nodes = [{"name": n["name"], "ip": n["ip"], "hostname": n["hostname"], "tags": n["tags"],
                  "created": n.get("created")}
                 for n in self.api.status()["nodes"]]
        return self.api.get_firewall(), nodes
