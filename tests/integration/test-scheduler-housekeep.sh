#!/bin/bash
# Deadlines (one deadline-miss notification per date: an event and an
# outbox line) and retention (old runs, attempts, logs, sensor records and
# events pruned; the newest run of each DAG kept).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"
OUT="$COSTFLOW_HOME/outbox/notifications.jsonl"
# a loopback webhook sink: the DAG's notify target
HOOK_PORT=$((20000 + RANDOM % 20000))
HOOK_OUT="$TMP/hook.jsonl"
python3 - "$HOOK_PORT" "$HOOK_OUT" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with open(sys.argv[2], 'ab') as f:
            f.write(body + b'\n')
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'ok')
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
ALL_PIDS+=($!)
# and a loopback SMTP sink: each message's envelope and data, appended
SMTP_PORT=$((20000 + RANDOM % 20000))
while [ "$SMTP_PORT" = "$HOOK_PORT" ]; do SMTP_PORT=$((20000 + RANDOM % 20000)); done
SMTP_OUT="$TMP/smtp.txt"
python3 - "$SMTP_PORT" "$SMTP_OUT" <<'PY' &
import socketserver, sys
class H(socketserver.StreamRequestHandler):
    def handle(self):
        say = lambda s: self.wfile.write(s.encode() + b'\r\n')
        say('220 sink ESMTP')
        msg = []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors='replace').rstrip('\r\n')
            up = cmd.upper()
            if up.startswith('EHLO') or up.startswith('HELO'):
                say('250 sink')
            elif up.startswith('MAIL') or up.startswith('RCPT'):
                msg.append(cmd)
                say('250 ok')
            elif up == 'DATA':
                say('354 go on')
                while True:
                    l = self.rfile.readline().decode(errors='replace')
                    if l in ('.\r\n', '.\n', ''):
                        break
                    msg.append(l.rstrip('\r\n'))
                with open(sys.argv[2], 'a') as f:
                    f.write('\n'.join(msg) + '\n--end--\n')
                msg = []
                say('250 queued')
            elif up == 'QUIT':
                say('221 bye')
                return
            else:
                say('250 ok')
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
ALL_PIDS+=($!)
cat >"$D/late.yaml" <<YAML
dag: late
schedule: "30 6 * * *"
start_date: 2025-03-01
deadline: "08:00"
params: {cc: cc@example.com}
tasks:
  t: {plugin: fail}
  alert:
    plugin: notify
    depends_on: [t]
    trigger_rule: one_failed
    params:
      mode: failure
      smtp_url: "smtp://127.0.0.1:$SMTP_PORT"
      smtp_require_tls: false
      mail_from: costflow@example.com
      mail_to: [oncall@example.com, finops@example.com, "{{ params.cc }}"]
  page:
    plugin: notify
    depends_on: [t]
    trigger_rule: one_failed
    # both set: webhook_url wins, for the plugin and the daemon alike
    params: {mode: failure, webhook_url: "http://127.0.0.1:$HOOK_PORT/hook",
             webhook_url_env: HOOK_ELSEWHERE}
YAML
export HOOK_ELSEWHERE="http://127.0.0.1:1/nowhere"
cat >"$D/ontime.yaml" <<'YAML'
dag: ontime
schedule: "30 6 * * *"
start_date: 2025-03-01
deadline: "08:00"
tasks:
  t: {plugin: noop}
YAML
sched_once() { "$COSTFLOW" --dags "$D" scheduler --once --now "$1" 2>>"$DLOG"; }
check "07:00: runs for 03-01 are created and driven" sched_once 2025-03-02T07:00:00Z
eq "before the deadline nothing is sent" "$(cat "$OUT" 2>/dev/null | wc -l)" "0"
check "09:00: deadline passed" sched_once 2025-03-02T09:00:00Z
eq "one notification" "$(wc -l <"$OUT")" "1"
eq "for the DAG whose run failed" "$(jq -r .dag "$OUT")" "late"
eq "naming the date and state" "$(jq -r '.logical_date + " " + .state + " " + .kind' "$OUT")" "2025-03-01 failed deadline_miss"
eq "deadline instant" "$(jq -r .deadline "$OUT")" "2025-03-02T08:00:00Z"
eq "recorded as an event" "$(sql "SELECT count(*) FROM events WHERE kind='deadline_miss'")" "1"
eq "the DAG's webhook got the deadline miss" \
  "$(grep -c 'had not succeeded by its deadline' "$HOOK_OUT" 2>/dev/null)" "1"
contains "as a JSON text message" "$(grep deadline "$HOOK_OUT" | jq -r .text)" "late: the run for 2025-03-01"
eq "the DAG's SMTP recipients got it by mail" \
  "$(grep -c 'had not succeeded by its deadline' "$SMTP_OUT" 2>/dev/null)" "1"
contains "under a subject naming the DAG" "$(cat "$SMTP_OUT")" "Subject: [costflow] late: deadline missed"
contains "addressed to both recipients" "$(cat "$SMTP_OUT")" "RCPT TO:<finops@example.com>"
eq "and never to a recipient that is still a template" "$(grep -c '{{' "$SMTP_OUT")" "0"
check "09:30: checked again" sched_once 2025-03-02T09:30:00Z
eq "still one notification (sent once)" "$(wc -l <"$OUT")" "1"
eq "and one webhook message" "$(grep -c 'had not succeeded by its deadline' "$HOOK_OUT")" "1"
eq "and one mail" "$(grep -c 'had not succeeded by its deadline' "$SMTP_OUT")" "1"

# ---- retention -----------------------------------------------------------
D2="$TMP/dags2"
mkdir -p "$D2"
cat >"$D2/old.yaml" <<'YAML'
dag: old
tasks:
  t: {plugin: noop}
YAML
for d in 2025-01-01 2025-01-02 2025-01-03; do
  "$COSTFLOW" --dags "$D2" run old --date "$d" >/dev/null 2>&1
done
sql "INSERT INTO sensor_files(dag_id,path,size,mtime_us,sha256,logical_date,run_pk,seen_at) VALUES('old','/x',1,1,'ab','2025-01-01',1,'2025-01-01T00:00:00.000Z')"
check "old logs exist" test -d "$COSTFLOW_HOME/logs/old/2025-01-01"
"$COSTFLOW" --dags "$D2" scheduler --once --retention 30 2>>"$DLOG"
eq "nothing is pruned inside the retention window" "$(sql "SELECT count(*) FROM runs WHERE dag_id='old'")" "3"
"$COSTFLOW" --dags "$D2" scheduler --once --retention 30 --now 2099-01-01T00:00:00Z 2>>"$DLOG"
eq "old runs pruned, the newest kept" \
  "$(sql "SELECT group_concat(logical_date) FROM runs WHERE dag_id='old'")" "2025-01-03"
eq "their task instances and attempts went too" \
  "$(sql "SELECT count(*) FROM task_instances WHERE run_pk NOT IN (SELECT id FROM runs)")|$(sql "SELECT count(*) FROM attempts WHERE ti_pk NOT IN (SELECT id FROM task_instances)")" "0|0"
eq "old sensor records pruned" "$(sql "SELECT count(*) FROM sensor_files WHERE dag_id='old'")" "0"
check "pruned log folders removed" wait_for 2 test ! -d "$COSTFLOW_HOME/logs/old/2025-01-01"
check "the kept run's logs stay" test -d "$COSTFLOW_HOME/logs/old/2025-01-03"
eq "deadline notifications are kept" "$(sql "SELECT count(*) FROM events WHERE kind='deadline_miss'")" "1"
contains "retention logged" "$(cat "$DLOG")" "retention: pruned 2 run(s)"
check "daemon logs are JSON lines" logs_are_json
finish
