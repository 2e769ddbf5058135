#!/bin/bash
# The validate stage's row rules over a real extract: a koku AWS CUR
# sample plus rows made bad on purpose (a repeated line item, a negative
# usage cost, a negative credit, a cost that is not a number). Each rule's
# checked/failed counts land in dq_results exactly; a critical rule over
# its threshold fails the task, a warning does not.
. "$(dirname "$0")/lib.sh"
SHARED=${CF_SHARED_DATA:-$CF_SOURCE_DIR/../shared/data}
L="$TMP/landing"
d="$L/aws/year=2023/month=06/day=01"
mkdir -p "$d"
python3 - "$SHARED/koku/aws/2023-06-01.csv" "$d/cur.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
h, data = rows[0], rows[1:]
col = {name: i for i, name in enumerate(h)}
def variant(src, item, cost, kind):
    r = list(src)
    r[col['identity/LineItemId']] = item
    r[col['lineItem/UnblendedCost']] = cost
    r[col['lineItem/LineItemType']] = kind
    if item == 'neg-usage-1':
        r[col['lineItem/UsageStartDate']] = '2023-06-03T00:00:00Z'
        r[col['lineItem/UsageEndDate']] = '2023-06-03T01:00:00Z'
    return r
out = data + [
    list(data[0]),                                  # the same line item again
    variant(data[1], 'neg-usage-1', '-3', 'Usage'),  # negative, not a credit
                                                     # (used on 06-03: a gap)
    variant(data[2], 'neg-credit-1', '-4', 'Credit'),  # negative credit: fine
]
with open(sys.argv[2], 'w', newline='') as f:
    csv.writer(f, lineterminator='\n').writerows([h] + out)
PY
write_dag() {                       # write_dag SEVERITY_OF_UNIQUE_KEY [LINE]
  cat >"$TMP/v.yaml" <<YAML
dag: v
start_date: 2023-06-01
default_args: {retries: 0}
tasks:
  extract_aws:
    plugin: extract_aws
    params: {landing: "$L"}
  validate_raw:
    plugin: validate
    depends_on: [extract_aws]
    params:
      stage: raw
      not_null: [BillingAccountId, x_LineItemId]
      numeric: [BilledCost]
      unique_key: [ProviderName, x_LineItemId]
      non_negative_cost_except_credits: true
      accepted_values: {ChargeCategory: [Usage, Tax]}
      row_count_min: 7
      date_continuity: true
      severity: {unique_key: $1, non_negative_cost_except_credits: warning,
                 accepted_values: warning, row_count: warning,
                 date_continuity: warning}
${2:-}
YAML
}
dq() {                              # dq RULE: "checked failed passed"
  sql "SELECT rows_checked || ' ' || rows_failed || ' ' || passed
       FROM dq_results WHERE rule='$1' ORDER BY id DESC LIMIT 1"
}

write_dag warning
expect_exit 0 "warnings only: the run succeeds" \
  "$COSTFLOW" run "$TMP/v.yaml" --date 2023-06-01
eq "unique_key: one repeated line item among 6 rows" "$(dq unique_key)" "6 1 0"
contains "its sample names the staging line of the repeat" \
  "$(sql "SELECT samples FROM dq_results WHERE rule='unique_key'")" "staging.csv:5 duplicate key"
eq "non-negative: the negative usage fails, the negative credit does not" \
  "$(dq non_negative_cost_except_credits)" "6 1 0"
eq "accepted_values: the credit row is not Usage or Tax" \
  "$(dq accepted_values:ChargeCategory)" "6 1 0"
eq "not_null over every row" "$(dq not_null:x_LineItemId)" "6 0 1"
eq "numeric over every row" "$(dq numeric:BilledCost)" "6 0 1"
eq "row_count: 6 rows < 7" "$(dq row_count)" "1 1 0"
eq "date_continuity: 06-01 and 06-03 seen, 06-02 missing" \
  "$(dq date_continuity)" "3 1 0"
contains "naming the missing day" \
  "$(sql "SELECT samples FROM dq_results WHERE rule='date_continuity'")" "2023-06-02"

write_dag critical
export COSTFLOW_HOME="$TMP/home-critical"
expect_exit 1 "a critical unique_key over its threshold fails the run" \
  "$COSTFLOW" run "$TMP/v.yaml" --date 2023-06-01
eq "validate_raw is the task that failed" \
  "$(sql "SELECT state FROM task_instances WHERE task_id='validate_raw'
          ORDER BY id DESC LIMIT 1")" "failed"

# A misspelt severity is an error, not a silent "not critical" (which
# would let the repeated line item pass).
write_dag Critical
export COSTFLOW_HOME="$TMP/home-typo"
expect_exit 1 "a severity other than critical|warning fails the task" \
  "$COSTFLOW" run "$TMP/v.yaml" --date 2023-06-01
contains "the error names the value and the rule" \
  "$(cat "$TMP/out" "$TMP/err")" "severity 'Critical' for rule 'unique_key'"
write_dag critical "      default_severity: Warn"
export COSTFLOW_HOME="$TMP/home-typo2"
expect_exit 1 "a default_severity other than critical|warning fails the task" \
  "$COSTFLOW" run "$TMP/v.yaml" --date 2023-06-01
contains "... naming it" "$(cat "$TMP/out" "$TMP/err")" \
  "default_severity 'Warn' must be critical or warning"
write_dag critical "      max_failed_ratio: {unique_key: '1.5'}"
export COSTFLOW_HOME="$TMP/home-typo3"
expect_exit 1 "a max_failed_ratio past 1 fails the task" \
  "$COSTFLOW" run "$TMP/v.yaml" --date 2023-06-01
contains "... naming it and the rule" "$(cat "$TMP/out" "$TMP/err")" \
  "max_failed_ratio '1.5' for rule 'unique_key' must be a number from 0 to 1"

# unique_key across files: AWS and GCP staging are scanned apart (on
# threads) and merged in order. Keyed by ChargeCategory, the AWS file holds
# Usage and Credit, the GCP file only Usage: 2 distinct keys in 15 rows,
# so 13 repeats -- the GCP file's first row is one (were the files checked
# apart, it would not be, and 12 would be counted).
g="$L/gcp/year=2023/month=06/day=01"
mkdir -p "$g"
cp "$SHARED/koku/gcp/2022-08-01_5.csv" "$g/"
cat >"$TMP/x.yaml" <<YAML
dag: x
start_date: 2023-06-01
default_args: {retries: 0}
tasks:
  extract_aws: {plugin: extract_aws, params: {landing: "$L"}}
  extract_gcp: {plugin: extract_gcp, params: {landing: "$L"}}
  validate_raw:
    plugin: validate
    depends_on: [extract_aws, extract_gcp]
    params: {stage: raw, unique_key: [ChargeCategory],
             severity: {unique_key: warning}}
YAML
export COSTFLOW_HOME="$TMP/home-across"
expect_exit 0 "AWS + GCP staging validated" \
  "$COSTFLOW" run "$TMP/x.yaml" --date 2023-06-01
rows=$(sql "SELECT rows_checked FROM dq_results WHERE rule='unique_key'")
eq "both files' rows checked (6 AWS + 9 GCP)" "$rows" "15"
eq "a key first seen in the AWS file repeats in the GCP file" \
  "$(dq unique_key)" "15 13 0"

# A CUR file big enough (>= 32 MiB) for extract to read it as byte ranges
# on threads, each range into its own staging file: validate reads every
# one of them, so it checks each row once, and the repeats are still found
# across the ranges' files.
B="$TMP/big"
b="$B/aws/year=2023/month=06/day=01"
mkdir -p "$b"
big_cur "$b/big.csv" 40000 39000              # the last 1,000 repeat
cat >"$TMP/b.yaml" <<YAML
dag: b
start_date: 2023-06-01
default_args: {retries: 0}
tasks:
  extract_aws: {plugin: extract_aws, params: {landing: "$B"}}
  validate_raw:
    plugin: validate
    depends_on: [extract_aws]
    params: {stage: raw, not_null: [x_LineItemId],
             required_columns: [x_LineItemId],
             unique_key: [ProviderName, x_LineItemId],
             severity: {unique_key: warning}}
YAML
export COSTFLOW_HOME="$TMP/home-big"
expect_exit 0 "a 40,000-row CUR extracted and validated" \
  "$COSTFLOW" run "$TMP/b.yaml" --date 2023-06-01
eq "every row checked once" "$(dq not_null:x_LineItemId)" "40000 0 1"
eq "the header checked once, however many range files" \
  "$(dq required_columns:x_LineItemId)" "1 0 1"
eq "the 1,000 repeats found, across range files" "$(dq unique_key)" "40000 1000 0"
if [ "$(nproc)" -ge 2 ]; then
  check "read as byte ranges into several staging files" \
    test -f "$COSTFLOW_HOME/work/b/2023-06-01/aws/staging.1.csv"
fi
finish
