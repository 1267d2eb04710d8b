"""The calico-fleet lab: a small local cloud built from Linux namespaces.

A routing namespace plays the VPC (with a GCP-style firewall in nftables),
each node is its own network/UTS/mount namespace running sshd (and, once
joined, BIRD and a calico-node stand-in), and etcd in the VPC namespace is the
Calico datastore. New machines boot bare; Kubernetes membership is modelled by
stand-ins of kubeadm, ezctl and the API server (docs/lab.md). It is test
equipment, used by `make demo`, pytest and Molecule.
"""
