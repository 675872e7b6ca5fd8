#!/usr/bin/env bash
# Installs every Debian 12 package kiln, its tests and its default job need; with --tests also
# the headless browser that kiln report's test opens its page in (scripts/run-tests.sh).
# Non-interactive and idempotent: when every package is already installed it only runs dpkg-query
# (well under a second) and never touches the network.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # libraries kiln links
  libopencv-dev libtbb-dev libeigen3-dev libhdf5-dev zlib1g-dev libjpeg62-turbo-dev
  # the TurboJPEG decode limit the benchmark scripts build
  libturbojpeg0-dev
  # small helpers instead of hand-written code
  libcli11-dev nlohmann-json3-dev
  # kiln report's charts (Chart.js, inlined into each page)
  libjs-chart.js
  # data-parallel training and sharded preprocessing under mpirun (io/mpi_world.cpp)
  libopenmpi-dev openmpi-bin
  # the Python module (apps/python) and ONNX export (io/onnx_export.cpp)
  pybind11-dev python3-dev libonnx-dev
  # ONNX's CMake targets and the ONNX tests link protobuf; no package above pulls its headers in
  libprotobuf-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev python3-h5py python3-numpy python3-pytest python3-onnx
  # kiln import is checked against PyTorch's own outputs
  python3-torch python3-torchvision
  # the default dataset of the README's main job
  dataset-fashion-mnist
)

[ "${1:-}" = "--tests" ] && packages+=(chromium)

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
