#!/usr/bin/env bash
# Every test, in lanes that run side by side: each lane that needs a lab gets
# a lab slot of its own, so no two lanes share namespaces, addresses or state.
# Each lane writes its log to $TEST_LOG_DIR (default .test-logs/); the logs
# are printed one after the other at the end, then one line with the totals.
#
#   scripts/test.sh            all lanes
#   scripts/test.sh unit lab1  only the lanes named (see LANES below)
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg"
LOG_DIR=${TEST_LOG_DIR:-.test-logs}
BASE_SLOT=${TEST_LAB_SLOT:-1}
mkdir -p "$LOG_DIR"

# Lab lanes rerun a failed test once, after a pause: a lab test drives real
# daemons, SSH and timers on a 2-core machine that runs three labs at once.
# A rerun is reported in the log ("R" and "rerun" in pytest's summary).
LAB_PYTEST="pytest -q -p no:cacheprovider --reruns 1 --reruns-delay 10"

# lane name -> command. Lab lanes take their slot from LAB_SLOT.
declare -A LANES=(
  [lint]="make -s lint-only"
  [unit]="pytest -q -p no:cacheprovider tests/unit"
  [sanity]="bash scripts/sanity.sh"
  [offline]="pytest -q -p no:cacheprovider tests/integration/datastore tests/integration/collection tests/integration/roles tests/integration/filter"
  [lab1]="$LAB_PYTEST tests/integration/lab tests/integration/lab_parts tests/integration/verify tests/integration/probe tests/integration/gcp"
  [lab2]="$LAB_PYTEST tests/integration/join tests/integration/existing_cluster tests/integration/aws"
  [lab3]="$LAB_PYTEST tests/integration/drift tests/integration/remediation tests/integration/scale_in tests/integration/route_reflectors"
  [molecule]="bash scripts/molecule.sh"
)
# Lanes started together; the lab lanes are spread so that at most three labs
# run at once on a 2-core machine.
ORDER=(lint unit sanity offline lab1 lab2 lab3 molecule)
declare -A SLOT=([lab1]=0 [lab2]=1 [lab3]=2 [molecule]=3)

wanted=("$@")
((${#wanted[@]})) || wanted=("${ORDER[@]}")

run_lane() {
  local lane=$1 slot=$2 cmd=${LANES[$1]}
  local word
  # Only test directories that exist (a lane may list suites that a checkout lacks).
  local argv=()
  for word in $cmd; do
    if [[ $word == tests/* && ! -e $word ]]; then continue; fi
    argv+=("$word")
  done
  local start=$SECONDS
  LAB_SLOT=$slot "${argv[@]}" >"$LOG_DIR/$lane.log" 2>&1
  local rc=$?
  echo "$rc $((SECONDS - start))" >"$LOG_DIR/$lane.rc"
}

pids=()
for lane in "${wanted[@]}"; do
  [[ -n ${LANES[$lane]:-} ]] || { echo "test.sh: no lane named $lane (lanes: ${ORDER[*]})" >&2; exit 2; }
  rm -f "$LOG_DIR/$lane.rc"
  slot=$((BASE_SLOT + ${SLOT[$lane]:-0}))
  # The lanes without a lab must not start one by accident: give them a slot
  # no lab lane uses.
  [[ -n ${SLOT[$lane]:-} ]] || slot=$((BASE_SLOT + 5))
  echo "=== lane $lane started (lab slot $slot): ${LANES[$lane]}"
  run_lane "$lane" "$slot" &
  pids+=($!)
done
wait "${pids[@]}"

failed=() passed=0 nfailed=0
for lane in "${wanted[@]}"; do
  read -r rc secs <"$LOG_DIR/$lane.rc" || { rc=1; secs=?; }
  echo
  echo "=== lane $lane: exit $rc in ${secs}s (log $LOG_DIR/$lane.log)"
  tail -n 40 "$LOG_DIR/$lane.log"
  ((rc == 0)) || failed+=("$lane")
  # pytest's closing line: "N passed, M failed ... in S s"
  p=$(grep -Eo '[0-9]+ passed' "$LOG_DIR/$lane.log" | tail -1 | cut -d' ' -f1)
  f=$(grep -Eo '[0-9]+ failed' "$LOG_DIR/$lane.log" | tail -1 | cut -d' ' -f1)
  passed=$((passed + ${p:-0}))
  nfailed=$((nfailed + ${f:-0}))
done
echo
if ((${#failed[@]})); then
  echo "lanes failed: ${failed[*]}"
  nfailed=$((nfailed > 0 ? nfailed : ${#failed[@]}))
fi
echo "Total: $passed passed, $nfailed failed"
((${#failed[@]} == 0))
