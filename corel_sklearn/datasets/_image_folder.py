"""A folder of image files read one image at a time: training data larger than memory."""

import os

import numpy as np

from corel_sklearn.datasets._common import _PIL_MODES, decode_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class ImageFolder:
    """The images under ``root/<class>/`` as a map-style dataset, decoded when indexed.

    Only the file names are listed when it is built; ``dataset[i]`` reads and decodes image
    ``i`` with Pillow, so a set far larger than memory can train a
    :class:`~corel_sklearn.TopoAutoencoder` (``fit(ImageFolder(...))``: batches are decoded as
    they are drawn, in the estimator's seeded order) or be encoded with ``transform``. It is a
    valid ``torch.utils.data.Dataset`` too (``__len__`` and ``__getitem__``).

    Parameters
    ----------
    root : str or path-like
        Folder holding one sub-folder per class, e.g. ``train/`` of an ImageNet-style tree.
        Classes are the sorted sub-folder names; files are taken in name order within a
        class, and only those ending in an image suffix (png, jpg, jpeg, bmp, gif, webp).
    image_shape : tuple of int, default=(3, 32, 32)
        (channels, height, width) of the samples: 1 (grayscale), 3 (RGB) or 4 (RGBA)
        channels.
    resize : bool, default=False
        Resize images of another size with Pillow's box filter; False raises a ValueError
        naming such a file when it is read.

    Attributes
    ----------
    classes : list of str
        The class names; ``targets`` index into it.
    files : list of str
        The image paths, in dataset order (grouped by class).
    targets : ndarray of shape (n_images,), int64
        The class of each image.
    n_features : int
        Values per image, ``prod(image_shape)``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from corel_sklearn.datasets import ImageFolder
    >>> root = tempfile.mkdtemp()
    >>> for cls in ("cat", "dog"):
    ...     os.makedirs(os.path.join(root, cls))
    ...     Image.new("RGB", (32, 32), (255, 0, 0)).save(os.path.join(root, cls, "0.png"))
    >>> images = ImageFolder(root)
    >>> len(images), images.classes, images.targets.tolist()
    (2, ['cat', 'dog'], [0, 1])
    >>> images[1].shape, images[1].dtype, images[1][:2].tolist()
    ((3072,), dtype('uint8'), [255, 255])
    """

    def __init__(self, root, *, image_shape=(3, 32, 32), resize=False):
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"Image folder {root!r} does not exist or is not a folder.")
        shape = tuple(int(v) for v in image_shape)
        if len(shape) != 3 or shape[0] not in _PIL_MODES or min(shape) < 1:
            raise ValueError(
                f"image_shape must be (channels, height, width) with 1, 3 or 4 channels, "
                f"got {image_shape!r}."
            )
        self.root = root
        self.image_shape = shape
        self.resize = bool(resize)
        self.classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
        self.files, targets = [], []
        for label, cls in enumerate(self.classes):
            folder = os.path.join(root, cls)
            names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_SUFFIXES))
            self.files += [os.path.join(folder, n) for n in names]
            targets += [label] * len(names)
        if not self.files:
            raise FileNotFoundError(
                f"No images in {root!r}: expected {root}/<class>/<image> files ending in "
                f"{IMAGE_SUFFIXES} (found sub-folders {self.classes[:10]})."
            )
        self.targets = np.asarray(targets, dtype=np.int64)
        self.n_features = int(np.prod(shape))

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        """Image ``index`` as a flattened channel-major (C, H, W) uint8 array."""
        file = self.files[index]
        with open(file, "rb") as f:
            raw = f.read()
        return decode_image(raw, os.path.basename(file), self.root, self.image_shape,
                            resize=self.resize)

    def __repr__(self):
        return (f"ImageFolder({self.root!r}, image_shape={self.image_shape}): {len(self)} "
                f"images in {len(self.classes)} classes")
