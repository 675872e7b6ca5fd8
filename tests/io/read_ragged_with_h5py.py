"""Reads a variable-size (ragged, raw) kiln dataset written by tests/io/test_dataset_file.cpp
with h5py: image i is images[offsets[i]:offsets[i+1]] reshaped to shapes[i]."""
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f:
    # kiln stores strings fixed-length UTF-8, which h5py hands over as bytes
    assert f.attrs["layout"] == b"ragged", f.attrs["layout"]
    assert f.attrs["encoding"] == b"raw", f.attrs["encoding"]
    offsets = f["offsets"][...]
    shapes = f["shapes"][...]
    images = f["images"]
    assert offsets.tolist() == [0, 18, 30, 60], offsets
    assert shapes.tolist() == [[2, 3, 3], [4, 1, 3], [2, 5, 3]], shapes
    for i, (h, w, c) in enumerate(shapes):
        image = images[offsets[i]:offsets[i + 1]].reshape(h, w, c)
        expected = (np.arange(h * w * c) * 7 + i) % 256
        assert (image.reshape(-1) == expected).all(), (i, image)
    assert f["labels"][...].tolist() == [2, 0, 1]
print("ok")
