"""Training a TopoAutoencoder on several GPUs or machines with torch's DistributedDataParallel."""

import os
import tempfile

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from corel_sklearn._files import ensure_writable_dir
from corel_sklearn.estimators import TopoAutoencoder
from corel_sklearn.serialization import save


class _DataParallelSteps:
    """TopoAutoencoder's public step methods for one rank of a data-parallel run.

    Every rank holds the same network (DDP broadcasts rank 0's initial weights and averages
    the gradients of each step, so the weights stay equal) and the same shuffling generator
    (same ``random_state``), so all ranks draw the same permutation each epoch. Rank ``r`` of
    ``W`` trains on its slice ``order[r::W]`` of it, the partition ``DistributedSampler``
    makes, in batches of ``batch_size``: the connectivity loss of each step is computed on the
    rank's own batch, as the paper computes it on one batch. One step thus sees
    ``W * batch_size`` samples and an epoch has ``n_samples // (W * batch_size)`` steps.
    """

    def steps_per_epoch(self, n_train, batch_size):
        world = dist.get_world_size()
        if batch_size * world > n_train:
            raise ValueError(
                f"{world} ranks with batch_size={batch_size} need at least "
                f"{world * batch_size} training samples, got {n_train}."
            )
        return n_train // (world * batch_size)

    def wrap_module(self, module):
        device = torch.device(self.device_)
        return DistributedDataParallel(
            module, device_ids=[device] if device.type == "cuda" else None
        )

    def epoch_order(self, run):
        order = super().epoch_order(run)
        world = dist.get_world_size()
        usable = len(order) - len(order) % world  # drop_last, as DistributedSampler
        return order[dist.get_rank() : usable : world]

    def reduce_epoch_record(self, record):
        """The rank's epoch record, its losses and death times combined over all ranks."""
        record = super().reduce_epoch_record(record)
        reductions = {
            "reconstruction_loss": dist.ReduceOp.SUM,
            "connectivity_loss": dist.ReduceOp.SUM,
            "death_time_mean": dist.ReduceOp.SUM,
            "death_time_median": dist.ReduceOp.SUM,  # the mean of the ranks' medians
            "death_time_min": dist.ReduceOp.MIN,
            "death_time_max": dist.ReduceOp.MAX,
        }
        for key, op in reductions.items():
            value = torch.tensor([record[key]], dtype=torch.float64, device=self._comm)
            dist.all_reduce(value, op=op)
            scale = dist.get_world_size() if op == dist.ReduceOp.SUM else 1
            record[key] = float(value) / scale
        return record


def _data_parallel_class(cls):
    return type(f"DataParallel{cls.__name__}", (_DataParallelSteps, cls), {})


def _rank_device(device):
    """This rank's device: its local GPU (``LOCAL_RANK``) for "auto"/"cuda", else as given."""
    resolved = torch.device("cuda" if device == "auto" and torch.cuda.is_available()
                            else "cpu" if device == "auto" else device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return resolved


def fit_distributed(estimator, X, *, save_path=None):
    """Fit a TopoAutoencoder with DistributedDataParallel: call it on every rank.

    Run a script under ``torchrun`` (or any launcher that sets ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR`` and ``MASTER_PORT``) in which every rank builds the same estimator (same
    parameters, same ``random_state``) and calls ``fit_distributed(estimator, X)`` with the
    same data. Each rank trains on its slice of every epoch's seeded permutation, with the
    connectivity loss on its own batch of ``batch_size`` (the paper's batch); DDP averages
    the gradients, so all ranks end with the same weights, and ``estimator`` is fitted on
    every rank. ``X`` is read batch by batch when it is a memmap or a dataset (see
    :class:`~corel_sklearn.TopoAutoencoder`), so each rank's memory holds one batch.

    With one process this is exactly ``estimator.fit(X)`` (same bits on the CPU).

    Parameters
    ----------
    estimator : TopoAutoencoder
        Unfitted (or, with ``warm_start=True``, fitted) estimator; it is fitted in place.
        ``device="auto"`` or ``"cuda"`` trains on the GPU ``LOCAL_RANK`` of each rank.
        ``verbose`` is kept on rank 0 only.
    X : array-like, np.memmap or dataset of shape (n_samples, n_features)
        The whole training set, the same on every rank; at least ``world_size * batch_size``
        samples.
    save_path : str or path-like, default=None
        When given, rank 0 writes the fitted model there with
        :func:`corel_sklearn.serialization.save` (JSON + safetensors, loads without running
        code: ``corel_sklearn.serialization.load(save_path)`` gives the fitted estimator on
        any machine), and the other ranks wait until it is written. Before training, its
        folder is created and checked for writing and the estimator's parameters for the
        format (no callbacks, no callable ``architecture``): a path or model that cannot be
        saved fails on every rank before the first epoch.

    Returns
    -------
    estimator : TopoAutoencoder
        The fitted estimator; ``history_`` holds, per epoch, the losses averaged over the
        ranks, the smallest and largest death time of the ranks' last batches and the mean
        of their means and medians.

    Notes
    -----
    The process group is created from the environment (NCCL on CUDA, gloo on the CPU) when
    none exists, and is left for the caller to destroy. Callbacks run on every rank: give a
    :class:`~corel_sklearn.callbacks.Checkpoint` to rank 0 only. The loop's divergence
    checks run on each rank's own losses; a rank that stops while the others wait in an
    all-reduce stops them at the process group's timeout.
    """
    if not isinstance(estimator, TopoAutoencoder):
        raise TypeError(
            f"fit_distributed trains a TopoAutoencoder, got {type(estimator).__name__}."
        )
    device = _rank_device(estimator.device)
    if not dist.is_initialized():
        missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
                   if v not in os.environ]
        if missing:
            raise RuntimeError(
                f"No torch.distributed process group and {missing} not set: run the script "
                "with torchrun (e.g. torchrun --nproc_per_node=4 train.py) or call "
                "torch.distributed.init_process_group first."
            )
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank()
    comm = device if dist.get_backend() == "nccl" else torch.device("cpu")
    if save_path is not None:
        _check_save_path(estimator, save_path, rank, comm)
    params = estimator.get_params(deep=False)
    params.update(device=device, verbose=params["verbose"] if rank == 0 else 0)
    training = _data_parallel_class(type(estimator))(**params)
    # Collectives of NCCL need tensors on the GPU, gloo's on the CPU.
    training._comm = comm
    if hasattr(estimator, "module_"):  # warm_start: continue from the fitted state
        training.set_training_state(estimator.get_training_state())
    training.fit(X)
    estimator.set_training_state(training.get_training_state())
    if save_path is not None:
        if rank == 0:
            save(estimator, save_path)
        dist.barrier()
    return estimator


def _check_save_path(estimator, save_path, rank, comm):
    """Rank 0 checks, before training, that the model can be saved at ``save_path``.

    Its folder is created and checked for writing, and the estimator is saved once to a
    temporary folder (parameters the format cannot hold, such as callbacks or a callable
    architecture, fail here); every rank raises before the first epoch when rank 0 failed.
    """
    error = None
    if rank == 0:
        try:
            ensure_writable_dir(os.path.dirname(os.path.abspath(os.fspath(save_path))),
                                "save_path folder")
            with tempfile.TemporaryDirectory() as folder:
                save(estimator, os.path.join(folder, "check.corel"))
        except (OSError, TypeError) as exc:
            error = exc
    failed = torch.tensor([error is not None], dtype=torch.int32, device=comm)
    dist.broadcast(failed, src=0)
    if error is not None:
        raise error
    if bool(failed):
        raise RuntimeError(
            f"rank 0 cannot save the model at save_path={os.fspath(save_path)!r} (see its "
            "error); nothing was trained."
        )
