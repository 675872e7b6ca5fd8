#!/usr/bin/env bash
# Data parallelism on one machine: 2 MPI ranks x 1 thread against 1 process x 2 threads, whole
# `kiln train` epochs on Fashion-MNIST (read, augment, train), alternating in one run; then the
# ordered gradient reduction against MPI_Allreduce for a 100 MB gradient on 2 and 4 ranks.
# Prints each run's images/s and the rank-0 reduction time per step; the medians at the end.
# Usage: scripts/bench-mpi.sh [runs] [workdir]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=${2:-/tmp/kiln-bench-mpi}
kiln=build/release/apps/kiln
[ -x "$kiln" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "needs: apt-get install libopenmpi-dev openmpi-bin, then rebuild" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$work"
fm=/usr/share/datasets/fashion-mnist
[ -f "$work/train.h5" ] || "$kiln" preprocess "$fm/train-images-idx3-ubyte.gz" \
  --labels "$fm/train-labels-idx1-ubyte.gz" -o "$work/train.h5" >/dev/null

rate() { grep -o '[0-9]* img/s$' | tail -1 | cut -d' ' -f1; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
augment='[{"type": "horizontal_flip"}, {"type": "pad_crop", "padding": 2}]'

for net in mnist_cnn resnet20; do
  limit=12000
  [ "$net" = resnet20 ] && limit=3000
  common=("$work/train.h5" --model "$net" --epochs 1 --limit "$limit" --batch-size 128 --augment "$augment")
  one=() two=()
  for i in $(seq "$runs"); do
    a=$("$kiln" train "${common[@]}" --threads 2 -o "$work/one.h5" 2>&1 | tr '\r' '\n' | grep 'epoch 1/1  loss' | rate)
    out=$(mpirun -q -np 2 "$kiln" train "${common[@]}" --micro-batch-size 64 --threads 1 -o "$work/two.h5" 2>&1 | tr '\r' '\n')
    b=$(echo "$out" | grep 'epoch 1/1  loss' | rate)
    echo "$net run $i: 1 process x 2 threads $a img/s; 2 ranks x 1 thread $b img/s; $(echo "$out" | grep 'rank 0:')"
    one+=("$a") two+=("$b")
  done
  m1=$(printf '%s\n' "${one[@]}" | median) m2=$(printf '%s\n' "${two[@]}" | median)
  echo "$net median: 1x2 $m1 img/s, 2x1 $m2 img/s, 2 ranks / 1 process = $(awk "BEGIN {printf \"%.1f%%\", 100 * $m2 / $m1}")"
done

for ranks in 2 4; do
  echo "== reduction, $ranks ranks"
  mpirun -q --oversubscribe -np "$ranks" "$kiln" bench reduce --megabytes 100 --repeats 5
done
