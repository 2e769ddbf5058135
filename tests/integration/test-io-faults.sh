#!/bin/bash
# Durability error paths under injected I/O failures (tests/faults/io_fault.c
# preloaded into costflow and its task children): an fsync or rename that
# fails with EIO while extract seals its staging files, silver publishes a
# partition version, bronze stores a delivery or gold commits the warehouse
# fails the task with a clear reason and a non-zero exit, runs nothing
# downstream, leaves what was live byte for byte as it was (the store's rows
# too) and no half-written file; with the fault gone a rerun gives what a
# clean run gives. Sample data and DAGs: those of test-billing-ingest.sh and
# test-billing-gold.sh.
. "$(dirname "$0")/lib.sh"
DATA=${CF_SHARED_DATA:-$CF_SOURCE_DIR/../shared/data}
DAG=$CF_SOURCE_DIR/tests/dags/billing/billing_ingest.yaml
SHIM=$CF_BUILD_DIR/tests/io_fault.so
if [ ! -f "$SHIM" ] || [ ! -d "$DATA/koku" ]; then
  echo "io_fault.so or the shared sample data missing"
  echo "0 passed, 1 failed"
  exit 1
fi
# A sanitizer build wants its runtime first in the initial library list.
PRELOAD=$SHIM
ASAN_RT=$(ldd "$COSTFLOW" | awk '/libasan/ {print $3; exit}')
[ -z "$ASAN_RT" ] || PRELOAD=$ASAN_RT:$SHIM
FLOG=$TMP/faults.log

# fails fsync|rename GLOB WHERE NAME CMD...: CMD, with the shim preloaded
# failing the fsyncs (or renames) of paths matching GLOB, exits 1, and the
# faults injected were all on WHERE (a glob too): two checks
fails() {
  local kind=$1 var=CF_FAULT_${1^^} glob=$2 where=$3 name=$4 line n=0 all=1
  shift 4
  : >"$FLOG"
  export "$var=$glob" LD_PRELOAD="$PRELOAD" CF_FAULT_LOG="$FLOG"
  expect_exit 1 "$name: the run fails (exit 1)" "$@"
  unset "$var" LD_PRELOAD CF_FAULT_LOG
  while read -r line; do
    n=$((n + 1))
    [[ $line == "$kind "$where ]] || all=0
  done <"$FLOG"
  if [ $n -gt 0 ] && [ $all = 1 ]; then
    ok "$name: the fault fired on ${where##*/}"
  else bad "$name: faults injected: '$(cat "$FLOG")'"; fi
}
# cf HOME ARGS...: costflow on the ingest DAG with that home
cf() { local h=$1; shift; COSTFLOW_HOME=$h "$COSTFLOW" "$@"; }
hsql() { sqlite3 "$1/costflow.db" "$2"; }
# ti HOME DATE TASK: state|try of a task instance
ti() {
  hsql "$1" "SELECT ti.state||'|'||ti.try_number FROM task_instances ti
    JOIN runs r ON r.id=ti.run_pk WHERE r.logical_date='$2'
    AND ti.task_id='$3'"
}
reason() {
  hsql "$1" "SELECT ti.reason FROM task_instances ti JOIN runs r
    ON r.id=ti.run_pk WHERE r.logical_date='$2' AND ti.task_id='$3'"
}
# attempts HOME DATE TASK: the task's attempt states, in try order
attempts() {
  hsql "$1" "SELECT group_concat(state) FROM (SELECT a.state FROM attempts a
    JOIN task_instances ti ON ti.id=a.ti_pk JOIN runs r ON r.id=ti.run_pk
    WHERE r.logical_date='$2' AND ti.task_id='$3' ORDER BY a.try_number)"
}
silver_dir() { echo "$1/lake/silver/cost/usage_date=$2"; }
# rows_but_lineage FILE...: silver rows without x_IngestedAt (the bronze
# ingestion time, which differs between homes), one Python list per row
rows_but_lineage() {
  python3 -c 'import csv, sys
for f in sys.argv[1:]:
    for r in csv.reader(open(f, newline="")): print(r[:-1])' "$@"
}
# lake HOME: every silver partition: date, live version, sha256 of data.csv
lake() {
  local d
  for d in "$1"/lake/silver/cost/usage_date=*; do
    [ -e "$d/current" ] || continue
    echo "${d##*=} $(readlink "$d/current") $(sha256sum <"$d/current/data.csv" |
      cut -c1-64)"
  done
}
# store_parts HOME: the store's published partitions
store_parts() {
  hsql "$1" "SELECT partition_key, version, row_count, checksum, published_at
    FROM partitions ORDER BY partition_key, version"
}
# store_live HOME: per partition, the newest recorded version and checksum
# in the form lake prints, so the two can be compared
store_live() {
  hsql "$1" "SELECT substr(partition_key, 12)||' '||printf('v%06d', version)
    ||' '||checksum FROM partitions p WHERE version=(SELECT max(version)
    FROM partitions WHERE partition_key=p.partition_key)
    ORDER BY partition_key"
}
# leftovers HOME: files or folders a failed publish or copy could leave
leftovers() {
  find "$1/lake" \( -name '.current.tmp.*' -o -name '*.tmp.*' \) -print
  local d v
  for d in "$1"/lake/silver/cost/usage_date=*; do
    for v in "$d"/v*; do
      [ -d "$v" ] || continue
      [ -e "$d/current" ] && [ "$v" -ef "$d/current" ] && continue
      # an older version kept (keep_versions) has a newer live one
      [ -e "$d/current" ] && [[ "${v##*/}" < "$(readlink "$d/current")" ]] &&
        continue
      echo "$v"
    done
  done
}

L=$TMP/landing
day_dir() { echo "$L/$1/year=${2:0:4}/month=${2:5:2}/day=${2:8:2}"; }
mkdir -p "$(day_dir aws 2023-06-01)" "$(day_dir aws 2023-06-02)" \
  "$(day_dir aws 2023-11-30)"
cp "$DATA/koku/aws/2023-06-01-not-final.csv" "$(day_dir aws 2023-06-01)/"
cp "$DATA/koku/aws/2023-06-01.csv" "$(day_dir aws 2023-06-02)/"
cp "$DATA/focus-converters/aws/sample-anonymous-aws-export-dataset.csv" \
  "$(day_dir aws 2023-11-30)/cur.csv"

# The reference: the same dates in a clean home.
C=$TMP/clean
for ds in 2023-06-01 2023-06-02 2023-11-30; do
  expect_exit 0 "clean run $ds" cf "$C" run "$DAG" --date $ds --conf landing="$L"
done

# ---- a. extract: the staging file cannot be made durable ----------------
H=$TMP/home-a
W=$H/work/billing_ingest/2023-06-01/aws
fails fsync '*/aws/staging*.csv' "$W/staging.csv" extract \
  cf "$H" run "$DAG" --date 2023-06-01 --conf landing="$L"
eq "extract: extract_aws failed" "$(ti "$H" 2023-06-01 extract_aws)" "failed|1"
contains "extract: its reason names the file and the I/O error" \
  "$(reason "$H" 2023-06-01 extract_aws)" "$W/staging.csv: Input/output error"
eq "extract: its attempt is recorded failed" \
  "$(attempts "$H" 2023-06-01 extract_aws)" "failed"
contains "extract: the attempt's log has the error" \
  "$(cat "$H/logs/billing_ingest/2023-06-01/extract_aws/1.log")" \
  "staging.csv: Input/output error"
for t in validate_raw load_to_raw_zone transform_to_cleaned; do
  eq "extract: $t never ran" "$(ti "$H" 2023-06-01 $t)|$(attempts "$H" \
    2023-06-01 $t)" "upstream_failed|0|"
done
check "extract: no file list, so nothing can read the staging" \
  test ! -e "$W/files.jsonl"
check "extract: nothing reached bronze or silver" test ! -e "$H/lake"
expect_exit 0 "extract: with the fault gone the rerun succeeds" \
  cf "$H" rerun "$DAG" --date 2023-06-01
eq "extract: second try succeeded" "$(ti "$H" 2023-06-01 extract_aws)" \
  "success|2"
eq "extract: attempts failed then succeeded" \
  "$(attempts "$H" 2023-06-01 extract_aws)" "failed,success"
CW=$C/work/billing_ingest/2023-06-01/aws
for f in staging.csv files.jsonl rejects.csv; do
  check "extract: $f equals the clean run's" cmp -s "$W/$f" "$CW/$f"
done
outputs() {
  hsql "$1" "SELECT o.task_id, o.key, replace(o.value, '$1', 'HOME')
    FROM task_outputs o JOIN runs r ON r.id=o.run_pk
    WHERE r.logical_date='$2' ORDER BY 1, 2"
}
eq "extract: every task output equals the clean run's" \
  "$(outputs "$H" 2023-06-01)" "$(outputs "$C" 2023-06-01)"
eq "extract: silver equals the clean run's (its first version)" \
  "$(rows_but_lineage "$(silver_dir "$H" 2023-06-01)/current/data.csv")" \
  "$(rows_but_lineage "$(silver_dir "$C" 2023-06-01)/v000001/data.csv")"

# A big plain CUR is read as byte ranges on threads, each range into its
# own staging file sealed (fflush, fsync, fclose) when its range is done:
# a failing seal leaves no range file and no file list.
B=$TMP/home-big LB=$TMP/landing-big
mkdir -p "$LB/aws/year=2023/month=06/day=01" "$TMP/dags"
big_cur "$LB/aws/year=2023/month=06/day=01/big.csv" 40000 40000
cat >"$TMP/dags/ex.yaml" <<YAML
dag: ex
default_args: {retries: 0}
tasks:
  extract_aws: {plugin: extract_aws, params: {landing: "$LB"}}
YAML
WB=$B/work/ex/2023-06-01/aws
fails fsync '*/aws/staging.csv' "$WB/staging.csv" "extract ranges" \
  cf "$B" --dags "$TMP/dags" run ex --date 2023-06-01
eq "extract ranges: the task failed" "$(ti "$B" 2023-06-01 extract_aws)" \
  "failed|1"
contains "extract ranges: its reason names the range's file and the error" \
  "$(reason "$B" 2023-06-01 extract_aws)" "$WB/staging.csv: Input/output error"
check "extract ranges: no range staging file left" \
  test -z "$(find "$WB" -name 'staging.[0-9]*.csv' -o -name 'rejects.part*')"
check "extract ranges: no file list" test ! -e "$WB/files.jsonl"
expect_exit 0 "extract ranges: the rerun succeeds" \
  cf "$B" --dags "$TMP/dags" rerun ex --date 2023-06-01
if [ "$(nproc)" -ge 2 ]; then
  contains "extract ranges: the rerun read byte ranges (the sealed path)" \
    "$(cat "$B/logs/ex/2023-06-01/extract_aws/2.log")" "byte ranges"
fi
cf "$C" --dags "$TMP/dags" run ex --date 2023-06-01 >/dev/null 2>&1
CB=$C/work/ex/2023-06-01/aws
eq "extract ranges: the same staging files as a clean run" \
  "$(cd "$WB" && sha256sum staging*.csv files.jsonl)" \
  "$(cd "$CB" && sha256sum staging*.csv files.jsonl)"

# ---- b. silver: a new version of a live partition cannot be made durable
# 2023-06-02 delivers the final CUR of usage date 2023-06-01, whose
# not-final version is live (v000001, from a. above).
S=$(silver_dir "$H" 2023-06-01)
live_before=$(lake "$H") parts_before=$(store_parts "$H")
# tree DIR: every name under DIR, and the sha256 of each file
tree() { find "$1" | sort; find "$1" -type f | sort | xargs sha256sum; }
files_before=$(tree "$S")
silver_kept() {   # what must hold after each failed publish below
  eq "$1: the live version is still v000001, same bytes" \
    "$(lake "$H")" "$live_before"
  eq "$1: the partition folder holds exactly what it held" \
    "$(tree "$S")" "$files_before"
  eq "$1: the store's partition rows are unchanged" \
    "$(store_parts "$H")" "$parts_before"
  eq "$1: no half-written version or temp link left" "$(leftovers "$H")" ""
  eq "$1: transform_to_cleaned failed" \
    "$(ti "$H" 2023-06-02 transform_to_cleaned | cut -d'|' -f1)" "failed"
  eq "$1: validate_cleaned did not run" \
    "$(ti "$H" 2023-06-02 validate_cleaned)" "upstream_failed|0"
}
fails fsync '*/usage_date=2023-06-01/v000002/data.csv' \
  "$S/v000002/data.csv" "silver fsync" \
  cf "$H" run "$DAG" --date 2023-06-02 --conf landing="$L"
contains "silver fsync: the reason names the version and the error" \
  "$(reason "$H" 2023-06-02 transform_to_cleaned)" \
  "publish $S/v000002: fsync: Input/output error"
silver_kept "silver fsync"
# the swap itself fails: the new symlink is never renamed over current
fails rename "$S/current" "$S/current" "silver swap" \
  cf "$H" rerun "$DAG" --date 2023-06-02
contains "silver swap: the reason says the swap failed" \
  "$(reason "$H" 2023-06-02 transform_to_cleaned)" \
  "swap current: Input/output error"
silver_kept "silver swap"
expect_exit 0 "silver: with the fault gone the rerun succeeds" \
  cf "$H" rerun "$DAG" --date 2023-06-02
eq "silver: the final CUR is live as v000002" "$(readlink "$S/current")" \
  "v000002"
eq "silver: the store records what the lake holds live" \
  "$(store_live "$H")" "$(lake "$H")"
eq "silver: its manifest says version 2" \
  "$(jq -r .version "$S/current/_manifest.json")" "2"
eq "silver: the partition equals the clean run's" \
  "$(rows_but_lineage "$S/current/data.csv")" \
  "$(rows_but_lineage "$(silver_dir "$C" 2023-06-01)/current/data.csv")"

# A delivery spanning a month publishes one partition per usage date; one
# date failing does not stop the others, and is never half there.
F=2023-11-08
fails fsync "*/usage_date=$F/v000001/data.csv" \
  "$(silver_dir "$H" $F)/v000001/data.csv" "silver month" \
  cf "$H" run "$DAG" --date 2023-11-30 --conf landing="$L"
check "silver month: $F is not live" test ! -e "$(silver_dir "$H" $F)/current"
eq "silver month: and left no version of it" "$(leftovers "$H")" ""
eq "silver month: the store has no row for $F" \
  "$(hsql "$H" "SELECT count(*) FROM partitions
    WHERE partition_key='usage_date=$F'")" "0"
eq "silver month: every other date is live" \
  "$(lake "$H" | grep -vc '^2023-06-')" \
  "$(($(lake "$C" | grep -vc '^2023-06-') - 1))"
eq "silver month: and recorded as the lake holds it" \
  "$(store_live "$H")" "$(lake "$H")"
expect_exit 0 "silver month: the rerun succeeds" \
  cf "$H" rerun "$DAG" --date 2023-11-30
eq "silver month: $F is live as v000001" \
  "$(readlink "$(silver_dir "$H" $F)/current")" "v000001"
eq "silver month: the store records what the lake holds live" \
  "$(store_live "$H")" "$(lake "$H")"
eq "silver month: every partition equals the clean run's" \
  "$(cd "$H/lake/silver/cost" && rows_but_lineage */current/data.csv)" \
  "$(cd "$C/lake/silver/cost" && rows_but_lineage */current/data.csv)"

# ---- c. bronze: a late file for a stored day cannot be stored ------------
# (the final CUR lands beside the not-final one of 2023-06-01)
BR=$H/lake/bronze/provider=aws/year=2023/month=06/day=01
man_before=$(sha256sum <"$BR/_manifest.jsonl") bronze_before=$(ls "$BR")
cp "$DATA/koku/aws/2023-06-01.csv" "$(day_dir aws 2023-06-01)/late.csv"
LATE=$(sha256sum <"$DATA/koku/aws/2023-06-01.csv" | cut -c1-64)
live_before=$(lake "$H") parts_before=$(store_parts "$H")
bronze_kept() {
  eq "$1: load_to_raw_zone failed" \
    "$(ti "$H" 2023-06-01 load_to_raw_zone | cut -d'|' -f1)" "failed"
  eq "$1: silver did not run again" \
    "$(ti "$H" 2023-06-01 transform_to_cleaned | cut -d'|' -f1)|$(attempts \
      "$H" 2023-06-01 transform_to_cleaned)" "upstream_failed|success"
  eq "$1: the day's manifest is byte for byte as it was" \
    "$(sha256sum <"$BR/_manifest.jsonl")" "$man_before"
  eq "$1: no temp file left" "$(leftovers "$H")" ""
  eq "$1: silver and the store unchanged" \
    "$(lake "$H"; store_parts "$H")" "$live_before"$'\n'"$parts_before"
}
fails fsync "$BR/*.tmp.*" "$BR/$LATE.csv.tmp.*" "bronze copy" \
  cf "$H" rerun "$DAG" --date 2023-06-01
contains "bronze copy: the reason names the file and the error" \
  "$(reason "$H" 2023-06-01 load_to_raw_zone)" \
  "late.csv: Input/output error"
eq "bronze copy: the late file is not in bronze" "$(ls "$BR")" \
  "$bronze_before"
bronze_kept "bronze copy"
fails rename "$BR/_manifest.jsonl" "$BR/_manifest.jsonl" \
  "bronze manifest" cf "$H" rerun "$DAG" --date 2023-06-01
bronze_kept "bronze manifest"
# the copy itself was made durable under its content name: whole
if [ -e "$BR/$LATE.csv" ]; then
  eq "bronze manifest: a stored copy is whole (named by its sha256)" \
    "$(sha256sum <"$BR/$LATE.csv" | cut -c1-64)" "$LATE"
fi
expect_exit 0 "bronze: with the fault gone the rerun succeeds" \
  cf "$H" rerun "$DAG" --date 2023-06-01
eq "bronze: the manifest lists both files" \
  "$(jq -r .sha256 "$BR/_manifest.jsonl" | sort)" \
  "$( (echo "$LATE"; sha256sum <"$DATA/koku/aws/2023-06-01-not-final.csv" |
      cut -c1-64) | sort)"
eq "bronze: the store records what the lake holds live" \
  "$(store_live "$H")" "$(lake "$H")"
check "the store is intact" test "$(hsql "$H" 'PRAGMA integrity_check')" = ok

# ---- d. gold: the warehouse commit cannot be made durable -----------------
# The daily DAG (retries off) on the AWS CUR of November 2023 and a GCP
# export; then a late GCP file lands and the rerun's warehouse commit
# (WAL, synchronous=FULL) fails its fsync.
LG=$TMP/landing-gold GH=$TMP/home-gold GC=$TMP/clean-gold
mkdir -p "$LG/aws/year=2023/month=11/day=30" \
  "$LG/gcp/year=2023/month=11/day=30" "$TMP/gdags"
cp "$DATA/focus-converters/aws/sample-anonymous-aws-export-dataset.csv" \
  "$LG/aws/year=2023/month=11/day=30/cur.csv"
cp "$DATA/koku/gcp/2022-08-01_5.csv" "$LG/gcp/year=2023/month=11/day=30/"
sed 's/^  retries: [0-9]*$/  retries: 0/' \
  "$CF_SOURCE_DIR/dags/cloud_billing_daily.yaml" \
  >"$TMP/gdags/cloud_billing_daily.yaml"
gcf() { local h=$1; shift; "$COSTFLOW" --home "$h" --dags "$TMP/gdags" "$@"; }
wh() { sqlite3 "$1/warehouse.db" "$2"; }
expect_exit 0 "gold: a first run loads the warehouse" \
  gcf "$GH" run cloud_billing_daily --date 2023-11-30 --conf landing="$LG"
{ head -1 "$DATA/koku/gcp/2022-08-01_5.csv"
  sed -n 2p "$DATA/koku/gcp/2022-08-01_5.csv" | sed 's/,[0-9.e-]*,USD,/,3.25,USD,/'
} >"$LG/gcp/year=2023/month=11/day=30/late.csv"
wh_before=$(wh "$GH" .dump | sha256sum)
costs_before=$(gcf "$GH" costs --by day,provider,account,service --csv)
fails fsync "$GH/warehouse.db*" "$GH/warehouse.db-wal" gold \
  gcf "$GH" rerun cloud_billing_daily --date 2023-11-30
contains "gold: load_to_analytics failed with the reason" \
  "$(reason "$GH" 2023-11-30 load_to_analytics)" \
  "nothing published: warehouse: disk I/O error"
for t in detect_anomalies publish_report notify; do
  eq "gold: $t did not run again" \
    "$(ti "$GH" 2023-11-30 $t | cut -d'|' -f1)|$(attempts "$GH" 2023-11-30 \
      $t)" "upstream_failed|success"
done
eq "gold: the warehouse holds exactly what it held" \
  "$(wh "$GH" .dump | sha256sum)" "$wh_before"
eq "gold: costs unchanged" \
  "$(gcf "$GH" costs --by day,provider,account,service --csv)" "$costs_before"
eq "gold: the warehouse is intact" "$(wh "$GH" 'PRAGMA integrity_check')" ok
expect_exit 0 "gold: with the fault gone the rerun succeeds" \
  gcf "$GH" rerun cloud_billing_daily --date 2023-11-30
expect_exit 0 "gold: the same landing in a clean home" \
  gcf "$GC" run cloud_billing_daily --date 2023-11-30 --conf landing="$LG"
costs_after=$(gcf "$GH" costs --by day,provider,account,service --csv)
eq "gold: costs equal the clean run's" "$costs_after" \
  "$(gcf "$GC" costs --by day,provider,account,service --csv)"
check "gold: and include the late file" test "$costs_after" != "$costs_before"
finish
