#!/usr/bin/env bash
# Installs what kiln and its tests need, builds everything (release preset) and runs every test:
# fast, then slow. This is the README's test command and what CI runs first.
# A missing test dependency stops the configure step (KILN_REQUIRE_ALL_TESTS), and a skipped test
# fails the run unless tests/allowed-skips.txt names it (scripts/check-skips.py).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --tests
cmake --preset release -DKILN_REQUIRE_ALL_TESTS=ON
cmake --build --preset release
results=$PWD/build/release/test-results
mkdir -p "$results"
ctest --test-dir build/release -L fast -j 2 --output-on-failure --output-junit "$results/fast.xml"
ctest --test-dir build/release -L slow -j 2 --output-on-failure --output-junit "$results/slow.xml"
python3 scripts/check-skips.py "$results/fast.xml" "$results/slow.xml"
