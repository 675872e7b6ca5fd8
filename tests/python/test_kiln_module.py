"""`import kiln` against independent references: the C++ pipeline's own digest (`kiln bench
pipeline`), the dataset read with h5py, and `kiln predict` on the same images."""
import os
import struct
import subprocess

import h5py
import numpy as np
import pytest

import kiln

KILN = os.environ.get("KILN_BINARY", "kiln")
AUGMENT = [{"type": "pad_crop", "padding": 2}, {"type": "horizontal_flip"},
           {"type": "random_erasing", "fill": "random"}]


def write_idx(path, array, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape))
        f.write(array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """96 grey 12x10 images of 4 classes, each class a bright band in its own place."""
    d = tmp_path_factory.mktemp("kiln")
    rng = np.random.default_rng(7)
    labels = np.arange(96) % 4
    images = rng.integers(0, 60, size=(96, 12, 10)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 3 * c:3 * c + 3, :] += 180
    write_idx(d / "images.idx", images, 0x803)
    write_idx(d / "labels.idx", labels, 0x801)
    subprocess.run([KILN, "preprocess", str(d / "images.idx"), "--labels", str(d / "labels.idx"),
                    "-o", str(d / "data.h5"), "--class-names", "a,b,c,d"], check=True,
                   capture_output=True)
    return d


def digest(chunks):
    """kiln bench pipeline's digest (pipeline/bench/pipeline_bench.cpp): FNV-1a over 64-bit words
    in eight lanes, bytes for the tail."""
    prime, offset, mask = 1099511628211, 14695981039346656037, (1 << 64) - 1
    lanes = [offset] * 8
    for raw in chunks:
        blocks = len(raw) // 64
        words = np.frombuffer(raw[:blocks * 64], dtype="<u8").reshape(blocks, 8)
        for row in words.tolist():
            lanes = [((lane ^ w) * prime) & mask for lane, w in zip(lanes, row)]
        for byte in raw[blocks * 64:]:
            lanes[0] = ((lanes[0] ^ byte) * prime) & mask
    value = offset
    for lane in lanes:
        value = ((value ^ lane) * prime) & mask
    return value


def test_version_is_the_binarys_and_the_datasets(data):
    """One version, from CMake's project(): the module, `kiln --version` and the files agree."""
    binary = subprocess.run([KILN, "--version"], check=True, capture_output=True, text=True)
    assert binary.stdout.strip() == "kiln " + kiln.__version__
    with h5py.File(data / "data.h5", "r") as f:
        stored = f.attrs["kiln_version"]
    assert (stored.decode() if isinstance(stored, bytes) else stored) == kiln.__version__


def test_batches_are_the_cpp_pipelines_bit_for_bit(data):
    loader = kiln.Loader(str(data / "data.h5"), augment=AUGMENT, batch_size=16, seed=3, threads=2)
    chunks = []
    for epoch in range(2):
        loader.set_epoch(epoch)
        for images, labels in loader:
            chunks += [images.tobytes(), labels.tobytes(), loader.indices.tobytes()]
    cli = subprocess.run([KILN, "bench", "pipeline", str(data / "data.h5"), "--augment",
                          str(AUGMENT).replace("'", '"'), "--batch-size", "16", "--seed", "3",
                          "--threads", "2", "--epochs", "2"],
                         check=True, capture_output=True, text=True).stdout
    expected = int(cli.split("digest ")[1].split()[0], 16)
    assert digest(chunks) == expected


def test_same_seed_same_batches_with_one_or_two_threads(data):
    def epoch(threads):
        loader = kiln.Loader(str(data / "data.h5"), augment=AUGMENT, batch_size=10, threads=threads)
        return [(x.copy(), y.copy()) for x, y in loader.epoch(4)]
    one, two = epoch(1), epoch(2)
    assert len(one) == len(two) > 0
    for (a, la), (b, lb) in zip(one, two):
        assert np.array_equal(a, b) and np.array_equal(la, lb)


def test_unnormalized_eval_batches_are_the_stored_pixels(data):
    loader = kiln.Loader(str(data / "data.h5"), batch_size=32, train=False, shuffle=False,
                         normalize=False)
    with h5py.File(data / "data.h5") as f:
        stored, labels = f["images"][:], f["labels"][:]
    seen = 0
    for images, batch_labels in loader:
        assert images.dtype == np.uint8 and images.shape[1:] == (12, 10, 1)
        assert np.array_equal(images, stored[seen:seen + len(images)])
        assert np.array_equal(batch_labels, labels[seen:seen + len(images)])
        seen += len(images)
    assert seen == 96 and len(loader) == 3


def test_normalized_batches_use_the_files_channel_statistics(data):
    loader = kiln.Loader(str(data / "data.h5"), batch_size=96, train=False, shuffle=False)
    images, _ = next(iter(loader))
    with h5py.File(data / "data.h5") as f:
        stored = f["images"][:].astype(np.float64)
        mean, std = f["normalization/mean"][0], f["normalization/std"][0]
    expected = ((stored - mean) / std).transpose(0, 3, 1, 2)
    assert images.dtype == np.float32 and images.shape == (96, 1, 12, 10)
    assert np.allclose(images, expected, atol=1e-5)


def test_each_batch_owns_its_memory(data):
    loader = kiln.Loader(str(data / "data.h5"), augment=AUGMENT, batch_size=8)
    batches = list(loader)
    kept = [x.copy() for x, _ in batches]
    again = [x for x, _ in kiln.Loader(str(data / "data.h5"), augment=AUGMENT, batch_size=8)]
    for held, copy, fresh in zip(batches, kept, again):
        assert np.array_equal(held[0], copy) and np.array_equal(copy, fresh)


def test_errors_are_python_exceptions_with_kilns_messages(data):
    with pytest.raises(kiln.Error, match="nowhere.h5"):
        kiln.Loader(str(data / "nowhere.h5"))
    with pytest.raises(ValueError, match="unknown stage 'spin'"):
        kiln.Loader(str(data / "data.h5"), augment=[{"type": "spin"}])
    assert issubclass(kiln.ConfigError, ValueError) and issubclass(kiln.Error, RuntimeError)


def test_model_predicts_as_kiln_predict_does(data):
    model_path = data / "model.h5"
    subprocess.run([KILN, "train", str(data / "data.h5"), "-o", str(model_path), "--epochs", "3",
                    "--batch-size", "16", "--lr", "0.05"], check=True, capture_output=True)
    model = kiln.Model.load(str(model_path))
    assert model.class_names == ["a", "b", "c", "d"] and model.channels == 1
    with h5py.File(data / "data.h5") as f:
        images, labels = f["images"][:6], f["labels"][:6]
    paths = []
    for i, image in enumerate(images):  # binary PGM, which kiln decodes like any image file
        paths.append(str(data / f"{i}.pgm"))
        with open(paths[-1], "wb") as out:
            out.write(b"P5\n10 12\n255\n" + image.tobytes())
    probabilities = model.predict(images)
    assert probabilities.shape == (6, 4)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(probabilities.argmax(axis=1), labels)
    cli = subprocess.run([KILN, "predict", str(model_path), *paths, "--top-k", "4"], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    assert len(cli) == len(probabilities), cli
    for row, line in zip(probabilities, cli):
        fields = line.split()[1:]
        printed = {fields[k]: float(fields[k + 1]) for k in range(0, len(fields), 2)}
        for name, p in zip(model.class_names, row):
            assert abs(printed[name] - p) < 6e-5
    # Float pixels on the 0..255 scale give the same answer.
    assert np.allclose(model.predict(images.astype(np.float32)), probabilities)


@pytest.mark.skipif(os.environ.get("KILN_WITH_ONNX") == "0", reason="kiln built without libonnx-dev")
def test_onnx_export_passes_the_python_onnx_checker(data):
    import onnx
    model_path = data / "model-for-onnx.h5"
    subprocess.run([KILN, "train", str(data / "data.h5"), "-o", str(model_path), "--epochs", "1"],
                   check=True, capture_output=True)
    exported = subprocess.run([KILN, "export", str(model_path), "-o", str(data / "m.onnx")],
                              capture_output=True, text=True)
    assert exported.returncode == 0, exported.stderr
    model = onnx.load(str(data / "m.onnx"))
    onnx.checker.check_model(model)
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    assert metadata["class_names"] == '["a","b","c","d"]' and metadata["input"] == "1,12,10"


def test_multi_crop_prediction_averages_views_as_kiln_predict_does(data):
    model_path = data / "model-crops.h5"
    subprocess.run([KILN, "train", str(data / "data.h5"), "-o", str(model_path), "--epochs", "2",
                    "--augment", '[{"type": "pad_crop", "padding": 2}]'],
                   check=True, capture_output=True)
    with h5py.File(data / "data.h5") as f:
        image = f["images"][5]
    path = str(data / "crops.pgm")
    with open(path, "wb") as out:
        out.write(b"P5\n10 12\n255\n" + image.tobytes())
    model = kiln.Model.load(str(model_path), crops=10)
    ten = model.predict(image)[0]
    one = kiln.Model.load(str(model_path)).predict(image)[0]
    assert not np.allclose(ten, one, atol=1e-6)  # the views differ: the average is its own
    # One image as (H, W, 1), (H, W) or a batch of one: the same answer.
    assert np.array_equal(model.predict(image[:, :, 0])[0], ten)
    assert np.array_equal(model.predict(image[None])[0], ten)
    line = subprocess.run([KILN, "predict", str(model_path), path, "--top-k", "4", "--crops",
                           "10"], check=True, capture_output=True, text=True).stdout.split()[1:]
    printed = {line[k]: float(line[k + 1]) for k in range(0, len(line), 2)}
    for name, p in zip(model.class_names, ten):
        assert abs(printed[name] - p) < 6e-5


def test_gif_frames_are_pils(tmp_path):
    """GIFs as PIL reads them (and so torchvision's ImageFolder): the first frame, converted to RGB
    with a transparent index in its palette colour; interlaced or not, animated or not."""
    from PIL import Image
    rng = np.random.default_rng(5)
    folder = tmp_path / "gifs" / "a"
    folder.mkdir(parents=True)
    frames = {}
    for name, options in [("plain", {}), ("interlaced", {"interlace": True}),
                          ("transparent", {"transparency": 3}),
                          ("animated", {"save_all": True, "duration": 50})]:
        pixels = rng.integers(0, 255, size=(13, 17, 3), dtype=np.uint8)
        first = Image.fromarray(pixels).convert("P", palette=Image.ADAPTIVE, colors=16)
        extra = {}
        if name == "animated":
            extra["append_images"] = [Image.fromarray(255 - pixels).convert("P")]
        first.save(folder / f"{name}.gif", **options, **extra)
        frames[name] = np.array(Image.open(folder / f"{name}.gif").convert("RGB"))
    subprocess.run([KILN, "preprocess", str(tmp_path / "gifs"), "--short-side", "13", "--store",
                    "raw", "-o", str(tmp_path / "gifs.h5")], check=True, capture_output=True)
    with h5py.File(tmp_path / "gifs.h5") as f:
        offsets, shapes, images = f["offsets"][:], f["shapes"][:], f["images"][:]
        assert len(shapes) == len(frames)
        assert len(f["skipped/paths"]) == 0
    # Class folders are read in sorted order.
    for i, name in enumerate(sorted(frames)):
        stored = images[offsets[i]:offsets[i + 1]].reshape(shapes[i])
        assert np.array_equal(stored, frames[name]), name


def test_multi_label_and_regression_lists_from_preprocess_to_predict(tmp_path):
    """`kiln preprocess --task` on CSV lists as a user writes them, read back with h5py and by
    kiln.Loader (each batch row the targets of its image), then train, evaluate and predict from
    the command line."""
    from PIL import Image
    rng = np.random.default_rng(3)
    multi, values = ["path,labels"], ["path,brightness,dark"]
    expected_sets, expected_values = [], []
    for i in range(64):
        top, bottom = rng.random() < 0.5, rng.random() < 0.5
        pixels = rng.integers(0, 40, size=(8, 8), dtype=np.uint8)
        pixels[:4] += 200 if top else 0
        pixels[4:] += 200 if bottom else 0
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
        names = " ".join(n for n, on in (("bottom", bottom), ("top", top)) if on)
        multi.append(f"{i}.png,\"{names}\"")
        values.append(f"{i}.png,{pixels.mean() / 255:.6f},{int(not (top or bottom))}")
        expected_sets.append([float(bottom), float(top)])
        expected_values.append([float(f"{pixels.mean() / 255:.6f}"), float(not (top or bottom))])
    (tmp_path / "multi.csv").write_text("\n".join(multi) + "\n")
    (tmp_path / "values.csv").write_text("\n".join(values) + "\n")
    for task, lst, out in (("multi_label", "multi.csv", "ml.h5"),
                           ("regression", "values.csv", "reg.h5")):
        subprocess.run([KILN, "preprocess", str(tmp_path / lst), "--task", task, "--size", "8x8",
                        "--channels", "1", "-o", str(tmp_path / out)], check=True,
                       capture_output=True)
    with h5py.File(tmp_path / "ml.h5") as f:
        assert [n.decode() if isinstance(n, bytes) else n for n in f.attrs["class_names"]] == \
            ["bottom", "top"]
        assert f["targets"].dtype == np.uint8
        assert f["targets"][...].tolist() == expected_sets
    with h5py.File(tmp_path / "reg.h5") as f:
        assert np.allclose(f["targets"][...], expected_values)
    for out, expected in (("ml.h5", expected_sets), ("reg.h5", expected_values)):
        loader = kiln.Loader(str(tmp_path / out), batch_size=10, seed=4)
        assert loader.task == ("multi_label" if out == "ml.h5" else "regression")
        seen = 0
        for images, targets in loader:
            assert targets.dtype == np.float32 and targets.shape == (len(images), 2)
            assert np.allclose(targets, np.array(expected, np.float32)[loader.indices])
            seen += len(images)
        assert seen == 64
    model = tmp_path / "ml-model.h5"
    subprocess.run([KILN, "train", str(tmp_path / "ml.h5"), "--model", "mlp", "--epochs", "3",
                    "-o", str(model), "--set", "optimizer.type=adam"], check=True,
                   capture_output=True)
    evaluated = subprocess.run([KILN, "evaluate", str(model), str(tmp_path / "ml.h5"),
                                "--per-class"], check=True, capture_output=True, text=True)
    assert "mAP" in evaluated.stdout and "subset accuracy" in evaluated.stdout
    assert "bottom" in evaluated.stdout
    predicted = subprocess.run([KILN, "predict", str(model), str(tmp_path / "0.png"),
                                "--threshold", "0.01"], check=True, capture_output=True,
                               text=True)
    # At a threshold of 0.01 every class is printed, most likely first.
    assert "bottom" in predicted.stdout and "top" in predicted.stdout
    bad = subprocess.run([KILN, "train", str(tmp_path / "reg.h5"), "--epochs", "1", "-o",
                          str(tmp_path / "never.h5"), "--set",
                          'augment=[{"type": "cutmix", "alpha": 1.0}]'], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "use mixup with task regression" in bad.stderr, bad.stderr


def test_mixup_and_cutmix_mix_each_row_with_its_mirror_row(data):
    """Row i of a training batch is mixed with row n-1-i of the unmixed batch (the same seed
    without the batch stage): mixup's pixels are lam*x_i + (1-lam)*x_j with lam read off the
    target row, and cutmix pastes exactly the pixel fraction the target gives row j."""
    path = str(data / "data.h5")

    def batch(stages, per_sample=AUGMENT[:2]):
        loader = kiln.Loader(path, augment=per_sample + stages, batch_size=12, seed=5, threads=2)
        return next(iter(loader))

    plain, labels = batch([])
    mixed, targets = batch([{"type": "mixup", "alpha": 0.4}])
    assert targets.dtype == np.float32 and targets.shape == (12, 4)
    assert np.allclose(targets.sum(axis=1), 1, atol=1e-6)
    mirrored = 0
    for i in range(12):
        j = 11 - i
        lam = targets[i, labels[i]] if labels[i] != labels[j] else 1.0
        if labels[i] == labels[j]:
            continue
        assert np.allclose(targets[i, labels[j]], 1 - lam, atol=1e-6)
        assert np.allclose(mixed[i], lam * plain[i] + (1 - lam) * plain[j], atol=1e-5)
        mirrored += 0 < lam < 1
    assert mirrored >= 6

    # Without pad_crop, whose zero borders would hide a box's edge where both images have them.
    plain, labels = batch([], per_sample=[])
    pasted, cut_targets = batch([{"type": "cutmix", "alpha": 1.0}], per_sample=[])
    boxes = 0
    for i in range(12):
        j = 11 - i
        if labels[i] == labels[j]:
            continue
        changed = np.any(pasted[i] != plain[i], axis=0)  # (H, W)
        box = np.zeros_like(changed)
        if changed.any():
            rows, cols = np.nonzero(changed)
            box[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
            boxes += 1
        # Inside the box row j's pixels, outside row i's; the label weight is the box's area.
        assert np.array_equal(pasted[i][:, box], plain[j][:, box])
        assert np.array_equal(pasted[i][:, ~box], plain[i][:, ~box])
        assert abs(cut_targets[i, labels[j]] - box.mean()) < 1e-6
        assert abs(cut_targets[i, labels[i]] - (1 - box.mean())) < 1e-6
    assert boxes >= 4

    # Evaluation batches never mix: their labels stay int32 classes.
    eval_loader = kiln.Loader(path, augment=[{"type": "mixup", "alpha": 0.4}], batch_size=12,
                              train=False, shuffle=False)
    _, eval_labels = next(iter(eval_loader))
    assert eval_labels.dtype == np.int32
    with pytest.raises(kiln.ConfigError, match="uint8"):
        kiln.Loader(path, augment=[{"type": "mixup", "alpha": 0.4}], normalize=False)
    with pytest.raises(kiln.ConfigError, match="last"):
        kiln.Loader(path, augment=[{"type": "mixup", "alpha": 0.4}, {"type": "horizontal_flip"}])
