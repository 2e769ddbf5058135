#!/bin/bash
# A fake clock (--now, --speed 36000: ten hours a second) steps the real
# daemon through the DST days of New York and London; every fire instant
# its timers pass is recorded as a `tick` event. Expected instants follow
# the cronie rules in include/costflow/cron.h (docs/cron.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sched-lib.sh"

mkdag() { # dir id schedule zone
  cat >"$1/$2.yaml" <<YAML
dag: $2
schedule: "$3"
timezone: $4
tasks:
  t: {plugin: noop}
YAML
}

# window NAME ZONE START: a home + DAGs folder, daemon started at START
pids=()
window() {
  local name=$1 zone=$2 start=$3
  mkdir -p "$TMP/$name/dags"
  mkdag "$TMP/$name/dags" hourly "0 * * * *" "$zone"
  mkdag "$TMP/$name/dags" at0130 "30 1 * * *" "$zone"
  mkdag "$TMP/$name/dags" at0230 "30 2 * * *" "$zone"
  "$COSTFLOW" --home "$TMP/$name/home" --dags "$TMP/$name/dags" scheduler \
    --now "$start" --speed 36000 2>"$TMP/$name/log" &
  pids+=($!)
  ALL_PIDS+=($!)
}
window nys America/New_York 2025-03-08T12:00:00Z
window nyf America/New_York 2025-11-01T12:00:00Z
window lns Europe/London 2025-03-29T12:00:00Z
window lnf Europe/London 2025-10-25T12:00:00Z

wsql() { sqlite3 -cmd ".timeout 5000" "$TMP/$1/home/costflow.db" "$2" 2>/dev/null; }
ticks() { # window dag local_date -> "count|fire,fire..."
  wsql "$1" "SELECT count(*)||'|'||coalesce(group_concat(f),'') FROM (SELECT json_extract(detail,'\$.fire') f FROM events WHERE kind='tick' AND dag_id='$2' AND json_extract(detail,'\$.local_date')='$3' ORDER BY 1)"
}
passed_day() { # window next_local_date: the hourly timer reached it
  [ "$(wsql "$1" "SELECT count(*) FROM events WHERE kind='tick' AND dag_id='hourly' AND json_extract(detail,'\$.local_date')='$2'")" -ge 8 ]
}
check "NY spring window passed 03-09" wait_for 20 passed_day nys 2025-03-10
check "NY fall window passed 11-02" wait_for 20 passed_day nyf 2025-11-03
check "London spring window passed 03-30" wait_for 20 passed_day lns 2025-03-31
check "London fall window passed 10-26" wait_for 20 passed_day lnf 2025-10-27
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p"; eq "daemon $p exits 0 on SIGTERM" "$?" "0"; done

eq "NY 03-09: hourly fires 23 times" "$(ticks nys hourly 2025-03-09 | cut -d'|' -f1)" "23"
eq "NY 03-09: 02:30 falls in the gap, fires once at 03:00 EDT" \
  "$(ticks nys at0230 2025-03-09)" "1|2025-03-09T07:00:00Z"
eq "NY 03-09: 01:30 EST fires once" "$(ticks nys at0130 2025-03-09)" "1|2025-03-09T06:30:00Z"
eq "NY 11-02: hourly fires 25 times" "$(ticks nyf hourly 2025-11-02 | cut -d'|' -f1)" "25"
eq "NY 11-02: 01:30 repeats, fires only at the first (EDT)" \
  "$(ticks nyf at0130 2025-11-02)" "1|2025-11-02T05:30:00Z"
eq "NY 11-02: 02:30 EST fires once" "$(ticks nyf at0230 2025-11-02)" "1|2025-11-02T07:30:00Z"
eq "London 03-30: hourly fires 23 times" "$(ticks lns hourly 2025-03-30 | cut -d'|' -f1)" "23"
eq "London 03-30: 01:30 in the gap fires at 02:00 BST" \
  "$(ticks lns at0130 2025-03-30)" "1|2025-03-30T01:00:00Z"
eq "London 10-26: hourly fires 25 times" "$(ticks lnf hourly 2025-10-26 | cut -d'|' -f1)" "25"
eq "London 10-26: 01:30 fires once, at the first (BST)" \
  "$(ticks lnf at0130 2025-10-26)" "1|2025-10-26T00:30:00Z"
for w in nys nyf lns lnf; do
  eq "$w: no logical date has two runs" \
    "$(wsql $w "SELECT count(*) FROM (SELECT 1 FROM runs GROUP BY dag_id, logical_date HAVING count(*) > 1)")" "0"
  eq "$w: every run succeeded" "$(wsql $w "SELECT count(*) FROM runs WHERE state<>'success'")" "0"
done
# the daily run for the DST day itself is created when its interval ends
eq "NY spring: 02:30 DAG ran 03-07 (at start), 03-08 and 03-09" \
  "$(wsql nys "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs WHERE dag_id='at0230' AND logical_date <= '2025-03-09' ORDER BY 1)")" \
  "2025-03-07,2025-03-08,2025-03-09"
eq "NY fall: 01:30 DAG ran 10-31, 11-01 and 11-02 once each" \
  "$(wsql nyf "SELECT group_concat(logical_date) FROM (SELECT logical_date FROM runs WHERE dag_id='at0130' AND logical_date <= '2025-11-02' ORDER BY 1)")" \
  "2025-10-31,2025-11-01,2025-11-02"
finish
