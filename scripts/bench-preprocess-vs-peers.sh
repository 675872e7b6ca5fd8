#!/usr/bin/env bash
# kiln preprocess --size 224x224 and --short-side 256 --store jpeg on a JPEG corpus, side by side in one run with the decode+resize
# limit (../shared/bench/decode_limit.cpp built with TurboJPEG) and the Python h5py + OpenCV peer
# (../shared/bench/peer_preprocess_h5py.py, 2 workers). Every repetition runs all four, so that
# each ratio compares figures taken within seconds of each other on this shared machine. Prints
# images/s per repetition, medians, and the median of the per-repetition ratios to the limit.
# Usage: scripts/bench-preprocess-vs-peers.sh CORPUS [reps]
#   CORPUS: e.g. /tmp/kiln-bench/jpeg/train from
#   /usr/bin/python3 ../shared/bench/make_jpeg_corpus.py --out /tmp/kiln-bench/jpeg/train --n 1000 --seed 1234
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:?usage: $0 CORPUS [reps]}
reps=${2:-5}
kiln=build/release/apps/kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
limit=$work/decode_limit_tj
bash scripts/build-decode-limit.sh "$limit"
encode_limit=$work/encode_limit
g++ -O3 -march=native -std=c++17 scripts/encode_limit.cpp -o "$encode_limit" \
  $(pkg-config --cflags --libs opencv4 libturbojpeg) -ltbb
n=$(find "$corpus" -name '*.jpg' | wc -l)

rate() { /usr/bin/python3 -c "import sys; print(f'{$n / float(sys.argv[1]):.0f}')" "$1"; }
# Wall time of the command alone: bash's own clock, no helper process started inside the interval.
seconds() {
  local start=$EPOCHREALTIME end
  "$@" >/dev/null 2>&1
  end=$EPOCHREALTIME
  awk -v a="$start" -v b="$end" 'BEGIN { print b - a }'
}

kiln_rates=() peer_rates=() jpeg_rates=() limit_rates=() kiln_shares=() jpeg_shares=()
encode_rates=() jpeg_encode_shares=()
# The limit: TurboJPEG decode of whole images + resize to short side 256 on 2 threads, from memory.
limit_rate() { "$limit" "$corpus" 1 2 | awk -F, '$1 == "turbojpeg:decode+resize256" && $2 == 2 { printf "%.0f", $5 }'; }
share() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", 100 * a / b }'; }
for r in $(seq "$reps"); do
  # Every command writes a new file: deleting last repetition's 150 MB (and flushing what the
  # previous command wrote) happens outside the timed intervals, for kiln and the peer alike.
  rm -f "$work"/*.h5
  sync
  kiln_rates+=("$(rate "$(seconds "$kiln" preprocess "$corpus" --size 224x224 --quiet -o "$work/kiln.h5")")")
  sync
  jpeg_rates+=("$(rate "$(seconds "$kiln" preprocess "$corpus" --short-side 256 --store jpeg --quiet -o "$work/kiln-jpeg.h5")")")
  sync
  peer_rates+=("$(rate "$(seconds /usr/bin/python3 ../shared/bench/peer_preprocess_h5py.py "$corpus" "$work/peer.h5" --size 224x224 --workers 2)")")
  limit_rates+=("$(limit_rate)")
  encode_rates+=("$("$encode_limit" "$corpus" 1)")
  kiln_shares+=("$(share "${kiln_rates[-1]}" "${limit_rates[-1]}")")
  jpeg_shares+=("$(share "${jpeg_rates[-1]}" "${limit_rates[-1]}")")
  jpeg_encode_shares+=("$(share "${jpeg_rates[-1]}" "${encode_rates[-1]}")")
  echo "rep $r: kiln ${kiln_rates[-1]} img/s (${kiln_shares[-1]}% of the limit), kiln --short-side 256 --store jpeg ${jpeg_rates[-1]} img/s (${jpeg_shares[-1]}%; ${jpeg_encode_shares[-1]}% of decode+resize+encode), python h5py peer ${peer_rates[-1]} img/s, limit ${limit_rates[-1]} img/s, with encode ${encode_rates[-1]} img/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "kiln preprocess --size 224x224 (2 threads, whole command): median $(median "${kiln_rates[@]}") img/s"
echo "kiln preprocess --short-side 256 --store jpeg:              median $(median "${jpeg_rates[@]}") img/s"
echo "peer_preprocess_h5py.py --size 224x224 --workers 2:       median $(median "${peer_rates[@]}") img/s"
echo "TurboJPEG decode + resize limit (decode_limit.cpp, 2 threads): median $(median "${limit_rates[@]}") img/s"
echo "kiln --size 224x224 / limit, per repetition: median $(median "${kiln_shares[@]}")%"
echo "kiln --short-side 256 --store jpeg / limit:   median $(median "${jpeg_shares[@]}")%"
echo "decode + resize + JPEG encode limit (scripts/encode_limit.cpp, 2 threads): median $(median "${encode_rates[@]}") img/s"
echo "kiln --short-side 256 --store jpeg / that limit: median $(median "${jpeg_encode_shares[@]}")%"
