#!/usr/bin/env bash
# The Fashion-MNIST ResNet-20 recipe (examples/fashion-mnist-resnet.json) in kiln and in PyTorch
# (scripts/torch_fashion_mnist_resnet.py: same model, initialization, augmentation, optimizer,
# weight decay and schedule), side by side: both start together with one thread each, so they
# share the machine on equal terms. kiln's model is then evaluated with 1 and 10 crops.
# usage: scripts/fashion-mnist-resnet-vs-torch.sh [SEED] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:-1}
epochs=${2:-15}
kiln=build/release/apps/kiln
data=/usr/share/datasets/fashion-mnist
fm=runs/fashion-mnist
out=runs/fashion-mnist-resnet-vs-torch/seed-$seed
classes="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
mkdir -p "$fm" "$out"
for split in train t10k; do
  name=$([ $split = train ] && echo train || echo test)
  [ -f "$fm/$name.h5" ] || $kiln preprocess "$data/$split-images-idx3-ubyte.gz" \
    --labels "$data/$split-labels-idx1-ubyte.gz" --class-names "$classes" -o "$fm/$name.h5" >/dev/null
done

timed() { # LOG COMMAND...: runs COMMAND into LOG, then appends its wall time
  local log=$1 start=$SECONDS
  shift
  "$@" >"$log" 2>&1
  echo "wall $((SECONDS - start)) s" >>"$log"
}
timed "$out/kiln.log" $kiln train "$fm/train.h5" --config examples/fashion-mnist-resnet.json \
  --threads 1 --seed "$seed" --epochs "$epochs" --run-dir "$out/kiln" &
timed "$out/torch.log" /usr/bin/python3 scripts/torch_fashion_mnist_resnet.py --data "$data" \
  --threads 1 --seed "$seed" --epochs "$epochs" --label-smoothing 0.1 --mixup 0.2 --cutmix 1.0 \
  --mix-prob 0.5 &
wait

echo "kiln (1 thread):"
grep -E "^epoch ($epochs|1)/|^wall" "$out/kiln.log"
$kiln evaluate "$out/kiln/model.h5" "$fm/test.h5" --crops 10 --compare | grep -E "^views|accuracy"
echo "PyTorch (1 thread), test accuracy single crop:"
grep -E "^epoch ($epochs|1)/|^wall" "$out/torch.log"
