#!/usr/bin/env bash
# Installs the Debian 12 packages kiln needs, non-interactive and idempotent: when every package is
# already installed it only runs dpkg-query (well under a second) and never touches the network.
#   install-deps.sh          what building and running kiln needs (the README's main job)
#   install-deps.sh --tests  and what the tests, the Python module and the benchmarks need
#                            (scripts/run-tests.sh)
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries kiln links
  libopencv-dev libtbb-dev libeigen3-dev libhdf5-dev zlib1g-dev libjpeg62-turbo-dev libgif-dev
  # small helpers instead of hand-written code
  libcli11-dev nlohmann-json3-dev
  # kiln report's charts (Chart.js, inlined into each page)
  libjs-chart.js
  # data-parallel training and sharded preprocessing under mpirun (io/runtime/mpi_world.cpp)
  libopenmpi-dev openmpi-bin
  # kiln export and import (io/interop/onnx_*.cpp); ONNX's CMake targets need protobuf's headers
  libonnx-dev libprotobuf-dev
  # the default dataset of the README's main job
  dataset-fashion-mnist
)

test_packages=(
  # the Python module (apps/python)
  pybind11-dev python3-dev
  # the test and benchmark frameworks
  libgtest-dev libgmock-dev libbenchmark-dev python3-pytest
  # independent readers the tests check kiln's files with
  python3-h5py python3-numpy python3-onnx
  # kiln import is checked against PyTorch's own outputs
  python3-torch python3-torchvision
  # OpenBLAS as the system BLAS, whose server threads kiln stops (io/runtime/openblas_threads.hpp);
  # Debian's default libblas3 starts none, and the test of that code would have nothing to stop
  libopenblas0-pthread
  # the TurboJPEG decode limit the benchmark scripts build
  libturbojpeg0-dev
  # the headless browser kiln report's test opens its page in
  chromium
)

case "${1:-}" in
  "") ;;
  --tests) packages+=("${test_packages[@]}") ;;
  *) echo "usage: install-deps.sh [--tests]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
