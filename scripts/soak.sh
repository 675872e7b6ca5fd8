#!/usr/bin/env bash
# Soak: resident memory over long runs must stay flat (bounded memory, DESIGN contract 3).
#   train  Fashion-MNIST, 50 epochs of the mlp with flips and pad-and-crop, a validation file,
#          --checkpoint-every 100 (a mid-epoch checkpoint every 100 steps) in a run directory
#   bench  kiln bench pipeline, 100 epochs of random_resized_crop 224 + flip + colour jitter on a
#          JPEG corpus stored as original bytes (decode every epoch)
# Every 0.2 s the process's VmRSS is sampled; each epoch's peak goes to OUT/soak-train.csv and
# OUT/soak-bench.csv, and the summary compares the highest peak after epoch 1 with epoch 1's.
# Usage: scripts/soak.sh [OUT] [TRAIN_EPOCHS] [BENCH_EPOCHS]
#   The JPEG corpus: /usr/bin/python3 ../shared/bench/make_jpeg_corpus.py --out OUT/jpeg --n 1000
#   --seed 1234 (made here when the script is missing it and the maker exists).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/kiln-soak}
train_epochs=${2:-50}
bench_epochs=${3:-100}
kiln=build/release/apps/kiln
fm=/usr/share/datasets/fashion-mnist
mkdir -p "$out"

# Samples PID's VmRSS until it exits; the epoch is what PROGRESS (a shell command) prints.
# Writes "epoch,peak_rss_mib" rows to CSV, one per epoch seen.
sample_rss() {
  local pid=$1 progress=$2 csv=$3
  declare -A peak=()
  while kill -0 "$pid" 2> /dev/null; do
    local rss epoch
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
    epoch=$(eval "$progress" 2> /dev/null || echo 0)
    epoch=$((epoch < 0 ? 1 : epoch + 1))  # the epoch under way (no log yet: the first)
    if [[ -n $rss && (-z ${peak[$epoch]:-} || $rss -gt ${peak[$epoch]}) ]]; then
      peak[$epoch]=$rss
    fi
    sleep 0.2
  done
  echo "epoch,peak_rss_mib" > "$csv"
  for e in $(printf '%s\n' "${!peak[@]}" | sort -n); do
    echo "$e,$((peak[$e] / 1024))" >> "$csv"
  done
}

summary() {
  local name=$1 csv=$2
  awk -F, -v name="$name" 'NR == 2 {first = $2} NR > 2 && $2 > worst {worst = $2; at = $1}
    END {printf "%s: epoch 1 peak %d MiB, highest later peak %d MiB (epoch %d), ratio %.3f\n",
         name, first, worst, at, worst / first}' "$csv"
}

[[ -f $out/train.h5 ]] || "$kiln" preprocess "$fm/train-images-idx3-ubyte.gz" \
  --labels "$fm/train-labels-idx1-ubyte.gz" -o "$out/train.h5" --quiet
[[ -f $out/test.h5 ]] || "$kiln" preprocess "$fm/t10k-images-idx3-ubyte.gz" \
  --labels "$fm/t10k-labels-idx1-ubyte.gz" -o "$out/test.h5" --quiet

rm -rf "$out/run"
"$kiln" train "$out/train.h5" --validation "$out/test.h5" --run-dir "$out/run" --model mlp \
  --epochs "$train_epochs" --checkpoint-every 100 --flip 0.5 \
  --augment '[{"type": "pad_crop", "padding": 2}]' > "$out/train.log" &
sample_rss $! "echo \$((\$(wc -l < '$out/run/log.csv') - 1))" "$out/soak-train.csv"
wait $!
summary train "$out/soak-train.csv"

if [[ ! -d $out/jpeg ]]; then
  /usr/bin/python3 ../shared/bench/make_jpeg_corpus.py --out "$out/jpeg" --n 1000 --seed 1234
fi
[[ -f $out/jpeg.h5 ]] || "$kiln" preprocess "$out/jpeg" --store original --quiet -o "$out/jpeg.h5"
rrc='[{"type": "random_resized_crop", "size": 224}, {"type": "horizontal_flip"},
      {"type": "color_jitter"}]'
"$kiln" bench pipeline "$out/jpeg.h5" --augment "$rrc" --batch 64 --threads 2 \
  --epochs "$bench_epochs" > "$out/bench.log" &
sample_rss $! "grep -c '^epoch' '$out/bench.log'" "$out/soak-bench.csv"
wait $!
summary "bench pipeline" "$out/soak-bench.csv"
