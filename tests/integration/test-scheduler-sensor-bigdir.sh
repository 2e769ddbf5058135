#!/bin/bash
# A landing folder of 50,000 files: the sensor walks it on the thread pool
# (scheduler/dir_scan.c) while the loop keeps handing off runs, a data file
# among them fires its date exactly once, a SIGTERM with a walk in flight
# exits cleanly, and a restart does not fire the same file again; 300 data
# files moved in at once are each recorded once and all given to the run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
L="$TMP/landing"
d1="$L/year=2025/month=03/day=01"
mkdir -p "$d1"
cat >"$D/drop.yaml" <<YAML
dag: drop
trigger:
  file: {path: "$L/year=*/month=*/day=*/*.csv", settle: 200ms}
tasks:
  load: {plugin: noop}
YAML
cat >"$D/quick.yaml" <<YAML
dag: quick
tasks:
  only: {plugin: noop}
YAML
# files the glob does not take: read by every walk, never candidates
seq -f "$d1/n%05g.json" 0 49999 | xargs touch
echo "data,1" >"$d1/data.csv"
tries() { sql "SELECT coalesce(sum(t.try_number), 0) FROM runs r JOIN task_instances t ON t.run_pk=r.id WHERE r.dag_id='drop' AND r.logical_date='$1'"; }

# stopped at once: the signal handlers are in place once it logs
# "starting", and the signal is handled on the loop, after the sensor has
# queued its start-up walk of the big folder (which may still be running)
start_daemon --rescan 1s
check "daemon starting" wait_for 10 log_has "scheduler starting"
stop_daemon TERM
eq "SIGTERM during the start-up walk: exit 0" "$DAEMON_RC" "0"
check "logs are JSON lines (no sanitizer report)" logs_are_json

start_daemon --rescan 1s
check "the data file in the big folder fires its date" \
  wait_for 30 sql_is "SELECT state FROM runs WHERE dag_id='drop' AND logical_date='2025-03-01'" success
# walks of the 50,000 files every second meanwhile: hand-offs still run
expect_exit 0 "a run handed to the daemon during rescans succeeds" \
  "$COSTFLOW" --dags "$D" run quick --date 2025-01-01
# a folder created later, file renamed into it: its own walk, then the event
d2="$L/year=2025/month=03/day=02"
mkdir -p "$d2"
echo "data,2" >"$TMP/b.csv"
mv "$TMP/b.csv" "$d2/b.csv"
check "a file in a new folder fires its date" \
  wait_for 30 sql_is "SELECT state FROM runs WHERE dag_id='drop' AND logical_date='2025-03-02'" success
# 300 data files moved in at once (a folder): 300 candidates hashing
mkdir -p "$TMP/stage/day=03"
for i in $(seq 1 300); do echo "row,$i" >"$TMP/stage/day=03/p$i.csv"; done
mv "$TMP/stage/day=03" "$L/year=2025/month=03/day=03"
# (the run may start before the last of them is hashed: then it runs again
# when it ends, docs/scheduler.md; either way every file goes to it)
check "300 files moved in together: their date runs, every file given" \
  wait_for 30 sql_is "SELECT (SELECT state FROM runs WHERE dag_id='drop' AND logical_date='2025-03-03')||'/'||(SELECT count(*) FROM sensor_files WHERE logical_date='2025-03-03' AND run_pk IS NULL)" "success/0"
sleep 2                                   # two more rescans of it all
eq "the big folder's file fired once" "$(tries 2025-03-01)" "1"
eq "one sensor record per data file" \
  "$(sql "SELECT count(*)||'/'||count(DISTINCT path) FROM sensor_files WHERE dag_id='drop'")" "302/302"
stop_daemon TERM
eq "exit 0" "$DAEMON_RC" "0"

expect_exit 0 "restart with --once over the big folder" \
  "$COSTFLOW" --dags "$D" scheduler --once
cat "$TMP/err" >>"$DLOG"
eq "known files are not fired again at start-up" "$(tries 2025-03-01)" "1"
eq "no date has two runs" "$(sql "SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY dag_id, logical_date HAVING count(*) > 1)")" "0"
check "daemon logs are JSON lines" logs_are_json
finish
