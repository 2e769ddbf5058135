#!/bin/bash
# The web API over a real socket: auth (401/403, CSRF origin), actions
# (trigger, rerun, backfill, pause), logs, uploads (traversal, caps,
# atomic rename), costs from a seeded warehouse, /metrics, and the
# server's behaviour on malformed, oversized and slow requests.
. "$(dirname "$0")/lib.sh"
. "$CF_SOURCE_DIR/tests/web/lib.sh"
D="$TMP/dags"
mkdir -p "$D"
cat >"$D/hello.yaml" <<'YAML'
dag: hello
schedule: "30 6 * * *"
timezone: UTC
max_active_runs: 2
tasks:
  extract: {plugin: noop}
  transform: {plugin: outputs, params: {key: rows, value: "42 rows for {{ ds }}"}, depends_on: [extract]}
  load: {plugin: outputs, params: {key: rows, read_from: transform}, depends_on: [transform]}
YAML
printf 'dag: broken\ntasks: [\n' >"$D/broken.yaml"

start_web main --max-body 4096 --max-upload 65536 --header-timeout 1s \
  --body-timeout 1s --max-conns 20
check "web starts and reports its port" test -n "$PORT"
TOKEN_FILE="$COSTFLOW_HOME/web.token"
eq "token file is 0600" "$(stat -c %a "$TOKEN_FILE")" "600"
TOKEN=$(cat "$TOKEN_FILE")
contains "token printed once at first start" "$(cat "$TMP/main.log")" "$TOKEN"
AUTH="Authorization: Bearer $TOKEN"

# --- reads ---------------------------------------------------------------
eq "healthz" "$(curl -s "$URL/healthz" | jq -r .status)" "ok"
contains "UI index is served" "$(curl -s "$URL/")" "<title>costflow"
eq "UI script is served as JavaScript" \
  "$(curl -s -o /dev/null -w '%{content_type}' "$URL/assets/app.js")" \
  "text/javascript; charset=utf-8"
curl -s "$URL/api/dags" >"$TMP/dags.json"
eq "dags list has hello" "$(jq -r '.dags[].dag_id' "$TMP/dags.json")" "hello"
eq "dag schedule and zone" \
  "$(jq -r '.dags[0] | .schedule + "|" + .timezone' "$TMP/dags.json")" \
  "30 6 * * *|UTC"
contains "next run is a 06:30Z instant" \
  "$(jq -r '.dags[0].next_run' "$TMP/dags.json")" "T06:30:00Z"
contains "import error of the broken file" \
  "$(jq -r '.import_errors[0].file + " " + .import_errors[0].error' \
     "$TMP/dags.json")" "broken.yaml:"
eq "unknown endpoint is a JSON 404" "$(status_of "$URL/api/nope")" "404"
eq "404 body is JSON with error" "$(jq -r 'has("error")' "$TMP/body")" "true"
eq "wrong method is 405" "$(status_of -X DELETE "$URL/api/dags")" "405"
eq "405 says which methods are allowed (RFC 9110 15.5.6)" \
  "$(curl -s -D - -o /dev/null -X DELETE "$URL/api/dags/hello/runs" | \
     tr -d '\r' | grep -i '^allow:')" "Allow: GET, HEAD, POST"
eq "OPTIONS is a 405 too, with Allow" \
  "$(curl -s -D - -o /dev/null -X OPTIONS "$URL/api/upload" | \
     tr -d '\r' | grep -i '^allow:')" "Allow: POST"
eq "run of an unknown date is 404" \
  "$(status_of "$URL/api/dags/hello/runs/2025-01-09")" "404"
eq "bad date is 400" "$(status_of "$URL/api/dags/hello/runs/2025-13-40")" \
  "400"
eq "2025-02-30 is not a date: 400" \
  "$(status_of "$URL/api/dags/hello/runs/2025-02-30")" "400"
# JSON strings must be UTF-8: echoing a raw byte used to fail json_pack
# and answer 500 "out of memory"
eq "non-UTF-8 DAG id in the path: 400" \
  "$(status_of "$URL/api/dags/%FF/runs")" "400"
eq "its answer is a JSON error" "$(jq -r 'has("error")' "$TMP/body")" "true"
eq "non-UTF-8 run date in the path: 400" \
  "$(status_of "$URL/api/dags/hello/runs/%C3%28")" "400"
eq "non-UTF-8 query value: 400" \
  "$(status_of "$URL/api/dags/hello/runs?before=%FF")" "400"
eq "bad percent escape in the query: 400" \
  "$(status_of "$URL/api/dags/hello/grid?limit=%ZZ")" "400"
eq "404 echoing a long UTF-8 path cut inside a character: still a 404" \
  "$(status_of "$URL/api/x$(printf '%%C3%%A9%.0s' $(seq 300))")" "404"
eq "and its body is JSON" "$(jq -r 'has("error")' "$TMP/body")" "true"
eq "UTF-8 DAG id that does not exist: 404" \
  "$(status_of -X POST -H "$AUTH" "$URL/api/dags/%C3%A9t%C3%A9/pause")" "404"

# --- auth ----------------------------------------------------------------
trig() { curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$@"; }
eq "trigger without token: 401" \
  "$(trig "$URL/api/dags/hello/runs" -d '{"date":"2025-01-01"}')" "401"
eq "401 asks for a bearer token" \
  "$(curl -s -D - -o /dev/null -X POST "$URL/api/dags/hello/runs" | \
     tr -d '\r' | grep -i '^www-authenticate')" "WWW-Authenticate: Bearer"
eq "trigger with a wrong token: 403" \
  "$(trig -H 'Authorization: Bearer nope' "$URL/api/dags/hello/runs" \
     -d '{"date":"2025-01-01"}')" "403"
eq "cross-origin POST with the token: 403 (CSRF)" \
  "$(trig -H "$AUTH" -H 'Origin: http://evil.example' \
     "$URL/api/dags/hello/runs" -d '{"date":"2025-01-01"}')" "403"
eq "upload without token: 401" \
  "$(trig --data-binary x "$URL/api/upload?name=a.csv")" "401"
eq "no run was created by refused requests" \
  "$(sql "SELECT count(*) FROM runs")" "0"

# --- actions -------------------------------------------------------------
eq "non-object JSON body: 400" \
  "$(trig -H "$AUTH" "$URL/api/dags/hello/runs" -d '[1,2]')" "400"
eq "bad date in body: 400" \
  "$(trig -H "$AUTH" "$URL/api/dags/hello/runs" -d '{"date":"soon"}')" "400"
eq "trigger of an unknown DAG: 404" \
  "$(trig -H "$AUTH" "$URL/api/dags/nope/runs" -d '{"date":"2025-01-01"}')" \
  "404"
eq "trigger a run: 201" \
  "$(trig -H "$AUTH" -H "Origin: $URL" "$URL/api/dags/hello/runs" \
     -d '{"date":"2025-01-01","conf":{"who":"web"}}')" "201"
eq "trigger answers the queued run" "$(jq -r .run.run_id "$TMP/body")" \
  "manual__2025-01-01"
eq "triggered run succeeds" "$(wait_run hello 2025-01-01)" "success"
curl -s "$URL/api/dags/hello/runs/2025-01-01" >"$TMP/run.json"
eq "run has its tasks in order of start" \
  "$(jq -r '[.tasks[].task_id] | join(",")' "$TMP/run.json")" \
  "extract,transform,load"
eq "each task has one successful attempt" \
  "$(jq -r '[.tasks[].attempts[] | .state] | join(",")' "$TMP/run.json")" \
  "success,success,success"
eq "conf is recorded" "$(jq -r .run.conf.who "$TMP/run.json")" "web"
contains "task log tail has the task's output" \
  "$(curl -s "$URL/api/dags/hello/runs/2025-01-01/tasks/load/log")" \
  "read rows=42 rows for 2025-01-01 from transform"
contains "log download is an attachment" \
  "$(curl -s -D - -o /dev/null \
     "$URL/api/dags/hello/runs/2025-01-01/tasks/transform/log?download=1")" \
  "Content-Disposition: attachment"
full=$(curl -s "$URL/api/dags/hello/runs/2025-01-01/tasks/transform/log?download=1" | wc -c)
tail=$(curl -s "$URL/api/dags/hello/runs/2025-01-01/tasks/transform/log?tail=10" | wc -c)
eq "tail=10 returns the last 10 bytes" "$tail" "10"
check "download returns the whole log" test "$full" -gt 10
# a typo used to fall back to the default: the latest try's log, a page
# of 25 runs
eq "log of try=2x: 400, not the latest try" \
  "$(status_of "$URL/api/dags/hello/runs/2025-01-01/tasks/load/log?try=2x")" \
  "400"
eq "tail=abc: 400" \
  "$(status_of "$URL/api/dags/hello/runs/2025-01-01/tasks/load/log?tail=abc")" \
  "400"
eq "a tail past the cap is clamped, not refused" \
  "$(status_of "$URL/api/dags/hello/runs/2025-01-01/tasks/load/log?tail=99999999999999999999")" \
  "200"
eq "runs?limit=abc: 400" "$(status_of "$URL/api/dags/hello/runs?limit=abc")" \
  "400"
eq "grid?limit=1e3: 400" "$(status_of "$URL/api/dags/hello/grid?limit=1e3")" \
  "400"
eq "log of a task without attempts: 404" \
  "$(status_of "$URL/api/dags/hello/runs/2025-01-01/tasks/zzz/log")" "404"
eq "second trigger of the same date: 409" \
  "$(trig -H "$AUTH" "$URL/api/dags/hello/runs" -d '{"date":"2025-01-01"}')" \
  "409"
eq "rerun dry-run lists transform and downstream" \
  "$(curl -s -X POST -H "$AUTH" "$URL/api/dags/hello/runs/2025-01-01/rerun" \
     -d '{"task":"transform","downstream":true,"dry_run":true}' | \
     jq -r '.would_clear | join(",")')" "transform,load"
eq "rerun a task and downstream: 202" \
  "$(trig -H "$AUTH" "$URL/api/dags/hello/runs/2025-01-01/rerun" \
     -d '{"task":"transform","downstream":true}')" "202"
eq "rerun completes" "$(wait_run hello 2025-01-01)" "success"
eq "rerun made second tries of transform and load only" \
  "$(curl -s "$URL/api/dags/hello/runs/2025-01-01" | \
     jq -r '[.tasks[] | "\(.task_id)=\(.try_number)"] | join(",")')" \
  "extract=1,transform=2,load=2"
eq "rerun of an unknown task: 404" \
  "$(trig -H "$AUTH" "$URL/api/dags/hello/runs/2025-01-01/rerun" \
     -d '{"task":"nope"}')" "404"
curl -s -X POST -H "$AUTH" "$URL/api/dags/hello/backfill" \
  -d '{"from":"2024-12-30","to":"2025-01-02","dry_run":true}' >"$TMP/plan"
eq "backfill dry-run plan" \
  "$(jq -r '[.plan[] | .date + ":" + .action] | join(",")' "$TMP/plan")" \
  "2024-12-30:run,2024-12-31:run,2025-01-01:skip,2025-01-02:run"
eq "dry-run created no run" "$(sql "SELECT count(*) FROM runs")" "1"
eq "backfill range over a year: 400" \
  "$(trig -H "$AUTH" "$URL/api/dags/hello/backfill" \
     -d '{"from":"2020-01-01","to":"2025-01-02"}')" "400"
eq "backfill: 202" \
  "$(trig -H "$AUTH" "$URL/api/dags/hello/backfill" \
     -d '{"from":"2024-12-30","to":"2025-01-02"}')" "202"
eq "backfill submitted 3 runs" "$(jq -r .submitted "$TMP/body")" "3"
for d in 2024-12-30 2024-12-31 2025-01-02; do
  eq "backfilled $d succeeds" "$(wait_run hello $d)" "success"
done
eq "backfill runs are kind backfill" \
  "$(sql "SELECT count(*) FROM runs WHERE kind='backfill'")" "3"
curl -s "$URL/api/dags/hello/runs?limit=2" >"$TMP/page1"
eq "runs page 1 newest first" \
  "$(jq -r '[.runs[].logical_date] | join(",")' "$TMP/page1")" \
  "2025-01-02,2025-01-01"
eq "runs total" "$(jq -r .total "$TMP/page1")" "4"
eq "runs page 2 via next_before" \
  "$(curl -s "$URL/api/dags/hello/runs?limit=2&before=$(jq -r .next_before \
     "$TMP/page1")" | jq -r '[.runs[].logical_date] | join(",")')" \
  "2024-12-31,2024-12-30"
eq "grid has runs x tasks" \
  "$(curl -s "$URL/api/dags/hello/grid?limit=10" | \
     jq -r '"\(.runs | length) \(.tasks | length) \(.runs[0].tasks.load.state)"')" \
  "4 3 success"
eq "pause: 200" "$(trig -H "$AUTH" "$URL/api/dags/hello/pause")" "200"
eq "paused in the list" \
  "$(curl -s "$URL/api/dags" | jq -r '.dags[0].paused')" "true"
eq "paused in the store" "$(sql "SELECT paused FROM dags WHERE dag_id='hello'")" "1"
eq "unpause: 200" "$(trig -H "$AUTH" "$URL/api/dags/hello/unpause")" "200"
eq "unpaused in the list" \
  "$(curl -s "$URL/api/dags" | jq -r '.dags[0].paused')" "false"

# --- data quality --------------------------------------------------------
sql "INSERT INTO dq_results(run_pk, dag_id, logical_date, task_id, rule,
     severity, rows_checked, rows_failed, passed, samples, at)
     SELECT id, dag_id, logical_date, 'transform', 'not_null:cost', 'error',
     100, 2, 0, '[{\"line\":7}]', '2025-01-01T00:00:00Z' FROM runs
     WHERE logical_date='2025-01-01'"
eq "dq results of a run" \
  "$(curl -s "$URL/api/dags/hello/runs/2025-01-01/dq" | \
     jq -r '.results[0] | "\(.rule) \(.rows_failed) \(.passed) \(.samples[0].line)"')" \
  "not_null:cost 2 false 7"

# --- uploads -------------------------------------------------------------
printf 'id,cost\n1,0.10\n2,0.20\n' >"$TMP/cur.csv"
want=$(sha256sum "$TMP/cur.csv" | cut -d' ' -f1)
eq "raw upload: 201" \
  "$(trig -H "$AUTH" --data-binary @"$TMP/cur.csv" \
     "$URL/api/upload?name=cur.csv&dir=aws/year=2025/month=01")" "201"
eq "upload answers sha256" "$(jq -r .sha256 "$TMP/body")" "$want"
eq "upload answers size" "$(jq -r .size "$TMP/body")" "$(stat -c %s "$TMP/cur.csv")"
L="$COSTFLOW_HOME/landing"
check "uploaded file is in place" cmp -s "$TMP/cur.csv" "$L/aws/year=2025/month=01/cur.csv"
eq "multipart upload: 201" \
  "$(trig -H "$AUTH" -F "file=@$TMP/cur.csv;filename=gcp.csv" -F note=x \
     "$URL/api/upload")" "201"
check "multipart file is byte-identical" cmp -s "$TMP/cur.csv" "$L/gcp.csv"
eq "multipart sha256" "$(jq -r .sha256 "$TMP/body")" "$want"
eq "same name again: 409" \
  "$(trig -H "$AUTH" --data-binary @"$TMP/cur.csv" "$URL/api/upload?name=gcp.csv")" "409"
eq "overwrite=1 replaces: 201" \
  "$(trig -H "$AUTH" --data-binary @"$TMP/cur.csv" \
     "$URL/api/upload?name=gcp.csv&overwrite=1")" "201"
for name in '../evil.csv' '..%2Fevil.csv' '%2Fetc%2Fpasswd' '.hidden.csv' \
            'a%5Cb.csv' 'x.part' 'a%00b.csv' ''; do
  eq "upload name '$name' refused" \
    "$(trig -H "$AUTH" --data-binary x "$URL/api/upload?name=$name")" "400"
done
for dir in '..' 'a/../b' '/abs' '.git' 'a//b'; do
  eq "upload dir '$dir' refused" \
    "$(trig -H "$AUTH" --data-binary x "$URL/api/upload?name=ok.csv&dir=$dir")" "400"
done
eq "upload name that is not UTF-8 refused" \
  "$(trig -H "$AUTH" --data-binary x "$URL/api/upload?name=a%FF.csv")" "400"
eq "X-Filename that is not UTF-8 refused" \
  "$(trig -H "$AUTH" -H "X-Filename: $(printf 'b\376.csv')" --data-binary x \
     "$URL/api/upload")" "400"
eq "multipart filename that is not UTF-8 refused" \
  "$(trig -H "$AUTH" -F "file=@$TMP/cur.csv;filename=$(printf 'c\377.csv')" \
     "$URL/api/upload")" "400"
check "no file with a non-UTF-8 name was stored" \
  test -z "$(find "$L" -maxdepth 1 -name '[abc]?.csv' -o -maxdepth 1 -name 'a?.csv')"
eq "UTF-8 file name is fine: 201" \
  "$(trig -H "$AUTH" --data-binary x "$URL/api/upload?name=%C3%A9t%C3%A9.csv")" \
  "201"
eq "its stored path is in the answer" "$(jq -r .relative_path "$TMP/body")" \
  "été.csv"
eq "multipart traversal filename refused" \
  "$(trig -H "$AUTH" -F "file=@$TMP/cur.csv;filename=../../x.csv" "$URL/api/upload")" "400"
check "nothing escaped the landing folder" test ! -e "$COSTFLOW_HOME/x.csv"
# a multipart body trickled in 5-byte writes: boundaries split across reads
{ printf -- '--bNd\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
  printf -- 'hello\r\n--bNd\r\nContent-Disposition: form-data; name="f"; '
  printf -- 'filename="slow.csv"\r\nContent-Type: text/csv\r\n\r\n'
  cat "$TMP/cur.csv"; printf -- '\r\n--b\r\n--bN\r\n'
  printf -- '\r\n--bNd--\r\n'; } >"$TMP/mp.body"
# the file part holds cur.csv plus "\r\n--b\r\n--bN\r\n" (near-boundaries)
{ cat "$TMP/cur.csv"; printf -- '\r\n--b\r\n--bN\r\n'; } >"$TMP/mp.want"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /api/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=bNd\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' \
  "$TOKEN" "$(stat -c %s "$TMP/mp.body")" >&3
len=$(stat -c %s "$TMP/mp.body")
for ((off = 0; off < len; off += 5)); do
  tail -c +$((off + 1)) "$TMP/mp.body" | head -c 5 >&3
  sleep 0.002
done
slow=$(timeout 5 cat <&3 | tr -d '\r')
exec 3<&- 3>&-
contains "trickled multipart upload: 201" "$slow" "HTTP/1.1 201"
check "trickled multipart file is exact" cmp -s "$TMP/mp.want" "$L/slow.csv"
head -c 70000 /dev/urandom >"$TMP/big.bin"
eq "upload over --max-upload: 413" \
  "$(trig -H "$AUTH" --data-binary @"$TMP/big.bin" "$URL/api/upload?name=big.bin")" "413"
eq "chunked upload over the cap: 413" \
  "$(trig -H "$AUTH" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big.bin" \
     "$URL/api/upload?name=big2.bin")" "413"
check "no partial or temp files left" \
  test -z "$(find "$L" -name '.upload-*' -o -name 'big*')"

# --- oversized and malformed requests ----------------------------------
head -c 5000 /dev/zero | tr '\0' 'a' >"$TMP/5k"
eq "JSON body over --max-body: 413" \
  "$(trig -H "$AUTH" --data-binary @"$TMP/5k" "$URL/api/dags/hello/runs")" "413"
eq "chunked JSON body over --max-body: 413" \
  "$(trig -H "$AUTH" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/5k" \
     "$URL/api/dags/hello/runs")" "413"
eq "413 body is JSON" "$(jq -r 'has("error")' "$TMP/body")" "true"
printf 'GARBAGE\r\n\r\n' >"$TMP/r1"
contains "garbage request line: 400" "$(raw "$TMP/r1")" "HTTP/1.1 400"
contains "400 carries a JSON error" "$(raw "$TMP/r1")" '{"error":"malformed request'
printf 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n' >"$TMP/r2"
contains "header without colon: 400" "$(raw "$TMP/r2")" "HTTP/1.1 400"
{ printf 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 20000 /dev/zero | tr '\0' 'b'; printf '\r\n\r\n'; } >"$TMP/r3"
contains "headers over 16 KiB: 431" "$(raw "$TMP/r3")" "HTTP/1.1 431"
{ printf 'GET /'; head -c 17000 /dev/zero | tr '\0' 'u'; printf ' HTTP/1.1\r\n\r\n'; } >"$TMP/r4"
contains "URL over 16 KiB: 4xx" "$(raw "$TMP/r4")" "HTTP/1.1 4"
{ printf 'GET / HTTP/1.1\r\n'; for i in $(seq 100); do printf 'X-H%d: v\r\n' "$i"; done; printf '\r\n'; } >"$TMP/r5"
contains "too many headers: 431" "$(raw "$TMP/r5")" "HTTP/1.1 431"
printf 'GET /api/dags HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n' >"$TMP/r11"
contains "two Host headers: 400" "$(raw "$TMP/r11")" \
  '{"error":"more than one Host header"}'
printf 'GET /%%00 HTTP/1.1\r\nHost: x\r\n\r\n' >"$TMP/r6"
contains "NUL in the path: 400" "$(raw "$TMP/r6")" "HTTP/1.1 400"
printf 'POST /api/dags/hello/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' >"$TMP/r7"
contains "Content-Length with chunked: 400" "$(raw "$TMP/r7")" "HTTP/1.1 400"
printf 'POST /api/dags/hello/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n' >"$TMP/r8"
contains "huge Content-Length: refused before reading" "$(raw "$TMP/r8")" "HTTP/1.1 4"
head -c 100000 /dev/urandom >"$TMP/r9"
raw "$TMP/r9" >/dev/null
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$TMP/r10"
eq "pipelined requests get two answers" \
  "$(raw "$TMP/r10" | grep -c '^HTTP/1.1 200')" "2"
eq "keep-alive reuses one connection" \
  "$(curl -sv "$URL/healthz" "$URL/healthz" 2>&1 | grep -c 'Re-using\|Reusing')" "1"
# a little fuzzing: random bytes and mutated requests must never kill it
printf 'POST /api/upload?name=f.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 120\r\n\r\n--XyZ\r\nContent-Disposition: form-data; name="f"; filename="f.csv"\r\n\r\nab\r\n--XyZ--\r\n' "$TOKEN" >"$TMP/seed"
for i in $(seq 60); do
  case $((i % 3)) in
    0) head -c $((RANDOM % 3000 + 1)) /dev/urandom >"$TMP/fz" ;;
    1) { head -c $((RANDOM % 200)) "$TMP/seed"; head -c $((RANDOM % 64)) /dev/urandom; } >"$TMP/fz" ;;
    2) { head -c $((RANDOM % 300)) "$TMP/seed"; printf '\r\n\r\n'; } >"$TMP/fz" ;;
  esac
  RAW_WAIT=0.3 raw "$TMP/fz" >/dev/null 2>&1
done
eq "alive after 60 fuzzed requests" "$(curl -s "$URL/healthz" | jq -r .status)" "ok"
check "fuzzing left no temp upload files" \
  test -z "$(find "$L" -name '.upload-*')"
# slowloris: headers never finish -> 408 after --header-timeout
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&4
slow=$(timeout 5 cat <&4 | tr -d '\r' | head -1)
exec 4<&- 4>&-
eq "slow headers are cut off with 408" "$slow" "HTTP/1.1 408 Request Timeout"
exec 4<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /api/dags/hello/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{"da' "$TOKEN" >&4
slow=$(timeout 5 cat <&4 | tr -d '\r' | head -1)
exec 4<&- 4>&-
eq "a stalled body is cut off with 408" "$slow" "HTTP/1.1 408 Request Timeout"
# connection cap: 25 idle connections against --max-conns 20
for i in $(seq 25); do eval "exec $((i + 10))<>/dev/tcp/127.0.0.1/$PORT"; done
sleep 0.3
capped=$(timeout 2 cat <&35 | tr -d '\r' | head -1)
for i in $(seq 25); do eval "exec $((i + 10))<&- $((i + 10))>&-"; done
eq "connections over the cap get 503" "$capped" "HTTP/1.1 503 Service Unavailable"
sleep 1.2
eq "server still healthy after the abuse" \
  "$(curl -s "$URL/healthz" | jq -r .status)" "ok"

# --- costs ---------------------------------------------------------------
eq "costs without a warehouse: 503" "$(status_of "$URL/api/costs/daily")" "503"
contains "503 says what is missing" "$(jq -r .error "$TMP/body")" "no gold warehouse"
bash "$CF_SOURCE_DIR/tests/web/seed-warehouse.sh" "$COSTFLOW_HOME/warehouse.db"
curl -s "$URL/api/costs/daily?by=provider&from=2025-01-01&to=2025-01-30" >"$TMP/c"
eq "daily by provider: three providers" \
  "$(jq -r '[.series[].provider] | sort | join(",")' "$TMP/c")" "aws,azure,gcp"
eq "money is exact: 0.1 + 0.2 = 0.3" \
  "$(jq -r '.series[] | select(.provider=="azure") | .total' "$TMP/c")" "0.3"
eq "amounts are strings" "$(jq -r '.series[0].total | type' "$TMP/c")" "string"
want_total=$(sqlite3 "$COSTFLOW_HOME/warehouse.db" \
  "SELECT printf('%.6f', sum(CAST(billed_cost AS REAL))) FROM fact_daily_cost WHERE provider='aws'")
got_total=$(jq -r '.series[] | select(.provider=="aws") | .total' "$TMP/c")
eq "aws total matches an independent sum" \
  "$(printf '%.6f' "$got_total")" "$want_total"
eq "daily by service: top service" \
  "$(curl -s "$URL/api/costs/daily?by=service&limit=3" | jq -r '.series[0].key + " " + (.other_series|tostring)')" \
  "AmazonEC2 6"
eq "one currency: total is the one amount, totals has it" \
  "$(jq -r '[.total, (.totals | keys | join(","))] | join(" ")' "$TMP/c")" \
  "$(jq -r '.totals.USD' "$TMP/c") USD"
# a NOK day beside the USD ones: never added together
sqlite3 "$COSTFLOW_HOME/warehouse.db" "INSERT INTO fact_daily_cost SELECT
  usage_date, provider, billing_account_id, sub_account_id, service_name,
  service_category, region_id, 'NOK', '30', effective_cost, list_cost,
  credit_cost, usage_quantity, row_count, partition_version FROM fact_daily_cost
  WHERE provider='aws' LIMIT 1"
curl -s "$URL/api/costs/summary?from=2025-01-01&to=2025-01-30" >"$TMP/c2"
eq "two currencies: no single total" "$(jq -r '.total' "$TMP/c2")" "null"
eq "... totals per currency, NOK apart" "$(jq -r '.totals.NOK' "$TMP/c2")" "30"
eq "... USD total as before" "$(jq -r '.totals.USD' "$TMP/c2")" \
  "$(jq -r '.totals.USD' "$TMP/c")"
sqlite3 "$COSTFLOW_HOME/warehouse.db" "DELETE FROM fact_daily_cost WHERE currency='NOK'"
eq "bad grouping: 400" "$(status_of "$URL/api/costs/daily?by=color")" "400"
eq "costs limit that is not a number: 400" \
  "$(status_of "$URL/api/costs/anomalies?limit=ten")" "400"
eq "top-services limit that is not a number: 400" \
  "$(status_of "$URL/api/costs/top-services?limit=5x")" "400"
eq "inverted range: 400" \
  "$(status_of "$URL/api/costs/daily?from=2025-02-01&to=2025-01-01")" "400"
eq "top services" \
  "$(curl -s "$URL/api/costs/top-services" | jq -r '.services[0] | "\(.rank) \(.service) \(.billed_cost)"')" \
  "1 AmazonEC2 12367.50"
eq "anomalies newest first" \
  "$(curl -s "$URL/api/costs/anomalies" | jq -r '[.anomalies[].service] | join(",")')" \
  "BigQuery,AmazonEC2"
eq "zombies with their cost" \
  "$(curl -s "$URL/api/costs/zombies" | jq -r '.zombies[0] | .resource_id + " " + .cost')" \
  "vol-0abc123 18.240000"
eq "summary counts anomalies" \
  "$(curl -s "$URL/api/costs/summary" | jq -r .anomalies)" "2"

# --- metrics -------------------------------------------------------------
curl -s -D "$TMP/mh" "$URL/metrics" >"$TMP/metrics"
contains "metrics content type" "$(cat "$TMP/mh")" "text/plain; version=0.0.4"
contains "runs by state" "$(cat "$TMP/metrics")" \
  'costflow_dag_runs{dag="hello",state="success"} 4'
contains "histogram +Inf bucket" "$(cat "$TMP/metrics")" \
  'costflow_dagrun_duration_seconds_bucket{dag="hello",state="success",le="+Inf"} 4'
contains "import errors gauge" "$(cat "$TMP/metrics")" "costflow_dag_import_errors 1"
eq "every sample has a TYPE line" \
  "$(awk '/^# TYPE/{t[$3]=1} !/^#/{n=$1; sub(/[{ ].*/,"",n); b=n; sub(/_(bucket|sum|count)$/,"",b); if(!(n in t)&&!(b in t)) bad++} END{print bad+0}' "$TMP/metrics")" "0"
if command -v promtool >/dev/null; then
  check "promtool accepts /metrics" promtool check metrics <"$TMP/metrics"
fi
check "web exits cleanly on SIGTERM" stop_web

# --- --auth-reads, --no-auth --------------------------------------------
start_web reads --auth-reads
eq "--auth-reads: reads need the token" "$(status_of "$URL/api/dags")" "401"
eq "--auth-reads: with the token" "$(status_of -H "$AUTH" "$URL/api/dags")" "200"
eq "--auth-reads: healthz stays open" "$(status_of "$URL/healthz")" "200"
eq "token is not printed again" "$(grep -c "$TOKEN" "$TMP/reads.log")" "0"
# DNS rebinding: evil.example resolves to 127.0.0.1, so a page of it sends
# Host and Origin naming evil.example; the Origin check alone passes that
stop_web
start_web rebind
eq "open read with a foreign Host on a loopback server: 403" \
  "$(status_of -H "Host: evil.example:$PORT" "$URL/api/dags")" "403"
eq "its answer is a JSON error" "$(jq -r 'has("error")' "$TMP/body")" "true"
eq "a name that merely starts with 127.: 403" \
  "$(status_of -H "Host: 127.0.0.1.evil.example" "$URL/api/costs/summary")" \
  "403"
eq "Host localhost: 200" \
  "$(status_of -H "Host: localhost:$PORT" "$URL/api/dags")" "200"
eq "Host [::1]: 200" "$(status_of -H "Host: [::1]:$PORT" "$URL/api/dags")" "200"
eq "a foreign Host with the token: 200 (the page cannot have it)" \
  "$(status_of -H "Host: evil.example" -H "$AUTH" "$URL/api/dags")" "200"
eq "the UI itself stays open to any Host" \
  "$(status_of -H "Host: evil.example" "$URL/")" "200"
stop_web
# a reverse proxy that forwards its public name: named by the operator
start_web proxied --allowed-host costs.example.com,other.example
eq "--allowed-host: that Host is answered" \
  "$(status_of -H "Host: costs.example.com" "$URL/api/dags")" "200"
eq "--allowed-host: with a port too" \
  "$(status_of -H "Host: other.example:443" "$URL/api/dags")" "200"
eq "--allowed-host: a name that only starts like it: 403" \
  "$(status_of -H "Host: costs.example.com.evil.example" "$URL/api/dags")" "403"
eq "--allowed-host: others still 403" \
  "$(status_of -H "Host: evil.example" "$URL/api/dags")" "403"
stop_web
expect_exit 2 "--allowed-host that is not a host list: usage error" \
  "$COSTFLOW" --dags "$D" web --allowed-host 'a b'
start_web noauth --no-auth
eq "--no-auth: trigger from a rebound page: 403" \
  "$(trig -H "Host: evil.example:$PORT" -H "Origin: http://evil.example:$PORT" \
     "$URL/api/dags/hello/runs" -d '{"date":"2025-03-01"}')" "403"
eq "--no-auth: rerun from a rebound page: 403" \
  "$(trig -H "Host: evil.example:$PORT" -H "Origin: http://evil.example:$PORT" \
     "$URL/api/dags/hello/runs/2025-01-01/rerun" -d '{}')" "403"
eq "--no-auth: pause from a rebound page: 403" \
  "$(trig -H "Host: evil.example:$PORT" "$URL/api/dags/hello/pause")" "403"
eq "the refused requests changed nothing" \
  "$(sql "SELECT count(*) FROM runs WHERE logical_date='2025-03-01'")|$(sql \
     "SELECT paused FROM dags WHERE dag_id='hello'")|$(sql \
     "SELECT count(*) FROM runs WHERE logical_date='2025-01-01' AND state<>'success'")" \
  "0|0|0"
eq "--no-auth: pause from the real origin: 200" \
  "$(trig -H "Origin: $URL" "$URL/api/dags/hello/pause")" "200"
eq "--no-auth: unpause: 200" "$(trig "$URL/api/dags/hello/unpause")" "200"
stop_web
expect_exit 2 "--no-auth on a non-loopback address is refused" \
  "$COSTFLOW" --dags "$D" web --no-auth --listen 0.0.0.0:0
contains "refusal says why" "$(cat "$TMP/err")" "without a token"
chmod 644 "$TOKEN_FILE"
expect_exit 2 "a world-readable token file is refused" \
  "$COSTFLOW" --dags "$D" web --listen 127.0.0.1:0
chmod 600 "$TOKEN_FILE"
finish
