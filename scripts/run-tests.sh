#!/usr/bin/env bash
# Installs what kiln needs, builds it (release preset) and runs every test: fast, then slow.
# This is the README's test command and all that CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --tests
cmake --preset release
cmake --build --preset release
ctest --test-dir build/release -L fast -j 2 --output-on-failure
ctest --test-dir build/release -L slow -j 2 --output-on-failure
