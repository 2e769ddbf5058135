#!/bin/bash
# The executor's hand-off path: downstream decisions made incrementally
# (a failure cascading down a long chain, fan-in trigger rules), ready
# tasks started in topological order, a log that cannot be opened after
# the child has started, and a store that stays sound while its WAL is
# checkpointed off the loop thread.
. "$(dirname "$0")/lib.sh"
D="$TMP/dags"
mkdir -p "$D"
state() { sql "SELECT ti.state||'|'||ti.try_number FROM task_instances ti JOIN runs r ON r.id=ti.run_pk WHERE r.dag_id='$1' AND ti.task_id='$2'"; }

# 1. a failure at the head of a 300-task chain, and fan-in rules over it
awk 'BEGIN {
  print "dag: cascade\ntasks:\n  head: {plugin: crash, retries: 0}"
  print "  c1: {plugin: noop, depends_on: [head]}"
  for (i = 2; i <= 300; i++) printf "  c%d: {plugin: noop, depends_on: [c%d]}\n", i, i - 1
  print "  ok: {plugin: noop}"
  print "  done_all: {plugin: noop, depends_on: [c300, ok], trigger_rule: all_done}"
  print "  one_ok: {plugin: noop, depends_on: [c300, ok], trigger_rule: one_success}"
  print "  strict: {plugin: noop, depends_on: [c300, ok]}"
}' >"$D/cascade.yaml"
expect_exit 1 "a run whose head crashes exits 1" \
  "$COSTFLOW" --dags "$D" run cascade --date 2025-03-01
eq "the head failed" "$(state cascade head)" "failed|1"
eq "the whole chain is upstream_failed" \
  "$(sql "SELECT count(*) FROM task_instances ti JOIN runs r ON r.id=ti.run_pk WHERE r.dag_id='cascade' AND ti.task_id LIKE 'c%' AND ti.state='upstream_failed' AND ti.try_number=0")" "300"
eq "all_done runs after the cascade" "$(state cascade done_all)" "success|1"
eq "one_success runs on the other upstream" "$(state cascade one_ok)" "success|1"
eq "all_success is upstream_failed" "$(state cascade strict)" "upstream_failed|0"
eq "the run failed" "$(sql "SELECT state FROM runs WHERE dag_id='cascade'")" "failed"

# 2. tasks ready at once start in topological order (one slot)
awk 'BEGIN {
  print "dag: order\ntasks:\n  src: {plugin: noop}"
  for (i = 1; i <= 12; i++) printf "  t%02d: {plugin: noop, depends_on: [src]}\n", i
}' >"$D/order.yaml"
COSTFLOW_PARALLELISM=1 expect_exit 0 "a fan-out with one slot succeeds" \
  "$COSTFLOW" --dags "$D" run order --date 2025-03-01
eq "ready tasks start in topological order" \
  "$(sql "SELECT group_concat(task_id, ' ') FROM (SELECT ti.task_id FROM attempts a JOIN task_instances ti ON ti.id=a.ti_pk JOIN runs r ON r.id=ti.run_pk WHERE r.dag_id='order' ORDER BY a.spawn_us)")" \
  "src t01 t02 t03 t04 t05 t06 t07 t08 t09 t10 t11 t12"

# 3. the log is opened after the child starts: when it cannot be, the
# attempt is stopped and fails with that reason (and is retried)
cat >"$D/nolog.yaml" <<'YAML'
dag: nolog
tasks:
  first: {plugin: noop, retries: 1, retry_delay: 1s}
YAML
mkdir -p "$COSTFLOW_HOME/logs/nolog/2025-03-01"
: >"$COSTFLOW_HOME/logs/nolog/2025-03-01/first"   # a file, not a folder
expect_exit 1 "a task whose log cannot be opened fails" \
  "$COSTFLOW" --dags "$D" run nolog --date 2025-03-01
eq "it was retried, then failed" "$(state nolog first)" "failed|2"
contains "the reason names the log" \
  "$(sql "SELECT reason FROM task_instances WHERE task_id='first'")" "cannot open log"
eq "no child outlived its attempt" \
  "$(sql "SELECT count(*) FROM attempts a JOIN task_instances ti ON ti.id=a.ti_pk WHERE ti.task_id='first' AND (a.state!='failed' OR a.exit_us IS NULL)")" "0"

# 4. enough commits to checkpoint the WAL many times over
awk 'BEGIN {
  print "dag: long\ntasks:\n  t1: {plugin: noop}"
  for (i = 2; i <= 400; i++) printf "  t%d: {plugin: noop, depends_on: [t%d]}\n", i, i - 1
}' >"$D/long.yaml"
expect_exit 0 "a 400-task chain succeeds" \
  "$COSTFLOW" --dags "$D" run long --date 2025-03-01
eq "every task succeeded once" \
  "$(sql "SELECT count(*) FROM task_instances ti JOIN runs r ON r.id=ti.run_pk WHERE r.dag_id='long' AND ti.state='success' AND ti.try_number=1")" "400"
eq "every hand-off is timed" \
  "$(sql "SELECT count(*) FROM attempts a JOIN task_instances ti ON ti.id=a.ti_pk JOIN runs r ON r.id=ti.run_pk WHERE r.dag_id='long' AND a.spawn_us > 0 AND a.exit_us >= a.spawn_us")" "400"
eq "the store is sound" "$(sql "PRAGMA integrity_check")" "ok"
finish
