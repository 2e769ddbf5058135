#!/usr/bin/env bash
# `costflow schedule next` against the cron conformance tables in
# tests/data/cron/*.tsv, plus usage, exit codes and error messages.
set -euo pipefail

: "${COSTFLOW:?set COSTFLOW to the costflow binary}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=${CF_SOURCE_DIR:-$here/../..}/tests/data/cron
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); printf 'FAIL: %s\n' "$*" >&2; }

# run EXPECTED_RC ARGS...: sets $out, $err, $rc.
run() {
  local want=$1
  shift
  rc=0
  out=$("$COSTFLOW" schedule "$@" 2>"$tmp/err") || rc=$?
  err=$(cat "$tmp/err")
  [[ $rc == "$want" ]]
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Conformance tables: expr<TAB>zone<TAB>from<TAB>expected, where expected
# is space-separated instants, NEVER, or "ERROR <message substring>".
for table in "$data"/*.tsv; do
  while IFS=$'\t' read -r expr zone from expect; do
    [[ -z $expr || $expr == \#* ]] && continue
    name="$(basename "$table"): '$expr' $zone $from"
    if [[ $expect == NEVER ]]; then
      if run 1 next --cron "$expr" --tz "$zone" --from "$from" &&
         [[ -z $out ]]; then ok; else bad "$name: want exit 1 and no output,"\
        "got $rc: $out"; fi
    elif [[ $expect == ERROR* ]]; then
      msg=${expect#ERROR }
      if run 2 next --cron "$expr" --tz "$zone" --from "$from" &&
         [[ -z $out && $err == "costflow: "*"$msg"* ]]; then ok
      else bad "$name: want exit 2 and '$msg', got $rc: $err"; fi
    else
      read -r -a want <<<"$expect"
      if run 0 next --cron "$expr" --tz "$zone" --from "$from" \
           --count "${#want[@]}" &&
         [[ $out == "$(printf '%s\n' "${want[@]}")" ]]; then ok
      else bad "$name: got ($rc) $(echo $out)"; fi
    fi
  done <"$table"
done

# Usage and defaults.
if run 0 --help && [[ $out == usage:* ]]; then ok; else bad "--help"; fi
if run 2 next && [[ $err == *"--cron EXPR is required"* ]]; then ok
else bad "missing --cron: $err"; fi
if run 2 --cron '* * * * *'; then ok; else bad "missing 'next': $rc"; fi
if run 2 next --cron '* * * * *' --bogus; then ok; else bad "--bogus"; fi
if run 2 next --cron '* * * * *' --count 0 &&
   [[ $err == *"--count"* ]]; then ok; else bad "--count 0: $err"; fi
if run 0 next --cron '0 0 1 1 *' --from 2025-06-01 &&
   [[ $out == 2026-01-01T00:00:00Z ]]; then ok
else bad "default tz UTC, default count 1: $out"; fi
if run 0 next --cron '* * * * *' &&
   [[ $out =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00Z$ ]]; then ok
else bad "default --from now: $out"; fi
if run 0 next --cron '@daily' --tz Asia/Kolkata \
     --from 2025-06-01T00:00:00+05:30 --count 2 &&
   [[ $out == $'2025-06-01T18:30:00Z\n2025-06-02T18:30:00Z' ]]; then ok
else bad "offset --from: $out"; fi
for z in ../etc/passwd /etc/localtime Europe/../../etc/passwd zone.tab; do
  if run 2 next --cron '* * * * *' --tz "$z" &&
     [[ $err == *"time zone"* ]]; then ok; else bad "zone $z: $rc $err"; fi
done
if run 2 next --cron '* * * * *' --tz Mars/Olympus_Mons &&
   [[ $err == *"unknown zone"* ]]; then ok; else bad "unknown zone: $err"; fi
for f in 2025-13-01 2025-02-30T00:00Z 2025-06-01T12:00 yesterday; do
  if run 2 next --cron '* * * * *' --from "$f" &&
     [[ $err == *"--from"* ]]; then ok; else bad "--from $f: $rc $err"; fi
done
# A tzdata-less UTC still works.
if TZDIR=/nonexistent run 0 next --cron '@hourly' --from 2025-01-01 &&
   [[ $out == 2025-01-01T01:00:00Z ]]; then ok
else bad "UTC without tzdata: $out $err"; fi
# Many fires of a leap-day schedule stay bounded and exact.
leap=$'2096-02-29T00:00:00Z\n2104-02-29T00:00:00Z\n2108-02-29T00:00:00Z'
if run 0 next --cron '0 0 29 2 *' --from 2096-01-01 --count 3 &&
   [[ $out == "$leap" ]]; then ok; else bad "leap days: $out"; fi

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
