#!/usr/bin/env bash
# The unit tests of nn, io and pipeline under ThreadSanitizer (the tsan preset, a Debug build).
# Debian's oneTBB is not built with TSan: kiln states the orderings oneTBB gives through
# nn/tsan.hpp (parallel loops, flow-graph messages, serial nodes), and
# cmake/tsan-suppressions.txt silences oneTBB's own internals, each entry explained. On this
# machine the three binaries run clean in most runs; oneTBB-internal reports still turn up now and
# then (about one run in nine), so this is a tool to run, not a CI gate.
# Usage: scripts/run-tsan-tests.sh [gtest filter]
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-*}
cmake --preset tsan > /dev/null
cmake --build --preset tsan --target test_nn test_io test_pipeline
export TSAN_OPTIONS="suppressions=$PWD/cmake/tsan-suppressions.txt halt_on_error=0"
status=0
for t in test_nn test_io test_pipeline; do
  log=$(mktemp)
  build/tsan/tests/$t --gtest_filter="$filter" > "$log" 2>&1 || true
  reports=$(grep -c 'WARNING: ThreadSanitizer' "$log" || true)
  echo "$t: $(grep -E '^\[  (PASSED|FAILED)' "$log" | tr '\n' ' ')reports: $reports ($log)"
  [[ $reports -eq 0 ]] || status=1
done
exit $status
