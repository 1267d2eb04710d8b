#!/usr/bin/env bash
# `make demo`: an existing 3-node Calico cluster in the local lab, then the
# main job against it, ending with the verified BGP mesh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"

echo "== Bringing up the lab: 3 nodes, etcd, VPC firewall (GCP default rules: no IP protocol 4)"
python -m lab up --nodes 3
echo
echo "== BGP mesh as BIRD reports it on every node"
python -m lab status
