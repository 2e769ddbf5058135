#!/bin/bash
# backfill over a date range and rerun of one task and its downstream.
. "$(dirname "$0")/lib.sh"
D="$TMP/dags"
mkdir -p "$D"
cat >"$D/daily.yaml" <<'YAML'
dag: daily
schedule: "30 6 * * *"
start_date: 2025-01-01
max_active_runs: 2
tasks:
  extract: {plugin: shell, params: {command: 'echo "{{ ds }}" >> "$COSTFLOW_HOME/extract.txt"'}}
  transform: {plugin: shell, depends_on: [extract], params: {command: 'test ! -e "$COSTFLOW_HOME/fail-{{ ds }}"'}}
  load: {plugin: noop, depends_on: [transform]}
  report: {plugin: noop, depends_on: [load]}
YAML
cat >"$D/weekly.yaml" <<'YAML'
dag: weekly
schedule: "0 0 * * mon"
tasks:
  t: {plugin: noop}
YAML
mkdir -p "$COSTFLOW_HOME"
touch "$COSTFLOW_HOME/fail-2025-01-03"

out=$("$COSTFLOW" --dags "$D" backfill daily --from 2025-01-01 --to 2025-01-05 --dry-run)
eq "dry-run changes nothing" "$(sql "SELECT count(*) FROM runs" 2>/dev/null || echo 0)" "0"
contains "dry-run plans every date" "$out" "2025-01-05   -          run"

expect_exit 1 "backfill with a failing date exits 1" \
  "$COSTFLOW" --dags "$D" backfill daily --from 2025-01-01 --to 2025-01-05
eq "one run per date" "$(sql "SELECT count(*) FROM runs WHERE dag_id='daily'")" "5"
eq "runs are backfill kind" "$(sql "SELECT DISTINCT kind FROM runs")" "backfill"
eq "states per date" "$(sql "SELECT group_concat(state, ',') FROM (SELECT state FROM runs ORDER BY logical_date)")" \
  "success,success,failed,success,success"
eq "oldest first" "$(sql "SELECT logical_date FROM runs ORDER BY start_us LIMIT 1")" "2025-01-01"
eq "extract ran once per date" "$(sort "$COSTFLOW_HOME/extract.txt" | uniq -d | wc -l)" "0"
# never more than max_active_runs (2) runs at once: check overlapping runs
overlap=$(sql "SELECT max(c) FROM (SELECT (SELECT count(*) FROM runs b WHERE b.start_us <= a.start_us AND b.end_us > a.start_us) c FROM runs a)")
if [ "$overlap" -le 2 ]; then ok "at most 2 runs overlapped ($overlap)"; else bad "runs overlapped: $overlap > max_active_runs 2"; fi

expect_exit 0 "backfill again with reprocess none skips everything" \
  "$COSTFLOW" --dags "$D" backfill daily --from 2025-01-01 --to 2025-01-05 --reprocess none
rm "$COSTFLOW_HOME/fail-2025-01-03"
out=$("$COSTFLOW" --dags "$D" backfill daily --from 2025-01-01 --to 2025-01-05 --reprocess failed)
contains "reprocess failed reruns only the failed date" "$out" "2025-01-03   failed     rerun"
contains "reprocess failed skips the good dates" "$out" "2025-01-02   success    skip"
eq "all dates now succeeded" "$(sql "SELECT count(*) FROM runs WHERE state='success'")" "5"
eq "still one run per date" "$(sql "SELECT count(*) FROM runs")" "5"

out=$("$COSTFLOW" --dags "$D" backfill weekly --from 2025-01-01 --to 2025-01-31 --dry-run)
eq "weekly schedule covers only Mondays" "$(printf '%s\n' "$out" | grep -c ' run$')" "4"
contains "first Monday" "$out" "2025-01-06"

# rerun one task and its downstream; upstream is kept
ti() { sql "SELECT t.try_number||':'||t.state FROM task_instances t JOIN runs r ON r.id=t.run_pk WHERE r.dag_id='daily' AND r.logical_date='2025-01-02' AND t.task_id='$1'"; }
out=$("$COSTFLOW" --dags "$D" rerun daily --date 2025-01-02 --task transform --downstream --dry-run)
contains "rerun dry-run lists the downstream" "$out" "would clear report"
if printf '%s' "$out" | grep -q "would clear extract"; then bad "dry-run would clear the upstream"; else ok "dry-run keeps the upstream"; fi
expect_exit 0 "rerun --task --downstream succeeds" \
  "$COSTFLOW" --dags "$D" rerun daily --date 2025-01-02 --task transform --downstream
eq "upstream extract kept (1 try)" "$(ti extract)" "1:success"
eq "transform ran again" "$(ti transform)" "2:success"
eq "load ran again" "$(ti load)" "2:success"
eq "report ran again" "$(ti report)" "2:success"
expect_exit 0 "rerun of one task without downstream" \
  "$COSTFLOW" --dags "$D" rerun daily --date 2025-01-02 --task load
eq "only load ran" "$(ti load):$(ti report)" "3:success:2:success"
expect_exit 0 "rerun --failed-only with nothing failed" \
  "$COSTFLOW" --dags "$D" rerun daily --date 2025-01-02 --failed-only
eq "failed-only touched nothing" "$(ti transform)" "2:success"
expect_exit 2 "rerun of a date without a run is a usage error" \
  "$COSTFLOW" --dags "$D" rerun daily --date 2030-01-01
expect_exit 2 "rerun of an unknown task" \
  "$COSTFLOW" --dags "$D" rerun daily --date 2025-01-02 --task nope
expect_exit 2 "backfill with reversed range" \
  "$COSTFLOW" --dags "$D" backfill daily --from 2025-01-05 --to 2025-01-01
expect_exit 2 "run with an impossible date" \
  "$COSTFLOW" --dags "$D" run daily --date 2025-02-30
expect_exit 2 "run of an unknown DAG" "$COSTFLOW" --dags "$D" run nosuchdag --date 2025-01-01
expect_exit 2 "unknown command" "$COSTFLOW" frobnicate
expect_exit 0 "--help on run" "$COSTFLOW" run --help

out=$("$COSTFLOW" --dags "$D" runs daily --json)
eq "runs --json lists 5 runs newest first" "$(printf '%s' "$out" | jq -r '.[0].logical_date + " " + (length|tostring)')" "2025-01-05 5"
finish
