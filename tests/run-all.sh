#!/bin/bash
# The whole test suite, as CI runs it: install dependencies, build with
# -Werror and run ctest, then build again with AddressSanitizer +
# UndefinedBehaviorSanitizer and run ctest once more, then run the unit
# tests under ThreadSanitizer (the silver and gold stages use threads);
# last, fuzz every parser of outside input for a short while
# (tests/fuzz/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-deps.sh
JOBS=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo) and test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
ctest --test-dir build --output-on-failure -j"$JOBS"

echo "== build with ASan+UBSan and test"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug \
  -DCF_SANITIZE=address,undefined >/dev/null
cmake --build build-asan -j"$JOBS"
# handle_segv=0: the crash test plugin must die by SIGSEGV, as in production
ASAN_OPTIONS=handle_segv=0:detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:handle_segv=0 \
  ctest --test-dir build-asan --output-on-failure -j"$JOBS"

echo "== build with ThreadSanitizer and run the unit tests"
# The unit tests drive silver (threaded reads of byte ranges, threaded
# publishing) and gold (prefetch workers) directly, with several threads.
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCF_SANITIZE=thread \
  >/dev/null
cmake --build build-tsan -j"$JOBS"
TSAN_OPTIONS=halt_on_error=1 \
  ctest --test-dir build-tsan --output-on-failure -j"$JOBS" -R '^unit/'

echo "== fuzz (libFuzzer + ASan + UBSan, 15 s per target)"
bash tests/fuzz/run.sh 15

# one closing line for whoever reads the log: every ctest test ran twice
# (plain and ASan+UBSan), the unit tests a third time (TSan), and every
# stage above exits non-zero on failure
n=$(ctest --test-dir build -N | sed -n 's/^Total Tests: //p')
u=$(ctest --test-dir build-tsan -N -R '^unit/' | sed -n 's/^Total Tests: //p')
echo "summary: $((n * 2 + u)) passed, 0 failed"
