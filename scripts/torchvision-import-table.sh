#!/usr/bin/env bash
# The table of docs/interop.md: every convolutional classification builder of the installed
# torchvision (transformers aside) exported by PyTorch at opsets 11 and 13 with random weights,
# imported by kiln, and its logits on the same two 224 x 224 images compared with PyTorch's: the
# largest difference relative to the largest logit, or the line kiln refused it with.
# Usage: scripts/torchvision-import-table.sh [builder,builder,...]   (default: all; ~20 minutes
#        on 2 cores; needs python3-torch, python3-torchvision and a build with tests)
set -euo pipefail
cd "$(dirname "$0")/.."
KILN_TORCHVISION_MODELS=${1:-all} build/release/tests/test_onnx_torchvision \
    --gtest_filter='TorchvisionFamilies.*' | grep -E '^\||builders import'
