#!/usr/bin/env bash
# Gold half of the billing pipeline, end to end with the real binary:
# run cloud_billing_daily on a landing folder, then check `costs` totals
# against an independent sum of the raw files, re-run (replaces, never
# appends), anomalies / zombies, report, outbox, verify (and its failure
# on a tampered warehouse), and the failure notice of a one_failed task.
set -euo pipefail
: "${COSTFLOW:?}" "${CF_SOURCE_DIR:?}" "${CF_PLUGIN_DIR:?}"
export COSTFLOW_PLUGIN_PATH=$CF_PLUGIN_DIR
DATA=${CF_SHARED_DATA:-$CF_SOURCE_DIR/../shared/data}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cf-billing-gold.XXXXXX")
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
HOME_=$TMP/home
CF=("$COSTFLOW" --home "$HOME_" --dags "$CF_SOURCE_DIR/dags")
PASSED=0 FAILED=0
trap 'echo "FAIL aborted at line $LINENO"; echo "$PASSED passed, \
$((FAILED + 1)) failed"' ERR
ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
# rc CMD...: exit status of a command without tripping set -e
rc() { local r=0; "$@" >"$TMP/out" 2>"$TMP/err" || r=$?; echo "$r"; }

if [ ! -d "$DATA/focus-converters" ]; then
  echo "shared sample data not found at $DATA"; echo "0 passed, 1 failed"
  exit 1
fi
# Landing for delivery date 2023-11-30: the real anonymized AWS CUR
# (Nov 2023, 1281 rows), a GCP detailed export, and one GCP row of an idle
# disk (cost, zero usage) that must come out as a zombie.
DS=2023-11-30
L=$TMP/landing
AWS_DIR=$L/aws/year=2023/month=11/day=30
GCP_DIR=$L/gcp/year=2023/month=11/day=30
mkdir -p "$AWS_DIR" "$GCP_DIR"
cp "$DATA/focus-converters/aws/sample-anonymous-aws-export-dataset.csv" \
   "$AWS_DIR/cur.csv"
cp "$DATA/koku/gcp/2022-08-01_5.csv" "$GCP_DIR/gcp.csv"
{ head -1 "$DATA/koku/gcp/2022-08-01_5.csv"
  printf '%s' \
    '018984-D0AAA4-940B88,6F81-5844-456A,Compute Engine,' \
    'D973-5D65-BAB2,Storage PD Capacity,2022-08-01 00:00:00+00:00,' \
    '2022-08-01 01:00:00+00:00,cloud-billing-292519,cm_example,[],' \
    '/1234567/237691936840/,[],[],us-central1,US,us-central1,,' \
    '2022-08-02 01:11:12.066000+00:00,3.25,USD,1.0,0,byte-seconds,' \
    '0,gibibyte month,[],202208,regular,idle-disk-1,' \
    '//compute.googleapis.com/projects/cm/disks/idle-disk-1,' \
    '2022-08-01'
  echo
} > "$GCP_DIR/idle.csv"

# Independent exact totals of the input (Python decimals, not our code).
read -r WANT_AWS WANT_GCP < <(python3 - "$AWS_DIR/cur.csv" "$GCP_DIR" <<'PY'
import csv, decimal, glob, sys
aws = sum(decimal.Decimal(r['lineItem/UnblendedCost'])
          for r in csv.DictReader(open(sys.argv[1])))
gcp = sum(decimal.Decimal(r['cost']) for f in glob.glob(sys.argv[2] + '/*.csv')
          for r in csv.DictReader(open(f)))
fmt = lambda d: format(d.normalize(), 'f')
print(fmt(aws), fmt(gcp))
PY
)

# 1. the daily DAG, one run
r=$(rc "${CF[@]}" run cloud_billing_daily --date $DS --conf landing="$L")
if [ "$r" = 0 ]; then ok "run cloud_billing_daily $DS"; else
  bad "run exit $r"; cat "$TMP/out" "$TMP/err"; fi
"${CF[@]}" costs --json > "$TMP/costs.json"
eq "AWS billed total equals the raw files" \
   "$(jq -r '.rows[]|select(.provider=="AWS").billed_cost' "$TMP/costs.json")" \
   "$WANT_AWS"
eq "GCP billed total equals the raw files" \
   "$(jq -r '.rows[]|select(.provider=="Google Cloud").billed_cost' \
      "$TMP/costs.json")" "$WANT_GCP"
TOTAL=$(jq -r '.totals.USD.billed_cost' "$TMP/costs.json")
# per-day groups add up to the same total (summed exactly by python)
DAYSUM=$("${CF[@]}" costs --by day,provider,service --csv | python3 -c '
import csv, decimal, sys
print(format(sum(decimal.Decimal(r["billed_cost"])
      for r in csv.DictReader(sys.stdin)).normalize(), "f"))')
eq "costs --by day,provider,service adds up to the total" "$DAYSUM" "$TOTAL"
eq "costs --from/--to narrows" \
   "$("${CF[@]}" costs --from 2023-11-02 --to 2023-11-02 --json |
      jq -r '.rows[0].billed_cost')" \
   "$(sqlite3 "$HOME_/warehouse.db" "SELECT billed_cost FROM
      agg_daily_provider WHERE usage_date='2023-11-02' AND provider='AWS'")"

# 2. findings
"${CF[@]}" anomalies --json > "$TMP/an.json"
N_AN=$(jq '.anomalies|length' "$TMP/an.json")
if [ "$N_AN" -gt 0 ]; then ok "anomalies found ($N_AN)"; else
  bad "no anomalies"; fi
eq "KMS spike of 2023-11-08 flagged, 7-day window, not provisional" \
   "$(jq -r '.anomalies[]|select(.usage_date=="2023-11-08" and
      .service=="AWS Key Management Service")
      |"\(.window_days) \(.provisional)"' "$TMP/an.json")" "7 0"
"${CF[@]}" zombies --json > "$TMP/z.json"
eq "idle disk is a zombie with its exact cost" \
   "$(jq -r '.zombies[]|select(.resource_id|test("idle-disk"))|.cost' \
      "$TMP/z.json")" "3.25"

# 3. report and notification
R=$HOME_/reports/cloud_billing_daily/$DS
if grep -q '<svg' "$R/report.html" && ! grep -qi '<script' "$R/report.html" \
   && grep -q 'idle-disk-1' "$R/report.html" \
   && grep -q '<td>validate_cleaned</td>' "$R/report.html"; then
  ok "report.html: inline SVG, zombie and DQ results listed, no script"
else bad "report.html"; fi
if grep -q '^# costflow cloud_billing_daily' "$R/summary.md"; then
  ok "summary.md written"; else bad "summary.md"; fi
eq "one outbox notification, success" \
   "$(jq -r '.status + " " + .subject' "$HOME_/outbox/notifications.jsonl")" \
   "queued [costflow] cloud_billing_daily $DS: success"

# 4. re-run replaces, never appends
ROWS=$(sqlite3 "$HOME_/warehouse.db" 'SELECT count(*) FROM fact_daily_cost')
r=$(rc "${CF[@]}" rerun cloud_billing_daily --date $DS)
eq "rerun succeeds" "$r" 0
eq "total unchanged after re-run" \
   "$("${CF[@]}" costs --json | jq -r '.totals.USD.billed_cost')" "$TOTAL"
eq "fact rows unchanged after re-run" \
   "$(sqlite3 "$HOME_/warehouse.db" 'SELECT count(*) FROM fact_daily_cost')" \
   "$ROWS"
eq "anomalies replaced, not duplicated" \
   "$("${CF[@]}" anomalies --json | jq '.anomalies|length')" "$N_AN"

# 5. verify: recompute silver + gold in scratch and compare
r=$(rc "${CF[@]}" verify cloud_billing_daily --date $DS)
if [ "$r" = 0 ] && grep -q '^verified: 0 difference' "$TMP/out"; then
  ok "verify: recomputed silver and gold match"
else bad "verify exit $r"; cat "$TMP/out" "$TMP/err"; fi
sqlite3 "$HOME_/warehouse.db" "UPDATE fact_daily_cost SET billed_cost='1'
  WHERE (usage_date, provider, billing_account_id, sub_account_id,
    service_name, service_category, region_id, currency) =
  (SELECT usage_date, provider, billing_account_id, sub_account_id,
    service_name, service_category, region_id, currency
   FROM fact_daily_cost LIMIT 1)"
eq "verify exits 1 on a tampered warehouse" \
   "$(rc "${CF[@]}" verify cloud_billing_daily --date $DS)" 1
eq "verify exits 2 without a warehouse" \
   "$(rc "$COSTFLOW" --home "$TMP/empty" --dags "$CF_SOURCE_DIR/dags" \
      verify cloud_billing_daily --date $DS)" 2
eq "costs exits 2 without a warehouse" \
   "$(rc "$COSTFLOW" --home "$TMP/empty" costs)" 2
eq "costs --by with an unknown dimension is a usage error" \
   "$(rc "${CF[@]}" costs --by planet)" 2
eq "costs --help exits 0" "$(rc "${CF[@]}" costs --help)" 0

# 6. failure notice: a failing task, then notify in failure mode
mkdir -p "$TMP/dags"
cat > "$TMP/dags/fails.yaml" <<'YAML'
dag: fails
tasks:
  boom: {plugin: shell, params: {command: "exit 3"}}
  notify_failure:
    plugin: notify
    depends_on: [boom]
    trigger_rule: one_failed
    params: {mode: failure}
YAML
rc "$COSTFLOW" --home "$TMP/h2" --dags "$TMP/dags" run fails \
   --date 2025-01-02 >/dev/null
F=$TMP/h2/outbox/notifications.jsonl
if [ -f "$F" ] && jq -r .text "$F" | grep -q 'boom: failed' &&
   jq -r .subject "$F" | grep -q FAILED; then
  ok "notify_failure lists the failed task"
else bad "notify_failure outbox"; cat "$F" 2>/dev/null || true; fi

# 7. the bundled examples (when present): the DAG's default landing
EX=$CF_SOURCE_DIR/examples/landing
if [ -d "$EX" ]; then
  DATES=$(find "$EX" -type d -regex '.*/year=[0-9]*/month=[0-9]*/day=[0-9]*' |
          sed -E 's|.*year=([0-9]+)/month=([0-9]+)/day=([0-9]+)|\1-\2-\3|' |
          sort -u)
  FIRST=$(echo "$DATES" | head -1)
  LAST=$(echo "$DATES" | tail -1)
  H3=$TMP/h3
  CF3=("$COSTFLOW" --home "$H3" --dags "$CF_SOURCE_DIR/dags")
  r=$(rc "${CF3[@]}" backfill cloud_billing_daily --from "$FIRST" --to "$LAST")
  eq "examples: backfill $FIRST..$LAST" "$r" 0
  if [ "$r" = 0 ]; then
    # every (day, provider, account, service) total equals the generator's
    # expected_totals.csv to the last digit
    "${CF3[@]}" costs --by day,provider,account,service --csv > "$TMP/ex.csv"
    if [ -f "$EX/expected_totals.csv" ]; then
      DIFF=$(python3 - "$TMP/ex.csv" "$EX/expected_totals.csv" <<'PY'
import csv, decimal, sys
D = decimal.Decimal
got = {}
for r in csv.DictReader(open(sys.argv[1])):
    p = {'AWS': 'aws', 'Google Cloud': 'gcp'}.get(r['provider'], r['provider'])
    k = (r['day'], p, r['account'], r['service'])
    got[k] = got.get(k, D(0)) + D(r['billed_cost'])
want = {(r['usage_date'], r['provider'], r['account'], r['service']):
        D(r['total_cost']) for r in csv.DictReader(open(sys.argv[2]))}
print(sum(got.get(k) != want.get(k) for k in set(got) | set(want)))
PY
)
      eq "examples: totals equal expected_totals.csv exactly" "$DIFF" 0
    fi
    N=$("${CF3[@]}" anomalies --json | jq '.anomalies|length')
    if [ "$N" -gt 0 ]; then ok "examples: anomaly found"; else
      bad "examples: no anomaly"; fi
    N=$("${CF3[@]}" zombies --json | jq '.zombies|length')
    if [ "$N" -gt 0 ]; then ok "examples: zombie found"; else
      bad "examples: no zombie"; fi
    eq "examples: verify $LAST" \
       "$(rc "${CF3[@]}" verify cloud_billing_daily --date "$LAST")" 0
  fi
else
  echo "skip examples: $EX not there yet"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
