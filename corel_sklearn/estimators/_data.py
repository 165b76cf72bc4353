"""Where the estimators' training and inference batches come from.

The training loop only asks a data source for ``n_samples`` and for ``batch(indices)``, a float32
tensor of those samples in their per-sample shape on the training device; inference iterates
:func:`inference_batches`. :func:`check_input` validates what ``fit`` and ``transform`` accept
and :func:`make_training_data` picks the source:

* an in-memory float array: :class:`InMemoryData`, the whole set as one float32 tensor (on the
  accelerator when it fits there, else on the host with each batch copied over);
* an in-memory ``uint8`` array (8-bit pixels): the same, kept as uint8 (a quarter of the
  memory) and scaled to [0, 1] on the device, batch by batch;
* an ``np.memmap`` (any dtype, uint8 scaled as above): :class:`FileRowsData`, which reads the
  rows of each batch from the file and never maps the file into this process, so memory stays
  bounded however large the file is;
* a map-style dataset (``len(dataset)`` and ``dataset[i]``, e.g. a ``torch.utils.data.Dataset``
  or :class:`corel_sklearn.datasets.ImageFolder`): :class:`DatasetData`, which reads the
  samples of each batch with ``dataset[i]``.

uint8 means 8-bit pixels in every container: a numpy array, a torch tensor (e.g. torchvision's
``dataset.data``), a pandas DataFrame whose columns are all uint8, and each uint8 sample of a
dataset are divided by 255, so the same pixels give the same codes whatever holds them. Other
integer dtypes are used as they are. Data of other kinds (complex, datetime, timedelta, strings)
is refused the same way in memory, in a memmap and in a dataset.

Every source returns, for the same indices, exactly the tensor the in-memory float32 path
returns for the same data (uint8 divided by 255 in float32 as ``np.divide`` does), so a fit on a
memmap, on uint8 pixels or on a dataset is bit-identical on the CPU to the fit on the float32
array in memory, with the same seeded shuffling.
"""

import mmap
import os
import weakref

import numpy as np
import torch

from corel_sklearn._sklearn_compat import validate_data

# The training set moves to an accelerator once when it takes at most this share of its free
# memory; otherwise it stays on the host and each batch is copied over.
DEVICE_MEMORY_SHARE = 0.5
# uint8 samples are 8-bit pixels: divided by this to lie in [0, 1].
PIXEL_SCALE = 255.0


def as_tensor(array):
    """A tensor sharing ``array``'s memory when it can (torch needs it writable)."""
    return torch.from_numpy(array) if array.flags.writeable else torch.tensor(array)


def _to_float(batch, device):
    """A host tensor of samples as float32 on ``device``; uint8 pixels divided by 255 there.

    The division is by a tensor on the device, never by a Python scalar: CUDA multiplies by
    the reciprocal for scalar divisors, which rounds differently from ``np.divide``.
    """
    batch = batch.to(device, non_blocking=True)
    if batch.dtype == torch.uint8:
        return batch.to(torch.float32) / torch.tensor(PIXEL_SCALE, device=batch.device)
    return batch.to(torch.float32)


class DatasetRows:
    """A validated map-style dataset: ``len`` samples of ``n_features`` values each."""

    def __init__(self, dataset, n_features):
        self.dataset = dataset
        self.shape = (len(dataset), n_features)

    def __len__(self):
        return self.shape[0]

    def rows(self, indices):
        """The samples at ``indices`` as one (k, n_features) array (uint8 or float32)."""
        samples = [_sample_array(self.dataset[int(i)], i, self.shape[1]) for i in indices]
        if not samples:
            return np.empty((0, self.shape[1]), dtype=np.float32)
        if all(s.dtype == np.uint8 for s in samples):
            rows = np.stack(samples)
        else:  # a batch mixing pixels and floats: the pixels are scaled as they are alone
            rows = np.stack([_pixels_to_float(s) if s.dtype == np.uint8 else s
                             for s in samples])
        _check_finite(rows, f"dataset samples {int(indices[0])}..")
        return rows


def _pixels_to_float(array):
    """uint8 pixels as float32 in [0, 1], rounded exactly as the device-side division."""
    return np.divide(array, np.float32(PIXEL_SCALE), dtype=np.float32)


def _is_sample_target_pair(item):
    """Whether ``dataset[i]`` returned ``(sample, target)``, as torch datasets do.

    A tuple or list of two whose first element is an array, a tensor or a sequence (not a
    number): ``(image, label)``. Two numbers are one sample with two values, and a 1-tuple
    ``(sample,)`` (``TensorDataset(X)``) is that sample.
    """
    return (isinstance(item, (tuple, list)) and len(item) in (1, 2)
            and np.ndim(item[0]) >= 1)


def _sample_array(item, index, n_features=None):
    """``dataset[index]`` as a flat array; the first element of an (x, y) pair."""
    if _is_sample_target_pair(item):
        item = item[0]
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu().numpy()
    array = np.asarray(item)
    if array.dtype.kind not in "buif":
        raise ValueError(
            f"dataset[{int(index)}] is {array.dtype} data; samples must be numeric arrays or "
            "tensors (uint8 pixels or floats), optionally as (sample, target) pairs."
        )
    array = array.reshape(-1)
    if n_features is not None and array.size != n_features:
        raise ValueError(
            f"dataset[{int(index)}] has {array.size} values but dataset[0] has {n_features}; "
            "every sample must have the same shape."
        )
    return array if array.dtype == np.uint8 else array.astype(np.float32)


def _check_finite(rows, where):
    if rows.dtype != np.uint8 and not np.isfinite(rows).all():
        raise ValueError(f"Input contains NaN or infinity ({where}); samples must be finite.")


def _check_kind(dtype, what):
    """Refuse data that is not numbers: the same rule in memory, in a memmap, in a dataset."""
    if dtype.kind not in "biufO":
        # scikit-learn's wording for complex input first (its estimator checks look for it).
        prefix = "Complex data not supported: " if dtype.kind == "c" else ""
        raise ValueError(
            f"{prefix}{what} has dtype {dtype}; TopoAutoencoder needs numbers (floats, ints, "
            "bools, or uint8 pixels). Convert it first, e.g. X.astype('float32') for values you "
            "mean as numbers."
        )


def _tensor_as_array(X):
    """A torch tensor as a numpy array (a uint8 tensor stays uint8: pixels); else ``X``."""
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().resolve_conj().resolve_neg().numpy()
    return X


def _is_uint8_frame(X):
    """Whether ``X`` is a DataFrame whose columns are all uint8 (pixels, as a uint8 array).

    A frame mixing uint8 with other columns is tabular data and is used as numbers.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(X, "iloc") or len(dtypes) == 0:
        return False
    return all(isinstance(d, np.dtype) and d == np.uint8 for d in dtypes)


def is_large_input(X):
    """Whether ``X`` takes the bounded-memory path: uint8 arrays, memmaps, datasets."""
    if isinstance(X, np.ndarray):
        return isinstance(X, np.memmap) or X.dtype == np.uint8
    return _is_dataset(X)


def _is_dataset(X):
    return (hasattr(X, "__getitem__") and hasattr(X, "__len__")
            and not hasattr(X, "shape") and not isinstance(X, (list, tuple, str, dict)))


def check_input(estimator, X, *, reset, ensure_min_samples=1):
    """Validate ``X`` for ``fit`` (``reset=True``) or ``transform``, without copying it.

    Arrays in memory that are not uint8 go through scikit-learn's ``validate_data`` (float32,
    C order), as always. uint8 arrays, memmaps and datasets are checked without reading them
    whole: their shape and ``n_features_in_`` here, finiteness batch by batch as they are read.

    Returns
    -------
    X : ndarray, np.memmap or DatasetRows
    """
    if isinstance(X, torch.utils.data.IterableDataset) or (
            hasattr(X, "__iter__") and not hasattr(X, "__len__") and not hasattr(X, "shape")):
        raise TypeError(
            f"{type(X).__name__} is an iterable without random access: its batches cannot be "
            "shuffled exactly by random_state. Pass an np.memmap, an array, or a map-style "
            "dataset (len(dataset) and dataset[i], e.g. corel_sklearn.datasets.ImageFolder)."
        )
    X = _tensor_as_array(X)
    if _is_uint8_frame(X):
        # Feature names are checked (or recorded) as for any DataFrame; the values stay pixels.
        validate_data(estimator, X.iloc[:1].astype(np.float32), reset=reset)
        X = np.ascontiguousarray(X.to_numpy(dtype=np.uint8))
        if len(X) < ensure_min_samples:
            raise ValueError(
                f"Found array with {len(X)} sample(s) (shape={X.shape}) while a minimum of "
                f"{ensure_min_samples} is required."
            )
        return X
    if isinstance(X, np.ndarray):
        _check_kind(X.dtype, "X")
    if not is_large_input(X):
        return validate_data(estimator, X, dtype=np.float32, order="C", reset=reset,
                             ensure_min_samples=ensure_min_samples)
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array of shape (n_samples, n_features), got shape {X.shape}; "
                "flatten each sample (images.reshape(len(images), -1))."
            )
        if not isinstance(X, np.memmap):
            # C order, as validate_data gives the float path: a strided view (a transposed
            # tensor's numpy view) would be summed in another order and round differently.
            X = np.ascontiguousarray(X)
        head = X[:1]
    else:
        if len(X) == 0:
            raise ValueError("The dataset is empty (len(dataset) == 0).")
        first = _sample_array(X[0], 0)
        X = DatasetRows(X, first.size)
        head = first.reshape(1, -1)
    if len(X) < ensure_min_samples:
        raise ValueError(
            f"Found array with {len(X)} sample(s) (shape={X.shape}) while a minimum of "
            f"{ensure_min_samples} is required."
        )
    # n_features_in_ (set or checked) from one row: the shape is all validate_data needs here;
    # the dtype rules are the in-memory ones (complex refused, not cast with a warning).
    validate_data(estimator, head, dtype=np.float32, reset=reset)
    return X


class InMemoryData:
    """A training set held as one tensor of shape ``(n_samples, *sample_shape)``.

    Parameters
    ----------
    tensor : torch.Tensor
        The samples, float32 or uint8 pixels (scaled to [0, 1] as batches are taken), on
        ``device`` or on the host.
    device : torch.device
        Where batches are returned (and where the model trains).
    """

    def __init__(self, tensor, device):
        self.tensor = tensor
        self.device = torch.device(device)

    @property
    def n_samples(self):
        return len(self.tensor)

    @property
    def sample_shape(self):
        return tuple(self.tensor.shape[1:])

    def batch(self, indices):
        """The samples at ``indices`` (a 1-d int64 tensor, any device) on ``self.device``."""
        indices = indices.to(self.tensor.device)
        return _to_float(self.tensor[indices], self.device)


class _FileRows:
    """Rows of a C-contiguous ``np.memmap`` read with ``os.preadv``, not through the mapping.

    Pages read through a mapping count in the process's resident memory until the kernel
    evicts them, so a pass over a 3 GB memmap would show 3 GB of RSS; ``preadv`` copies the
    rows into a fresh buffer and leaves the file in the page cache only.
    """

    def __init__(self, array):
        base = array
        while base is not None and not isinstance(base, mmap.mmap):
            base = base.base
        self.array = array
        self.fd = None
        if (base is None or getattr(array, "mode", "r") == "c" or not hasattr(os, "preadv")
                or not array.flags.c_contiguous):
            # Copy-on-write maps may differ from the file, and strided views are not whole
            # rows of it: these are read through the mapping.
            return
        map_start = np.frombuffer(base, dtype=np.uint8).ctypes.data
        file_start = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
        self.start = file_start + (array.ctypes.data - map_start)
        self.row_bytes = array.strides[0]
        self.fd = os.open(array.filename, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)

    def take(self, indices):
        """The rows at ``indices`` (1-d ints), in that order, as a new array."""
        if self.fd is None:
            return np.array(self.array[indices])
        out = np.empty((len(indices), self.array.shape[1]), dtype=self.array.dtype)
        buffer = out.view(np.uint8).reshape(len(indices), self.row_bytes)
        for row, index in zip(buffer, indices, strict=True):
            self._read(row, self.start + int(index) * self.row_bytes)
        return out

    def block(self, start, stop):
        """Rows ``start:stop`` as a new array, in one read."""
        if self.fd is None:
            return np.array(self.array[start:stop])
        out = np.empty((stop - start, self.array.shape[1]), dtype=self.array.dtype)
        self._read(out.view(np.uint8).reshape(-1), self.start + start * self.row_bytes)
        return out

    def _read(self, buffer, offset):
        done = os.preadv(self.fd, [buffer], offset)
        if done != buffer.nbytes:  # short reads happen only on a truncated file
            raise OSError(f"{self.array.filename!r} ended {buffer.nbytes - done} bytes early.")


class FileRowsData:
    """A training set in an ``np.memmap``: each batch's rows are read from the file.

    Memory holds one batch at a time, whatever the file's size. uint8 rows are scaled to
    [0, 1] on the device; other dtypes are converted to float32 (and checked to be finite)
    batch by batch.
    """

    def __init__(self, array, sample_shape, device):
        self.rows = _FileRows(array)
        self.sample_shape = tuple(sample_shape)
        self.device = torch.device(device)
        self.dtype = array.dtype

    @property
    def n_samples(self):
        return len(self.rows.array)

    def batch(self, indices):
        rows = self.rows.take(indices.cpu().numpy())
        return _host_rows_to_batch(rows, self.sample_shape, self.device, "memmap rows")


class DatasetData:
    """A training set behind ``dataset[i]``: each batch's samples are read when drawn."""

    def __init__(self, rows, sample_shape, device):
        self.rows = rows
        self.sample_shape = tuple(sample_shape)
        self.device = torch.device(device)

    @property
    def n_samples(self):
        return len(self.rows)

    def batch(self, indices):
        rows = self.rows.rows(indices.cpu().numpy())
        return _host_rows_to_batch(rows, self.sample_shape, self.device, "dataset samples")


def _host_rows_to_batch(rows, sample_shape, device, what):
    """(k, n_features) host rows -> float32 (k, *sample_shape) on ``device``, as in memory."""
    if rows.dtype != np.uint8:
        rows = rows.astype(np.float32, copy=False)
        _check_finite(rows, what)
    return _to_float(torch.from_numpy(rows).view(len(rows), *sample_shape), device)


def make_training_data(X, sample_shape, device):
    """The training set ``X`` as a data source for the training loop.

    Parameters
    ----------
    X : ndarray, np.memmap or DatasetRows
        Validated training data (see :func:`check_input`). A float32 array in memory is
        shared, not copied, when writable.
    sample_shape : tuple of int
        Shape one sample is viewed as (its product is ``n_features``).
    device : str or torch.device
        The training device. On an accelerator an in-memory set is copied there once when it
        takes at most ``DEVICE_MEMORY_SHARE`` of the free memory, else it stays on the host.

    Returns
    -------
    data : InMemoryData, FileRowsData or DatasetData
    """
    if isinstance(X, DatasetRows):
        return DatasetData(X, sample_shape, device)
    if isinstance(X, np.memmap):
        return FileRowsData(X, sample_shape, device)
    tensor = as_tensor(X).view(len(X), *sample_shape)
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if tensor.nbytes > DEVICE_MEMORY_SHARE * free:
            return InMemoryData(tensor, device)  # batches are copied over one by one
    return InMemoryData(tensor.to(device), device)


def inference_batches(X, sample_shape, device, batch_size):
    """Consecutive batches of ``X`` (rows in order) as float32 tensors on ``device``.

    Parameters
    ----------
    X : ndarray, np.memmap or DatasetRows
        float32 or uint8 (pixels, scaled to [0, 1]); a memmap is read block by block from
        its file, a dataset sample by sample.
    sample_shape : tuple of int
        Shape one row is viewed as.
    device : str or torch.device
    batch_size : int
        Rows per batch (the last one may be smaller); bounds the memory of a forward pass.

    Yields
    ------
    batch : torch.Tensor of shape (rows, *sample_shape)
    """
    if isinstance(X, DatasetRows):
        for start in range(0, len(X), batch_size):
            rows = X.rows(np.arange(start, min(start + batch_size, len(X))))
            yield _host_rows_to_batch(rows, sample_shape, device, "dataset samples")
        return
    if isinstance(X, np.memmap):
        file_rows = _FileRows(X)
        for start in range(0, len(X), batch_size):
            rows = file_rows.block(start, min(start + batch_size, len(X)))
            yield _host_rows_to_batch(rows, sample_shape, device, "memmap rows")
        return
    X = np.asarray(X)
    for start in range(0, len(X), batch_size):
        batch = as_tensor(X[start : start + batch_size])
        yield _to_float(batch.view(len(batch), *sample_shape), device)
