#!/bin/bash
# The web API on the daemon's own loop (`scheduler --web`), and the drain
# on SIGTERM: running attempts finish, nothing new starts, the run resumes
# at the next start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
cat >"$D/webdag.yaml" <<'YAML'
dag: webdag
tasks:
  a: {plugin: shell, params: {command: "echo a {{ ds }}"}}
  b: {plugin: noop, depends_on: [a]}
YAML
PORT=$((20000 + RANDOM % 20000))
start_daemon --web "127.0.0.1:$PORT" --grace 20s
check "web server answers on the daemon's loop" wait_for 10 curl -sf "http://127.0.0.1:$PORT/healthz"
TOKEN=$(cat "$COSTFLOW_HOME/web.token")
# Uploads land under the costflow home (not the user's $HOME), as --help says.
up=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" --data-binary x \
  "http://127.0.0.1:$PORT/api/upload?name=probe.txt")
contains "upload lands in \$COSTFLOW_HOME/landing" "$up" "\"path\":\"$COSTFLOW_HOME/landing/probe.txt\""
contains "scheduler --help names the landing default" \
  "$("$COSTFLOW" scheduler --help)" '(default $COSTFLOW_HOME/landing)'
code=$(curl -s -o "$TMP/trigger.json" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"date":"2025-02-01"}' "http://127.0.0.1:$PORT/api/dags/webdag/runs")
eq "trigger accepted" "$code" "201"
check "the daemon drives the triggered run to success" \
  wait_for 15 sql_is "SELECT state FROM runs WHERE dag_id='webdag'" success
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  -H 'Content-Type: application/json' -d '{"date":"2025-02-02"}' \
  "http://127.0.0.1:$PORT/api/dags/webdag/runs")
eq "trigger without the token is refused" "$code" "401"
eq "no run created by the refused trigger" "$(sql "SELECT count(*) FROM runs")" "1"

# drain: a long task is running when SIGTERM arrives; it may finish within
# the grace period, but its downstream must not start before the restart
cat >"$D/drain.yaml" <<'YAML'
dag: drain
tasks:
  slow: {plugin: shell, params: {command: "sleep 1.5"}}
  after: {plugin: noop, depends_on: [slow]}
YAML
check "drain DAG is loaded" wait_for 10 log_has '"dag":"drain"'
"$COSTFLOW" --dags "$D" run drain --date 2025-02-01 >/dev/null 2>&1 &
CLIENT=$!
check "slow task starts" wait_for 10 sql_is \
  "SELECT t.state FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='drain' AND t.task_id='slow'" running
stop_daemon TERM
eq "daemon exits 0 after the drain" "$DAEMON_RC" "0"
wait "$CLIENT" 2>/dev/null
eq "the running attempt finished during the grace period" \
  "$(sql "SELECT t.state FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='drain' AND t.task_id='slow'")" "success"
eq "its downstream did not start while draining" \
  "$(sql "SELECT try_number FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='drain' AND t.task_id='after'")" "0"
start_daemon
check "the next start finishes the drained run" \
  wait_for 15 sql_is "SELECT state FROM runs WHERE dag_id='drain'" success
eq "slow ran once" "$(sql "SELECT try_number FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='drain' AND t.task_id='slow'")" "1"
stop_daemon TERM
finish
