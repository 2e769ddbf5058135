#!/bin/bash
# The web UI in headless Chromium (Debian's chromium, driven by
# playwright-core from npm, both installed here when missing): trigger a
# run and watch it succeed in the grid, open a log, rerun, preview a
# backfill, upload a file and see the sensor start its run, open the cost
# dashboard. Screenshots: $CF_BUILD_DIR/web-screenshots/.
. "$(dirname "$0")/lib.sh"
. "$CF_SOURCE_DIR/tests/web/lib.sh"
WEBDIR="$CF_SOURCE_DIR/tests/web"

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "FAIL chromium is missing; run as root or: apt-get install chromium"
    exit 1
  fi
  apt-get install -y chromium >"$TMP/apt.log" 2>&1 ||
    { apt-get update >>"$TMP/apt.log" 2>&1 &&
      apt-get install -y chromium >>"$TMP/apt.log" 2>&1; } ||
    { echo "FAIL cannot install chromium"; tail "$TMP/apt.log"; exit 1; }
fi
if [ ! -d "$WEBDIR/node_modules/playwright-core" ]; then
  (cd "$WEBDIR" && npm ci --no-audit --no-fund) >"$TMP/npm.log" 2>&1 ||
    { echo "FAIL npm ci in tests/web"; tail "$TMP/npm.log"; exit 1; }
fi

D="$TMP/dags"
mkdir -p "$D"
cat >"$D/hello.yaml" <<'YAML'
dag: hello
description: Extract, transform and load one day
schedule: "30 6 * * *"
start_date: 2030-01-01
timezone: UTC
tasks:
  extract: {plugin: sleep, params: {seconds: 2}}
  transform: {plugin: outputs, params: {key: rows, value: "42 rows for {{ ds }}"}, depends_on: [extract]}
  load: {plugin: outputs, params: {key: rows, read_from: transform}, depends_on: [transform]}
YAML
cat >"$D/billing_drop.yaml" <<YAML
dag: billing_drop
description: Runs when an AWS billing file lands
trigger:
  file: {path: "$COSTFLOW_HOME/landing/aws/year=*/month=*/day=*/*.csv", settle: 300ms}
tasks:
  check: {plugin: noop}
  ingest: {plugin: noop, depends_on: [check]}
YAML
printf 'dag: broken\ntasks: [\n' >"$D/broken.yaml"
# hostile text from every source the UI shows: a DAG description, a log
# line, an import error (file name and message), billing names; the UI
# must show it as text, never parse it as HTML
XSS='<img src=x class=xss onerror=alert(1)>'
cat >"$D/xss.yaml" <<YAML
dag: xss
description: "$XSS in a description"
tasks:
  say: {plugin: shell, params: {command: "echo '$XSS in a log'"}}
YAML
printf 'dag: x\ntasks: [\n' >"$D/$XSS.yaml"
mkdir -p "$COSTFLOW_HOME"
bash "$WEBDIR/seed-warehouse.sh" "$COSTFLOW_HOME/warehouse.db"
# cost 0: the totals the walk checks stay as they are
sqlite3 "$COSTFLOW_HOME/warehouse.db" "
  INSERT INTO anomalies SELECT usage_date, provider, account,
    '$XSS anomaly', currency, cost, trailing_avg, trailing_stddev,
    pct_above, window_days, provisional FROM anomalies LIMIT 1;
  INSERT INTO zombies SELECT usage_date, provider, account,
    '$XSS zombie', '$XSS svc', cost, usage_quantity, usage_rows
    FROM zombies LIMIT 1;
  INSERT INTO fact_daily_cost SELECT usage_date, provider,
    billing_account_id, sub_account_id, '$XSS top', service_category,
    region_id, currency, '0', '0', '0', '0', '0', 1, 1
    FROM fact_daily_cost WHERE service_name = 'Probe' LIMIT 1;"
printf 'line_item_id,cost\nA,1.25\nB,2.50\n' >"$TMP/cur-2025-01-20.csv"

start_web ui
check "web starts" test -n "$PORT"
# the daemon runs the sensors: the upload lands, the sensor starts the run
SENSOR=0
if "$COSTFLOW" scheduler --help >/dev/null 2>&1; then
  "$COSTFLOW" --dags "$D" scheduler --rescan 1s >"$TMP/daemon.log" 2>&1 &
  DAEMON=$!
  SENSOR=1
fi
SHOTS="${CF_BUILD_DIR:-$TMP}/web-screenshots"
rm -rf "$SHOTS"
CF_WEB_URL="$URL" CF_WEB_TOKEN="$(cat "$COSTFLOW_HOME/web.token")" \
CF_SHOTS="$SHOTS" CF_UPLOAD_FILE="$TMP/cur-2025-01-20.csv" CF_SENSOR=$SENSOR \
  timeout 300 node "$WEBDIR/ui.test.mjs" >"$TMP/ui.out" 2>&1
rc=$?
cat "$TMP/ui.out"
eq "browser walk passed" "$rc" "0"
check "screenshots were written" test -s "$SHOTS/09-costs.png"
[ -n "${DAEMON:-}" ] && { kill "$DAEMON"; wait "$DAEMON"; }
check "web exits cleanly" stop_web
if [ "$FAILED" != 0 ]; then
  echo "--- web log"; tail -20 "$TMP/ui.log"
  [ -f "$TMP/daemon.log" ] && { echo "--- daemon log"; tail -20 "$TMP/daemon.log"; }
fi
finish
