#!/bin/bash
# The scheduler daemon: catch-up after downtime, catchup false, single
# instance, SIGTERM drain and resume, hot reload of the DAGs folder.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"

# ---- catch-up after several days of downtime (fake clock, --once) -------
cat >"$D/cu.yaml" <<'YAML'
dag: cu
schedule: "30 6 * * *"
start_date: 2025-03-01
catchup: true
max_active_runs: 2
tasks:
  a: {plugin: shell, params: {command: 'sleep 0.3'}}
  b: {plugin: noop, depends_on: [a]}
YAML
cat >"$D/latest.yaml" <<'YAML'
dag: latest
schedule: "30 6 * * *"
start_date: 2025-03-01
catchup: false
tasks:
  a: {plugin: noop}
YAML
# day one: the daemon sees 03-01 and 03-02 end
expect_exit 0 "scheduler --once exits 0" \
  "$COSTFLOW" --dags "$D" scheduler --once --now 2025-03-03T07:00:00Z
cat "$TMP/err" >>"$DLOG"
eq "catch-up: one run per ended interval" \
  "$(sql "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs WHERE dag_id='cu' ORDER BY 1)")" \
  "2025-03-01,2025-03-02"
eq "catchup false: only the latest interval" \
  "$(sql "SELECT group_concat(logical_date) FROM runs WHERE dag_id='latest'")" "2025-03-02"
# four days of downtime, then a restart at 06:29 (03-07's interval has
# not ended: 03-06 is the newest)
expect_exit 0 "restart after downtime" \
  "$COSTFLOW" --dags "$D" scheduler --once --now 2025-03-08T06:29:00Z
cat "$TMP/err" >>"$DLOG"
eq "catch-up: each missed date exactly once" \
  "$(sql "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs WHERE dag_id='cu' ORDER BY 1)")" \
  "2025-03-01,2025-03-02,2025-03-03,2025-03-04,2025-03-05,2025-03-06"
eq "no date has two runs" "$(sql "SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY dag_id, logical_date HAVING count(*) > 1)")" "0"
eq "every catch-up run succeeded" "$(sql "SELECT count(*) FROM runs WHERE dag_id='cu' AND state<>'success'")" "0"
eq "catchup false after downtime: only the latest" \
  "$(sql "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs WHERE dag_id='latest' ORDER BY 1)")" \
  "2025-03-02,2025-03-06"
eq "catch-up runs started oldest first" \
  "$(sql "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs WHERE dag_id='cu' AND logical_date >= '2025-03-03' ORDER BY start_us, logical_date)")" \
  "2025-03-03,2025-03-04,2025-03-05,2025-03-06"
# at most max_active_runs (2) overlapped: count, at each start, the runs
# that had started and not yet ended
eq "max_active_runs respected" \
  "$(sql "SELECT max(c) FROM (SELECT (SELECT count(*) FROM runs r2 WHERE r2.dag_id='cu' AND r2.start_us <= r1.start_us AND r2.end_us > r1.start_us) c FROM runs r1 WHERE r1.dag_id='cu')")" "2"
expect_exit 0 "same instant again creates nothing" \
  "$COSTFLOW" --dags "$D" scheduler --once --now 2025-03-08T06:29:00Z
eq "still six runs" "$(sql "SELECT count(*) FROM runs WHERE dag_id='cu'")" "6"
check "daemon logs are JSON lines" logs_are_json
eq "log lines carry ts, level, msg" \
  "$(jq -r 'select((.ts and .level and .msg) | not) | 1' "$DLOG" 2>/dev/null | wc -l)" "0"
rm -f "$D/cu.yaml" "$D/latest.yaml"

# ---- single instance ------------------------------------------------------
cat >"$D/slow.yaml" <<'YAML'
dag: slow
tasks:
  s: {plugin: shell, params: {command: 'sleep 1.5'}}
YAML
start_daemon --grace 10s
check "daemon is up (control socket)" wait_for 5 test -S "$COSTFLOW_HOME/scheduler.sock"
t0=$(date +%s%N)
expect_exit 1 "a second daemon on the same home is refused" \
  "$COSTFLOW" --dags "$D" scheduler
t1=$(date +%s%N)
contains "it names the running pid" "$(cat "$TMP/err")" "already running"
contains "with the pid" "$(cat "$TMP/err")" "pid $DAEMON_PID"
check "refused within a second" test $(( (t1 - t0) / 1000000 )) -lt 1000
check "first daemon unaffected" kill -0 "$DAEMON_PID"

# ---- SIGTERM: running attempts finish within the grace period -------------
"$COSTFLOW" --dags "$D" run slow --date 2025-04-01 >"$TMP/run.out" 2>&1 &
runner=$!
check "handed-off run starts in the daemon" \
  wait_for 5 sql_is "SELECT state FROM task_instances WHERE task_id='s'" running
stop_daemon TERM
eq "SIGTERM: exit 0" "$DAEMON_RC" "0"
eq "the running attempt was allowed to finish" \
  "$(sql "SELECT state FROM task_instances WHERE task_id='s'")" "success"
wait "$runner"
eq "the waiting 'run' client saw success" "$?" "0"

# ---- SIGTERM with a short grace: interrupted, resumed at the next start ---
cat >"$D/long.yaml" <<'YAML'
dag: long
tasks:
  l: {plugin: shell, params: {command: 'sleep 30'}}
  after: {plugin: noop, depends_on: [l]}
YAML
start_daemon --grace 300ms
wait_for 5 test -S "$COSTFLOW_HOME/scheduler.sock"
"$COSTFLOW" --dags "$D" run long --date 2025-04-01 >/dev/null 2>&1 &
ALL_PIDS+=($!)
check "long task running" \
  wait_for 5 sql_is "SELECT state FROM task_instances WHERE task_id='l'" running
t0=$(date +%s%N)
stop_daemon TERM
t1=$(date +%s%N)
eq "SIGTERM after grace: exit 0" "$DAEMON_RC" "0"
check "stopped soon after the grace period" test $(( (t1 - t0) / 1000000 )) -lt 8000
eq "interrupted task left to resume" \
  "$(sql "SELECT state||'|'||reason FROM task_instances WHERE task_id='l'")" \
  "none|interrupted by shutdown"
eq "its run is left running for the next start" \
  "$(sql "SELECT state FROM runs WHERE dag_id='long'")" "running"
sed -i 's/sleep 30/sleep 0.1/' "$D/long.yaml"
expect_exit 0 "next start resumes it" "$COSTFLOW" --dags "$D" scheduler --once
eq "resumed run succeeded" "$(sql "SELECT state FROM runs WHERE dag_id='long'")" "success"
eq "no second run for that date" "$(sql "SELECT count(*) FROM runs WHERE dag_id='long'")" "1"

# ---- paused DAGs, and the control protocol ---------------------------------
rm -f "$D"/*.yaml
cat >"$D/paused.yaml" <<'YAML'
dag: paused
schedule: "30 6 * * *"
start_date: 2025-03-01
catchup: true
tasks:
  t: {plugin: noop}
YAML
sql "INSERT INTO dags(dag_id, paused) VALUES('paused', 1)"
start_daemon --now 2025-03-05T07:00:00Z
wait_for 5 test -S "$COSTFLOW_HOME/scheduler.sock"
sleep 1.2
eq "a paused DAG gets no runs" "$(sql "SELECT count(*) FROM runs WHERE dag_id='paused'")" "0"
sql "UPDATE dags SET paused=0 WHERE dag_id='paused'"
check "unpausing catches up at once" \
  wait_for 4 sql_is "SELECT count(*) FROM runs WHERE dag_id='paused' AND state='success'" 4
ctl() { # send raw bytes, print the reply line
  python3 - "$COSTFLOW_HOME/scheduler.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
out = b""
while b"\n" not in out:
    b = s.recv(4096)
    if not b: break
    out += b
print(out.decode().strip())
PY
}
eq "ping answers with the pid" "$(ctl '{"op":"ping"}
' | jq -r '.ok, .pid' | tr '\n' ' ')" "true $DAEMON_PID "
eq "garbage is refused" "$(ctl 'hello
' | jq -r .ok)" "false"
eq "unknown ops are refused" "$(ctl '{"op":"rm -rf"}
' | jq -r .error)" "unknown op"
eq "an unknown DAG is refused" "$(ctl '{"op":"drive","dag":"nope"}
' | jq -r .ok)" "false"
eq "an over-long request is refused" \
  "$(ctl "$(head -c 6000 /dev/zero | tr '\0' x)" | jq -r .error)" "request too long"
# a client that connects and says nothing must not hold up the stop
python3 -c "import socket,time,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(5)" \
  "$COSTFLOW_HOME/scheduler.sock" &
idle=$!
ALL_PIDS+=($idle)
sleep 0.2
t0=$(date +%s%N)
stop_daemon TERM
t1=$(date +%s%N)
eq "exit 0 with an idle client connected" "$DAEMON_RC" "0"
check "and promptly" test $(( (t1 - t0) / 1000000 )) -lt 2000
kill "$idle" 2>/dev/null

# ---- hot reload of the DAGs folder ----------------------------------------
rm -f "$D"/*.yaml
cat >"$D/keep.yaml" <<'YAML'
dag: keep
tasks:
  t: {plugin: noop}
YAML
: >"$DLOG"
start_daemon
wait_for 5 test -S "$COSTFLOW_HOME/scheduler.sock"
start=$(date -u -d '3 days ago' +%F)
cat >"$D/.new.yaml.swp" <<'YAML'
editor junk: [
YAML
cat >"$D/added.yaml" <<YAML
dag: added
schedule: "0 0 * * *"
start_date: $start
catchup: true
tasks:
  t: {plugin: noop}
YAML
check "an added DAG is picked up within a second" \
  wait_for 1 log_has '"dag loaded from '"$D"'/added.yaml'
check "and its missed intervals run" \
  wait_for 5 sql_is "SELECT count(*) FROM runs WHERE dag_id='added' AND state='success'" 3
cat >"$D/bad.yaml" <<'YAML'
dag: bad
tasks:
  t: {plugin: no_such_plugin}
  u: {plugin: noop, depends_on: [missing]}
YAML
check "a bad DAG is reported" wait_for 2 log_has "invalid DAG file $D/bad.yaml"
contains "with file:line:col errors" "$(grep 'bad.yaml' "$DLOG")" "bad.yaml:3:"
contains "and every problem" "$(grep 'bad.yaml' "$DLOG")" "missing"
eq "the import error is an event" "$(sql "SELECT count(*) FROM events WHERE kind='dag_import_error' AND detail LIKE '%/bad.yaml%'")" "1"
check "the editor swap file is ignored" sh -c "! grep -q 'new.yaml.swp' '$DLOG'"
old_sha=$(sql "SELECT sha256 FROM dags WHERE dag_id='added'")
sed -i 's/t: {plugin: noop}/t: {plugin: noop, retries: 1}/' "$D/added.yaml"
check "a changed DAG is reloaded" wait_for 2 log_has '"dag changed: reloading'
sha_changed() { [ "$(sql "SELECT sha256 FROM dags WHERE dag_id='added'")" != "$old_sha" ]; }
check "its new hash is recorded" wait_for 2 sha_changed
# the same DAG turning bad keeps its last good version
echo "  oops: [" >>"$D/added.yaml"
check "a DAG that turns bad is reported" \
  wait_for 2 log_has "invalid DAG file $D/added.yaml (the previous version keeps running)"
"$COSTFLOW" --dags "$D" run keep --date 2025-05-01 >/dev/null 2>&1
eq "valid DAGs keep being served" "$(sql "SELECT state FROM runs WHERE dag_id='keep'")" "success"
rm -f "$D/added.yaml"
check "a removed DAG is dropped" wait_for 2 log_has '"dag removed'
kill -HUP "$DAEMON_PID"
check "SIGHUP reloads" wait_for 2 log_has "SIGHUP: reloading"
check "daemon still up" kill -0 "$DAEMON_PID"
stop_daemon TERM
eq "exit 0" "$DAEMON_RC" "0"
check "daemon logs are JSON lines" logs_are_json

# ---- a schedule that fires every hour: a date's run waits for its day ---
HD="$TMP/hourly-dags" HH="$TMP/hourly-home"
mkdir -p "$HD"
cat >"$HD/hourly.yaml" <<'YAML'
dag: hourly
schedule: "@hourly"
timezone: Europe/Oslo
start_date: 2025-03-01
catchup: true
tasks:
  a: {plugin: noop}
YAML
hruns() { sqlite3 "$HH/costflow.db" "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs ORDER BY 1)"; }
expect_exit 0 "hourly: scheduler --once mid-day" \
  env COSTFLOW_HOME="$HH" "$COSTFLOW" --dags "$HD" scheduler --once --now 2025-03-03T07:00:00Z
eq "hourly: only the days that are over get a run (not 03-03 at 08:00 Oslo)" \
  "$(hruns)" "2025-03-01,2025-03-02"
expect_exit 0 "hourly: just before Oslo midnight" \
  env COSTFLOW_HOME="$HH" "$COSTFLOW" --dags "$HD" scheduler --once --now 2025-03-03T22:59:00Z
eq "hourly: 03-03 still running its hours" "$(hruns)" "2025-03-01,2025-03-02"
expect_exit 0 "hourly: at Oslo midnight" \
  env COSTFLOW_HOME="$HH" "$COSTFLOW" --dags "$HD" scheduler --once --now 2025-03-03T23:00:00Z
eq "hourly: 03-03 once its last hour has ended" \
  "$(hruns)" "2025-03-01,2025-03-02,2025-03-03"
eq "hourly: dags next lists one run a day, at the day's end" \
  "$("$COSTFLOW" --dags "$HD" dags next hourly --count 2 --from 2025-03-03T07:00:00Z --json | jq -r '[.runs[] | .fires_at + " " + .logical_date] | join(",")')" \
  "2025-03-03T23:00:00Z 2025-03-03,2025-03-04T23:00:00Z 2025-03-04"
finish
