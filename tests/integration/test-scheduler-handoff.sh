#!/bin/bash
# The CLI hands run/backfill/rerun to a running daemon (through the store
# and the control socket) and keeps its exit codes; duplicate triggers
# (tick, CLI and sensor for one date within a second) give one run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
L="$TMP/landing"
cat >"$D/daily.yaml" <<'YAML'
dag: daily
schedule: "30 6 * * *"
start_date: 2025-01-01
max_active_runs: 2
tasks:
  extract: {plugin: shell, params: {command: 'echo "{{ ds }} $PPID" >> "$COSTFLOW_HOME/extract.txt"'}}
  transform: {plugin: shell, depends_on: [extract], params: {command: 'test ! -e "$COSTFLOW_HOME/fail-{{ ds }}"'}}
  load: {plugin: noop, depends_on: [transform]}
YAML
touch "$COSTFLOW_HOME/fail-2025-01-03"
start_daemon
check "daemon up" wait_for 5 test -S "$COSTFLOW_HOME/scheduler.sock"
DPID=$DAEMON_PID

expect_exit 0 "run hands off and exits 0 on success" \
  "$COSTFLOW" --dags "$D" run daily --date 2025-01-02
contains "it says the scheduler drives it" "$(cat "$TMP/err")" "the scheduler is driving"
contains "it prints the tasks" "$(cat "$TMP/out")" "transform"
eq "the daemon ran the tasks (its pid is their parent)" \
  "$(grep '^2025-01-02 ' "$COSTFLOW_HOME/extract.txt" | cut -d' ' -f2 | sort -u | wc -l)" "1"
check "the daemon logged driving it" log_has '"driving run for 2025-01-02"'
expect_exit 1 "run of a failing date exits 1" \
  "$COSTFLOW" --dags "$D" run daily --date 2025-01-03
eq "failed run recorded" "$(sql "SELECT state FROM runs WHERE logical_date='2025-01-03'")" "failed"
rm -f "$COSTFLOW_HOME/fail-2025-01-03"
expect_exit 0 "rerun --failed-only hands off" \
  "$COSTFLOW" --dags "$D" rerun daily --date 2025-01-03 --failed-only
eq "rerun kept the succeeded upstream" \
  "$(sql "SELECT t.task_id||':'||t.try_number FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.logical_date='2025-01-03' ORDER BY t.task_id")" \
  "$(printf 'extract:1\nload:1\ntransform:2')"
touch "$COSTFLOW_HOME/fail-2025-01-06"
expect_exit 1 "backfill hands off; a failed date makes it exit 1" \
  "$COSTFLOW" --dags "$D" backfill daily --from 2025-01-04 --to 2025-01-07
contains "backfill summary" "$(cat "$TMP/out")" "3 succeeded, 1 failed, 0 unfinished"
eq "backfill runs exist once each" \
  "$(sql "SELECT count(*) FROM runs WHERE logical_date BETWEEN '2025-01-04' AND '2025-01-07'")" "4"
eq "the daemon drove the backfill" "$(grep -c '"driving run for 2025-01-0[4-7]"' "$DLOG")" "4"
# a DAG the daemon does not know runs in the foreground, as before
mkdir -p "$TMP/other"
cat >"$TMP/other/solo.yaml" <<'YAML'
dag: solo
tasks:
  t: {plugin: noop}
YAML
expect_exit 0 "an unknown DAG falls back to the foreground" \
  "$COSTFLOW" run "$TMP/other/solo.yaml" --date 2025-01-01
contains "the daemon said why" "$(cat "$TMP/err")" "not loaded by the scheduler"
sql "UPDATE dags SET paused=1 WHERE dag_id='daily'"
expect_exit 0 "run of a paused DAG runs in the foreground" \
  "$COSTFLOW" --dags "$D" run daily --date 2025-01-10
contains "the daemon said it is paused" "$(cat "$TMP/err")" "is paused"
sql "UPDATE dags SET paused=0 WHERE dag_id='daily'"
check "daemon still up" kill -0 "$DPID"
stop_daemon TERM
eq "exit 0" "$DAEMON_RC" "0"

# ---- duplicate triggers: tick, CLI and sensor for one date within 1s ----
cat >"$D/dup.yaml" <<YAML
dag: dup
schedule: "0 0 * * *"
timezone: UTC
trigger:
  file: {path: "$L/dt=*/*.csv", settle: 200ms}
tasks:
  t: {plugin: shell, params: {command: 'sleep 0.3'}}
YAML
mkdir -p "$L/dt=2025-06-01"
# the clock reaches the fire instant (closing 2025-06-01) 1 s after start
start_daemon --now 2025-06-01T23:59:59Z
wait_for 5 test -S "$COSTFLOW_HOME/scheduler.sock"
sleep 0.6
echo "a,1" >"$TMP/x.csv"; mv "$TMP/x.csv" "$L/dt=2025-06-01/x.csv" &
"$COSTFLOW" --dags "$D" run dup --date 2025-06-01 >"$TMP/dup.out" 2>&1 &
cli=$!
wait "$cli"
eq "the CLI run reports success" "$?" "0"
check "the tick fired" wait_for 3 sql_is "SELECT count(*) FROM events WHERE kind='tick' AND dag_id='dup'" 1
check "the sensor saw the file" wait_for 3 sql_is "SELECT count(*) FROM sensor_files WHERE dag_id='dup'" 1
check "the run ends" wait_for 5 sql_is "SELECT state FROM runs WHERE dag_id='dup' AND logical_date='2025-06-01'" success
eq "three triggers, one run" "$(sql "SELECT count(*) FROM runs WHERE dag_id='dup' AND logical_date='2025-06-01'")" "1"
eq "the start-up run was for the previous date" \
  "$(sql "SELECT group_concat(logical_date) FROM runs WHERE dag_id='dup' AND logical_date <> '2025-06-01'")" "2025-05-31"
stop_daemon TERM
eq "exit 0" "$DAEMON_RC" "0"
check "daemon logs are JSON lines" logs_are_json
finish
