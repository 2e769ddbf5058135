#!/bin/bash
# The sensor when the kernel drops events: a daemon whose inotify queue
# holds only 8 events is frozen while 56 files land, so the queue
# overflows; once it runs again it must walk its folders at once (not wait
# for the periodic rescan, set to an hour here) and fire every date once.
# The queue size is fixed when the daemon creates its inotify instance, from
# /proc/sys/fs/inotify/max_queued_events: the test lowers it for that
# moment and puts it back (it runs alone: RUN_SERIAL in tests/CMakeLists.txt).
# Needs root, as the disk-full test does (CI runs as root).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
Q=/proc/sys/fs/inotify/max_queued_events
SAVED=$(cat "$Q")
restore_queue() { [ "$(cat "$Q")" = "$SAVED" ] || echo "$SAVED" >"$Q"; }
trap 'restore_queue; kill -CONT ${DAEMON_PID:-0} 2>/dev/null; sched_cleanup' EXIT
if ! echo 8 >"$Q" 2>/dev/null; then
  echo "cannot set $Q here (not root?): overflow test not run"
  echo "0 passed, 1 failed"
  exit 1
fi
N=28
L="$TMP/landing"
for i in $(seq -w 1 $N); do mkdir -p "$L/year=2025/month=02/day=$i"; done
cat >"$D/drop.yaml" <<YAML
dag: drop
max_active_runs: 28
trigger:
  file: {path: "$L/year=*/month=*/day=*/*.csv", settle: 100ms}
tasks:
  load: {plugin: noop}
YAML
start_daemon --rescan 1h
check "daemon ready" wait_for 10 log_has "scheduler ready"
restore_queue
eq "the system's queue size is back" "$(cat "$Q")" "$SAVED"

kill -STOP "$DAEMON_PID"
for i in $(seq -w 1 $N); do
  echo "row,$i" >"$TMP/f$i.csv"
  mv "$TMP/f$i.csv" "$L/year=2025/month=02/day=$i/cur.csv"
  echo "row,$i" >"$L/year=2025/month=02/day=$i/more.csv"
done
kill -CONT "$DAEMON_PID"
check "the overflow is logged" wait_for 10 log_has "inotify queue overflow: rescanning"
check "every one of the $N dates runs, long before the periodic rescan" \
  wait_for 30 sql_is "SELECT count(*) FROM runs WHERE dag_id='drop' AND state='success'" "$N"
eq "every file recorded once and given to its date's run" \
  "$(sql "SELECT count(*), count(DISTINCT path), count(run_pk) FROM sensor_files")" "$((2 * N))|$((2 * N))|$((2 * N))"
sleep 1
eq "each date fired once" \
  "$(sql "SELECT count(*) FROM runs WHERE dag_id='drop'")" "$N"
check "the daemon stays up" kill -0 "$DAEMON_PID"
stop_daemon TERM
eq "SIGTERM: exit 0" "$DAEMON_RC" "0"
check "logs are JSON lines (no sanitizer report)" logs_are_json
finish
