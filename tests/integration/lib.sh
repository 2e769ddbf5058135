# Shared helpers for integration tests: a temp home, assertions, counters.
# Each test script sources this, calls its checks, then `finish`.
set -uo pipefail
: "${COSTFLOW:?COSTFLOW must point at the costflow binary}"
: "${CF_SOURCE_DIR:?}"
export COSTFLOW_PLUGIN_PATH="${CF_TEST_PLUGIN_DIR:-}:${CF_PLUGIN_DIR:-}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/costflow-test.XXXXXX")
export COSTFLOW_HOME="$TMP/home"
PASSED=0
FAILED=0
cleanup() { [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"; }
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); echo "ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }

# check "description" command...  (passes when the command exits 0)
check() {
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

# expect_exit CODE "description" command...
expect_exit() {
  local want=$1 what=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok "$what"; else
    bad "$what (exit $got, want $want)"; sed 's/^/    | /' "$TMP/err" | head -20
  fi
}

# sql "query": runs a query against the store, prints the result
sql() { sqlite3 "$COSTFLOW_HOME/costflow.db" "$1"; }

# eq "description" actual expected
eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}

contains() {
  if printf '%s' "$2" | grep -qF -- "$3"; then ok "$1"; else
    bad "$1: '$3' not in output"; printf '%s\n' "$2" | sed 's/^/    | /' | head -20
  fi
}

# big_cur OUT ROWS DISTINCT: a plain AWS CUR of ROWS copies of the first
# row of a koku sample (~900 bytes each: 40,000 rows make ~36 MB, enough
# for extract to read it as byte ranges), line item ids big-0 ...; ids
# repeat after DISTINCT rows.
big_cur() {
  python3 - "${CF_SHARED_DATA:-$CF_SOURCE_DIR/../shared/data}/koku/aws/2023-06-01.csv" \
    "$1" "$2" "$3" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
h, first = rows[0], rows[1]
item = h.index('identity/LineItemId')
n, distinct = int(sys.argv[3]), int(sys.argv[4])
with open(sys.argv[2], 'w', newline='') as f:
    w = csv.writer(f, lineterminator='\n')
    w.writerow(h)
    for i in range(n):
        r = list(first)
        r[item] = 'big-%d' % (i % distinct)
        w.writerow(r)
PY
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ]
}
