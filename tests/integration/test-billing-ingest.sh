#!/usr/bin/env bash
# Billing ingest end to end with the real binary and plugins
# (check_availability, extract_aws/gcp, validate, load_to_raw_zone,
# transform_to_cleaned) over: every AWS and GCP sample in ../shared/data,
# generated data with exact expected totals, malformed rows, re-runs and
# determinism under another TZ/locale.
set -euo pipefail

: "${COSTFLOW:?}" "${CF_SOURCE_DIR:?}" "${CF_PLUGIN_DIR:?}"
SHARED=${CF_SHARED_DATA:-$CF_SOURCE_DIR/../shared/data}
export COSTFLOW_PLUGIN_PATH="$CF_PLUGIN_DIR${COSTFLOW_PLUGIN_PATH:+:$COSTFLOW_PLUGIN_PATH}"
DAG=$CF_SOURCE_DIR/tests/dags/billing/billing_ingest.yaml
T=$(mktemp -d /tmp/cf-it-ingest.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

ok()   { pass=$((pass + 1)); echo "ok   $1"; }
bad()  { fail=$((fail + 1)); echo "FAIL $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

# run HOME LANDING DATE: one run of the ingest DAG; prints costflow output.
run() {
  COSTFLOW_HOME=$1 "$COSTFLOW" run "$DAG" --date "$3" --conf landing="$2"
}
silver() { echo "$1/lake/silver/cost/usage_date=$2/current/data.csv"; }
rows()   { count "$(silver "$1" "$2")"; }
# count FILE...: data rows (header excluded) over existing files.
count()  { local n=0 f; for f in "$@"; do
             if [ -f "$f" ]; then n=$((n + $(wc -l < "$f") - 1)); fi
           done; echo "$n"; }
# cgrep PATTERN FILE...: matching lines over existing files (0 if none).
cgrep()  { local p=$1; shift; cat "$@" 2>/dev/null | grep -c -- "$p" || true; }
# day_dir LANDING PROVIDER DATE
day_dir() { echo "$1/$2/year=${3:0:4}/month=${3:5:2}/day=${3:8:2}"; }

# cf-gen: built by examples/CMakeLists.txt, else compiled here.
GEN=${CF_GEN:-${CF_BUILD_DIR:-}/bin/cf-gen}
if [ ! -x "$GEN" ]; then
  GEN=$T/cf-gen san=
  # A sanitizer build's library needs the same runtime in the program.
  if [ "$(nm -D "$CF_BUILD_DIR/lib/libcostflow.so" 2>/dev/null |
          grep -c __asan_init || true)" != 0 ]; then
    san=-fsanitize=address,undefined
  fi
  cc -std=gnu11 -O1 $san -I"$CF_SOURCE_DIR/include" \
     "$CF_SOURCE_DIR/examples/generator/cf-gen.c" -L"$CF_BUILD_DIR/lib" \
     -lcostflow -larchive -Wl,-rpath,"$CF_BUILD_DIR/lib" -o "$GEN"
fi

# ---------------------------------------------------------------- samples
L=$T/samples H=$T/home-samples
d=$(day_dir "$L" aws 2023-06-01); mkdir -p "$d"
cp "$SHARED/koku/aws/2023-06-01-not-final.csv" "$d/"
d=$(day_dir "$L" aws 2023-06-02); mkdir -p "$d"
cp "$SHARED/koku/aws/2023-06-01.csv" "$d/"           # final, later delivery
d=$(day_dir "$L" aws 2023-11-30); mkdir -p "$d"
cp "$SHARED/focus-converters/aws/sample-anonymous-aws-export-dataset.csv" "$d/"
d=$(day_dir "$L" aws 2018-08-02); mkdir -p "$d"
cp -r "$SHARED/koku/aws-cur-s3-layout/." "$d/"
d=$(day_dir "$L" gcp 2020-11-11); mkdir -p "$d"
cp "$SHARED"/koku/gcp/202011_*2020-11-08:2020-11-11.csv "$d/"
d=$(day_dir "$L" gcp 2022-08-02); mkdir -p "$d"
cp "$SHARED/koku/gcp/2022-08-01_5.csv" "$d/"
d=$(day_dir "$L" gcp 2024-03-01); mkdir -p "$d"
cp "$SHARED/koku/gcp/2024-03-01_5.csv" "$d/"

for day in 2023-06-01 2023-06-02 2023-11-30 2018-08-02 2020-11-11 \
           2022-08-02 2024-03-01; do
  check "samples: run $day" run "$H" "$L" "$day" >/dev/null
done

check "koku final+not-final: 3 line items once" test "$(rows "$H" 2023-06-01)" = 3
check "koku final wins (later delivery is lineage)" \
  grep -q "$(sha256sum "$SHARED/koku/aws/2023-06-01.csv" | cut -c1-64)" \
  "$(silver "$H" 2023-06-01)"
check "focus-converters CUR: 1281 rows over November" test \
  "$(count "$H"/lake/silver/cost/usage_date=2023-11-*/current/data.csv)" = 1281
check "focus-converters CUR: 12 Tax rows kept" test \
  "$(cgrep ',Tax,' "$H"/lake/silver/cost/usage_date=2023-11-*/current/data.csv)" = 12
check "CUR S3 layout + manifest + gzip: 6190 rows" test \
  "$(count "$H"/lake/silver/cost/usage_date=2018-08-*/current/data.csv)" = 6190
check "CUR manifest recorded in bronze" grep -q '"kind":"aws_manifest"' \
  "$H/lake/bronze/provider=aws/year=2018/month=08/day=02/_manifest.jsonl"
check "GCP koku (':' in name): 25 rows + 8 credit rows" test \
  "$(count "$H"/lake/silver/cost/usage_date=2020-11-*/current/data.csv)" = 33
check "GCP credits are negative Credit rows" test "$(cgrep \
  ',Credit,.*,-0.000005,.*,true,' \
  "$H"/lake/silver/cost/usage_date=2020-11-*/current/data.csv)" -ge 1
check "GCP detailed export 2022-08-01: 9 rows" test "$(rows "$H" 2022-08-01)" = 9
check "GCP export over two months: 3 + 3 rows" test \
  "$(rows "$H" 2024-02-01)+$(rows "$H" 2024-03-01)" = "3+3"
check "ResourceId from resource.global_name" grep -q ',//example,' \
  "$(silver "$H" 2024-03-01)"

# Re-running a date changes nothing (same bytes, same version).
v1=$(readlink "$H/lake/silver/cost/usage_date=2023-06-01/current" || true)
c1=$(sha256sum < "$(silver "$H" 2023-06-01)" || true)
check "re-run: succeeds" env COSTFLOW_HOME="$H" "$COSTFLOW" rerun "$DAG" \
  --date 2023-06-02 >/dev/null
check "re-run: same live version" test \
  "$(readlink "$H/lake/silver/cost/usage_date=2023-06-01/current" || true)" = "$v1"
check "re-run: same bytes" test \
  "$(sha256sum < "$(silver "$H" 2023-06-01)" || true)" = "$c1"
n=$(cat "$H/lake/bronze/provider=aws/year=2023/month=06/day=02/_manifest.jsonl" 2>/dev/null | wc -l)
check "bronze: same bytes again add nothing" test "$n" = 1

# ------------------------------------------------------- generated data
G=$T/gen H=$T/home-gen
"$GEN" --from 2025-01-28 --to 2025-02-03 --rows-per-day 120 --seed 99 \
  --out "$G" >/dev/null
for i in 0 1 2 3 4 5 6; do
  day=$(date -u -d "2025-01-28 + $i day" +%F)
  check "generated: run $day" run "$H" "$G" "$day" >/dev/null
done
check "generated: silver totals equal expected to the last digit" \
  "$GEN" --verify --home "$H" --expected "$G/expected_totals.csv"

# Determinism: recompute a date from the same bronze under another TZ and
# locale, into a fresh home: byte-identical except lineage time, which is
# the bronze ingestion time, so copy bronze as is.
H2=$T/home-gen2
mkdir -p "$H2/lake" && cp -a "$H/lake/bronze" "$H2/lake/"
export TZ=Pacific/Kiritimati LC_ALL=C.UTF-8
COSTFLOW_HOME=$H2 "$COSTFLOW" run "$DAG" --date 2025-02-01 \
  --conf landing="$G" >/dev/null || true
unset TZ LC_ALL
check "determinism: same bytes under another TZ/locale" cmp -s \
  "$(silver "$H" 2025-01-31)" "$(silver "$H2" 2025-01-31)"

# ------------------------------------------------------- malformed rows
M=$T/bad H=$T/home-bad
d=$(day_dir "$M" aws 2025-03-01); mkdir -p "$d"
hdr='identity/LineItemId,identity/TimeInterval,bill/PayerAccountId,lineItem/UsageAccountId,lineItem/LineItemType,lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/ProductCode,lineItem/UnblendedCost,lineItem/CurrencyCode'
{
  echo "$hdr"
  echo 'a1,2025-03-01T00:00:00Z/2025-03-01T01:00:00Z,1,1,Usage,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,AmazonEC2,1.25,USD'
  echo 'a2,x,1,1,Usage,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,AmazonEC2,1.25'
  echo 'a3,x,1,1,Usage,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,AmazonEC2,abc,USD'
  echo 'a4,x,1,1,Usage,2025-02-30T00:00:00Z,2025-03-01T01:00:00Z,AmazonEC2,1,USD'
  printf 'a5,x,1,1,Usage,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,Amazon\xff,1,USD\n'
  echo 'a6,"x,1,1,Usage,2025-03-01T00:00:00Z,2025-03-01T01:00:00Z,AmazonEC2,1,USD'
  echo 'a7,2025-03-01T02:00:00Z/2025-03-01T03:00:00Z,1,1,Credit,2025-03-01T02:00:00Z,2025-03-01T03:00:00Z,AmazonEC2,-0.5,USD'
} > "$d/bad.csv"
d=$(day_dir "$M" gcp 2025-03-01); mkdir -p "$d"
{
  echo 'billing_account_id,service.description,usage_start_time,usage_end_time,project.id,cost,currency,credits,cost_type'
  echo 'B,Compute Engine,2025-03-01 00:00:00+00:00,2025-03-01 01:00:00+00:00,p,2.5,USD,"[{'"'"'name'"'"': '"'"'c'"'"', '"'"'amount'"'"': -0.5, '"'"'type'"'"': '"'"'PROMOTION'"'"'}]",regular'
  echo 'B,Compute Engine,not-a-date,2025-03-01 01:00:00+00:00,p,2.5,USD,[],regular'
  echo 'B,Compute Engine,2025-03-01 00:00:00+00:00,2025-03-01 01:00:00+00:00,p,1e,USD,[],regular'
} > "$d/export.csv"
echo '{"billing_account_id":"B","service":{"description":"BigQuery"},"usage_start_time":"2025-03-01T05:00:00Z","cost":0.75,"currency":"USD","credits":[]}' > "$d/export.jsonl"
echo '{"billing_account_id":"B", broken' >> "$d/export.jsonl"

check "malformed: the run still succeeds" run "$H" "$M" 2025-03-01 >/dev/null
R=$H/work/billing_ingest/2025-03-01/aws/rejects.csv
check "rejects: header" test "$(head -1 "$R" 2>/dev/null)" = "file,line,reason"
check "rejects: wrong column count at line 3" grep -q 'bad.csv,3,"wrong column count (9, header has 10)"' "$R"
check "rejects: non-numeric cost at line 4" grep -q "bad.csv,4,non-numeric cost 'abc'" "$R"
check "rejects: invalid date at line 5" grep -q "bad.csv,5,invalid date '2025-02-30T00:00:00Z'" "$R"
check "rejects: invalid UTF-8 at line 6" grep -q "bad.csv,6,invalid UTF-8" "$R"
check "rejects: unterminated quote at line 7" grep -q "bad.csv,7,unterminated quoted field" "$R"
check "rejects: exactly 5 AWS rejects" test "$(count "$R")" = 5
R=$H/work/billing_ingest/2025-03-01/gcp/rejects.csv
check "rejects: GCP invalid date" grep -q "export.csv,3,invalid date 'not-a-date'" "$R"
check "rejects: GCP non-numeric cost" grep -q "export.csv,4,non-numeric cost '1e'" "$R"
check "rejects: GCP invalid JSON line" grep -q "export.jsonl,2,invalid JSON" "$R"
S=$(silver "$H" 2025-03-01)
check "malformed: good rows reach silver (2 AWS + 2 GCP + 1 credit)" \
  test "$(rows "$H" 2025-03-01)" = 5
check "malformed: AWS Credit kept negative" grep -q ',Credit,.*,-0.5,.*,true,' "$S"

# ------------------------------------------- deliveries cut short
# A .csv.gz still uploading, and a manifest whose second part has not
# arrived: the run fails naming the file, and nothing reaches the lake.
C=$T/cut H=$T/home-cut
d=$(day_dir "$C" aws 2025-03-02); mkdir -p "$d"
{ echo "$hdr"
  for i in $(seq 1 30000); do
    echo "c$i,2025-03-01T00:00:00Z/2025-03-02T00:00:00Z,1,1,Usage,2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,AmazonEC2,0.$(( i * 7919 % 100000 ))$i,USD"
  done; } | gzip > "$T/full.csv.gz"
head -c $(( $(stat -c %s "$T/full.csv.gz") / 2 )) "$T/full.csv.gz" > "$d/cur-1.csv.gz"
run "$H" "$C" 2025-03-02 > "$T/cut.out" 2>&1 || true
check "truncated gzip: extract fails with file:line and the reason" grep -q \
  "extract: $d/cur-1.csv.gz:[0-9]*: read error: truncated gzip input" "$T/cut.out"
check "truncated gzip: nothing in bronze or silver" test ! -e "$H/lake"
check "truncated gzip: one reject line, not one per retry of the read" \
  test "$(count "$H/work/billing_ingest/2025-03-02/aws/rejects.csv")" = 1
d=$(day_dir "$C" aws 2025-03-03); mkdir -p "$d/exp/data" "$d/exp/metadata"
echo "$hdr" > "$d/exp/data/exp-00001.csv"
echo '{"executionId":"e9","billingPeriod":{"start":"2025-03-01T00:00:00.000Z"},"dataFiles":["s3://b/p/exp/data/exp-00001.csv","s3://b/p/exp/data/exp-00002.csv"]}' \
  > "$d/exp/metadata/exp-Manifest.json"
run "$H" "$C" 2025-03-03 > "$T/cut.out" 2>&1 || true
check "manifest part missing: extract fails naming it" grep -q \
  "1 of them not delivered (p/exp/data/exp-00002.csv)" "$T/cut.out"
check "manifest part missing: nothing in the lake" test ! -e "$H/lake"
# a Parquet Data Export beside nothing else: not read, so the run fails
# rather than publish the day without its rows
d=$(day_dir "$C" aws 2025-03-04); mkdir -p "$d/exp/data"
printf 'PAR1\0\0PAR1' > "$d/exp/data/exp-00001.snappy.parquet"
if run "$H" "$C" 2025-03-04 > "$T/pq.out" 2>&1; then pq=0; else pq=$?; fi
check "parquet delivery: the run fails (exit 1)" test "$pq" = 1
check "parquet delivery: extract names the file and says what to do" grep -q \
  "extract: $d/exp/data/exp-00001.snappy.parquet: a Parquet file; costflow reads billing exports as CSV" "$T/pq.out"
check "parquet delivery: nothing in the lake" test ! -e "$H/lake"

# ------------------------------------------------------- availability
if run "$T/home-none" "$T/nowhere" 2025-04-01 > "$T/none.out" 2>&1; then
  bad "availability: missing input does not succeed"
else
  ok "availability: missing input does not succeed"
fi
check "availability: extract never ran" \
  test ! -e "$T/home-none/work/billing_ingest/2025-04-01/aws/staging.csv"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
