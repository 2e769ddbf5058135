#!/usr/bin/env bash
# `costflow dags` against the DAG corpus: every file in tests/dags/bad/ must
# be refused quickly (exit 2) with the position and message its first line
# announces ("# expect: LINE:COL: MESSAGE"); every file in tests/dags/good/
# must validate. Also list/show/next and the generated hostile inputs.
set -euo pipefail
: "${COSTFLOW:?COSTFLOW must point at the costflow binary}"
: "${CF_SOURCE_DIR:?CF_SOURCE_DIR must point at the repository}"
export COSTFLOW_PLUGIN_PATH="${CF_TEST_PLUGIN_DIR:-}:${CF_PLUGIN_DIR:-}"
BAD="$CF_SOURCE_DIR/tests/dags/bad"
GOOD="$CF_SOURCE_DIR/tests/dags/good"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cf-dags-corpus.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# run CMD...: sets rc, out, err; a hostile input must finish in 10 s.
run() {
  rc=0
  timeout 10 "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  out=$(cat "$TMP/out")
  err=$(cat "$TMP/err")
}

# refused FILE "LINE:COL: MESSAGE": exit 2 and that diagnostic.
refused() {
  local file=$1 want=$2 name
  name=$(basename "$file")
  local pos=${want%%: *} msg=${want#*: }
  run "$COSTFLOW" dags validate "$file"
  if [ "$rc" = 124 ]; then bad "$name: timed out"; return; fi
  if [ "$rc" != 2 ]; then bad "$name: exit $rc, want 2"; return; fi
  if printf '%s\n' "$err" | grep -F -- "$file:$pos: error: " |
     grep -qF -- "$msg"; then
    ok "$name: $pos"
  else
    bad "$name: want '$file:$pos: error: ...$msg...' in:"
    printf '%s\n' "$err" | sed 's/^/    | /' | head -5
  fi
}

# ---- the malformed corpus -------------------------------------------------
nbad=0
for f in "$BAD"/*.yaml; do
  first=$(head -n 1 "$f")
  case "$first" in
    "# expect: "*) refused "$f" "${first#\# expect: }" ;;
    *) bad "$(basename "$f"): first line has no '# expect: ' comment" ;;
  esac
  nbad=$((nbad + 1))
done
if [ "$nbad" -ge 30 ]; then ok "corpus has $nbad bad files"; else
  bad "corpus has only $nbad bad files"; fi

# ---- generated hostile inputs ---------------------------------------------
# Over 1 MiB: refused by size before parsing.
{ echo "dag: big"; echo "tasks: {a: {plugin: noop}}";
  head -c 1100000 /dev/zero | tr '\0' '#'; echo; } >"$TMP/big.yaml"
refused "$TMP/big.yaml" "0:0: over the 1048576-byte limit for DAG files"

# A wide billion-laughs (aliases in every row) and a 100k-deep flow list.
{ echo "dag: lol"; echo 'a: &a ["lol","lol","lol","lol","lol","lol"]';
  for i in $(seq 1 40); do echo "l$i: &l$i [*a,*a,*a,*a,*a,*a,*a,*a]"; done
} >"$TMP/lol.yaml"
refused "$TMP/lol.yaml" "2:4: aliases/anchors are not allowed in DAG files"
{ printf 'dag: deep\np: '; head -c 100000 /dev/zero | tr '\0' '[';
  head -c 100000 /dev/zero | tr '\0' ']'; echo; } >"$TMP/deep.yaml"
refused "$TMP/deep.yaml" "2:67: nesting deeper than 64 levels"

# 200k list items: stopped by the node cap, not by memory.
{ echo "dag: wide"; printf 'p: ['; seq 200000 | sed 's/.*/1,/' | tr -d '\n';
  echo ']'; } >"$TMP/wide.yaml"
refused "$TMP/wide.yaml" "2:199995: too many YAML nodes (limit 100000)"

# A 5000-task cycle plus 20000 unknown dependencies: still quick.
seq 0 4999 | awk 'BEGIN { print "dag: hostile"; print "tasks:" }
  { printf "  t%d: {plugin: noop, depends_on: [t%d]}\n", $1,
           ($1 + 4999) % 5000 }
  END { printf "  x: {plugin: noop, depends_on: [u0"
        for (i = 1; i < 20000; i++) printf ",u%d", i; print "]}" }' \
  >"$TMP/bigcycle.yaml"
refused "$TMP/bigcycle.yaml" "3:35: cycle: t0 -> t1 -> t2 -> t3"

# UTF-16 with a BOM is not UTF-8.
printf '\xff\xfed\x00a\x00g\x00:\x00 \x00x\x00\n\x00' >"$TMP/utf16.yaml"
refused "$TMP/utf16.yaml" "1:1: file is not valid UTF-8 (byte 0xff)"

# Several problems in one file are all reported, sorted by position.
cat >"$TMP/many.yaml" <<'EOF'
dag: many
catchup: no
tasks:
  a: {plugin: noop, depends_on: [zz]}
  b: {plugin: sleep, retries: -1}
EOF
run "$COSTFLOW" dags validate "$TMP/many.yaml"
if [ "$rc" = 2 ] && [ "$(printf '%s\n' "$err" | grep -c ': error: ')" = 4 ]
then ok "every problem reported"; else
  bad "every problem reported (exit $rc)"; printf '%s\n' "$err"; fi

# ---- valid samples --------------------------------------------------------
for f in "$GOOD"/*.yaml "$GOOD"/*.yml; do
  run "$COSTFLOW" dags validate "$f"
  if [ "$rc" = 0 ] && printf '%s' "$out" | grep -q "^ok: $f (dag "; then
    ok "good $(basename "$f")"
  else
    bad "good $(basename "$f") (exit $rc)"; printf '%s\n' "$err" | head -5
  fi
done
run "$COSTFLOW" dags validate "$GOOD"
if [ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | grep -c '^ok: ')" -ge 4 ]
then ok "validate a folder"; else bad "validate a folder (exit $rc)"; fi
run "$COSTFLOW" dags validate "$GOOD/daily_shell.yaml" "$BAD/cycle-3.yaml"
if [ "$rc" = 2 ] && printf '%s' "$out" | grep -q '^ok: ' &&
   printf '%s' "$err" | grep -q 'cycle: a -> b -> c -> a'
then ok "one bad file fails the batch"; else bad "mixed batch (exit $rc)"; fi

# ---- list / show / next ---------------------------------------------------
mkdir -p "$TMP/dags"
cp "$GOOD"/*.y*ml "$TMP/dags/"
cp "$BAD/cycle-3.yaml" "$TMP/dags/broken.yaml"
cp "$GOOD/macro_hourly.yaml" "$TMP/dags/zz_copy.yaml"
run "$COSTFLOW" --dags "$TMP/dags" dags list
if [ "$rc" = 0 ] && printf '%s' "$out" | grep -q '^daily_shell ' &&
   printf '%s' "$err" | grep -q 'broken.yaml:4:34: error: cycle' &&
   printf '%s' "$err" | grep -q "duplicate dag id 'macro_hourly'"
then ok "list shows DAGs and import errors"; else
  bad "list (exit $rc)"; printf '%s\n%s\n' "$out" "$err" | head; fi
run "$COSTFLOW" --dags "$TMP/dags" dags list --json
ngood=$(find "$GOOD" -maxdepth 1 \( -name '*.yaml' -o -name '*.yml' \) | wc -l)
if [ "$rc" = 0 ] &&
   [ "$(printf '%s' "$out" | jq '.dags | length')" = "$ngood" ] &&
   [ "$(printf '%s' "$out" | jq -r '.import_errors[0].line')" = 4 ]
then ok "list --json"; else bad "list --json (exit $rc)"; fi

run "$COSTFLOW" --dags "$TMP/dags" dags show daily_shell
order=$(printf '%s\n' "$out" | awk '/^TASK/{t=1;next} t{print $1}' |
        tr '\n' ' ')
if [ "$rc" = 0 ] && [ "$order" = "check_data_availability extract wait load \
notify_failure " ]; then ok "show in topological order"; else
  bad "show: '$order' (exit $rc)"; fi
run "$COSTFLOW" --dags "$TMP/dags" dags show "$GOOD/daily_shell.yaml" --json
if [ "$rc" = 0 ] &&
   [ "$(printf '%s' "$out" | jq -r '.tasks[3].id + " " + .tasks[3].pool')" \
     = "load warehouse" ] &&
   [ "$(printf '%s' "$out" | jq -r '.tasks[4].trigger_rule')" = one_failed ]
then ok "show --json"; else bad "show --json (exit $rc)"; fi

run "$COSTFLOW" --dags "$TMP/dags" dags next daily_shell --count 3 \
  --from 2025-03-01T07:00:00Z
want="FIRES (UTC)            LOGICAL_DATE
2025-03-02T06:30:00Z   2025-03-01
2025-03-03T06:30:00Z   2025-03-02
2025-03-04T06:30:00Z   2025-03-03"
if [ "$rc" = 0 ] && [ "$out" = "$want" ]; then ok "next"; else
  bad "next (exit $rc):"; printf '%s\n' "$out"; fi
# Before start_date the first run is the one for start_date.
run "$COSTFLOW" --dags "$TMP/dags" dags next weekly_tz --count 2 \
  --from 2024-06-01 --json
if [ "$rc" = 0 ] && [ "$(printf '%s' "$out" |
     jq -r '[.runs[] | .fires_at + "/" + .logical_date] | join(" ")')" = \
     "2025-01-13T07:00:00Z/2025-01-06 2025-01-20T07:00:00Z/2025-01-13" ]
then ok "next respects start_date and zone"; else
  bad "next --json (exit $rc)"; printf '%s\n' "$out"; fi
run "$COSTFLOW" --dags "$TMP/dags" dags next file_drop
if [ "$rc" = 1 ]; then ok "next without schedule exits 1"; else
  bad "next without schedule: exit $rc"; fi
run "$COSTFLOW" --dags "$TMP/dags" dags show no_such_dag
if [ "$rc" = 2 ]; then ok "show unknown DAG exits 2"; else
  bad "show unknown DAG: exit $rc"; fi

# ---- usage ----------------------------------------------------------------
for sub in "" validate list show next; do
  run "$COSTFLOW" dags $sub --help
  if [ "$rc" = 0 ] && printf '%s' "$out" | grep -q '^usage: costflow dags'
  then ok "dags $sub --help"; else bad "dags $sub --help: exit $rc"; fi
done
run "$COSTFLOW" dags frobnicate
if [ "$rc" = 2 ]; then ok "unknown subcommand exits 2"; else
  bad "unknown subcommand: exit $rc"; fi
run "$COSTFLOW" dags validate
if [ "$rc" = 2 ]; then ok "validate without a path exits 2"; else
  bad "validate without a path: exit $rc"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
