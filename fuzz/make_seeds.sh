#!/usr/bin/env bash
# Writes the seed corpus of the fuzz targets that read small files into fuzz/corpus/<target>/
# (valid inputs of each format, made by Python's gzip and Pillow and from kiln's own help). Run
# from anywhere after a release build; crash inputs found later are added next to the seeds by
# hand (fuzz/README.md). The HDF5 seeds are generated, not kept: fuzz/make_hdf5_seeds.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
kiln=build/release/apps/kiln
c=fuzz/corpus
mkdir -p $c/{idx,cifar,jpeg,decode,list,config,augment}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 - "$c" <<'PY'
import gzip, io, struct, sys
from PIL import Image
c = sys.argv[1]
images = struct.pack(">HBBIII", 0, 8, 3, 2, 3, 3) + bytes(range(18))
labels = struct.pack(">HBBI", 0, 8, 1, 2) + bytes([1, 7])
open(f"{c}/idx/images.idx", "wb").write(images)
open(f"{c}/idx/labels.idx", "wb").write(labels)
open(f"{c}/idx/images.idx.gz", "wb").write(gzip.compress(images))
open(f"{c}/cifar/cifar10.bin", "wb").write(bytes([3]) + bytes(i % 251 for i in range(3072)))
open(f"{c}/cifar/cifar100.bin", "wb").write(bytes([1, 42]) + bytes(i % 241 for i in range(3072)))
img = Image.new("RGB", (19, 13))
for x in range(19):
    for y in range(13):
        img.putpixel((x, y), (x * 13 % 256, y * 19 % 256, (x * y) % 256))
for fmt, name in [("JPEG", "a.jpg"), ("PNG", "a.png"), ("BMP", "a.bmp")]:
    out = io.BytesIO()
    img.save(out, fmt)
    open(f"{c}/decode/{name}", "wb").write(out.getvalue())
    if fmt == "JPEG":
        open(f"{c}/jpeg/{name}", "wb").write(out.getvalue())
# GIF (io/gif.cpp): a palette frame, interlaced, with a transparent index, smaller than its screen
# would need a hand-built file; PIL's interlaced, transparent one covers the decoder's branches.
out = io.BytesIO()
img.convert("P", palette=Image.ADAPTIVE, colors=16).save(out, "GIF", interlace=True, transparency=3)
open(f"{c}/decode/a.gif", "wb").write(out.getvalue())
out = io.BytesIO()
img.convert("L").save(out, "JPEG", progressive=True)
open(f"{c}/jpeg/grey-progressive.jpg", "wb").write(out.getvalue())
open(f"{c}/list/list.txt", "wb").write(b"\0a.png 0\nsub/b.jpg cat\n# comment\n\n")
open(f"{c}/list/list.csv", "wb").write(b"\1path,label\na.png,0\n\"b c.png\",dog\n")
PY

cat > $c/config/config.json <<'JSON'
{"model": {"name": "resnet20", "width": 0.5}, "epochs": 3, "batch_size": 16,
 "optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true},
 "schedule": "cosine+warmup:1", "augment": [{"type": "pad_crop", "padding": 2}],
 "data": {"validation_split": 0.1}, "callbacks": {"early_stopping": {"enabled": true, "patience": 3}}}
JSON
printf 'optimizer.lr=0.01' > $c/config/set.txt
printf 'model.layers=[{"type": "conv2d", "filters": 4}, {"type": "dense", "units": 2}]' \
  > $c/config/set-layers.txt
# One list per stage, from the examples `kiln train --help` prints ("  name {options}").
"$kiln" train --help | sed -n 's/^ *\([a-z_]*\) {\(.*\)}$/[{"type": "\1", \2}]/p' |
  while read -r line; do
    name=$(echo "$line" | sed 's/.*"type": "\([a-z_]*\)".*/\1/')
    echo "$line" > "$c/augment/$name.json"
  done
echo '[{"type": "scale_crop", "size": 16, "scale_range": [16, 30]}, {"type": "horizontal_flip"}]' \
  > $c/augment/pair.json

ls -R $c | head -50
