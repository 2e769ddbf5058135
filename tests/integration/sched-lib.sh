# Helpers for the scheduler daemon tests (sourced after lib.sh): start and
# stop real daemon processes, bounded waits. Every daemon started here is
# killed when the script exits, whatever happens.
D="$TMP/dags"
mkdir -p "$D" "$COSTFLOW_HOME"
DLOG="$TMP/daemon.log"
DAEMON_PID=
ALL_PIDS=()
sched_cleanup() {
  for p in "${ALL_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  cleanup
}
trap sched_cleanup EXIT

# start_daemon [scheduler options...]: in the background, logs to $DLOG
start_daemon() {
  "$COSTFLOW" --dags "$D" scheduler "$@" 2>>"$DLOG" &
  DAEMON_PID=$!
  ALL_PIDS+=("$DAEMON_PID")
}

# stop_daemon [signal]: signals it and waits; sets DAEMON_RC
stop_daemon() {
  kill -"${1:-TERM}" "$DAEMON_PID" 2>/dev/null
  wait "$DAEMON_PID" 2>/dev/null
  DAEMON_RC=$?
}

# wait_for SECONDS command...: polls every 50 ms; 0 if it became true
wait_for() {
  local limit=$1 i=0; shift
  local n=$((limit * 20))
  while [ $i -lt $n ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.05
    i=$((i + 1))
  done
  return 1
}

# sql with a busy timeout: a daemon killed mid-write leaves WAL recovery
# to the next opener, and a reader must wait for it instead of failing
sql() { sqlite3 -cmd ".timeout 5000" "$COSTFLOW_HOME/costflow.db" "$1"; }

# sql_is QUERY VALUE: for wait_for
sql_is() { [ "$(sql "$1")" = "$2" ]; }
log_has() { grep -qF -- "$1" "$DLOG"; }
# every line the daemon wrote is one JSON object
logs_are_json() { jq -e . "$DLOG" >/dev/null; }
