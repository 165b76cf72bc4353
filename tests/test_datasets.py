import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import scipy.io
import sklearn.datasets
from PIL import Image

from corel_sklearn.datasets import (
    CIFAR10_CLASSES,
    ODDS_DATASETS,
    load_adbench,
    load_cifar10,
    load_digits,
    load_odds,
    one_class_draws,
    one_class_split,
    train_test_arrays,
)

# ----------------------------------------------------------------------------- fixtures


def _write_cifar_pickles(folder, rng, per_batch=3):
    """A tiny cifar-10-batches-py folder; returns the uint8 rows and labels it wrote."""
    os.makedirs(folder)
    written = {"train": ([], []), "test": ([], [])}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, f)
        split = "test" if name == "test_batch" else "train"
        written[split][0].append(data)
        written[split][1].extend(labels)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in CIFAR10_CLASSES]}, f)
    return {s: (np.concatenate(d), np.asarray(l)) for s, (d, l) in written.items()}


def _image_bytes(pixels, fmt):
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt, quality=95)
    return buf.getvalue()


def _jpeg_tree_files(rng, fmt="JPEG"):
    """{relative name: encoded bytes} for a tiny train|test/<class>/NNNN tree."""
    files = {}
    for split, count in (("train", 3), ("test", 2)):
        for cls in ("cat", "airplane", "dog"):  # written unsorted on purpose
            for i in reversed(range(count)):
                pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
                files[f"{split}/{cls}/{i:04d}.{fmt.lower()}"] = _image_bytes(pixels, fmt)
    return files


def _expected_from_tree(files, split):
    """Reference: decode each file with Pillow, class folders sorted, then file names."""
    names = sorted(n for n in files if n.startswith(split + "/"))
    names.sort(key=lambda n: (n.split("/")[1], n))
    classes = sorted({n.split("/")[1] for n in files})
    rows, labels = [], []
    for name in names:
        hwc = np.asarray(Image.open(io.BytesIO(files[name])).convert("RGB"))
        rows.append(hwc.transpose(2, 0, 1).ravel() / np.float32(255))
        labels.append(classes.index(name.split("/")[1]))
    return np.asarray(rows, dtype=np.float32), np.asarray(labels)


# ----------------------------------------------------------------------------- CIFAR-10


def test_load_cifar10_pickle_folder_exact(tmp_path, rng):
    written = _write_cifar_pickles(str(tmp_path / "cifar-10-batches-py"), rng)
    for path in (tmp_path, tmp_path / "cifar-10-batches-py"):
        bunch = load_cifar10(path)
        X_train, y_train, X_test, y_test = train_test_arrays(bunch)
        assert bunch.data.dtype == np.float32 and bunch.image_shape == (3, 32, 32)
        np.testing.assert_array_equal(X_train * 255, written["train"][0])
        np.testing.assert_array_equal(y_train, written["train"][1])
        np.testing.assert_array_equal(X_test * 255, written["test"][0])
        np.testing.assert_array_equal(y_test, written["test"][1])
        assert list(bunch.target_names) == list(CIFAR10_CLASSES)
        assert bunch.split.tolist() == ["train"] * 15 + ["test"] * 3


def test_load_cifar10_pickle_subset_and_max_per_class(tmp_path, rng):
    written = _write_cifar_pickles(str(tmp_path / "cifar-10-batches-py"), rng, per_batch=20)
    test = load_cifar10(tmp_path, subset="test")
    assert set(test.split) == {"test"}
    np.testing.assert_array_equal(test.target, written["test"][1])
    few = load_cifar10(tmp_path, subset="train", max_per_class=1)
    labels = written["train"][1]
    first = sorted(np.flatnonzero(labels == c)[0] for c in np.unique(labels))
    np.testing.assert_array_equal(few.data * 255, written["train"][0][first])
    np.testing.assert_array_equal(few.target, labels[first])


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_load_cifar10_image_folder_matches_pillow(tmp_path, rng, fmt):
    files = _jpeg_tree_files(rng, fmt)
    for name, raw in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(raw)
    bunch = load_cifar10(tmp_path)
    assert list(bunch.target_names) == ["airplane", "cat", "dog"]
    X_train, y_train, X_test, y_test = train_test_arrays(bunch)
    for split, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
        X_ref, y_ref = _expected_from_tree(files, split)
        np.testing.assert_array_equal(X, X_ref)
        np.testing.assert_array_equal(y, y_ref)
    if fmt == "PNG":  # lossless: the loader's pixels are exactly the ones written
        raw = np.asarray(Image.open(io.BytesIO(files["test/airplane/0000.png"])))
        np.testing.assert_array_equal(X_test[0] * 255, raw.transpose(2, 0, 1).ravel())


@pytest.mark.parametrize("prefix", ["", "cifar10/"])
def test_load_cifar10_zip_matches_folder(tmp_path, rng, prefix):
    files = _jpeg_tree_files(rng)
    archive = tmp_path / "data" / "tiny.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(prefix + "README.txt", "not an image")
        for name, raw in files.items():
            zf.writestr(prefix + name, raw)
    for path in (archive, archive.parent):  # the zip itself or the folder holding it
        bunch = load_cifar10(path, subset="train", max_per_class=2)
        X_ref, y_ref = _expected_from_tree(files, "train")
        keep = np.concatenate([np.flatnonzero(y_ref == c)[:2] for c in range(3)])
        np.testing.assert_array_equal(bunch.data, X_ref[keep])
        np.testing.assert_array_equal(bunch.target, [0, 0, 1, 1, 2, 2])
        assert bunch.source == str(archive)


def test_load_cifar10_errors(tmp_path, rng):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere.*expected"):
        load_cifar10(missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No CIFAR-10 data"):
        load_cifar10(tmp_path / "empty")
    (tmp_path / "notzip.bin").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a zip"):
        load_cifar10(tmp_path / "notzip.bin")
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(tmp_path, subset="validation")
    # a pickle folder with a malformed batch and one missing
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar_pickles(str(folder), rng)
    with open(folder / "data_batch_2", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ValueError, match=r"\(n, 3072\).*\(2, 100\)"):
        load_cifar10(folder)
    os.remove(folder / "data_batch_2")
    with pytest.raises(FileNotFoundError, match="data_batch_2.*missing"):
        load_cifar10(folder, subset="train")
    # an undecodable image and a wrong image size
    tree = tmp_path / "jpeg"
    (tree / "train" / "cat").mkdir(parents=True)
    (tree / "test" / "cat").mkdir(parents=True)
    (tree / "train" / "cat" / "0.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="Could not decode.*0.jpg"):
        load_cifar10(tree, subset="train")
    big = _image_bytes(np.zeros((16, 16, 3), np.uint8), "PNG")
    (tree / "test" / "cat" / "0.png").write_bytes(big)
    with pytest.raises(ValueError, match=r"\(16, 16, 3\)"):
        load_cifar10(tree, subset="test")


def test_load_cifar10_shared_jpeg_zip(shared_data):
    path = os.path.join(shared_data, "cifar10_jpg")
    bunch = load_cifar10(path, max_per_class=5)
    assert bunch.data.shape == (100, 3072) and bunch.data.dtype == np.float32
    assert list(bunch.target_names) == list(CIFAR10_CLASSES)
    assert 0.0 <= bunch.data.min() and bunch.data.max() <= 1.0
    assert np.bincount(bunch.target[bunch.split == "test"]).tolist() == [5] * 10
    with zipfile.ZipFile(os.path.join(path, "cifar10_jpg.zip")) as zf:
        raw = zf.read("test/ship/0003.jpg")
    ref = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB")).transpose(2, 0, 1).ravel()
    row = np.flatnonzero(bunch.split == "test")[8 * 5 + 3]
    np.testing.assert_array_equal(bunch.data[row] * 255, ref)


# ----------------------------------------------------------------------------- digits


def test_load_digits_split_is_stratified_exact_and_deterministic():
    digits = load_digits()
    raw = sklearn.datasets.load_digits()
    X_train, y_train, X_test, y_test = train_test_arrays(digits)
    assert digits.image_shape == (1, 8, 8) and digits.data.dtype == np.float32
    assert len(X_train) + len(X_test) == 1797
    # every original row appears exactly once, scaled by 1/16
    both = np.concatenate([X_train, X_test]) * 16
    ref = raw.data
    order = np.lexsort(both.T[::-1])
    order_ref = np.lexsort(ref.T[::-1])
    np.testing.assert_array_equal(both[order], ref[order_ref])
    counts = np.bincount(raw.target)
    assert np.abs(np.bincount(y_train) - counts / 2).max() <= 0.5
    np.testing.assert_array_equal(load_digits().data, digits.data)
    other = load_digits(random_state=1)
    assert not np.array_equal(other.data, digits.data)
    assert load_digits(subset="test", train_fraction=0.8).data.shape[0] < 400


# ----------------------------------------------------------------------------- tabular


def test_load_odds_tiny_mat(tmp_path):
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    path = tmp_path / "tiny.mat"
    scipy.io.savemat(path, {"X": X, "y": np.array([[0], [1], [0], [1]], dtype=np.uint8)})
    bunch = load_odds(path)
    np.testing.assert_array_equal(bunch.data, X)
    assert bunch.target.tolist() == [0, 1, 0, 1] and bunch.target.dtype == np.int64
    assert bunch.name == "tiny"


def test_load_adbench_tiny_npz(tmp_path):
    X = np.arange(6, dtype=np.int16).reshape(3, 2)
    np.savez(tmp_path / "7_tiny.npz", X=X, y=np.array([1, 0, 0]))
    bunch = load_adbench(tmp_path / "7_tiny.npz")
    np.testing.assert_array_equal(bunch.data, X)
    assert bunch.data.dtype == np.float64 and bunch.target.tolist() == [1, 0, 0]


def test_tabular_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.mat"):
        load_odds(tmp_path / "gone.mat")
    with pytest.raises(FileNotFoundError, match="is a folder"):
        load_adbench(tmp_path)
    scipy.io.savemat(tmp_path / "noy.mat", {"X": np.eye(2)})
    with pytest.raises(ValueError, match=r"lacks key\(s\) \['y'\]"):
        load_odds(tmp_path / "noy.mat")
    np.savez(tmp_path / "bad.npz", X=np.eye(2), y=np.array([0, 2]))
    with pytest.raises(ValueError, match="labels must be 0"):
        load_adbench(tmp_path / "bad.npz")
    np.savez(tmp_path / "short.npz", X=np.eye(3), y=np.array([0, 1]))
    with pytest.raises(ValueError, match="one label per row"):
        load_adbench(tmp_path / "short.npz")
    (tmp_path / "garbage.mat").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="Could not read"):
        load_odds(tmp_path / "garbage.mat")
    with pytest.raises(ValueError, match=r"does not end in \.npz"):
        load_adbench(tmp_path / "garbage.mat")


def test_load_odds_shared_matches_published_table(shared_data):
    import csv

    with open(os.path.join(shared_data, "baselines", "pyod_odds_roc_10trials_2019.csv")) as f:
        table = {row["Data"]: row for row in csv.DictReader(f)}
    assert sorted(table) == sorted(ODDS_DATASETS)
    for name in ODDS_DATASETS:
        bunch = load_odds(os.path.join(shared_data, "odds_pyod", f"{name}.mat"))
        row = table[name]
        assert bunch.data.shape == (int(row["#Samples"]), int(row["# Dimensions"]))
        assert bunch.target.mean() * 100 == pytest.approx(float(row["Outlier Perc"]), abs=1e-3)


def test_load_adbench_shared(shared_data):
    bunch = load_adbench(os.path.join(shared_data, "adbench_classical", "6_cardio.npz"))
    odds = load_odds(os.path.join(shared_data, "odds_pyod", "cardio.mat"))
    assert bunch.data.shape == odds.data.shape
    assert bunch.target.sum() == odds.target.sum()


# ----------------------------------------------------------------------------- protocol


def test_one_class_split_properties():
    y_train = np.repeat(np.arange(4), 50)
    y_test = np.tile(np.arange(4), 30)
    idx, is_inlier = one_class_split(y_train, y_test, 2, 20, random_state=3)
    assert len(idx) == len(set(idx.tolist())) == 20
    assert (y_train[idx] == 2).all()
    np.testing.assert_array_equal(is_inlier, y_test == 2)
    again, _ = one_class_split(y_train, y_test, 2, 20, random_state=3)
    np.testing.assert_array_equal(idx, again)
    everything, _ = one_class_split(y_train, y_test, 2, None)
    np.testing.assert_array_equal(everything, np.arange(100, 150))
    with pytest.raises(ValueError, match=r"\[1, 50\]"):
        one_class_split(y_train, y_test, 2, 51)
    with pytest.raises(ValueError, match="no training samples"):
        one_class_split(y_train, y_test, 7, 5)


def test_one_class_draws_are_reproducible_and_independent_of_class_subset():
    y_train = np.repeat(np.arange(3), 40)
    y_test = np.tile(np.arange(3), 10)
    draws = one_class_draws(y_train, y_test, n_samples=10, n_draws=4, random_state=0)
    assert [(int(d.inlier_class), d.draw) for d in draws] == [
        (c, k) for c in range(3) for k in range(4)
    ]
    only_two = one_class_draws(y_train, y_test, n_samples=10, n_draws=4, classes=[2],
                               random_state=0)
    for a, b in zip(draws[8:], only_two, strict=True):
        np.testing.assert_array_equal(a.train_indices, b.train_indices)
    # different draws of a class differ; uniform over the class in aggregate
    assert not np.array_equal(draws[0].train_indices, draws[1].train_indices)
    many = one_class_draws(y_train, y_test, n_samples=10, n_draws=400, classes=[0],
                           random_state=1)
    hits = np.bincount(np.concatenate([d.train_indices for d in many]), minlength=40)
    assert hits.min() > 50 and hits.max() < 150  # expected 100 each
    with pytest.raises(ValueError, match=r"\[5\]"):
        one_class_draws(y_train, y_test, n_samples=10, classes=[5])


class _CreatesMarker:
    """Unpickling this runs ``open(marker, "w")``: a payload that leaves a trace."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def test_load_cifar10_refuses_a_batch_that_would_run_code(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar_pickles(str(folder), rng)
    marker = tmp_path / "marker"
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
                     b"payload": _CreatesMarker(str(marker))}, f)
    with pytest.raises(ValueError, match=r"data_batch_3.*refused to load the global "
                                         r"(io|builtins).open.*could run code.*download it again"):
        load_cifar10(folder, subset="train")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 5])
@pytest.mark.parametrize("numpy1_names", [False, True])
def test_load_cifar10_reads_batches_of_any_protocol_and_numpy(tmp_path, rng, protocol,
                                                              numpy1_names):
    folder = tmp_path / "cifar-10-batches-py"
    written = _write_cifar_pickles(str(folder), rng)
    for name in ["data_batch_1", "test_batch"]:
        with open(folder / name, "rb") as f:
            batch = pickle.load(f)
        payload = pickle.dumps(batch, protocol=protocol)
        if numpy1_names:  # the original files were written by numpy 1 (numpy.core)
            payload = payload.replace(b"numpy._core", b"numpy.core")
            if protocol == 5:  # names are length-prefixed there; keep to protocol 2 text
                continue
        (folder / name).write_bytes(payload)
    bunch = load_cifar10(folder)
    np.testing.assert_array_equal(bunch.target, np.concatenate(
        [written[s][1] for s in ("train", "test")]))


def test_load_cifar10_corrupt_meta_is_one_clear_error(tmp_path, rng):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar_pickles(str(folder), rng)
    meta = folder / "batches.meta"
    meta.write_bytes(meta.read_bytes()[:20])
    with pytest.raises(ValueError, match="Could not read CIFAR-10 metadata .*batches.meta"):
        load_cifar10(folder)
    with open(meta, "wb") as f:
        pickle.dump({b"label_names": "airplane"}, f)
    with pytest.raises(ValueError, match="batches.meta.*list of class names"):
        load_cifar10(folder)
