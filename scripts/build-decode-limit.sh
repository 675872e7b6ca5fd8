#!/usr/bin/env bash
# Builds ../shared/bench/decode_limit.cpp with TurboJPEG: the JPEG decode (+ resize) limit the
# benchmark scripts compare kiln with. Usage: scripts/build-decode-limit.sh OUTPUT
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: $0 OUTPUT}
g++ -O3 -march=native -std=c++17 ../shared/bench/decode_limit.cpp -o "$out" -DKILN_HAVE_TURBOJPEG \
  $(pkg-config --cflags --libs opencv4 libturbojpeg) -ltbb
