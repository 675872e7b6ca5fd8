#!/usr/bin/env bash
# Soak: resident memory over long runs must stay flat (bounded memory, docs/design.md contract 3).
#   train  Fashion-MNIST, 50 epochs of the mlp with flips and pad-and-crop, a validation file,
#          --checkpoint-every 100 (a mid-epoch checkpoint every 100 steps) in a run directory
#   bench  kiln bench pipeline, 100 epochs of random_resized_crop 224 + flip + colour jitter on a
#          JPEG corpus stored as original bytes (decoded every epoch): by default the hymenoptera
#          photos of ../shared/data (any folder of class folders will do)
# Every 0.2 s the process's VmRSS is sampled; each epoch's peak goes to OUT/soak-train.csv and
# OUT/soak-bench.csv. The summary gives epoch 1's peak, epoch 2's (training: the first with a
# validation pass and a checkpoint save behind it) and the highest later one.
# Usage: scripts/soak.sh [OUT] [TRAIN_EPOCHS] [BENCH_EPOCHS] [JPEG_FOLDER]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/kiln-soak}
train_epochs=${2:-50}
bench_epochs=${3:-100}
jpeg=${4:-../shared/data/hymenoptera/train}
kiln=build/release/apps/kiln
fm=/usr/share/datasets/fashion-mnist
mkdir -p "$out"

# Samples PID's VmRSS until it exits; the epoch is what PROGRESS (a shell command) prints, at
# most EPOCHS (the final save after the last epoch counts as part of it). Writes
# "epoch,peak_rss_mib" rows to CSV, one per epoch seen.
sample_rss() {
  local pid=$1 progress=$2 epochs=$3 csv=$4
  declare -A peak=()
  while kill -0 "$pid" 2> /dev/null; do
    local rss epoch
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2> /dev/null || true)
    epoch=$(eval "$progress" 2> /dev/null || echo 0)
    epoch=$((epoch < 0 ? 1 : epoch + 1))  # the epoch under way (no log yet: the first)
    epoch=$((epoch > epochs ? epochs : epoch))
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
  awk -F, -v name="$name" 'NR == 2 {first = $2} NR == 3 {second = $2}
    NR > 3 && $2 > worst {worst = $2; at = $1} NR > 1 {last = $2; epochs = $1}
    END {printf "%s: %d epochs; peak RSS epoch 1 %d MiB, epoch 2 %d MiB, highest after %d MiB " \
                "(epoch %d), last %d MiB; highest / epoch 2 = %.3f\n",
         name, epochs, first, second, worst, at, last, worst / second}' "$csv"
}

[[ -f $out/train.h5 ]] || "$kiln" preprocess "$fm/train-images-idx3-ubyte.gz" \
  --labels "$fm/train-labels-idx1-ubyte.gz" -o "$out/train.h5" --quiet
[[ -f $out/test.h5 ]] || "$kiln" preprocess "$fm/t10k-images-idx3-ubyte.gz" \
  --labels "$fm/t10k-labels-idx1-ubyte.gz" -o "$out/test.h5" --quiet

rm -rf "$out/run"
"$kiln" train "$out/train.h5" --validation "$out/test.h5" --run-dir "$out/run" --model mlp \
  --epochs "$train_epochs" --checkpoint-every 100 --flip 0.5 \
  --augment '[{"type": "pad_crop", "padding": 2}]' > "$out/train.log" &
sample_rss $! "echo \$((\$(wc -l < '$out/run/log.csv') - 1))" "$train_epochs" "$out/soak-train.csv"
wait $!
summary train "$out/soak-train.csv"

[[ -f $out/jpeg.h5 ]] || "$kiln" preprocess "$jpeg" --store original --quiet -o "$out/jpeg.h5"
rrc='[{"type": "random_resized_crop", "size": 224}, {"type": "horizontal_flip"},
      {"type": "color_jitter"}]'
"$kiln" bench pipeline "$out/jpeg.h5" --augment "$rrc" --batch-size 64 --threads 2 \
  --epochs "$bench_epochs" > "$out/bench.log" &
sample_rss $! "grep -c '^epoch' '$out/bench.log' || true" "$bench_epochs" "$out/soak-bench.csv"
wait $!
summary "bench pipeline" "$out/soak-bench.csv"
