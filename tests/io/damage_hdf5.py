"""Flip bytes inside the stored data of one HDF5 dataset, as a failing disk or a bad copy would.

usage: damage_hdf5.py FILE DATASET [--bytes N] [--chunk K]
Finds where chunk K (default 0) of DATASET lies in FILE (h5py's chunk index), or the contiguous
data's offset, and inverts N bytes (default 200, fewer if the chunk is smaller) in its middle.
Exit code 3: h5py is missing.
"""
import argparse
import sys

try:
    import h5py
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"needs python3-h5py: {e}", file=sys.stderr)
    sys.exit(3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("dataset")
    parser.add_argument("--bytes", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=0)
    args = parser.parse_args()
    with h5py.File(args.file, "r") as f:
        d = f[args.dataset]
        if d.chunks is not None:
            info = d.id.get_chunk_info(args.chunk)
            offset, size = info.byte_offset, info.size
        else:
            offset, size = d.id.get_offset(), d.id.get_storage_size()
    count = min(args.bytes, size // 2)
    start = offset + (size - count) // 2
    with open(args.file, "r+b") as raw:
        raw.seek(start)
        data = bytearray(raw.read(count))
        raw.seek(start)
        raw.write(bytes(b ^ 0xFF for b in data))
    print(f"inverted {count} bytes at {start} in {args.dataset}")


if __name__ == "__main__":
    main()
