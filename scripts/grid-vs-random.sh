#!/usr/bin/env bash
# Grid against random search on Fashion-MNIST (docs/tuning.md: Searching hyperparameters), after
# Bergstra & Bengio 2012: two parameters, the learning rate (which matters) and the dropout rate
# (which matters less over 2 epochs), 16 trials each way. A 4x4 grid tries 4 learning rates; 16
# random trials try 16. Two grids: 4 rates evenly spaced in log over the same range as random's,
# and the decades 1e-4..1e-1 people usually write. Each search runs once per seed: the grids with
# training seeds 1..N, random with search seeds 1..N. Prints the best validation accuracy of each
# search and the medians.
#   bash scripts/grid-vs-random.sh [OUT] [SEEDS]       (default runs/grid-vs-random, 5; $KILN: the binary)
# About a minute per search on 2 cores (16 trials of 2 epochs on 48,000 images).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/grid-vs-random}
seeds=${2:-5}
kiln=${KILN:-build/release/apps/kiln}
data=/usr/share/datasets/fashion-mnist
mkdir -p "$out"
[[ -f $out/train.h5 ]] || "$kiln" preprocess "$data/train-images-idx3-ubyte.gz" \
  --labels "$data/train-labels-idx1-ubyte.gz" -o "$out/train.h5"

# The same ranges both ways: the learning rate log-spaced over [1e-4, 1], dropout over [0, 0.5].
grid=(--strategy grid --param 'optimizer.lr=[0.0001, 0.00215, 0.0464, 1.0]'
      --param 'model.layers.3.rate=[0, 0.167, 0.333, 0.5]')
decades=(--strategy grid --param 'optimizer.lr=[0.0001, 0.001, 0.01, 0.1]'
         --param 'model.layers.3.rate=[0, 0.167, 0.333, 0.5]')
random=(--strategy random --trials 16 --param 'optimizer.lr=loguniform(1e-4, 1)'
        --param 'model.layers.3.rate=uniform(0, 0.5)')

best() {  # the highest val_accuracy of a search's finished trials
  awk -F, 'NR > 1 && $2 == "finished" && $3 > best { best = $3 } END { print best }' "$1/trials.csv"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

for s in $(seq 1 "$seeds"); do
  "$kiln" search "$out/train.h5" --config examples/search-mlp.json --seed "$s" \
    --run-dir "$out/grid-$s" "${grid[@]}" > "$out/grid-$s.txt"
  "$kiln" search "$out/train.h5" --config examples/search-mlp.json --seed "$s" \
    --run-dir "$out/decades-$s" "${decades[@]}" > "$out/decades-$s.txt"
  "$kiln" search "$out/train.h5" --config examples/search-mlp.json --search-seed "$s" \
    --run-dir "$out/random-$s" "${random[@]}" > "$out/random-$s.txt"
  echo "seed $s: best val_accuracy grid $(best "$out/grid-$s"), decade grid" \
    "$(best "$out/decades-$s"), random $(best "$out/random-$s")"
done
medians() { for s in $(seq 1 "$seeds"); do best "$out/$1-$s"; done | median; }
echo "median of the best: grid $(medians grid), decade grid $(medians decades)," \
  "random $(medians random)"
