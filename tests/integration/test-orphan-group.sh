#!/bin/bash
# kill -9 of the process driving a run while a task's shell pipeline runs:
# the task child dies with its driver (PR_SET_PDEATHSIG), but the children
# the shell started stay in the attempt's process group. Whoever takes the
# run over next (a new `costflow run`, or `rerun`) must kill that group and
# close the orphaned attempt, so no part of an old try keeps running.
. "$(dirname "$0")/lib.sh"
D="$TMP/dags"
mkdir -p "$D" "$COSTFLOW_HOME"
cat >"$D/orph.yaml" <<'YAML'
dag: orph
default_args: {retries: 1, retry_delay: 0s}
tasks:
  a: {plugin: shell, params: {command: 'if [ "$COSTFLOW_TRY" = 1 ]; then sleep 120 | cat; fi; echo "a $COSTFLOW_TRY" >>"$COSTFLOW_HOME/done-{{ ds }}"'}}
  b: {plugin: shell, depends_on: [a], params: {command: 'echo b >>"$COSTFLOW_HOME/done-{{ ds }}"'}}
YAML
sql() { sqlite3 -cmd ".timeout 5000" "$COSTFLOW_HOME/costflow.db" "$1"; }
GROUPS_SEEN=()
# whatever happens, no group of ours outlives the test
trap 'for g in "${GROUPS_SEEN[@]}"; do kill -9 -- "-$g" 2>/dev/null; done; cleanup' EXIT
group_alive() { ps -eo pgid= | grep -qw -- "$1"; }
# starts a run of DATE, waits for try 1 of a to be running, kill -9s the
# driver; prints the attempt's process group
crash_during_a() {
  local date=$1 pg="" i
  "$COSTFLOW" --dags "$D" run orph --date "$date" >/dev/null 2>&1 &
  local drv=$!
  for i in $(seq 100); do
    pg=$(sql "SELECT a.pid FROM attempts a JOIN task_instances t ON t.id=a.ti_pk JOIN runs r ON r.id=t.run_pk WHERE r.logical_date='$date' AND a.state='running'" 2>/dev/null)
    [ -n "$pg" ] && ps -eo pgid=,args= | grep -w -- "$pg" | grep -q "sleep 120" && break
    sleep 0.1
  done
  kill -9 "$drv"
  wait "$drv" 2>/dev/null
  echo "$pg"
}
gone_within() { # PGID SECONDS
  local i
  for i in $(seq $(($2 * 10))); do group_alive "$1" || return 0; sleep 0.1; done
  return 1
}

pg=$(crash_during_a 2025-01-01)
GROUPS_SEEN+=("$pg")
sleep 0.3
check "the shell's children outlive the killed driver (setup)" group_alive "$pg"
expect_exit 0 "a new run resumes the crashed run" \
  "$COSTFLOW" --dags "$D" run orph --date 2025-01-01
check "resuming killed the old try's process group" gone_within "$pg" 2
eq "try 1 orphaned, try 2 succeeded" \
  "$(sql "SELECT group_concat(try_number||':'||state, ',') FROM (SELECT a.try_number, a.state FROM attempts a JOIN task_instances t ON t.id=a.ti_pk WHERE t.task_id='a' AND t.run_pk=(SELECT id FROM runs WHERE logical_date='2025-01-01') ORDER BY 1)")" \
  "1:failed,2:success"

pg=$(crash_during_a 2025-01-02)
GROUPS_SEEN+=("$pg")
sleep 0.3
check "the shell's children outlive the killed driver (setup 2)" group_alive "$pg"
expect_exit 0 "rerun --task a --downstream of the crashed run" \
  "$COSTFLOW" --dags "$D" rerun orph --date 2025-01-02 --task a --downstream
check "rerun killed the old try's process group" gone_within "$pg" 2
eq "rerun closed the orphaned attempt" \
  "$(sql "SELECT count(*) FROM attempts WHERE state='running'")" "0"
eq "the orphaned attempt says why" \
  "$(sql "SELECT a.reason FROM attempts a JOIN task_instances t ON t.id=a.ti_pk WHERE t.run_pk=(SELECT id FROM runs WHERE logical_date='2025-01-02') AND a.try_number=1 AND t.task_id='a'")" \
  "orphaned: its scheduler process died"
eq "the rerun ran a and b once each" "$(cat "$COSTFLOW_HOME/done-2025-01-02")" "a 2
b"

# A group whose members do not carry the attempt's mark is not the
# attempt's (its leader's pid was reused since): it is left alone. Here
# the stored start time is made another process's, so the mark differs.
# (Where PID 1 does not reap at once, the dead task child lingers as a
# zombie and its pid cannot be reused yet: this then passes by the start
# time check alone; on a host whose init reaps, it is the mark that
# spares the group.)
pg=$(crash_during_a 2025-01-03)
GROUPS_SEEN+=("$pg")
sleep 0.3
check "the shell's children outlive the killed driver (setup 3)" group_alive "$pg"
check "they carry the attempt's mark" bash -c \
  "ps -eo pid=,pgid= | awk '\$2 == $pg {print \$1}' | while read p; do tr '\\0' '\\n' </proc/\$p/environ; done | grep -q '^COSTFLOW_TASK_GROUP=$pg:'"
sql "UPDATE task_instances SET pid_start=pid_start+1 WHERE pid=$pg"
expect_exit 0 "rerun of a run whose recorded task is not that group's" \
  "$COSTFLOW" --dags "$D" rerun orph --date 2025-01-03 --task a --downstream
sleep 0.3
check "a group without the attempt's mark is not killed" group_alive "$pg"
kill -9 -- "-$pg"
finish
