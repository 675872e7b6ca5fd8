"""Compares two kiln HDF5 files through h5py: every dataset's values and every attribute, except
the attributes named with --ignore. Prints each difference; exit status 1 when there is one."""
import argparse
import sys

import h5py
import numpy as np


def contents(path):
    out = {}
    with h5py.File(path, "r") as f:
        for name, value in f.attrs.items():
            out["@/" + name] = value

        def visit(name, obj):
            for key, value in obj.attrs.items():
                out["@" + name + "/" + key] = value
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]

        f.visititems(visit)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--ignore", action="append", default=[])
    args = parser.parse_args()
    a, b = contents(args.a), contents(args.b)
    differences = 0
    for key in sorted(set(a) | set(b)):
        if key in args.ignore:
            continue
        if key not in a or key not in b:
            print("only in one file:", key)
            differences += 1
        elif not np.array_equal(np.asarray(a[key]), np.asarray(b[key])):
            print("differs:", key)
            differences += 1
    print(f"{len(a)} entries compared, {differences} differ")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
