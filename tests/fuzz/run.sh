#!/bin/bash
# Coverage-guided fuzzing of every parser of outside input (docs/fuzzing.md).
#   bash tests/fuzz/run.sh [SECONDS] [TARGET...]
# Configures build-fuzz with clang + ASan + UBSan + libFuzzer coverage,
# builds the `fuzz` target, then runs each tests/fuzz/fuzz-*.c for SECONDS
# (default 20), as many at once as there are CPUs. Exits non-zero on any
# crash, leak, timeout (> 5 s per input), OOM (> 2 GiB) or UB. Seeds come
# from tests/fuzz/corpus/TARGET (read only); what the fuzzer learns goes to
# build-fuzz/fuzz-corpus/TARGET, and crashing inputs to
# build-fuzz/fuzz-artifacts/ (never into git).
# Env: CF_FUZZ_BUILD (build dir), CC (default clang), FUZZ_JOBS, FUZZ_ARGS
# (extra libFuzzer flags).
set -euo pipefail
SECS=${1:-20}
shift || true
cd "$(dirname "$0")/../.."
SRC=$PWD
B=${CF_FUZZ_BUILD:-$SRC/build-fuzz}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

echo "== fuzz: configure and build ($B)"
CC=${CC:-clang} cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCF_FUZZ=ON -DCF_SANITIZE=address,undefined \
  -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
# only the fuzz targets and what they link (not the whole tree)
cmake --build "$B" --target fuzz -j"$JOBS"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/fuzz-*.c; do
    n=$(basename "$f" .c)
    targets+=("${n#fuzz-}")
  done
fi

mkdir -p "$B/fuzz-artifacts" "$B/fuzz-logs"
export TMPDIR="$B/fuzz-tmp"
rm -rf "$TMPDIR"
mkdir -p "$TMPDIR"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
  local t=$1 dict=() log="$B/fuzz-logs/$1.log"
  mkdir -p "$B/fuzz-corpus/$t"
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  # the first corpus folder receives new inputs; the seeds are read only
  "$B/fuzz/fuzz-$t" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=5 \
    -print_final_stats=1 -artifact_prefix="$B/fuzz-artifacts/$t-" \
    "${dict[@]}" ${FUZZ_ARGS:-} "$B/fuzz-corpus/$t" "tests/fuzz/corpus/$t" \
    >"$log" 2>&1
}

echo "== fuzz: ${targets[*]} for ${SECS}s each, $JOBS at a time"
declare -A pid_of=()
failed=()
running=0
reap() {
  local t rc
  for t in "${!pid_of[@]}"; do
    if ! kill -0 "${pid_of[$t]}" 2>/dev/null; then
      rc=0
      wait "${pid_of[$t]}" || rc=$?
      unset "pid_of[$t]"
      running=$((running - 1))
      local execs cov
      execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' \
              "$B/fuzz-logs/$t.log" | grep -o '[0-9]*$' || true)
      cov=$(grep -o 'cov: [0-9]*' "$B/fuzz-logs/$t.log" | tail -1 || true)
      if [ "$rc" -ne 0 ]; then
        echo "FAIL fuzz-$t (exit $rc), log $B/fuzz-logs/$t.log:"
        grep -E -A40 '^==[0-9]+==ERROR|runtime error|ALARM|Test unit written' \
          "$B/fuzz-logs/$t.log" | head -80 || tail -40 "$B/fuzz-logs/$t.log"
        failed+=("$t")
      else
        echo "ok   fuzz-$t: ${execs:-?} runs, ${cov:-cov ?}"
      fi
    fi
  done
}
for t in "${targets[@]}"; do
  while [ "$running" -ge "$JOBS" ]; do
    sleep 1
    reap
  done
  run_one "$t" &
  pid_of[$t]=$!
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  sleep 1
  reap
done
rm -rf "$TMPDIR"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== fuzz: FAILED: ${failed[*]} (inputs in $B/fuzz-artifacts/)"
  exit 1
fi
echo "== fuzz: all ${#targets[@]} targets clean"
