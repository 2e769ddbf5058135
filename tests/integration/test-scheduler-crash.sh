#!/bin/bash
# Crash safety: SIGKILL the daemon at random points, 25 times, during a
# multi-task catch-up (3 dates x 4 tasks, max_active_runs 2), restarting it
# after each kill. After every restart: one run per logical date, no task
# that succeeded ran again, no orphan child left running. At the end every
# run has succeeded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
KILLS=${CF_CRASH_KILLS:-25}
NOW=2025-02-04T01:00:00Z
cat >"$D/crash.yaml" <<'YAML'
dag: crash
schedule: "0 0 * * *"
start_date: 2025-02-01
catchup: true
max_active_runs: 2
default_args: {retries: 60, retry_delay: 0s}
tasks:
  extract: {plugin: shell, params: {command: 'sleep 0.2; echo "{{ ds }} extract" >>"$COSTFLOW_HOME/done.txt"'}}
  transform: {plugin: shell, depends_on: [extract], params: {command: 'sleep 0.2; echo "{{ ds }} transform" >>"$COSTFLOW_HOME/done.txt"'}}
  check: {plugin: shell, depends_on: [extract], params: {command: 'sleep 0.1'}}
  publish: {plugin: shell, depends_on: [transform, check], params: {command: 'sleep 0.2; echo "{{ ds }} publish" >>"$COSTFLOW_HOME/done.txt"'}}
YAML

invariants() { # prints the first broken invariant, or nothing
  local q
  # killed before it created the store: nothing to check yet
  q=$(sql "SELECT count(*) FROM sqlite_master WHERE name='runs'")
  [ "$q" = 1 ] || { [ "$q" = 0 ] && return; echo "store unreadable: $q"; return; }
  q=$(sql "SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY dag_id, logical_date HAVING count(*) > 1)")
  [ "$q" = 0 ] || { echo "a date has two runs"; return; }
  q=$(sql "SELECT count(*) FROM (SELECT 1 FROM attempts GROUP BY ti_pk HAVING sum(state='success') > 1)")
  [ "$q" = 0 ] || { echo "a task succeeded twice"; return; }
  q=$(sql "SELECT count(*) FROM attempts a JOIN attempts s ON s.ti_pk=a.ti_pk AND s.state='success' AND a.try_number > s.try_number")
  [ "$q" = 0 ] || { echo "a task ran again after it succeeded"; return; }
  q=$(sql "SELECT count(*) FROM task_instances WHERE state='success' AND id IN (SELECT ti_pk FROM attempts WHERE state='running')")
  [ "$q" = 0 ] || { echo "a succeeded task has a running attempt"; return; }
  q=$(sql "SELECT count(*) FROM runs WHERE dag_id='crash'")
  [ "$q" -le 3 ] || { echo "more than 3 runs"; return; }
}
no_orphans() { # no task child of a killed daemon survives
  local pid
  for pid in $(sql "SELECT pid FROM attempts WHERE state='running' AND pid IS NOT NULL"); do
    if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "task-run"; then
      return 1
    fi
  done
  return 0
}

broken=""
for i in $(seq 1 "$KILLS"); do
  start_daemon --now "$NOW" --grace 0
  sleep "0.$(printf '%02d' $((RANDOM % 60 + 3)))"
  kill -9 "$DAEMON_PID" 2>/dev/null
  wait "$DAEMON_PID" 2>/dev/null
  wait_for 2 no_orphans || broken="${broken:-kill $i: a task child outlived its daemon}"
  why=$(invariants)
  [ -z "$why" ] || broken="${broken:-kill $i: $why}"
done
eq "invariants held after each of $KILLS kills" "$broken" ""
eq "orphaned attempts were recorded" \
  "$(sql "SELECT count(*) > 0 FROM attempts WHERE reason LIKE 'orphaned%'")" "1"
expect_exit 0 "a final start finishes the work" \
  "$COSTFLOW" --dags "$D" scheduler --once --now "$NOW"
cat "$TMP/err" >>"$DLOG"
eq "exactly the three missed dates have runs" \
  "$(sql "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs ORDER BY 1)")" \
  "2025-02-01,2025-02-02,2025-02-03"
eq "every run succeeded" "$(sql "SELECT group_concat(state) FROM runs")" "success,success,success"
eq "every task succeeded" "$(sql "SELECT count(*) FROM task_instances WHERE state='success'")" "12"
eq "no attempt left running" "$(sql "SELECT count(*) FROM attempts WHERE state='running'")" "0"
eq "final invariants" "$(invariants)" ""
eq "store integrity" "$(sql "PRAGMA integrity_check")" "ok"
eq "no dangling foreign keys" "$(sql "PRAGMA foreign_key_check")" ""
echo "    ($(sql "SELECT count(*) FROM attempts WHERE reason LIKE 'orphaned%'") orphaned attempts retried)"
finish
