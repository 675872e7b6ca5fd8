"""Write a Keras 3 model.save("m.h5") file of MobileNet-style layers, with fixed random weights,
and the outputs a direct NumPy evaluation of it gives (from Keras' documented definitions, not
from kiln): DepthwiseConv2D (depth_multiplier 2, ReLU(6)), SeparableConv2D (swish),
UpSampling2D (bilinear), GlobalAveragePooling2D, Dense.

usage: write_keras_mobile.py OUT_DIR
Writes OUT_DIR/mobile.h5, OUT_DIR/input.bin (float32 (2, 2, 5, 5): kiln's N, C, H, W) and
OUT_DIR/expected.bin (float32 (2, 4)). Exit code 3: h5py or numpy is missing.
"""
import json
import os
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"needs python3-h5py and python3-numpy: {e}", file=sys.stderr)
    sys.exit(3)


def layer(cls, name, **config):
    config["name"] = name
    return {"module": "keras.layers", "class_name": cls, "config": config,
            "registered_name": None}


CONFIG = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
    layer("InputLayer", "in", batch_shape=[None, 5, 5, 2]),
    layer("DepthwiseConv2D", "dw", kernel_size=[3, 3], strides=[1, 1], padding="same",
          depth_multiplier=2, use_bias=True, activation="linear", data_format="channels_last",
          dilation_rate=[1, 1]),
    layer("ReLU", "dw_relu6", max_value=6.0, negative_slope=0.0, threshold=0.0),
    layer("SeparableConv2D", "sep", filters=3, kernel_size=[3, 3], strides=[1, 1],
          padding="valid", depth_multiplier=1, use_bias=True, activation="swish",
          data_format="channels_last", dilation_rate=[1, 1]),
    layer("UpSampling2D", "up", size=[2, 3], interpolation="bilinear",
          data_format="channels_last"),
    layer("Conv2D", "mix", filters=2, kernel_size=[3, 3], strides=[1, 1], padding="valid",
          use_bias=False, activation="linear", data_format="channels_last", dilation_rate=[1, 1],
          groups=1),
    layer("GlobalAveragePooling2D", "gap", data_format="channels_last"),
    layer("Dense", "out", units=4, activation="linear", use_bias=True)]}}


def depthwise(x, kernel, pad):
    """x (H, W, C), kernel (KH, KW, C, M) → (OH, OW, C·M), output channel c·M + m."""
    kh, kw, c, m = kernel.shape
    x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.zeros((oh, ow, c * m))
    for y in range(oh):
        for xx in range(ow):
            window = x[y:y + kh, xx:xx + kw, :]  # (KH, KW, C)
            out[y, xx] = np.einsum("ijc,ijcm->cm", window, kernel).reshape(-1)
    return out


def conv(x, kernel):
    """x (H, W, C), kernel (KH, KW, C, F), valid: (OH, OW, F)."""
    kh, kw = kernel.shape[:2]
    oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    return np.array([[np.einsum("ijc,ijcf->f", x[y:y + kh, xx:xx + kw], kernel)
                      for xx in range(ow)] for y in range(oh)])


def upsample_bilinear(x, fy, fx):
    """tf.image.resize(bilinear) with half-pixel centres: source (o + 0.5) / f - 0.5, >= 0."""
    def axis(n, f):
        src = np.maximum((np.arange(n * f) + 0.5) / f - 0.5, 0)
        low = np.minimum(np.floor(src).astype(int), n - 1)
        return low, np.minimum(low + 1, n - 1), src - low
    (r0, r1, ry), (c0, c1, cx) = axis(x.shape[0], fy), axis(x.shape[1], fx)
    top = x[r0][:, c0] * (1 - cx)[None, :, None] + x[r0][:, c1] * cx[None, :, None]
    bottom = x[r1][:, c0] * (1 - cx)[None, :, None] + x[r1][:, c1] * cx[None, :, None]
    return top * (1 - ry)[:, None, None] + bottom * ry[:, None, None]


def main():
    out_dir = sys.argv[1]
    rng = np.random.default_rng(7)
    w = {
        "dw": {"depthwise_kernel": rng.uniform(-1, 1, (3, 3, 2, 2)), "bias": rng.uniform(-1, 1, 4)},
        "sep": {"depthwise_kernel": rng.uniform(-1, 1, (3, 3, 4, 1)),
                "pointwise_kernel": rng.uniform(-1, 1, (1, 1, 4, 3)), "bias": rng.uniform(-1, 1, 3)},
        "mix": {"kernel": rng.uniform(-1, 1, (3, 3, 3, 2))},
        "out": {"kernel": rng.uniform(-1, 1, (2, 4)), "bias": rng.uniform(-1, 1, 4)},
    }
    images = rng.uniform(-3, 3, (2, 5, 5, 2))  # Keras' (N, H, W, C)
    expected = []
    for x in images:
        h = depthwise(x, w["dw"]["depthwise_kernel"], 1) + w["dw"]["bias"]
        h = np.clip(h, 0, 6)
        h = depthwise(h, w["sep"]["depthwise_kernel"], 0)
        h = h @ w["sep"]["pointwise_kernel"][0, 0] + w["sep"]["bias"]
        h = h / (1 + np.exp(-h))
        h = upsample_bilinear(h, 2, 3)  # (3, 3) → (6, 9)
        h = conv(h, w["mix"]["kernel"])  # a plain convolution, so the upsampling is not averaged away
        h = h.mean(axis=(0, 1))
        expected.append(h @ w["out"]["kernel"] + w["out"]["bias"])
    with h5py.File(os.path.join(out_dir, "mobile.h5"), "w") as f:
        f.attrs["model_config"] = json.dumps(CONFIG).encode("utf8")
        f.attrs["keras_version"] = b"3.3.3"
        f.attrs["backend"] = b"tensorflow"
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = np.array([n.encode() for n in ["dw", "sep", "mix", "out"]],
                                                dtype="S")
        for name, arrays in w.items():
            group = weights.create_group(name)
            names = [f"sequential/{name}/{kind}" for kind in arrays]
            group.attrs["weight_names"] = np.array([n.encode() for n in names], dtype="S")
            for path, values in zip(names, arrays.values()):
                group.create_dataset(path, data=values.astype(np.float32))
    images.transpose(0, 3, 1, 2).astype(np.float32).tofile(os.path.join(out_dir, "input.bin"))
    np.array(expected, dtype=np.float32).tofile(os.path.join(out_dir, "expected.bin"))


if __name__ == "__main__":
    main()
