#!/usr/bin/env bash
# ansible-test sanity for the collection as it ships, without containers: the
# collection is built (galaxy.yml's build_ignore applies), unpacked at
# <tmp>/ansible_collections/calico_fleet/fleet (the layout ansible-test needs)
# and tested with the venv's Python.
#   scripts/sanity.sh [ansible-test sanity options, e.g. --test validate-modules]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ansible-galaxy collection build --force --output-path "$work" >/dev/null
dest=$work/ansible_collections/calico_fleet/fleet
mkdir -p "$dest"
tar -xzf "$work"/calico_fleet-fleet-*.tar.gz -C "$dest"
python=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
# ansible-test fetches its pip bootstrap from a host of its own; use ours (see the file).
pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" \
  "$(python -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" | head -1)
mkdir -p ~/.ansible/test/cache
cp tests/sanity/get_pip.py ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
cd "$dest"
# ansible-test lists the files through git when there is a repository.
git init -q . && git add -A >/dev/null
ansible-test sanity --python "$python" --color no "$@"
