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
