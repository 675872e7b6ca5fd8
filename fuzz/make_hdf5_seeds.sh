#!/usr/bin/env bash
# Writes the seeds of the dataset and model fuzz targets into OUT/dataset and OUT/model: small
# files made by kiln itself from the test fixture's images (HDF5 files are generated, not kept in
# the repository). The ctest fixture fuzz.hdf5_seeds runs this before the replay tests.
# usage: fuzz/make_hdf5_seeds.sh KILN OUT
set -euo pipefail
kiln=${1:?usage: $0 KILN OUT}
out=${2:?usage: $0 KILN OUT}
imgs=$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/model-v1/imgs
mkdir -p "$out/dataset" "$out/model"
"$kiln" preprocess "$imgs" --size 8x8 -o "$out/dataset/fixed.h5" --quiet
"$kiln" preprocess "$imgs" --short-side 8 --store jpeg -o "$out/dataset/ragged-jpeg.h5" --quiet
"$kiln" train "$out/dataset/fixed.h5" -o "$out/model/chain.h5" --epochs 1 --batch-size 8 --set \
  'model.layers=[{"type": "conv2d", "filters": 2}, {"type": "relu"}, {"type": "dense", "units": 3}]' \
  >/dev/null
"$kiln" train "$out/dataset/fixed.h5" -o "$out/model/graph.h5" --epochs 1 --batch-size 8 --set \
  'model.layers=[{"type": "conv2d", "name": "a", "filters": 2, "padding": "same"},
   {"type": "batch_norm"}, {"type": "add", "inputs": ["a", "batch_norm_1"]},
   {"type": "global_avg_pool2d"}, {"type": "dense", "units": 3}]' >/dev/null
# A mid-epoch checkpoint with callback arrays (what --checkpoint-every writes when killed
# mid-epoch), made from chain.h5 so the seed does not depend on the timing of a kill. Without h5py
# the seed is left out, saying so (an error under KILN_REQUIRE_ALL_TESTS=1); any other failure of
# the script stops this one.
if ! /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  echo "no python3-h5py: left out the mid-epoch seed" >&2
  [ "${KILN_REQUIRE_ALL_TESTS:-0}" = 1 ] && exit 1
  exit 0
fi
/usr/bin/python3 - "$out/model/chain.h5" "$out/model/mid-epoch.h5" <<'PY'
import shutil, sys
import h5py, numpy
shutil.copyfile(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    g = f["train_state"].create_group("epoch_progress")
    for name, value in [("batches", 2), ("samples", 16), ("correct", 9), ("correct_top5", 16)]:
        g.attrs[name] = numpy.int64(value)
    g.attrs["loss_sum"] = 17.25
    g.attrs["seconds"] = 0.5
    f["train_state"].create_dataset("callback_arrays/early_stopping.best.0",
                                    data=numpy.arange(6, dtype=numpy.float32), fletcher32=True,
                                    chunks=(6,))
PY
