"""Where the estimators' training and inference batches come from.

The training loop only asks a data source for ``n_samples`` and for ``batch(indices)``, a float32
tensor of those samples in their per-sample shape on the training device; inference iterates
:func:`inference_batches`. :func:`make_training_data` picks the implementation; today there is
one, :class:`InMemoryData`, the whole set as one tensor (on the accelerator when it fits there,
else on the host with each batch copied over).
"""

import numpy as np
import torch

# The training set moves to an accelerator once when it takes at most this share of its free
# memory; otherwise it stays on the host and each batch is copied over.
DEVICE_MEMORY_SHARE = 0.5


def as_tensor(array):
    """A tensor sharing ``array``'s memory when it can (torch needs it writable)."""
    return torch.from_numpy(array) if array.flags.writeable else torch.tensor(array)


class InMemoryData:
    """A float32 training set held as one tensor of shape ``(n_samples, *sample_shape)``.

    Parameters
    ----------
    tensor : torch.Tensor
        The samples, on ``device`` or on the host.
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
        return self.tensor[indices].to(self.device, non_blocking=True)


def make_training_data(X, sample_shape, device):
    """The training set ``X`` as a data source for the training loop.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32, C-contiguous
        Validated training data; shared, not copied, when already float32 and writable.
    sample_shape : tuple of int
        Shape one sample is viewed as (its product is ``n_features``).
    device : str or torch.device
        The training device. On an accelerator the whole set is copied there once when it
        takes at most ``DEVICE_MEMORY_SHARE`` of the free memory, else it stays on the host.

    Returns
    -------
    data : InMemoryData
    """
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
    X : ndarray of shape (n_samples, n_features), float32
    sample_shape : tuple of int
        Shape one row is viewed as.
    device : str or torch.device
    batch_size : int
        Rows per batch (the last one may be smaller); bounds the memory of a forward pass.

    Yields
    ------
    batch : torch.Tensor of shape (rows, *sample_shape)
    """
    X = np.asarray(X)
    for start in range(0, len(X), batch_size):
        batch = as_tensor(X[start : start + batch_size])
        yield batch.view(len(batch), *sample_shape).to(device)
