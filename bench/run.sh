#!/usr/bin/env bash
# Every benchmark, with the commands documented in bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
echo "== lab up: time to a full mesh and memory"
python bench/lab_up.py 3 20
echo "== calico_mesh_check on synthetic input"
python bench/bench_mesh_check.py
echo "== verify-mesh.yml against ansible -m ping"
python bench/verify_mesh.py 10 30
echo "== scale: lab up, route reflectors, verify, drift check, scale-out (10 nodes; the full run: bench/README.md)"
python bench/scale.py 10
