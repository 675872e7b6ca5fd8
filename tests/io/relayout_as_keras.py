"""Write a kiln model file's weights in the Keras HDF5 weight-file layout, as model.save_weights
writes it: root attribute layer_names, per layer a group with attribute weight_names and the
datasets <layer>/<layer>/<kind>:0. Kernels become channels-last: conv (F, C, KH, KW) → (KH, KW,
C, F), dense (units, in) → (in, units); the dense layer given by --flatten-map C,H,W reads a
flattened (H, W, C) map in Keras, so its input rows are reordered from kiln's CHW to HWC.

With --model-config CONFIG.json --keras 2|3 it writes a whole model.save("m.h5") file instead,
exactly as Keras' legacy HDF5 saver lays it out: root attributes model_config (JSON encoded to
bytes, which h5py stores as a variable-length ASCII string), keras_version and backend (bytes too),
the weights under /model_weights with its own layer_names; Keras 2 names weights
"<layer>/<kind>:0", Keras 3 by their path "<model>/<layer>/<kind>", nested as groups.

usage: relayout_as_keras.py KILN_MODEL.h5 OUT.h5 NAME... [--flatten-map LAYER:C,H,W]
                            [--model-config CONFIG.json --keras 2|3]
NAME...: the Keras names of kiln's layers with weights, in order. Exit code 3: h5py is missing.
"""
import argparse
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"needs python3-h5py and python3-numpy: {e}", file=sys.stderr)
    sys.exit(3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("names", nargs="+")
    parser.add_argument("--flatten-map", default="")
    parser.add_argument("--model-config", default="")
    parser.add_argument("--keras", type=int, default=2)
    args = parser.parse_args()
    flatten_layer, flatten_map = None, None
    if args.flatten_map:
        flatten_layer, dims = args.flatten_map.split(":")
        flatten_map = tuple(int(d) for d in dims.split(","))

    with h5py.File(args.model, "r") as src:
        groups = sorted(src["weights"].keys(), key=lambda g: int(g.split("_")[0]))
        layers = [(g.split("_", 1)[1], src["weights"][g]) for g in groups if len(src["weights"][g])]
        if len(layers) != len(args.names):
            sys.exit(f"{len(layers)} layers with weights, {len(args.names)} names given")
        with h5py.File(args.out, "w") as f:
            out = f
            if args.model_config:
                with open(args.model_config) as cfg:
                    f.attrs["model_config"] = cfg.read().encode("utf8")
                f.attrs["keras_version"] = b"3.3.3" if args.keras == 3 else b"2.15.0"
                f.attrs["backend"] = b"tensorflow"
                out = f.create_group("model_weights")
                out.attrs["keras_version"] = f.attrs["keras_version"]
            out.attrs["layer_names"] = np.array([n.encode() for n in args.names], dtype="S")
            out.attrs["backend"] = b"tensorflow"
            for name, (kind, g) in zip(args.names, layers):
                weights = {}
                if kind == "conv2d":
                    weights["kernel"] = np.transpose(g["weight"][...], (2, 3, 1, 0))
                    if "bias" in g:
                        weights["bias"] = g["bias"][...].reshape(-1)
                elif kind == "dense":
                    w = g["weight"][...]
                    w = w.reshape(w.shape[0], -1)  # (units, in)
                    if name == flatten_layer:
                        c, h, wd = flatten_map
                        w = w.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
                    weights["kernel"] = w.T
                    if "bias" in g:
                        weights["bias"] = g["bias"][...].reshape(-1)
                elif kind == "batch_norm":
                    weights["gamma"] = g["gamma"][...].reshape(-1)
                    weights["beta"] = g["beta"][...].reshape(-1)
                    weights["moving_mean"] = g["running_mean"][...].reshape(-1)
                    weights["moving_variance"] = g["running_var"][...].reshape(-1)
                else:
                    sys.exit(f"no Keras layout for kiln layer type {kind}")
                group = out.create_group(name)
                weight_names = [f"{name}/{k}:0" for k in weights]
                if args.keras == 3:  # the variable's path: the model's name, then the layer's
                    weight_names = [f"sequential/{name}/{k}" for k in weights]
                group.attrs["weight_names"] = np.array([w.encode() for w in weight_names], dtype="S")
                for wname, k in zip(weight_names, weights):
                    group.create_dataset(wname, data=np.ascontiguousarray(weights[k], dtype=np.float32))


if __name__ == "__main__":
    main()
