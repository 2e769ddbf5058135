# The benchmark sections of bench/run (sourced; uses its variables:
# CF MEASURE WORK BENCH ROOT RUNS RAW and the size settings).
# Every figure goes through rec(); bench/lib/report.mjs turns them into the
# table. A run whose output is wrong records "invalid" instead of a time.

# Starts a background process and remembers its pid for stop_bg.
BG_PIDS=()
start_bg() { "$@" & BG_PIDS+=($!); LAST_BG=$!; }
stop_bg() {  # stop_bg PID: SIGTERM, then wait up to 10 s, then SIGKILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# (|| keeps the trap's status 0: it becomes bench/run's exit status)
cleanup_bg() { local p; for p in "${BG_PIDS[@]:-}"; do [ -z "$p" ] || stop_bg "$p"; done; }
trap cleanup_bg EXIT

# wait_for FILE PATTERN SECONDS: until grep finds PATTERN in FILE
wait_for() {
  local i
  for i in $(seq 1 $(($3 * 100))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  return 1
}

# ---- floor: posix_spawn + wait of /bin/true ------------------------------
bench_floor() {
  local r j
  log "floor: posix_spawn+wait of /bin/true"
  for r in $(seq 1 "$RUNS"); do
    j=$("$WORK/bin/spawn_floor" 3000 2)
    rec floor "/bin/true" "spawn+wait serial" "per s" "$(jget "$j" serial_per_s)" higher
    rec floor "/bin/true" "spawn+wait, 2 in flight" "per s" "$(jget "$j" parallel_per_s)" higher
  done
}

# ---- hand-off and throughput ----------------------------------------------
gen_dag() {  # gen_dag fan|chain N FILE   (N tasks in all)
  local shape=$1 n=$2 f=$3
  awk -v shape="$shape" -v n="$n" 'BEGIN {
    printf "dag: bench_%s_%d\ndescription: bench/run hand-off DAG\ntasks:\n", shape, n
    if (shape == "fan") {
      print "  src: {plugin: noop}"
      for (i = 1; i <= n - 2; i++) printf "  t%d: {plugin: noop, depends_on: [src]}\n", i
      printf "  sink:\n    plugin: noop\n    depends_on:\n"
      for (i = 1; i <= n - 2; i++) printf "      - t%d\n", i
    } else {
      print "  t1: {plugin: noop}"
      for (i = 2; i <= n; i++) printf "  t%d: {plugin: noop, depends_on: [t%d]}\n", i, i - 1
    }
  }' > "$f"
}

bench_handoff() {
  local n shape r dag home m j
  local par=${COSTFLOW_PARALLELISM:-32}
  mkdir -p "$WORK/handoff"
  for n in $HANDOFF_SIZES; do
    for shape in fan chain; do
      dag=$WORK/handoff/$shape-$n.yaml
      gen_dag "$shape" "$n" "$dag"
      local runs=$RUNS
      [ "$n" -gt 1000 ] && runs=$RUNS_BIG
      for r in $(seq 1 "$runs"); do
        log "handoff: $shape of $n noop tasks, run $r/$runs"
        home=$WORK/handoff/home
        rm -rf "$home"
        m=$(COSTFLOW_HOME=$home COSTFLOW_PARALLELISM=$par \
            "$MEASURE" -- "$CF" run "$dag" --date 2025-01-01) || {
          log "handoff: run failed: $m"; rec handoff "$shape $n" "tasks/s" "per s" null higher; continue; }
        j=$(sqlite3 -csv "$home/costflow.db" \
              "SELECT t.task_id, a.spawn_us, a.exit_us FROM attempts a
               JOIN task_instances t ON t.id = a.ti_pk WHERE a.state = 'success'" |
            node "$BENCH/lib/handoff.mjs" "$shape" "$n" "$par")
        if [ "$(jget "$j" tasks)" != "$n" ]; then
          log "handoff: expected $n successful tasks: $j"; continue
        fi
        rec handoff "$shape $n" "tasks/s (whole run)" "per s" \
          "$(node -e "console.log(($n / $(jget "$m" wall_s)).toFixed(1))")" higher
        rec handoff "$shape $n" "hand-off p50" ms "$(jget "$j" p50_ms)"
        rec handoff "$shape $n" "hand-off p99" ms "$(jget "$j" p99_ms)"
      done
    done
  done
  rm -rf "$WORK/handoff/home"
}

# ---- sensor reaction --------------------------------------------------------
bench_sensor() {
  local r s dir pid j
  s=$WORK/sensor
  for r in $(seq 1 "$RUNS"); do
    log "sensor: $SENSOR_FILES files renamed into a watched folder, run $r/$RUNS"
    rm -rf "$s"; mkdir -p "$s/dags" "$s/landing"
    cat > "$s/dags/bench_sensor.yaml" <<EOF
dag: bench_sensor
description: bench/run sensor reaction
max_active_runs: 16
trigger:
  file: {path: "$s/landing/year=*/month=*/day=*/*.csv"}
tasks:
  first: {plugin: noop}
EOF
    start_bg "$CF" --home "$s/home" --dags "$s/dags" scheduler > "$s/daemon.log" 2>&1
    pid=$LAST_BG
    if ! wait_for "$s/daemon.log" "scheduler ready" 20; then
      log "sensor: daemon not ready, not measured"; stop_bg "$pid"; return 0
    fi
    "$WORK/bin/drop_files" "$s/landing" "$SENSOR_FILES" 250 > "$s/drops.csv"
    for _ in $(seq 1 100); do   # wait (max 10 s) for the last run's task
      [ "$(sqlite3 "$s/home/costflow.db" "SELECT count(*) FROM attempts WHERE spawn_us IS NOT NULL" 2>/dev/null || echo 0)" -ge "$SENSOR_FILES" ] && break
      sleep 0.1
    done
    stop_bg "$pid"
    j=$(sqlite3 -csv "$s/home/costflow.db" \
          "SELECT r.logical_date, min(a.spawn_us) FROM attempts a
           JOIN task_instances t ON t.id = a.ti_pk JOIN runs r ON r.id = t.run_pk
           GROUP BY r.logical_date" |
        node "$BENCH/lib/sensor.mjs" "$s/drops.csv")
    if [ "$(jget "$j" files)" != "$SENSOR_FILES" ]; then
      log "sensor: only $(jget "$j" files) of $SENSOR_FILES files started a run: $j"
    fi
    rec sensor "rename -> first task spawn" "p50" ms "$(jget "$j" p50_ms)"
    rec sensor "rename -> first task spawn" "p99" ms "$(jget "$j" p99_ms)"
  done
}

# ---- billing transform ------------------------------------------------------
# gen_data MB: var/bench/data-MB (kept between runs; remade when gen_cur.c
# changes)
gen_data() {
  local mb=$1 d=$WORK/data-$1 stamp
  stamp=$(sha256sum "$BENCH/src/gen_cur.c" | cut -c1-16)
  if [ ! -f "$d/.stamp" ] || [ "$(cat "$d/.stamp")" != "$stamp" ]; then
    log "generating ~$mb MB of AWS CUR in $d"
    rm -rf "$d"
    "$WORK/bin/gen_cur" --mb "$mb" --out "$d" --seed 42 >&2
    echo "$stamp" > "$d/.stamp"
  fi
  DATA=$d
  FILES=("$d/landing/aws/year=2025/month=03/day=01/cur-base.csv"
         "$d/landing/aws/year=2025/month=03/day=02/cur-corrections.csv")
  INPUT_MB=$(du -cb "${FILES[@]}" | tail -1 | awk '{printf "%.1f", $1 / 1e6}')
}

# timed ENGINE CASE CHECK_OUT -- CMD...: measure, check, record
timed() {
  local engine=$1 case=$2 got=$3 m c
  shift 4
  m=$("$MEASURE" -- "$@") || { log "$engine failed: $m"; rec transform "$case" "$engine wall" s null; return 1; }
  if [ -n "${PREPARE_OUT:-}" ]; then eval "$PREPARE_OUT"; fi
  c=$(node "$BENCH/lib/compare.mjs" "$DATA/expected.csv" "$got") || {
    log "$engine: output differs from the expected answer, time not counted: $c"
    rec transform "$case" "$engine wall" s null
    return 1
  }
  rec transform "$case" "$engine wall" s "$(jget "$m" wall_s)"
  rec transform "$case" "$engine MB/s" "MB/s" \
    "$(node -e "console.log(($INPUT_MB / $(jget "$m" wall_s)).toFixed(1))")" higher
  rec transform "$case" "$engine peak RSS" MiB \
    "$(node -e "console.log(($(jget "$m" maxrss_kb) / 1024).toFixed(1))")"
}

# transform_floor CASE HOME: the byte and row movements of the silver+gold
# contract alone, on the last costflow run's silver and warehouse
# (src/transform_floor.c), one core, no transform work
transform_floor() {
  local case=$1 home=$2 r j k
  for r in $(seq 1 "$RUNS"); do
    log "transform $case: contract floor, run $r/$RUNS"
    j=$("$WORK/bin/transform_floor" "$home/lake/silver/cost" \
          "$home/warehouse.db" "$WORK" "${FILES[@]}") || { log "floor failed"; return 0; }
    rec transform "$case" "floor: read input" s "$(jget "$j" read_input_s)"
    rec transform "$case" "floor: sha256 silver once" s "$(jget "$j" sha256_s)"
    rec transform "$case" "floor: write silver" s "$(jget "$j" write_s)"
    rec transform "$case" "floor: fsync wait" s "$(jget "$j" fsync_s)"
    rec transform "$case" "floor: read silver" s "$(jget "$j" read_silver_s)"
    rec transform "$case" "floor: sqlite facts" s "$(jget "$j" sqlite_s)"
    rec transform "$case" "floor: sum, sha256 x2" s "$(jget "$j" sum_s)"
  done
}

bench_transform() {
  local mb r snap home case t RUNS=$RUNS
  local runs_small=$RUNS
  for mb in $TRANSFORM_SIZES; do
    RUNS=$runs_small
    [ "$mb" -ge 1000 ] && RUNS=$RUNS_BIG
    gen_data "$mb"
    case="AWS CUR ${INPUT_MB} MB"
    # costflow: bronze for both delivery days (not timed), kept as a snapshot
    snap=$WORK/transform-$mb/snapshot
    rm -rf "$WORK/transform-$mb"; mkdir -p "$WORK/transform-$mb"
    log "transform $case: costflow setup (extract + bronze, not timed)"
    for day in 2025-03-01 2025-03-02; do
      COSTFLOW_HOME=$snap "$CF" run "$BENCH/dags/bench_ingest.yaml" --date $day \
        --conf landing="$DATA/landing" > /dev/null
    done
    for r in $(seq 1 "$RUNS"); do
      log "transform $case: costflow silver+gold, run $r/$RUNS"
      home=$WORK/transform-$mb/home
      rm -rf "$home"
      cp -al "$snap" "$home"                         # bronze: read only
      rm -f "$home"/costflow.db*; cp "$snap"/costflow.db* "$home"/
      PREPARE_OUT="sqlite3 -header -csv '$home/warehouse.db' \"SELECT usage_date,
        sub_account_id AS account, service_name AS product, billed_cost AS cost,
        row_count AS rows FROM fact_daily_cost WHERE provider = 'AWS'\" > '$WORK/out-costflow.csv'" \
      COSTFLOW_HOME=$home timed costflow "$case" "$WORK/out-costflow.csv" -- \
        "$CF" run "$BENCH/dags/bench_transform.yaml" --date 2025-03-02 || continue
      for t in transform_to_cleaned load_to_analytics; do
        rec transform "$case" "costflow $t" s "$(sqlite3 "$home/costflow.db" \
          "SELECT printf('%.3f', (a.end_us - a.start_us) / 1e6) FROM attempts a
           JOIN task_instances ti ON ti.id = a.ti_pk WHERE ti.task_id = '$t'
           ORDER BY a.id DESC LIMIT 1")"
      done
    done
    transform_floor "$case" "$home"
    rm -rf "$WORK/transform-$mb"          # bronze snapshot: remade each run
    for t in 1 2; do
      for r in $(seq 1 "$RUNS"); do
        log "transform $case: duckdb threads=$t, run $r/$RUNS"
        timed "duckdb-t$t" "$case" "$WORK/out-duckdb.csv" -- \
          node "$BENCH/duckdb/transform.mjs" "$t" "$WORK/out-duckdb.csv" "${FILES[@]}" || true
      done
    done
    for r in $(seq 1 "$RUNS"); do
      log "transform $case: sqlite3 CLI, run $r/$RUNS"
      timed sqlite3 "$case" "$WORK/out-sqlite.csv" -- \
        "$BENCH/lib/sqlite_transform.sh" "$WORK/out-sqlite.csv" "${FILES[@]}" || true
    done
  done
}

# ---- end to end: the reference DAG on the biggest input --------------------
bench_e2e() {
  local r home m land RUNS=$RUNS
  [ "$E2E_MB" -ge 1000 ] && RUNS=$RUNS_BIG
  gen_data "$E2E_MB"
  land=$WORK/e2e-landing
  if [ ! -f "$land/.ok" ] || [ "$(readlink -f "$land/aws")" != "$DATA/landing/aws" ]; then
    rm -rf "$land" "$WORK/e2e-gcp"; mkdir -p "$land"
    ln -s "$DATA/landing/aws" "$land/aws"
    "$BUILD_DIR/bin/cf-gen" --from 2025-03-01 --to 2025-03-01 --rows-per-day 200 \
      --seed 7 --out "$WORK/e2e-gcp" > /dev/null
    cp -r "$WORK/e2e-gcp/gcp" "$land/gcp"
    touch "$land/.ok"
  fi
  for r in $(seq 1 "$RUNS"); do
    log "e2e: cloud_billing_daily on ${INPUT_MB%.*} MB AWS CUR + GCP, run $r/$RUNS"
    home=$WORK/e2e-home; rm -rf "$home"
    m=$(COSTFLOW_HOME=$home "$MEASURE" -- "$CF" run "$ROOT/dags/cloud_billing_daily.yaml" \
          --date 2025-03-01 --conf landing="$land") || {
      log "e2e: run failed: $m"; rec e2e "cloud_billing_daily" "wall" s null; continue; }
    rec e2e "cloud_billing_daily, ${INPUT_MB%.*} MB AWS + GCP" "wall" s "$(jget "$m" wall_s)"
    rec e2e "cloud_billing_daily, ${INPUT_MB%.*} MB AWS + GCP" "peak RSS" MiB \
      "$(node -e "console.log(($(jget "$m" maxrss_kb) / 1024).toFixed(1))")"
  done
  rm -rf "$WORK/e2e-home"
}

# ---- footprint: the daemon with 50 DAGs ---------------------------------------
bench_footprint() {
  local f=$WORK/footprint r i pid t0 ts rss c0 c1 hz once
  rm -rf "$f"; mkdir -p "$f/dags"
  for i in $(seq -w 1 50); do   # the reference DAG 50 times, not yet due
    sed -e "s/^dag: cloud_billing_daily/dag: billing_$i/" \
        -e "s/^start_date: .*/start_date: 2099-01-01/" \
        -e "s|^  landing: .*|  landing: $ROOT/examples/landing|" \
        "$ROOT/dags/cloud_billing_daily.yaml" > "$f/dags/billing_$i.yaml"
  done
  hz=$(getconf CLK_TCK)
  for r in $(seq 1 "$RUNS"); do
    log "footprint: daemon with 50 DAGs, run $r/$RUNS"
    rm -rf "$f/home"
    once=$("$MEASURE" -- "$CF" --home "$f/home" --dags "$f/dags" scheduler --once)
    rec footprint "daemon, 50 DAGs" "cold start (scheduler --once)" ms \
      "$(node -e "console.log(($(jget "$once" wall_s) * 1000).toFixed(1))")"
    t0=$(date +%s%3N)
    start_bg "$CF" --home "$f/home" --dags "$f/dags" scheduler > "$f/daemon.log" 2>&1
    pid=$LAST_BG
    if ! wait_for "$f/daemon.log" "scheduler ready" 20; then
      log "footprint: daemon not ready"; stop_bg "$pid"; continue
    fi
    ts=$(grep -m1 "scheduler ready" "$f/daemon.log" | sed 's/.*"ts":"\([^"]*\)".*/\1/')
    rec footprint "daemon, 50 DAGs" "start to 'scheduler ready'" ms "$(( $(date -d "$ts" +%s%3N) - t0 ))"
    sleep 1
    c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    sleep "$IDLE_S"
    c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    rec footprint "daemon, 50 DAGs" "idle RSS" MiB "$(node -e "console.log(($rss / 1024).toFixed(1))")"
    rec footprint "daemon, 50 DAGs" "idle CPU" "%" \
      "$(node -e "console.log((100 * ($c1 - $c0) / $hz / $IDLE_S).toFixed(2))")"
    stop_bg "$pid"
  done
}

# ---- API: read endpoints under a fixed request rate ----------------------------
bench_api() {
  local a=$WORK/api port pid ep r j
  rm -rf "$a"; mkdir -p "$a"
  log "api: preparing a home (cloud_billing_daily on examples/landing, 7 days)"
  COSTFLOW_HOME=$a/home "$CF" backfill "$ROOT/dags/cloud_billing_daily.yaml" \
    --from 2025-01-01 --to 2025-01-07 > /dev/null 2>&1 || log "api: backfill had failures"
  port=$((20000 + RANDOM % 20000))
  start_bg "$CF" --home "$a/home" --dags "$ROOT/dags" web --listen "127.0.0.1:$port" \
    --no-auth > "$a/web.log" 2>&1
  pid=$LAST_BG
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/healthz" > /dev/null 2>&1 && break; sleep 0.05
  done
  # 8 connections, each pausing 8 ms before every request: ~1000 req/s
  # when the server keeps up (wrk has no fixed-rate mode; wrk2 is not in
  # Debian). Latencies are wrk's (request sent -> response read).
  for ep in "/api/dags" "/api/dags/cloud_billing_daily/runs" \
            "/api/costs/daily?from=2025-01-01&to=2025-01-07&by=service" "/healthz"; do
    for r in $(seq 1 "$RUNS"); do
      log "api: GET $ep, ${API_S}s, run $r/$RUNS"
      j=$(wrk -t2 -c8 -d"${API_S}s" -s "$BENCH/lib/wrk-fixed-rate.lua" \
            "http://127.0.0.1:$port$ep" 2>&1 | grep '^{') || true
      if [ -z "$j" ] || [ "$(jget "$j" non2xx)" != 0 ]; then
        log "api: $ep failed: $j"; continue
      fi
      rec api "GET $ep" "req/s (target ~1000)" "per s" "$(jget "$j" rps)" higher
      rec api "GET $ep" "p50" ms "$(jget "$j" p50_ms)"
      rec api "GET $ep" "p99" ms "$(jget "$j" p99_ms)"
    done
  done
  stop_bg "$pid"
}
