#!/bin/bash
# The file-arrival sensor with three writers that must never be consumed
# half-written (slow append, write-then-rename, data then a _SUCCESS
# marker), identical re-uploads ignored, a restated file re-running its
# date, the rescan fallback, and files that landed while the daemon was
# down found at start-up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
L="$TMP/landing"
M="$TMP/marked"
C="$TMP/consumed.txt"
# each run records the sha256 of every file it read for its date
cat >"$D/drop.yaml" <<YAML
dag: drop
trigger:
  file: {path: "$L/year=*/month=*/day=*/*.csv", settle: 1s}
tasks:
  consume:
    plugin: shell
    params: {command: 'cd $L/year={{ yyyy }}/month={{ mm }}/day={{ dd }} && sha256sum *.csv | sed "s/^/{{ ds }} /" >> $C'}
  after: {plugin: noop, depends_on: [consume]}
YAML
cat >"$D/marked.yaml" <<YAML
dag: marked
trigger:
  file: {path: "$M/year=*/month=*/day=*/*.csv", settle: 500ms, marker: _SUCCESS}
tasks:
  consume:
    plugin: shell
    params: {command: 'cd $M/year={{ yyyy }}/month={{ mm }}/day={{ dd }} && sha256sum *.csv | sed "s/^/{{ ds }} /" >> $C'}
YAML
start_daemon --rescan 1s
check "daemon up" wait_for 5 test -S "$COSTFLOW_HOME/scheduler.sock"
runs() { sql "SELECT count(*) FROM runs WHERE dag_id='$1'"; }
# consumed_ok DATE FILE: every consumption of FILE saw its final bytes
consumed_ok() {
  local want; want=$(sha256sum "$2" | cut -d' ' -f1)
  local name; name=$(basename "$2")
  [ -n "$(grep " $name\$" "$C" | grep "^$1 ")" ] || return 1
  ! grep " $name\$" "$C" | grep "^$1 " | grep -vq " $want "
}
recorded() { sql "SELECT sha256 FROM sensor_files WHERE path='$1' ORDER BY id DESC LIMIT 1"; }

# writer 1: slow append, closing the file between chunks (settle 1s)
d1="$L/year=2025/month=01/day=01"
mkdir -p "$d1"
for i in $(seq 1 8); do echo "line $i,$(date +%s%N)" >>"$d1/slow.csv"; sleep 0.3; done
eq "slow append: nothing consumed while being written" "$(runs drop)" "0"
check "slow append: consumed once settled" \
  wait_for 5 sql_is "SELECT state FROM runs WHERE dag_id='drop' AND logical_date='2025-01-01'" success
eq "slow append: recorded sha256 is the final file's" \
  "$(recorded "$d1/slow.csv")" "$(sha256sum "$d1/slow.csv" | cut -d' ' -f1)"
check "slow append: the run read the final bytes only" consumed_ok 2025-01-01 "$d1/slow.csv"

# writer 2: write a .part slowly, then rename into place
d2="$L/year=2025/month=01/day=02"
mkdir -p "$d2"
for i in $(seq 1 5); do echo "row $i" >>"$d2/fast.csv.part"; sleep 0.2; done
eq "a .part file is ignored" "$(sql "SELECT count(*) FROM sensor_files WHERE path LIKE '%.part'")" "0"
t0=$(date +%s%N)
mv "$d2/fast.csv.part" "$d2/fast.csv"
check "rename: recorded at once" wait_for 2 sql_is "SELECT count(*) FROM sensor_files WHERE path='$d2/fast.csv'" 1
t1=$(date +%s%N)
check "rename: reaction well under the settle time" test $(( (t1 - t0) / 1000000 )) -lt 700
check "rename: run succeeds" \
  wait_for 5 sql_is "SELECT state FROM runs WHERE dag_id='drop' AND logical_date='2025-01-02'" success
eq "rename: recorded sha256 is the final file's" \
  "$(recorded "$d2/fast.csv")" "$(sha256sum "$d2/fast.csv" | cut -d' ' -f1)"
check "rename: the run read the final bytes" consumed_ok 2025-01-02 "$d2/fast.csv"

# writer 3: data in pieces (pauses longer than settle), then the marker
d3="$M/year=2025/month=01/day=03"
mkdir -p "$d3"
echo "a,1" >"$d3/part1.csv"; sleep 0.8
echo "a,2" >>"$d3/part1.csv"; echo "b,1" >"$d3/part2.csv"; sleep 0.8
echo "b,2" >>"$d3/part2.csv"; sleep 0.8
eq "marker: nothing consumed before _SUCCESS" "$(runs marked)" "0"
touch "$d3/_SUCCESS"
check "marker: run succeeds once _SUCCESS lands" \
  wait_for 5 sql_is "SELECT state FROM runs WHERE dag_id='marked' AND logical_date='2025-01-03'" success
eq "marker: both files recorded" "$(sql "SELECT count(*) FROM sensor_files WHERE dag_id='marked'")" "2"
eq "marker: recorded sha256 of part1 is final" \
  "$(recorded "$d3/part1.csv")" "$(sha256sum "$d3/part1.csv" | cut -d' ' -f1)"
check "marker: the run read the final part1" consumed_ok 2025-01-03 "$d3/part1.csv"
check "marker: the run read the final part2" consumed_ok 2025-01-03 "$d3/part2.csv"
eq "one run per date, nothing re-run" \
  "$(sql "SELECT count(*) FROM runs r JOIN task_instances t ON t.run_pk=r.id WHERE t.try_number<>1")" "0"

# identical bytes again: rewritten in place, copied, touched
tries() { sql "SELECT sum(t.try_number) FROM runs r JOIN task_instances t ON t.run_pk=r.id WHERE r.dag_id='drop' AND r.logical_date='$1'"; }
before=$(tries 2025-01-02)
cp "$d2/fast.csv" "$TMP/copy.csv"
cp "$TMP/copy.csv" "$d2/fast.csv"
cp "$TMP/copy.csv" "$d2/.hidden.csv"
cp "$TMP/copy.csv" "$d2/again.tmp"
touch "$d2/fast.csv"
check "identical re-upload noticed" wait_for 4 log_has "identical bytes already seen, ignored"
sleep 1.5
eq "identical bytes start nothing" "$(tries 2025-01-02)" "$before"
eq "dot-files and *.tmp are not recorded" \
  "$(sql "SELECT count(*) FROM sensor_files WHERE path LIKE '%hidden%' OR path LIKE '%.tmp'")" "0"
rm -f "$d2/.hidden.csv" "$d2/again.tmp"

# a restated delivery (different bytes) re-runs its date
echo "row restated" >"$TMP/new.csv"
mv "$TMP/new.csv" "$d2/fast.csv"
check "restated file: its date runs again" \
  wait_for 5 sql_is "SELECT count(*) FROM events WHERE kind='sensor_rerun' AND dag_id='drop'" 1
check "restated file: re-run succeeds" \
  wait_for 5 sql_is "SELECT t.state||'|'||t.try_number FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='drop' AND r.logical_date='2025-01-02' AND t.task_id='consume'" "success|2"
eq "restated file: still one run for the date" \
  "$(sql "SELECT count(*) FROM runs WHERE dag_id='drop' AND logical_date='2025-01-02'")" "1"
eq "restated: last consumption is the new hash" \
  "$(grep '^2025-01-02 ' "$C" | tail -1 | cut -d' ' -f2)" "$(sha256sum "$d2/fast.csv" | cut -d' ' -f1)"

# rescan fallback: a hard link makes no close/rename event
d4="$L/year=2025/month=01/day=04"
mkdir -p "$d4"
echo "linked" >"$TMP/linked.src"
sleep 0.3
ln "$TMP/linked.src" "$d4/linked.csv"
check "rescan finds a file inotify could not judge" \
  wait_for 6 sql_is "SELECT state FROM runs WHERE dag_id='drop' AND logical_date='2025-01-04'" success

# files that land while the daemon is down are found at start-up
stop_daemon TERM
eq "exit 0" "$DAEMON_RC" "0"
d5="$L/year=2025/month=01/day=05"
mkdir -p "$d5"
echo "while down" >"$d5/late.csv"
echo "same bytes" >"$d1/slow-copy.csv.tmp"
expect_exit 0 "restart with --once reconciles" "$COSTFLOW" --dags "$D" scheduler --once
cat "$TMP/err" >>"$DLOG"
eq "the file that landed while down ran its date" \
  "$(sql "SELECT state FROM runs WHERE dag_id='drop' AND logical_date='2025-01-05'")" "success"
eq "known files are not re-run at start-up" "$(tries 2025-01-01)" "2"
eq "no date has two runs" "$(sql "SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY dag_id, logical_date HAVING count(*) > 1)")" "0"
check "daemon logs are JSON lines" logs_are_json
finish
