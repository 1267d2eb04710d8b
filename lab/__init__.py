"""The calico-fleet lab: a small local cloud built from Linux namespaces.

A routing namespace plays the VPC (with a GCP-style firewall in nftables),
each node is its own network/UTS/mount namespace running sshd, BIRD and a
calico-node stand-in, and etcd in the VPC namespace is the Calico datastore.
It is test equipment, used by `make demo`, pytest and Molecule.
"""
