# Helpers for the web tests (sourced after lib.sh): start `costflow web` on
# a free port, raw socket requests, JSON checks.

# start_web NAME [web options...]: sets PORT, WEB_PID and URL.
start_web() {
  local name=$1; shift
  "$COSTFLOW" --dags "$D" web --listen 127.0.0.1:0 "$@" \
    >"$TMP/$name.log" 2>&1 &
  WEB_PID=$!
  PORT=
  for _ in $(seq 100); do
    PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' \
           "$TMP/$name.log")
    [ -n "$PORT" ] && break
    kill -0 "$WEB_PID" 2>/dev/null || break
    sleep 0.05
  done
  URL="http://127.0.0.1:$PORT"
  [ -n "$PORT" ]
}

stop_web() {
  kill "$WEB_PID" 2>/dev/null
  wait "$WEB_PID" 2>/dev/null
  local rc=$?
  return $rc
}

# raw FILE: sends FILE's bytes on a fresh connection, prints the answer.
raw() {
  local out
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
  cat "$1" >&3 2>/dev/null
  out=$(timeout "${RAW_WAIT:-3}" cat <&3 2>/dev/null | tr -d '\r')
  exec 3<&- 3>&-
  printf '%s' "$out"
}

# status_of "curl args...": prints the HTTP status of a request.
status_of() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }

# wait_run DAG DATE [STATE]: polls the API until the run ends.
wait_run() {
  local st=""
  for _ in $(seq 200); do
    st=$(curl -s "$URL/api/dags/$1/runs/$2" -H "$AUTH" | jq -r .run.state)
    case $st in success|failed) break ;; esac
    sleep 0.1
  done
  printf '%s' "$st"
}
