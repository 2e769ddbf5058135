#!/bin/bash
# Disk full while a task writes: the attempt fails with a clear reason,
# retries do not eat the space the store needs, the daemon stays up, and
# after space is freed the date re-runs cleanly. Needs root to mount a
# small tmpfs as COSTFLOW_HOME (CI runs as root).
. "$(dirname "$0")/lib.sh"
DISK="$TMP/disk"
mkdir -p "$DISK"
if ! mount -t tmpfs -o size=6m tmpfs "$DISK" 2>/dev/null; then
  echo "cannot mount a tmpfs here (not root?): disk-full test not run"
  echo "0 passed, 1 failed"
  exit 1
fi
trap 'kill -9 ${DAEMON_PID:-0} 2>/dev/null; wait 2>/dev/null; umount "$DISK" 2>/dev/null; cleanup' EXIT
export COSTFLOW_HOME="$DISK/home"
export COSTFLOW_MIN_FREE=262144         # 256 KiB must stay free
. "$(dirname "$0")/sched-lib.sh"
trap 'for p in "${ALL_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; umount "$DISK" 2>/dev/null; cleanup' EXIT
cat >"$D/fill.yaml" <<'YAML'
dag: fill
default_args: {retries: 2, retry_delay: 1s}
tasks:
  write:
    plugin: shell
    params: {command: 'dd if=/dev/zero of="$COSTFLOW_HOME/big-{{ ds }}" bs=64k count=200 2>&1 && echo wrote'}
  publish: {plugin: noop, depends_on: [write]}
YAML
start_daemon
check "daemon up" wait_for 10 log_has "scheduler ready"
"$COSTFLOW" --dags "$D" run fill --date 2025-04-01 >"$TMP/run.out" 2>&1
eq "the run fails (exit 1)" "$?" "1"
eq "run recorded as failed" "$(sql "SELECT state FROM runs WHERE dag_id='fill'")" "failed"
eq "the writer failed, not left running" "$(sql "SELECT state FROM task_instances WHERE task_id='write'")" "failed"
contains "the final reason says the disk is full" \
  "$(sql "SELECT reason FROM task_instances WHERE task_id='write'")" "disk full:"
contains "the first attempt's log shows ENOSPC" \
  "$(cat "$COSTFLOW_HOME/logs/fill/2025-04-01/write/1.log")" "No space left on device"
eq "downstream did not publish" "$(sql "SELECT state FROM task_instances WHERE task_id='publish'")" "upstream_failed"
check "the daemon stays up" kill -0 "$DAEMON_PID"
check "the store is intact" sql_is "PRAGMA integrity_check" ok
# free the space, give the disk room, re-run the date
rm -f "$COSTFLOW_HOME"/big-*
mount -o remount,size=64m "$DISK"
expect_exit 0 "after freeing space the rerun succeeds" \
  "$COSTFLOW" --dags "$D" rerun fill --date 2025-04-01
eq "one run for the date" "$(sql "SELECT count(*) FROM runs WHERE dag_id='fill'")" "1"
eq "file fully written" "$(stat -c %s "$COSTFLOW_HOME/big-2025-04-01")" "13107200"

# Extract reading a big CUR as byte ranges on threads runs out of space:
# the task fails with the reason (no crash), and leaves no range file and
# no files.jsonl, so nothing downstream reads a partial staging.
L="$TMP/landing/aws/year=2023/month=06/day=01"
mkdir -p "$L"
big_cur "$L/big.csv" 40000 40000
cat >"$D/ex.yaml" <<YAML
dag: ex
default_args: {retries: 0}
tasks:
  extract_aws: {plugin: extract_aws, params: {landing: "$TMP/landing"}}
YAML
rm -f "$COSTFLOW_HOME"/big-*
mount -o remount,size=10m "$DISK"
"$COSTFLOW" --dags "$D" run ex --date 2023-06-01 >"$TMP/ex.out" 2>&1
eq "the extract run fails (exit 1)" "$?" "1"
W="$COSTFLOW_HOME/work/ex/2023-06-01/aws"
contains "its log says the disk is full" \
  "$(cat "$COSTFLOW_HOME/logs/ex/2023-06-01/extract_aws/1.log")" "No space left on device"
eq "the task failed, not crashed" \
  "$(sql "SELECT state FROM task_instances WHERE task_id='extract_aws'")" "failed"
check "no range staging file left" test ! -e "$W/staging.1.csv"
check "no file list: the extract is not complete" test ! -e "$W/files.jsonl"
check "the store is intact after it" sql_is "PRAGMA integrity_check" ok
stop_daemon TERM
eq "daemon exits 0" "$DAEMON_RC" "0"
finish
