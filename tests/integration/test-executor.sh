#!/bin/bash
# The executor through the real binary: retries, timeouts, crashes, results,
# output floods, trigger rules, outputs between tasks, templates, resume.
. "$(dirname "$0")/lib.sh"
D="$TMP/dags"
mkdir -p "$D"

cat >"$D/modes.yaml" <<'YAML'
dag: modes
default_args: {retries: 1, retry_delay: 1s}
tasks:
  flaky: {plugin: flaky}
  crash: {plugin: crash, retries: 0}
  hang: {plugin: hang, timeout: 1s, retries: 0, params: {ignore_term: true}}
  noresult: {plugin: noresult, retries: 0}
  flood: {plugin: flood, retries: 0}
  asks_retry: {plugin: fail, retries: 1, retry_delay: 1s, params: {result: retry}}
  skipper: {plugin: fail, params: {result: skip}}
  after_flaky: {plugin: noop, depends_on: [flaky]}
  after_crash: {plugin: noop, depends_on: [crash]}
  after_after: {plugin: noop, depends_on: [after_crash]}
  after_skip: {plugin: noop, depends_on: [skipper]}
  on_fail: {plugin: noop, depends_on: [crash, flaky], trigger_rule: one_failed}
  on_success: {plugin: noop, depends_on: [crash, flaky], trigger_rule: one_success}
  all_done: {plugin: noop, depends_on: [crash, flaky], trigger_rule: all_done}
  all_failed: {plugin: noop, depends_on: [crash, noresult], trigger_rule: all_failed}
  none_failed: {plugin: noop, depends_on: [flaky, skipper], trigger_rule: none_failed}
  not_all_failed: {plugin: noop, depends_on: [crash, flaky], trigger_rule: all_failed}
  always: {plugin: noop, depends_on: [crash], trigger_rule: always}
YAML
export COSTFLOW_KILL_GRACE_MS=300 COSTFLOW_LOG_LIMIT=2000000
expect_exit 1 "a run with failed tasks exits 1" \
  "$COSTFLOW" --dags "$D" run modes --date 2025-03-01
state() { sql "SELECT ti.state||'|'||ti.try_number FROM task_instances ti JOIN runs r ON r.id=ti.run_pk WHERE r.dag_id='modes' AND ti.task_id='$1'"; }
reason() { sql "SELECT reason FROM task_instances WHERE task_id='$1'"; }
eq "flaky succeeds on its second try" "$(state flaky)" "success|2"
eq "flaky's first attempt is recorded as failed" \
  "$(sql "SELECT group_concat(a.state) FROM attempts a JOIN task_instances t ON t.id=a.ti_pk WHERE t.task_id='flaky' ORDER BY a.try_number")" "failed,success"
eq "crash fails only itself" "$(state crash)" "failed|1"
contains "crash reason names the signal" "$(reason crash)" "killed by signal 11"
eq "crash records the signal" "$(sql "SELECT signal FROM task_instances WHERE task_id='crash'")" "11"
contains "hang is killed at its timeout" "$(reason hang)" "timed out after 1 s"
eq "hang needed SIGKILL (ignored SIGTERM)" "$(sql "SELECT signal FROM task_instances WHERE task_id='hang'")" "9"
eq "exit without result is its own reason" "$(reason noresult)" "exited without a result"
contains "flood stops at the log limit" "$(reason flood)" "log output limit exceeded"
log_size=$(stat -c %s "$COSTFLOW_HOME/logs/modes/2025-03-01/flood/1.log")
eq "flood log is capped" "$log_size" "2000000"
eq "retry result is retried then fails" "$(state asks_retry)" "failed|2"
contains "retry result reason" "$(reason asks_retry)" "retry requested"
eq "skip result skips" "$(state skipper)" "skipped|1"
eq "skip propagates downstream" "$(state after_skip)" "skipped|0"
eq "all_success downstream of success runs" "$(state after_flaky)" "success|1"
eq "failure propagates as upstream_failed" "$(state after_crash)" "upstream_failed|0"
eq "upstream_failed propagates transitively" "$(state after_after)" "upstream_failed|0"
eq "one_failed runs when one upstream failed" "$(state on_fail)" "success|1"
eq "one_success runs when one upstream succeeded" "$(state on_success)" "success|1"
eq "all_done runs after failures" "$(state all_done)" "success|1"
eq "all_failed runs when all failed" "$(state all_failed)" "success|1"
eq "all_failed skips when one succeeded" "$(state not_all_failed)" "skipped|0"
eq "none_failed runs with a skipped upstream" "$(state none_failed)" "success|1"
eq "always runs regardless" "$(state always)" "success|1"
eq "run is failed" "$(sql "SELECT state FROM runs WHERE dag_id='modes'")" "failed"
expect_exit 1 "running a finished failed run again reports it, exit 1" \
  "$COSTFLOW" --dags "$D" run modes --date 2025-03-01
eq "no second run for the same date" "$(sql "SELECT count(*) FROM runs WHERE dag_id='modes'")" "1"

# --json listing carries the documented fields
"$COSTFLOW" --dags "$D" tasks modes --date 2025-03-01 --json >"$TMP/tasks.json"
eq "tasks --json has try_number 2 for flaky" \
  "$(jq -r '.[] | select(.task_id=="flaky") | .try_number' "$TMP/tasks.json")" "2"
eq "tasks --json fields" \
  "$(jq -r '.[0] | [has("task_id"),has("state"),has("try_number"),has("start"),has("end"),has("duration_s"),has("exit_code"),has("reason")] | all' "$TMP/tasks.json")" "true"

# outputs flow downstream; templates and conf are rendered and recorded
cat >"$D/flow.yaml" <<'YAML'
dag: flow
params: {landing: /default/landing, who: world}
tasks:
  produce: {plugin: outputs, params: {key: greeting, value: "hello {{ params.who }} {{ ds_nodash }}"}}
  consume: {plugin: outputs, depends_on: [produce], params: {key: greeting, read_from: produce}}
  paths:
    plugin: shell
    depends_on: [consume]
    params:
      command: 'echo "L={{ params.landing }} Y={{ yyyy }} M={{ mm }} D={{ dd }} P={{ prev_ds }} N={{ next_ds }} R={{ run_id }} T={{ task }} G={{ dag }} E={{ env.CF_TEST_VAR }}"'
YAML
export CF_TEST_VAR=from-env
expect_exit 0 "a run with outputs and templates succeeds" \
  "$COSTFLOW" --dags "$D" run flow --date 2024-02-29 --conf landing=/tmp/landing
eq "output stored" "$(sql "SELECT value FROM task_outputs WHERE task_id='produce'")" "hello world 20240229"
contains "downstream read the output" \
  "$("$COSTFLOW" --dags "$D" logs flow --date 2024-02-29 --task consume)" "read greeting=hello world 20240229 from produce"
contains "templates rendered (conf overrides params)" \
  "$("$COSTFLOW" --dags "$D" logs flow --date 2024-02-29 --task paths)" \
  "L=/tmp/landing Y=2024 M=02 D=29 P=2024-02-28 N=2024-03-01 R=manual__2024-02-29 T=paths G=flow E=from-env"
contains "rendered params are recorded" \
  "$(sql "SELECT params FROM task_instances WHERE task_id='paths'")" "L=/tmp/landing"
unset CF_TEST_VAR
expect_exit 0 "a finished successful run is reported, not re-run" \
  "$COSTFLOW" --dags "$D" run flow --date 2024-02-29
eq "no new attempts" "$(sql "SELECT count(*) FROM attempts a JOIN task_instances t ON t.id=a.ti_pk JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='flow'")" "3"

# a missing env var at render time fails the task, without retries
cat >"$D/envfail.yaml" <<'YAML'
dag: envfail
default_args: {retries: 3}
tasks:
  t: {plugin: shell, params: {command: "echo {{ env.CF_SURELY_UNSET_VAR }}"}}
YAML
expect_exit 1 "missing env var fails the run" \
  "$COSTFLOW" --dags "$D" run envfail --date 2025-01-01
contains "reason names the variable" "$(sql "SELECT reason FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='envfail'")" "CF_SURELY_UNSET_VAR"
eq "template errors are not retried" "$(sql "SELECT try_number FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='envfail'")" "1"
contains "the attempt's log says why it never ran" \
  "$("$COSTFLOW" --dags "$D" logs envfail --date 2025-01-01 --task t)" \
  "costflow: "

# a templated int param that renders to text fails with a clear reason
cat >"$D/typed.yaml" <<'YAML'
dag: typed
params: {secs: soon}
tasks:
  nap: {plugin: sleep, params: {seconds: "{{ params.secs }}"}}
YAML
expect_exit 1 "a bad rendered int param fails the run" \
  "$COSTFLOW" --dags "$D" run typed --date 2025-01-01
contains "reason names the param and value" \
  "$(sql "SELECT reason FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='typed'")" \
  "param 'seconds' must be an int, got 'soon' after rendering"
expect_exit 0 "the same DAG with a good value succeeds" \
  "$COSTFLOW" --dags "$D" run typed --date 2025-01-02 --conf secs=0
eq "a --conf key the DAG has as a param: no warning" "$(cat "$TMP/err")" ""
expect_exit 0 "a --conf key the DAG does not have: the run still goes" \
  "$COSTFLOW" --dags "$D" run typed --date 2025-01-03 --conf secs=0 --conf sces=1
eq "... with a warning naming it and the DAG's params" "$(cat "$TMP/err")" \
  "costflow: warning: --conf sces: DAG typed has no param 'sces' (its params: secs); passed to the run as given"

# interrupt: SIGTERM stops the run; running it again resumes, success kept
cat >"$D/slow.yaml" <<'YAML'
dag: slow
tasks:
  first: {plugin: shell, params: {command: "echo first"}}
  second: {plugin: shell, depends_on: [first], params: {command: "sleep 30"}}
  third: {plugin: noop, depends_on: [second]}
YAML
"$COSTFLOW" --dags "$D" run slow --date 2025-01-01 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ "$(sql "SELECT state FROM task_instances WHERE task_id='second'" 2>/dev/null)" = running ] && break
  sleep 0.1
done
kill -TERM $pid
wait $pid
eq "interrupted run exits 1" "$?" "1"
eq "interrupted run stays resumable" "$(sql "SELECT state FROM runs WHERE dag_id='slow'")" "running"
sed -i 's/sleep 30/echo quick/' "$D/slow.yaml"
expect_exit 0 "run again resumes the interrupted run" \
  "$COSTFLOW" --dags "$D" run slow --date 2025-01-01
eq "completed task was not run again" "$(sql "SELECT try_number FROM task_instances WHERE task_id='first'")" "1"
eq "interrupted task ran again" "$(sql "SELECT try_number FROM task_instances WHERE task_id='second'")" "2"

# kill -9 of the foreground runner: the child dies with it; the next
# start marks the attempt orphaned and retries it
sed -i 's/echo quick/sleep 30/' "$D/slow.yaml"
"$COSTFLOW" --dags "$D" run slow --date 2025-01-02 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do   # running, and its pid recorded (set after spawn)
  [ -n "$(sql "SELECT t.pid FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.logical_date='2025-01-02' AND task_id='second' AND t.state='running'" 2>/dev/null)" ] && break
  sleep 0.1
done
child=$(sql "SELECT t.pid FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.logical_date='2025-01-02' AND task_id='second'")
# the attempt runs costflow-task (beside costflow), not the whole CLI
eq "task attempts run the lean costflow-task executable" \
  "$(basename "$(readlink "/proc/$child/exe")")" "costflow-task"
kill -9 $pid
wait $pid 2>/dev/null
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
for _ in $(seq 100); do alive "$child" || break; sleep 0.05; done  # <= 5 s
if alive "$child"; then bad "task child survived its parent's kill -9"; else ok "task child died with its parent"; fi
sed -i 's/sleep 30/echo quick/; s/second: {plugin: shell,/second: {plugin: shell, retries: 1, retry_delay: 1s,/' "$D/slow.yaml"
expect_exit 0 "restart after kill -9 finishes the run" \
  "$COSTFLOW" --dags "$D" run slow --date 2025-01-02
contains "orphaned attempt recorded" "$(sql "SELECT group_concat(a.reason) FROM attempts a JOIN task_instances t ON t.id=a.ti_pk JOIN runs r ON r.id=t.run_pk WHERE r.logical_date='2025-01-02' AND t.task_id='second'")" "orphaned"
eq "first task ran once" "$(sql "SELECT t.try_number FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.logical_date='2025-01-02' AND task_id='first'")" "1"

# pools and the global parallelism limit bound concurrency
cat >"$D/pools.yaml" <<'YAML'
dag: pools
pools: {db: 1}
tasks:
  p1: {plugin: shell, pool: db, params: {command: "sleep 0.3"}}
  p2: {plugin: shell, pool: db, params: {command: "sleep 0.3"}}
  p3: {plugin: shell, pool: db, params: {command: "sleep 0.3"}}
  free1: {plugin: shell, params: {command: "sleep 0.3"}}
  free2: {plugin: shell, params: {command: "sleep 0.3"}}
YAML
max_overlap() {  # most attempts of run $1 alive at one instant (task filter $2)
  sql "SELECT max(c) FROM (SELECT (SELECT count(*) FROM attempts b JOIN task_instances tb ON tb.id=b.ti_pk WHERE tb.run_pk=ta.run_pk AND tb.task_id LIKE '$2' AND b.start_us <= a.start_us AND b.end_us > a.start_us) c FROM attempts a JOIN task_instances ta ON ta.id=a.ti_pk JOIN runs r ON r.id=ta.run_pk WHERE r.dag_id='pools' AND r.logical_date='$1' AND ta.task_id LIKE '$2')"
}
expect_exit 0 "pool run succeeds" "$COSTFLOW" --dags "$D" run pools --date 2025-01-01
eq "a 1-slot pool runs its tasks one at a time" "$(max_overlap 2025-01-01 'p%')" "1"
if [ "$(max_overlap 2025-01-01 '%')" -ge 2 ]; then ok "tasks outside the pool run beside it"; else bad "no parallelism outside the pool"; fi
COSTFLOW_PARALLELISM=1 expect_exit 0 "parallelism 1 run succeeds" "$COSTFLOW" --dags "$D" run pools --date 2025-01-02
eq "global parallelism 1 runs one attempt at a time" "$(max_overlap 2025-01-02 '%')" "1"

# plugins list shows params; a wrong ABI is refused naming both versions
out=$("$COSTFLOW" plugins list 2>&1)
contains "plugins list shows shell's command param" "$out" "command"
contains "plugins list reports the bad ABI" "$out" "was built for ABI 99, this costflow has ABI 1"
"$COSTFLOW" plugins list --json 2>/dev/null >"$TMP/plugins.json"
eq "plugins --json lists sleep's seconds param" "$(jq -r '.[] | select(.name=="sleep") | .params[0].name' "$TMP/plugins.json")" "seconds"

# without costflow-task beside it, costflow runs each attempt itself
# (`costflow task-run`): the shell's parent is then costflow
mkdir -p "$TMP/alone"
cp "$COSTFLOW" "$TMP/alone/costflow"
cat >"$D/whoami.yaml" <<'YAML'
dag: whoami
tasks:
  t: {plugin: shell, params: {command: "basename $(readlink /proc/$PPID/exe)"}}
YAML
expect_exit 0 "a run works without costflow-task (task-run fallback)" \
  "$TMP/alone/costflow" --dags "$D" run whoami --date 2025-01-01
eq "the fallback attempt ran in costflow itself" \
  "$("$COSTFLOW" --dags "$D" logs whoami --date 2025-01-01 --task t | grep -cx costflow)" "1"
expect_exit 0 "the same DAG with costflow-task beside costflow" \
  "$COSTFLOW" --dags "$D" run whoami --date 2025-01-02
eq "that attempt ran in costflow-task" \
  "$("$COSTFLOW" --dags "$D" logs whoami --date 2025-01-02 --task t | grep -cx costflow-task)" "1"
# an attempt whose process cannot be started fails with the reason, and
# the reason is in its log, where `costflow logs` finds it: here the
# costflow-task beside costflow is executable but no program (ENOEXEC)
mkdir -p "$TMP/broken"
cp "$COSTFLOW" "$TMP/broken/costflow"
printf 'not a program\n' >"$TMP/broken/costflow-task"
chmod +x "$TMP/broken/costflow-task"
expect_exit 1 "a task whose process cannot start fails the run" \
  "$TMP/broken/costflow" --dags "$D" run whoami --date 2025-01-05
spawn_q="FROM attempts a JOIN task_instances t ON t.id=a.ti_pk JOIN runs r
  ON r.id=t.run_pk WHERE r.dag_id='whoami' AND r.logical_date='2025-01-05'"
eq "its one attempt is recorded failed, with no process" \
  "$(sql "SELECT group_concat(a.state||'|'||coalesce(a.pid, 0)) $spawn_q")" \
  "failed|0"
contains "the attempt's reason says why it could not start" \
  "$(sql "SELECT a.reason $spawn_q")" \
  "cannot start task process: Exec format error"
contains "its log file holds the reason" \
  "$(cat "$(sql "SELECT a.log_path $spawn_q")")" \
  "costflow: cannot start task process: Exec format error"
contains "costflow logs shows it" \
  "$("$COSTFLOW" --dags "$D" logs whoami --date 2025-01-05 --task t)" \
  "cannot start task process: Exec format error"
# where settings come from, the same in costflow and costflow-task: an
# option (before or after the command, even empty) over the variable, over
# the default (./var, ./dags)
mkdir -p "$TMP/cwd/dags" "$TMP/other"
printf 'dag: here\ntasks:\n  t: {plugin: noop}\n' >"$TMP/cwd/dags/here.yaml"
printf 'dag: there\ntasks:\n  t: {plugin: noop}\n' >"$TMP/other/there.yaml"
listed() { (cd "$TMP/cwd" && "$@" 2>&1 | awk 'NR > 1 {print $1}'); }
eq "default DAGs folder is ./dags" "$(listed env -u COSTFLOW_DAGS "$COSTFLOW" dags list)" "here"
eq "\$COSTFLOW_DAGS over the default" "$(listed env COSTFLOW_DAGS="$TMP/other" "$COSTFLOW" dags list)" "there"
eq "--dags over \$COSTFLOW_DAGS" "$(listed env COSTFLOW_DAGS="$TMP/other" "$COSTFLOW" --dags "$TMP/cwd/dags" dags list)" "here"
eq "--dags=DIR after the command" "$(listed env COSTFLOW_DAGS="$TMP/other" "$COSTFLOW" dags list --dags="$TMP/cwd/dags")" "here"
eq "an empty --dags= means the default" "$(listed env COSTFLOW_DAGS="$TMP/other" "$COSTFLOW" --dags= dags list)" "here"
eq "an empty \$COSTFLOW_DAGS means the default" "$(listed env COSTFLOW_DAGS= "$COSTFLOW" dags list)" "here"
expect_exit 0 "--home over \$COSTFLOW_HOME, in the task child too" \
  "$COSTFLOW" --home "$TMP/h2" --dags "$D" run whoami --date 2025-01-03
eq "that run and its attempt are in the --home store" \
  "$(sqlite3 "$TMP/h2/costflow.db" "SELECT state FROM task_instances")" "success"
eq "and not in \$COSTFLOW_HOME's" "$(sql "SELECT count(*) FROM runs WHERE logical_date='2025-01-03' AND dag_id='whoami'")" "0"
(cd "$TMP/cwd" && env -u COSTFLOW_HOME "$COSTFLOW" --dags "$D" run whoami --date 2025-01-04 >/dev/null 2>&1)
eq "default home is ./var, in the task child too" \
  "$(sqlite3 "$TMP/cwd/var/costflow.db" "SELECT state FROM task_instances" 2>&1)" "success"
finish
