#!/bin/bash
# The main job: install what is needed (Debian 12), build, run the reference
# billing DAG `cloud_billing_daily` over the bundled sample days
# (examples/landing, 2025-01-01..07) with the embedded SQLite store, and
# print where the results are. Safe to run again: finished dates are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
export COSTFLOW_HOME="${COSTFLOW_HOME:-$PWD/var}"
CF=./build/bin/costflow
FROM=${FROM:-2025-01-01}
TO=${TO:-2025-01-07}

$CF dags validate dags/cloud_billing_daily.yaml
$CF backfill cloud_billing_daily --from "$FROM" --to "$TO"
echo
echo "== spend by day and provider (gold warehouse, exact decimals)"
$CF costs --from "$FROM" --to "$TO" --by day,provider
echo
echo "== anomalies"
$CF anomalies
echo
echo "== zombie resources"
$CF zombies
echo
echo "Results:"
echo "  gold warehouse : $COSTFLOW_HOME/warehouse.db (SQLite)"
echo "  report         : $COSTFLOW_HOME/reports/cloud_billing_daily/$TO/report.html"
echo "  summary        : $COSTFLOW_HOME/reports/cloud_billing_daily/$TO/summary.md"
echo "  silver lake    : $COSTFLOW_HOME/lake/silver/cost/"
echo "  run state      : $COSTFLOW_HOME/costflow.db  ($CF runs cloud_billing_daily)"
