"""CIFAR-10 from the python-pickle folder or from a JPEG tree (folder or zip)."""

import os
import pickle
import zipfile

import numpy as np

from corel_sklearn.datasets._common import check_subset, decode_image, finish_image_bunch

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR10_IMAGE_SHAPE = (3, 32, 32)
_PICKLE_DIR = "cifar-10-batches-py"
_PICKLE_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
_JPEG_SUFFIXES = (".jpg", ".jpeg", ".png")
_LAYOUTS = (
    f"the python-pickle folder {_PICKLE_DIR!r} (data_batch_1..5, test_batch, batches.meta), "
    "a folder or .zip with train/<class>/*.jpg and test/<class>/*.jpg, "
    "or a folder holding one of these"
)


def load_cifar10(path, *, subset="all", max_per_class=None):
    """Load CIFAR-10 as flattened float32 images in [0, 1].

    Two layouts are read:

    * the python-pickle folder ``cifar-10-batches-py`` (what :func:`fetch_cifar10` and
      ``torchvision`` download): ``data_batch_1`` ... ``data_batch_5``, ``test_batch`` and
      ``batches.meta``; rows keep the original order;
    * a JPEG tree ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``, as a folder or a zip
      (optionally inside one top-level folder). Class labels are the sorted class-folder
      names (for CIFAR-10 this is the standard label order); rows are grouped by class, files
      in name order within a class.

    ``path`` may point at the pickle folder, the JPEG folder, the zip, or a folder holding
    one of them (``cifar-10-batches-py/`` or a single ``*.zip``).

    Parameters
    ----------
    path : str or path-like
        Location of the data, see above.
    subset : {"all", "train", "test"}, default="all"
        Which split to load; "all" concatenates train then test and records each row's
        split in ``split``.
    max_per_class : int, default=None
        Keep only the first ``max_per_class`` images of each class in each split (for quick
        runs); None keeps all.

    Returns
    -------
    bunch : :class:`~sklearn.utils.Bunch`
        ``data`` float32 of shape (n, 3072), channel-major (C, H, W) pixels in [0, 1];
        ``target`` int64 labels; ``target_names`` the class names; ``image_shape`` (3, 32, 32);
        ``split`` an array of "train"/"test" per row; ``source`` the file or folder read.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or holds none of the layouts.
    ValueError
        If the files are there but malformed (wrong keys, shapes, or undecodable images).

    Notes
    -----
    A JPEG copy is lossy (about 30 dB PSNR against the original pixels for quality 75).
    """
    subset = check_subset(subset)
    if max_per_class is not None and int(max_per_class) < 1:
        raise ValueError(f"max_per_class must be None or an int >= 1, got {max_per_class!r}.")
    source, kind = _find_cifar10(path)
    if kind == "pickle":
        parts = {s: _read_pickle_split(source, s) for s in _splits(subset)}
        target_names = _read_pickle_meta(source)
        if max_per_class is not None:
            parts = {s: _first_per_class(*xy, int(max_per_class)) for s, xy in parts.items()}
    else:
        parts, target_names = _read_jpeg_tree(source, _splits(subset), max_per_class)
    return finish_image_bunch(parts, target_names, CIFAR10_IMAGE_SHAPE, source)


def _splits(subset):
    return ("train", "test") if subset == "all" else (subset,)


def _find_cifar10(path):
    """Resolve ``path`` to (source, kind) with kind "pickle", "jpeg-dir" or "jpeg-zip"."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"CIFAR-10 path {path!r} does not exist; expected {_LAYOUTS}.")
    if os.path.isfile(path):
        if zipfile.is_zipfile(path):
            return path, "jpeg-zip"
        raise ValueError(f"CIFAR-10 path {path!r} is a file but not a zip archive.")
    entries = set(os.listdir(path))
    if "data_batch_1" in entries or "test_batch" in entries:
        return path, "pickle"
    if "train" in entries or "test" in entries:
        return path, "jpeg-dir"
    if _PICKLE_DIR in entries:
        return os.path.join(path, _PICKLE_DIR), "pickle"
    zips = sorted(e for e in entries if e.lower().endswith(".zip"))
    if len(zips) == 1:
        return os.path.join(path, zips[0]), "jpeg-zip"
    raise FileNotFoundError(
        f"No CIFAR-10 data found in folder {path!r} (found {sorted(entries)[:10]}); "
        f"expected {_LAYOUTS}."
    )


def _numpy_reconstructors():
    """The globals numpy's pickles name, keyed as (module, name) with ``numpy.core`` spelling.

    Taken from numpy's own ``__reduce__`` so that both ``numpy.core`` (numpy 1, the original
    CIFAR files) and ``numpy._core`` (numpy 2) names resolve to this numpy's functions.
    """
    array = np.zeros(1, dtype=np.uint8)
    functions = [array.__reduce__()[0], array.__reduce_ex__(5)[0], np.float64(0).__reduce__()[0]]
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for function in functions:
        module = function.__module__.replace("numpy._core", "numpy.core")
        allowed[(module, function.__name__)] = function
    return allowed


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles what CIFAR-10 batches contain and refuses anything else before it runs.

    Dicts, lists, bytes, str and ints need no globals; numpy arrays need the array and dtype
    reconstructors and ``_codecs.encode`` (protocol-2 bytes). Any other global (a function a
    crafted file would call) raises ``pickle.UnpicklingError``.
    """

    _allowed = None

    def find_class(self, module, name):
        if _CifarUnpickler._allowed is None:
            _CifarUnpickler._allowed = _numpy_reconstructors()
        if (module, name) == ("_codecs", "encode"):
            import codecs

            return codecs.encode
        found = self._allowed.get((module.replace("numpy._core", "numpy.core"), name))
        if found is None:
            raise pickle.UnpicklingError(
                f"refused to load the global {module}.{name} (CIFAR-10 files hold only dicts, "
                "lists, bytes, str, ints and numpy arrays; loading it could run code)"
            )
        return found


def _unpickle(file, what):
    """The object in the CIFAR-10 pickle ``file``, or a ValueError naming the file."""
    with open(file, "rb") as f:
        try:
            return _CifarUnpickler(f, encoding="bytes").load()
        except Exception as exc:
            raise ValueError(
                f"Could not read CIFAR-10 {what} {file!r}: {exc}. The file is damaged or not "
                "from the CIFAR-10 python release; download it again."
            ) from None


def _read_pickle_meta(folder):
    meta = os.path.join(folder, "batches.meta")
    if not os.path.isfile(meta):
        return CIFAR10_CLASSES
    content = _unpickle(meta, "metadata")
    names = content.get(b"label_names") if isinstance(content, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise ValueError(
            f"{meta!r} should be a dict whose b'label_names' is a list of class names; "
            "it is damaged or not from the CIFAR-10 python release."
        )
    return tuple(n.decode() if isinstance(n, bytes) else n for n in names)


def _read_pickle_split(folder, split):
    images, labels = [], []
    for name in _PICKLE_FILES[split]:
        file = os.path.join(folder, name)
        if not os.path.isfile(file):
            raise FileNotFoundError(
                f"CIFAR-10 batch file {file!r} is missing; the pickle folder must hold "
                f"{_PICKLE_FILES['train'] + _PICKLE_FILES['test']}."
            )
        batch = _unpickle(file, "batch")
        if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
            found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(
                f"{file!r} should be a dict with b'data' and b'labels', found {found}."
            )
        data = np.asarray(batch[b"data"])
        if data.ndim != 2 or data.shape[1] != 3072 or len(batch[b"labels"]) != len(data):
            raise ValueError(
                f"{file!r}: expected data of shape (n, 3072) with n labels, found data "
                f"{data.shape} and {len(batch[b'labels'])} labels."
            )
        images.append(data.astype(np.uint8, copy=False))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def _read_jpeg_tree(source, splits, max_per_class=None):
    """Read ``[prefix/]split/class/file`` images from a folder or zip; CHW uint8 rows."""
    if os.path.isdir(source):
        files = []
        for root, _, names in os.walk(source):
            rel = os.path.relpath(root, source)
            files += [os.path.join(rel, n).replace(os.sep, "/") for n in names]
        read = lambda name: open(os.path.join(source, name), "rb").read()  # noqa: E731
        archive = None
    else:
        archive = zipfile.ZipFile(source)
        files = archive.namelist()
        read = archive.read
    try:
        index = _index_jpeg_files(files, source)
        missing = [s for s in splits if s not in index]
        if missing:
            raise FileNotFoundError(
                f"No {missing} images in {source!r}; expected {_LAYOUTS} "
                f"(found splits {sorted(index)})."
            )
        classes = sorted(set().union(*(index[s] for s in index)))
        parts = {}
        for split in splits:
            images, labels = [], []
            for label, cls in enumerate(classes):
                for name in sorted(index[split].get(cls, ()))[:max_per_class]:
                    images.append(decode_image(read(name), name, source, CIFAR10_IMAGE_SHAPE))
                    labels.append(label)
            parts[split] = (np.stack(images), np.asarray(labels, dtype=np.int64))
    finally:
        if archive is not None:
            archive.close()
    return parts, tuple(classes)


def _index_jpeg_files(files, source):
    """Map split -> class -> [file names] for names ending in an image suffix."""
    index = {}
    prefixes = set()
    for name in files:
        if not name.lower().endswith(_JPEG_SUFFIXES):
            continue
        parts = name.strip("/").split("/")
        if parts[0] == ".":
            parts = parts[1:]
        if len(parts) == 4:  # one top-level folder around train/ and test/
            prefixes.add(parts[0])
            parts = parts[1:]
        if len(parts) != 3 or parts[0] not in ("train", "test"):
            continue
        index.setdefault(parts[0], {}).setdefault(parts[1], []).append(name)
    if len(prefixes) > 1:
        raise ValueError(f"{source!r} holds several top-level folders {sorted(prefixes)}.")
    if not index:
        raise FileNotFoundError(f"No images in {source!r}; expected {_LAYOUTS}.")
    return index


def _first_per_class(images, labels, k):
    keep = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        keep[np.flatnonzero(labels == c)[:k]] = True
    return images[keep], labels[keep]


