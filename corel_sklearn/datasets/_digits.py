"""The embedded default: scikit-learn's 8x8 digits as a train/test image dataset."""

import numpy as np
import sklearn.datasets

from corel_sklearn.datasets._common import check_subset, finish_image_bunch

DIGITS_IMAGE_SHAPE = (1, 8, 8)


def load_digits(*, subset="all", train_fraction=0.5, random_state=0):
    """Load scikit-learn's 1797 handwritten digits as flattened float32 images in [0, 1].

    The digits ship inside the scikit-learn wheel, so this works offline. They have no
    official train/test split; a stratified one is made here: in each class, a random
    ``round(train_fraction * n_class)`` images go to train, the rest to test, both kept in
    their original order.

    Parameters
    ----------
    subset : {"all", "train", "test"}, default="all"
        Which split to return; "all" concatenates train then test.
    train_fraction : float, default=0.5
        Fraction of each class put in the train split, in (0, 1).
    random_state : int, default=0
        Seed of the split (fixed by default, so every run sees the same split).

    Returns
    -------
    bunch : :class:`~sklearn.utils.Bunch`
        ``data`` float32 of shape (n, 64), the 0..16 intensities divided by 16;
        ``target`` int64 digits; ``target_names`` "0" ... "9"; ``image_shape`` (1, 8, 8);
        ``split`` "train"/"test" per row; ``source`` "sklearn.datasets.load_digits".

    Examples
    --------
    >>> from corel_sklearn.datasets import load_digits
    >>> digits = load_digits()
    >>> digits.data.shape, digits.image_shape, float(digits.data.max())
    ((1797, 64), (1, 8, 8), 1.0)
    >>> int((digits.split == "train").sum())
    898
    """
    subset = check_subset(subset)
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction!r}.")
    raw = sklearn.datasets.load_digits()
    images, labels = raw.data.astype(np.uint8), raw.target.astype(np.int64)
    rng = np.random.default_rng(random_state)
    is_train = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = int(round(train_fraction * len(members)))
        is_train[rng.choice(members, size=k, replace=False)] = True
    masks = {"train": is_train, "test": ~is_train}
    splits = ("train", "test") if subset == "all" else (subset,)
    parts = {s: (images[masks[s]], labels[masks[s]]) for s in splits}
    names = [str(n) for n in raw.target_names]
    source = "sklearn.datasets.load_digits"
    return finish_image_bunch(parts, names, DIGITS_IMAGE_SHAPE, source, scale=16.0)
