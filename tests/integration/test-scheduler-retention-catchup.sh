#!/bin/bash
# Retention must keep what catch-up counts from: the newest *scheduled*
# run of a DAG. When a later date was run by hand (or backfilled), keeping
# only the newest run of any kind let catch-up start again at start_date
# and run every pruned date a second time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
cat >"$D/cu.yaml" <<'YAML'
dag: cu
schedule: "0 0 * * *"
start_date: 2025-01-01
catchup: true
tasks:
  t: {plugin: shell, params: {command: 'echo "{{ ds }}" >>"$COSTFLOW_HOME/ran.txt"'}}
YAML
mkdir -p "$TMP/empty"
dates() { sql "SELECT group_concat(logical_date||':'||kind) FROM (SELECT logical_date, kind FROM runs ORDER BY 1)"; }
expect_exit 0 "catch-up to 01-03" \
  "$COSTFLOW" --dags "$D" scheduler --once --now 2025-01-04T01:00:00Z
expect_exit 0 "an operator runs 01-05 by hand" \
  "$COSTFLOW" --dags "$D" run cu --date 2025-01-05
eq "runs before retention" "$(dates)" \
  "2025-01-01:scheduled,2025-01-02:scheduled,2025-01-03:scheduled,2025-01-05:manual"
# retention only (no DAG loaded, so no catch-up at this far instant)
expect_exit 0 "retention pass" "$COSTFLOW" --dags "$TMP/empty" scheduler --once \
  --retention 30 --now 2099-01-01T00:00:00Z
eq "the newest run and the newest scheduled run are kept" "$(dates)" \
  "2025-01-03:scheduled,2025-01-05:manual"
expect_exit 0 "catch-up to 01-06" \
  "$COSTFLOW" --dags "$D" scheduler --once --now 2025-01-07T01:00:00Z
eq "catch-up went on after the last scheduled date, not from start_date" \
  "$(dates)" \
  "2025-01-03:scheduled,2025-01-04:scheduled,2025-01-05:manual,2025-01-06:scheduled"
eq "no date ran twice" "$(sort "$COSTFLOW_HOME/ran.txt" | uniq -d)" ""
finish
