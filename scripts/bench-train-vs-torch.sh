#!/usr/bin/env bash
# Side-by-side training/inference throughput: kiln bench train and the PyTorch peer
# (../shared/bench/torch_train_speed.py, Debian's python3-torch), alternating per model in one run
# on the same machine. The peer runs at its best: oneDNN on, OpenBLAS told the CPU
# (OPENBLAS_CORETYPE=SkylakeX, and no OPENBLAS_L2_SIZE: some machines here set it to 512, which
# cripples its blocking) and OpenMP threads not spinning (OMP_WAIT_POLICY=PASSIVE).
# Then the ResNets people train, against scripts/torch_resnet_speed.py: resnet20 on the
# Fashion-MNIST recipe's 1×28×28, and torchvision's resnet18 (width 1, 1000 classes) on 3×64×64
# (batch 32) and 3×224×224 (batch 16).
# Usage: scripts/bench-train-vs-torch.sh [windows] [seconds-per-window]
set -euo pipefail
cd "$(dirname "$0")/.."
windows=${1:-5}
seconds=${2:-2}
kiln=build/release/apps/kiln
peer=../shared/bench/torch_train_speed.py
[ -x "$kiln" ] || { echo "build first: cmake --preset release && cmake --build --preset release" >&2; exit 1; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "needs: apt-get install python3-torch libopenblas0-pthread" >&2; exit 1; }
# Without OpenBLAS (only a "recommends" of python3-torch) torch falls back to the reference BLAS,
# about 8 GFLOP/s, and the comparison means nothing.
dpkg-query -W libopenblas0-pthread >/dev/null 2>&1 || { echo "needs libopenblas0-pthread (torch is 20x slower without it)" >&2; exit 1; }

for net in mnist_cnn cifar_cnn mlp resnet20; do
  echo "== $net"
  input=()
  [ "$net" = resnet20 ] && input=(--input 3 32 32)  # the peer's CIFAR input
  "$kiln" bench train --model "$net" "${input[@]}" --batch-size 128 --threads 2 --windows "$windows" --window-seconds "$seconds"
  env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 "$peer" --threads 2 --nets "$net" \
    --mkldnn on --batch 128 --windows "$windows" --window-s "$seconds" 2>&1 | grep -vE '^\s*$'
done

torch_env=(env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE)
for row in "resnet20 1 28 28 128 10" "resnet18 3 64 64 32 1000" "resnet18 3 224 224 16 1000"; do
  read -r net c h w batch classes <<<"$row"
  echo "== $net ${c}x${h}x${w} batch $batch"
  "$kiln" bench train --model "$net" --input "$c" "$h" "$w" --classes "$classes" --batch-size "$batch" \
    --threads 2 --windows "$windows" --window-seconds "$seconds"
  "${torch_env[@]}" /usr/bin/python3 scripts/torch_resnet_speed.py --net "$net" --input "$c" "$h" "$w" \
    --classes "$classes" --batch "$batch" --threads 2 --windows "$windows" --window-s "$seconds"
done
