"""What one ``fit`` / ``partial_fit`` call's loop shares: the run state and its loss."""

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch

from corel_sklearn.training._callbacks import check_callbacks
from corel_sklearn.training._health import Divergence

__all__ = ["StepResult", "TrainingLoss", "TrainingRun"]


class StepResult(NamedTuple):
    """What one training step returns (all detached from the graph).

    Attributes
    ----------
    reconstruction_loss : torch.Tensor
        The step's reconstruction loss (a 0-dim tensor on the training device).
    connectivity_loss : torch.Tensor or float
        The unweighted connectivity loss (0-dim tensor), NaN when the run has no connectivity
        term.
    codes : torch.Tensor
        The batch's codes, of shape ``(batch, n_branches * branch_dim)``.
    """

    reconstruction_loss: Any
    connectivity_loss: Any
    codes: Any


class TrainingLoss:
    """The loss of a run, chosen once: ``reconstruction + weight * connectivity``.

    With ``connectivity=None`` (``connectivity_weight=0``) it is the reconstruction loss alone:
    no persistence is computed and the connectivity term reads NaN everywhere (history, blow-up
    checks, validation), so nothing downstream tests the weight again.

    Parameters
    ----------
    reconstruction : callable
        ``reconstruction(x_hat, x)``: a 0-dim tensor.
    connectivity : callable or None
        ``connectivity(z)``: a 0-dim tensor; None for no connectivity term.
    weight : float
        The connectivity term's weight (the paper's lambda).

    Examples
    --------
    >>> import torch
    >>> from corel_sklearn.training import TrainingLoss
    >>> loss = TrainingLoss(lambda x_hat, x: (x_hat - x).abs().sum(), None, weight=0.0)
    >>> loss.has_connectivity, loss.combine(1.5, float("nan"))
    (False, 1.5)
    """

    def __init__(self, reconstruction, connectivity=None, weight=0.0):
        self.reconstruction = reconstruction
        self.connectivity = connectivity
        self.weight = weight

    @property
    def has_connectivity(self):
        """Whether the run computes the connectivity term."""
        return self.connectivity is not None

    def __call__(self, x_hat, x, z, *, check_finite=False):
        """``(loss, reconstruction, connectivity)``: the total with its graph, the terms detached.

        ``check_finite`` stops at a NaN or inf reconstruction loss or code before the
        persistence and the backward pass run (raises the engine's divergence), which is free
        where the step is synchronous (the CPU).
        """
        rec = self.reconstruction(x_hat, x)
        if check_finite and not bool(torch.isfinite(rec) & torch.isfinite(z).all()):
            raise Divergence("the reconstruction loss or the codes became NaN or inf")
        if self.connectivity is None:
            return rec, rec.detach(), math.nan
        conn = self.connectivity(z)
        return rec + self.weight * conn, rec.detach(), conn.detach()

    def combine(self, reconstruction, connectivity):
        """The total as a Python float, from the terms as floats (for the blow-up checks)."""
        if self.connectivity is None:
            return float(reconstruction) + 0.0
        return float(reconstruction) + self.weight * float(connectivity)


@dataclass(eq=False)
class TrainingRun:
    """The state of one ``fit`` / ``partial_fit`` call, shared by the loop, the steps and hooks.

    The estimator builds it before the first epoch; the engine
    (:func:`corel_sklearn.training.train`) and the estimator's step methods read and update
    it. Hooks receive it as the keyword ``run``.

    Attributes
    ----------
    data : object
        The training data: ``data.n_samples`` and ``data.batch(indices)`` (a float32 tensor of
        those samples on the training device).
    model : torch.nn.Module
        The module the steps run (the estimator's ``wrap_module(module_)``, e.g. a
        ``DistributedDataParallel`` wrapper).
    optimizer : torch.optim.Optimizer
    shuffle_generator : torch.Generator
        Draws every epoch's permutation.
    loss : TrainingLoss
    batch_size : int
        Samples per step (per process).
    steps_per_epoch : int
    epoch : int
        The last completed epoch, counted over the estimator's whole history.
    last_epoch : int
        The epoch this call ends with (when nothing stops it earlier).
    incremental : bool
        ``partial_fit``: one epoch, no early stopping, no convergence warning.
    train_indices, validation_indices : torch.Tensor or None
        The split of early stopping (None: every sample trains, none is held out).
    callbacks : list
        The callbacks of this run, in calling order.
    early_stopping : EarlyStopping or None
        The estimator's own early stopping (``early_stopping=True``).
    reason : str or None
        How the loop ended (``"max_epochs"``, ``"stopped"``, ``"interrupted"``,
        ``"diverged"``, ``"error"``); None while it runs. Any reason but ``"error"`` means the
        trained state stands, also when an ``on_train_end`` hook then raises.
    interrupt_requested : bool
        A Ctrl-C arrived; the loop stops after the current step.
    """

    data: Any
    model: Any
    optimizer: Any
    shuffle_generator: Any
    loss: TrainingLoss
    batch_size: int
    steps_per_epoch: int
    epoch: int
    last_epoch: int
    incremental: bool = False
    train_indices: Any = None
    validation_indices: Any = None
    callbacks: list = field(default_factory=list)
    early_stopping: Any = None
    reason: Any = None
    interrupt_requested: bool = False
    # blow-up references of the health checks
    best_loss: float = math.inf
    first_loss: Any = None
    first_death_time: Any = None

    def __post_init__(self):
        self.callbacks = check_callbacks(self.callbacks)

    @property
    def n_train(self):
        """Number of training samples (all of ``data`` unless some are held out)."""
        return self.data.n_samples if self.train_indices is None else len(self.train_indices)

    @property
    def n_validation(self):
        """Number of held-out samples (0 without early stopping)."""
        return 0 if self.validation_indices is None else len(self.validation_indices)
