"""Shared helpers of the loaders: argument checks, image decoding and the returned Bunch."""

import io

import numpy as np
from sklearn.utils import Bunch

SUBSETS = ("all", "train", "test")


def check_subset(subset):
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}.")
    return subset


def finish_image_bunch(parts, target_names, image_shape, source, scale=255.0):
    """Concatenate ``{split: (integer pixels, labels)}`` into the loaders' Bunch.

    Pixels are divided by ``scale`` into float32 values in [0, 1].
    """
    data = np.concatenate([images for images, _ in parts.values()])
    data = np.divide(data, np.float32(scale), dtype=np.float32)
    target = np.concatenate([labels for _, labels in parts.values()]).astype(np.int64)
    split = np.concatenate([np.full(len(labels), s) for s, (_, labels) in parts.items()])
    return Bunch(
        data=data,
        target=target,
        target_names=np.asarray(target_names),
        image_shape=tuple(image_shape),
        split=split,
        source=str(source),
    )


def train_test_arrays(bunch):
    """Split a loader's Bunch into ``X_train, y_train, X_test, y_test`` by its ``split``.

    Parameters
    ----------
    bunch : Bunch
        The result of :func:`load_cifar10` or :func:`load_digits` with ``subset="all"``.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray

    Examples
    --------
    >>> from corel_sklearn.datasets import load_digits, train_test_arrays
    >>> X_train, y_train, X_test, y_test = train_test_arrays(load_digits())
    >>> X_train.shape, X_test.shape
    ((898, 64), (899, 64))
    """
    split = np.asarray(bunch.split)
    train, test = split == "train", split == "test"
    if not train.any() or not test.any():
        raise ValueError(
            f"The bunch must hold both splits, found {sorted(set(split.tolist()))}; "
            "load it with subset='all'."
        )
    return bunch.data[train], bunch.target[train], bunch.data[test], bunch.target[test]


_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def decode_image(raw, name, source, image_shape, resize=False):
    """Decode image file bytes to a flattened channel-major (C, H, W) uint8 row.

    ``image_shape`` is (channels, height, width); the image is converted to the matching
    Pillow mode (1: "L", 3: "RGB", 4: "RGBA"). A different height or width is a ValueError
    naming the file, unless ``resize`` (Pillow's box filter, as ImageNet-32 was downsampled).
    """
    from PIL import Image

    channels, height, width = image_shape
    try:
        with Image.open(io.BytesIO(raw)) as im:
            im = im.convert(_PIL_MODES[channels])
            if resize and im.size != (width, height):
                im = im.resize((width, height), Image.Resampling.BOX)
            pixels = np.asarray(im)
    except Exception as exc:
        raise ValueError(f"Could not decode image {name!r} in {source!r}: {exc}") from exc
    pixels = pixels.reshape(pixels.shape[0], pixels.shape[1], -1)
    if pixels.shape != (height, width, channels):
        raise ValueError(
            f"Image {name!r} in {source!r} has shape {pixels.shape}, expected "
            f"{(height, width, channels)}; pass resize=True to resize it."
        )
    return pixels.transpose(2, 0, 1).reshape(-1)
