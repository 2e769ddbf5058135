#!/bin/bash
# A DAG file edited while its runs are in flight: the runs keep the
# version they started with, and max_active_runs still counts them, so
# the reloaded DAG does not start more runs beside them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
mk() { # VERSION: the same DAG; only a comment changes
  cat >"$D/mar.yaml" <<YAML
# version $1
dag: mar
schedule: "0 0 * * *"
start_date: 2025-02-01
catchup: true
max_active_runs: 1
tasks:
  t: {plugin: shell, params: {command: 'sleep 1'}}
YAML
}
mk 1
start_daemon --now 2025-02-05T01:00:00Z
check "the first catch-up run starts" \
  wait_for 10 sql_is "SELECT count(*) FROM runs WHERE state='running'" 1
loads() { [ "$(grep -c '"dag loaded from' "$DLOG")" -ge "$1" ]; }
mk 2
check "the edit is reloaded" wait_for 5 loads 2
sleep 0.3
mk 3
check "and again" wait_for 5 loads 3
check "the four catch-up runs end" \
  wait_for 30 sql_is "SELECT count(*) FROM runs WHERE state='success'" 4
stop_daemon TERM
eq "exit 0" "$DAEMON_RC" "0"
eq "max_active_runs 1 held across two reloads" \
  "$(sql "SELECT max(c) FROM (SELECT (SELECT count(*) FROM runs b WHERE b.start_us <= a.start_us AND b.end_us > a.start_us) c FROM runs a)")" "1"
eq "runs went oldest first" \
  "$(sql "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs ORDER BY start_us)")" \
  "2025-02-01,2025-02-02,2025-02-03,2025-02-04"
check "daemon logs are JSON lines" logs_are_json
finish
