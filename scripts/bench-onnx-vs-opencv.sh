#!/usr/bin/env bash
# Inference of one exported model in two C++ engines, side by side, same batch and threads:
# kiln's forward pass (kiln evaluate: the whole pipeline, normalization included) and OpenCV's dnn
# running the `kiln export`ed graph (normalization included) on the same pixels, in turn.
# The model (cifar_cnn, or another built-in one such as resnet20) is trained for one epoch on
# synthetic 32x32x3 data: the weights do not change the speed.
# Usage: scripts/bench-onnx-vs-opencv.sh [reps] [model]  (needs python3-opencv)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-5}
model=${2:-cifar_cnn}
kiln=build/release/apps/kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 4096 CIFAR-format records (label byte + 3072 pixel bytes), random pixels.
/usr/bin/python3 -c "
import numpy as np
rng = np.random.default_rng(1)
rec = np.concatenate([rng.integers(0, 10, (4096, 1)), rng.integers(0, 256, (4096, 3072))], 1)
rec.astype(np.uint8).tofile('$work/data_batch_1.bin')"
"$kiln" preprocess "$work/data_batch_1.bin" -o "$work/c.h5" > /dev/null
"$kiln" train "$work/c.h5" -o "$work/m.h5" --model "$model" --epochs 1 > /dev/null
"$kiln" export "$work/m.h5" -o "$work/m.onnx" > /dev/null
for r in $(seq "$reps"); do
  echo "rep $r kiln    $("$kiln" evaluate "$work/m.h5" "$work/c.h5" --batch-size 128 --threads 2 | grep images/s | sed 's/.*  //')"
  /usr/bin/python3 - "$work" "$r" <<'PY'
import sys, time
import cv2, h5py, numpy as np
work, rep = sys.argv[1], sys.argv[2]
cv2.setNumThreads(2)
images = h5py.File(f"{work}/c.h5")["images"][:].transpose(0, 3, 1, 2).astype(np.float32)
net = cv2.dnn.readNetFromONNX(f"{work}/m.onnx")
start = time.perf_counter()
for i in range(0, len(images), 128):
    net.setInput(images[i:i + 128])
    net.forward()
seconds = time.perf_counter() - start
print(f"rep {rep} opencv  {len(images) / seconds:.0f} images/s")
PY
done
