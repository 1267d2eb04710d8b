#!/usr/bin/env bash
# Run the drift check (read-only) with the exit codes of
# `terraform plan -detailed-exitcode`:
#   0  everything was checked and nothing drifted
#   2  something drifted and everything was checked
#   1  a part could not be checked (the report still lists the drift found elsewhere)
# Usage, for cron, a systemd timer or CI:
#   scripts/drift-check.sh -i inventories/prod
# The reports (drift-report.json, .junit.xml, .md, .prom) go to $DRIFT_REPORT_DIR
# (default: ./drift-report). Nothing else is written.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
export ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks,calico_fleet.fleet.drift_report"
export DRIFT_REPORT_DIR=${DRIFT_REPORT_DIR:-$PWD/drift-report}
report="$DRIFT_REPORT_DIR/${DRIFT_REPORT_BASENAME:-drift-report}.json"
rm -f "$report"
ansible-playbook playbooks/drift-check.yml "$@"
rc=$?
if [[ ! -s $report ]]; then
  echo "drift-check: the check did not complete, no report (ansible-playbook exit $rc)" >&2
  exit 1
fi
code=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["exit_code"])' "$report") || code=1
if [[ $rc -ne 0 && $code == 0 ]]; then
  code=1  # ansible-playbook itself failed in a way the report did not see
fi
case $code in
  0) echo "drift-check: everything checked, no drift" ;;
  2) echo "drift-check: drift found, see the DRIFT REPORT above and $DRIFT_REPORT_DIR" ;;
  *) code=1; echo "drift-check: a part could not be checked, see the DRIFT REPORT above and $DRIFT_REPORT_DIR" >&2 ;;
esac
exit "$code"
