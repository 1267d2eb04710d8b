#!/usr/bin/env bash
# Run the drift check (read-only) and exit 2 when anything drifted, 0 when
# everything matches, 1 when the check itself could not run. For cron or CI:
#   scripts/drift-check.sh -i inventories/prod
# The JSON report goes to $DRIFT_REPORT_FILE (default: drift-report.json).
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
export ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks,calico_fleet.fleet.drift_report"
export DRIFT_REPORT_FILE=${DRIFT_REPORT_FILE:-$PWD/drift-report.json}
rm -f "$DRIFT_REPORT_FILE"
ansible-playbook playbooks/drift-check.yml "$@"
rc=$?
if [[ ! -s $DRIFT_REPORT_FILE ]]; then
  echo "drift-check: the check did not complete (ansible-playbook exit $rc)" >&2
  exit 1
fi
if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["drift"] else 1)' "$DRIFT_REPORT_FILE"; then
  echo "drift-check: drift found, see the DRIFT REPORT above and $DRIFT_REPORT_FILE"
  exit 2
fi
echo "drift-check: no drift"
exit 0
