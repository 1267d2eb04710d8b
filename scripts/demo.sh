#!/usr/bin/env bash
# `make demo`: an existing 3-node Calico IPIP cluster on a lab "GCP" whose VPC
# firewall has GCP's default rules (no IP protocol 4: the field-notes
# incident), then the main job: scale out by two nodes and prove the mesh.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
export LAB_SLOT=${LAB_SLOT:-0}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Starting a fresh lab: 3 nodes, etcd, a VPC firewall with GCP's default rules, a Compute Engine API"
python -m lab down >/dev/null
python -m lab up --nodes 3 --cloud

step "Verifying the existing cluster: BGP looks fine, but is IPIP getting through?"
ansible-playbook playbooks/verify-mesh.yml -e mesh_verify_fail_on_findings=false

step "Scaling out by 2 nodes: names, firewall rules, bare machines, identity, kubeadm join, IP pools, verification"
ansible-playbook playbooks/scale-out.yml -e scale_out_count=2 -e scale_out_batch=demo-1

step "The lab after the scale-out"
python -m lab status
echo
echo "Explore: .venv/bin/ansible all -m ping | make lab-status | make lab-down when done"
