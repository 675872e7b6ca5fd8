#!/usr/bin/env bash
# The fast tests again under AddressSanitizer + UndefinedBehaviorSanitizer (the asan preset, a
# Debug build): memory errors and undefined behaviour stop the test that hits them. CI runs this
# after the README's test command. It builds only what the fast tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --tests
cmake --preset asan -DKILN_REQUIRE_ALL_TESTS=ON -DKILN_PYTHON=OFF
cmake --build --preset asan --target kiln_fast_tests
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/cmake/lsan-suppressions.txt"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
results=$PWD/build/asan/test-results
mkdir -p "$results"
ctest --test-dir build/asan -L fast -j 2 --output-on-failure --output-junit "$results/fast.xml"
python3 scripts/check-skips.py "$results/fast.xml"
