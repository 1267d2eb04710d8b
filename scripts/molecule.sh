#!/usr/bin/env bash
# Run every Molecule scenario against the local lab, one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
for scenario in molecule/*/molecule.yml; do
  name=$(basename "$(dirname "$scenario")")
  echo "=== molecule test -s $name"
  molecule test -s "$name"
done
