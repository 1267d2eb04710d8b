"""What decides a host's Calico node name, read on the host itself."""

HOSTNAME_FILE = "/proc/sys/kernel/hostname"
NODENAME_FILE = "/var/lib/calico/nodename"


def read_identity(hostname_file=HOSTNAME_FILE, nodename_file=NODENAME_FILE):
    """The running hostname and the raw nodename file (None when it does not exist)."""
    with open(hostname_file) as handle:
        hostname = handle.read().strip()
    try:
        with open(nodename_file) as handle:
            nodename = handle.read()
    except FileNotFoundError:
        nodename = None
    return {"hostname": hostname, "nodename": nodename, "nodename_file": nodename_file}
