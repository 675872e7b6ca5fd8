"""Reads a kiln dataset written by tests/io/test_dataset_file.cpp with h5py, as plain arrays."""
import sys

import h5py
import numpy as np


def text(value):
    """kiln stores strings fixed-length UTF-8, which h5py hands over as bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


with h5py.File(sys.argv[1], "r") as f:
    images = f["images"][...]
    labels = f["labels"][...]
    assert images.shape == (5, 3, 2, 3), images.shape
    assert images.dtype == np.uint8, images.dtype
    assert labels.dtype == np.int32, labels.dtype
    assert labels.tolist() == [0, 2, 1, 1, 0], labels
    expected = np.array([(i * 31 + 3) % 256 for i in range(5 * 18)], dtype=np.uint8).reshape(5, 3, 2, 3)
    assert (images == expected).all()
    assert images[4, 2, 1, 2] == ((4 * 18 + 2 * 6 + 1 * 3 + 2) * 31 + 3) % 256
    attrs = f.attrs
    assert text(attrs["format"]) == "kiln-dataset", attrs["format"]
    assert text(attrs["layout"]) == "NHWC"
    assert text(attrs["channel_order"]) == "RGB"
    names = [text(n) for n in attrs["class_names"]]
    assert names == ["cat", "dog", "ünïcödé"], names
    mean = f["normalization/mean"][...]
    assert mean.shape == (3,)
    assert np.allclose(mean, images.reshape(-1, 3).mean(axis=0))
    assert np.allclose(f["normalization/std"][...], images.reshape(-1, 3).std(axis=0))
    # numpy's population covariance of the pixels, channels as variables
    assert np.allclose(f["normalization/covariance"][...],
                       np.cov(images.reshape(-1, 3).astype(np.float64), rowvar=False, bias=True))
print("ok")
