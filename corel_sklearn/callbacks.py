"""Hooks into :class:`~corel_sklearn.TopoAutoencoder`'s training loop.

A callback is an object with any of the methods of :class:`Callback`; ``fit`` and
``partial_fit`` call them at fixed points of the loop. The estimator's own progress bar
(``verbose=1``), early stopping (``early_stopping=True``) and the checkpoints of
:class:`Checkpoint` are callbacks too, so a user's callback sees exactly what they see.

Order: the estimator's early stopping first, then the ``callbacks`` parameter's entries in their
order, then the progress bar.

Examples
--------
>>> import numpy as np
>>> from corel_sklearn import TopoAutoencoder
>>> from corel_sklearn.callbacks import Callback
>>> class LogDeathTimes(Callback):
...     def on_train_begin(self, estimator, info):
...         self.medians = []
...     def on_epoch_end(self, estimator, record):
...         self.medians.append(round(record["death_time_median"], 2))
...         return record["death_time_median"] > 1.5  # True stops after this epoch
>>> log = LogDeathTimes()
>>> X = np.random.default_rng(0).random((40, 12), dtype=np.float32)
>>> ae = TopoAutoencoder(hidden_layer_sizes=(16,), n_branches=2, branch_dim=3, batch_size=20,
...                      max_epochs=3, random_state=0, callbacks=[log]).fit(X)
>>> len(log.medians) == ae.n_iter_ == 3
True
"""

import math
import os

import torch

from corel_sklearn._files import atomic_write

__all__ = ["Callback", "Checkpoint", "EarlyStopping", "ProgressBar"]


class Callback:
    """Base class of training callbacks: every hook does nothing.

    Subclass it and override the hooks you need. ``estimator`` is the estimator being trained:
    during training its fitted attributes (``module_``, ``history_``, ``n_iter_``, ...) hold the
    current state, so ``estimator.transform(X)`` works inside a hook (it switches the network to
    eval mode; the loop switches it back).
    """

    def on_train_begin(self, estimator, info):
        """Called once before the first epoch of a ``fit`` or ``partial_fit`` call.

        ``info`` is a dict: ``first_epoch`` and ``last_epoch`` (1-based, inclusive; the epochs
        this call plans to run, counted over the estimator's whole history), ``steps_per_epoch``,
        ``n_samples`` (training samples) and ``n_validation`` (held-out samples, 0 without
        early stopping).
        """

    def on_epoch_begin(self, estimator, epoch):
        """Called before epoch ``epoch`` (1-based, counted over the whole history)."""

    def on_batch_end(self, estimator, epoch, step):
        """Called after optimizer step ``step`` (1-based, within the epoch)."""

    def on_epoch_end(self, estimator, record):
        """Called after each epoch with its ``history_`` record; return True to stop training."""

    def on_train_end(self, estimator, reason):
        """Called once when the loop ends, also when it ends with an exception.

        ``reason`` is ``"max_epochs"`` (all planned epochs ran), ``"stopped"`` (a callback
        returned True), ``"interrupted"`` (KeyboardInterrupt), ``"diverged"`` or ``"error"``.
        """


def _tqdm():
    """tqdm's notebook bar when ipywidgets can draw it, else the plain text bar.

    ``tqdm.auto`` in a notebook without ipywidgets warns ("IProgress not found") and draws
    nothing; the text bar renders everywhere.
    """
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm


class ProgressBar(Callback):
    """A tqdm bar over the optimizer steps, with the last epoch's losses (``verbose=1``).

    Parameters
    ----------
    **tqdm_params
        Passed to ``tqdm`` (e.g. ``file=sys.stdout``, ``leave=False``).
    """

    def __init__(self, **tqdm_params):
        self.tqdm_params = tqdm_params

    def on_train_begin(self, estimator, info):
        self.info_ = info
        self.bar_ = None

    def on_epoch_begin(self, estimator, epoch):
        if self.bar_ is None:  # here, not at train begin: a resumed run starts later
            n_epochs = self.info_["last_epoch"] - epoch + 1
            params = {"desc": type(estimator).__name__, "unit": "step", **self.tqdm_params}
            self.bar_ = _tqdm()(total=n_epochs * self.info_["steps_per_epoch"], **params)

    def on_batch_end(self, estimator, epoch, step):
        self.bar_.update()

    def on_epoch_end(self, estimator, record):
        postfix = {
            "epoch": record["epoch"],
            "rec": f"{record['reconstruction_loss']:.4g}",
            "conn": f"{record['connectivity_loss']:.4g}",
            "death": f"{record['death_time_median']:.3g}",
        }
        if "validation_loss" in record:
            postfix["val"] = f"{record['validation_loss']:.4g}"
        self.bar_.set_postfix(postfix)

    def on_train_end(self, estimator, reason):
        if getattr(self, "bar_", None) is not None:
            self.bar_.close()
            self.bar_ = None


class EarlyStopping(Callback):
    """Stop when a monitored loss has not improved for ``n_iter_no_change`` epochs.

    ``TopoAutoencoder(early_stopping=True)`` uses it on ``"validation_loss"`` with its own
    ``n_iter_no_change`` and ``tol``, as scikit-learn's MLP does: an epoch improves when its loss
    is below the best so far minus ``tol``. At the end of training (all epochs run, or stopped
    here) the weights of the best epoch are restored; after a KeyboardInterrupt they are not.

    Parameters
    ----------
    monitor : str, default="validation_loss"
        Key of the ``history_`` record to minimise, e.g. ``"reconstruction_loss"``.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Minimum decrease that counts as an improvement.
    restore_best_weights : bool, default=True
        Restore the best epoch's weights when training ends.
    """

    def __init__(self, monitor="validation_loss", n_iter_no_change=10, tol=1e-4,
                 restore_best_weights=True):
        self.monitor = monitor
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.restore_best_weights = restore_best_weights

    def on_train_begin(self, estimator, info):
        self.best_ = math.inf
        self.best_epoch_ = None
        self.best_state_ = None
        self.n_no_change_ = 0

    def on_epoch_end(self, estimator, record):
        if self.monitor not in record:
            hint = " (set early_stopping=True)" if self.monitor == "validation_loss" else ""
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, which the history records do not "
                f"have{hint}; they have {sorted(record)}."
            )
        value = record[self.monitor]
        if value < self.best_ - self.tol:
            self.best_, self.best_epoch_, self.n_no_change_ = value, record["epoch"], 0
            if self.restore_best_weights:
                self.best_state_ = _clone_state(estimator.module_.state_dict())
        else:
            self.n_no_change_ += 1
        return self.n_no_change_ >= self.n_iter_no_change

    def on_train_end(self, estimator, reason):
        if reason in ("max_epochs", "stopped") and self.best_state_ is not None:
            estimator.module_.load_state_dict(self.best_state_)
        self.best_state_ = None  # frees the copy

    def state_dict(self):
        """The bookkeeping a :class:`Checkpoint` saves so a resumed run stops and restores alike."""
        state = {"best": self.best_, "best_epoch": self.best_epoch_ or 0,
                 "n_no_change": self.n_no_change_}
        if self.best_state_ is not None:
            state["best_state"] = self.best_state_
        return state

    def load_state_dict(self, state):
        self.best_ = float(state["best"])
        self.best_epoch_ = int(state["best_epoch"]) or None
        self.n_no_change_ = int(state["n_no_change"])
        self.best_state_ = state.get("best_state")


def _clone_state(state):
    return {name: tensor.detach().clone() for name, tensor in state.items()}


class Checkpoint(Callback):
    """Save the whole training state every ``every`` epochs; optionally resume from it.

    The file holds the network's weights, the optimizer's state, the shuffling generator's
    state, the epoch, ``history_``, the estimator's parameters and the data's shape, as plain
    tensors, numbers and strings written with ``torch.save`` and read back with
    ``torch.load(weights_only=True)`` (no code is unpickled). It is written atomically: to a
    temporary file in the same folder, then renamed over ``path``, so an interrupted write
    never leaves a broken checkpoint.

    With ``resume=True`` an existing ``path`` is loaded when training begins and the fit
    continues after its epoch: the result is bit-identical (on the CPU) to a fit that was never
    interrupted. The checkpoint must come from the same parameters (up to ``max_epochs``,
    ``verbose``, ``callbacks``, ``device`` and ``inference_batch_size``) and data of the same
    shape, otherwise a ValueError says what differs. Without the file, training starts afresh.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    every : int, default=1
        Save after every ``every``-th epoch (counted over the whole history).
    resume : bool, default=False
        Load ``path`` at the start of training when it exists.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from corel_sklearn import TopoAutoencoder
    >>> from corel_sklearn.callbacks import Checkpoint
    >>> X = np.random.default_rng(0).random((40, 12), dtype=np.float32)
    >>> path = os.path.join(tempfile.mkdtemp(), "ae.pt")
    >>> params = dict(hidden_layer_sizes=(16,), n_branches=2, branch_dim=3, batch_size=20,
    ...               max_epochs=4, random_state=0)
    >>> ae = TopoAutoencoder(**params, callbacks=[Checkpoint(path, every=2)]).fit(X)
    >>> resumed = TopoAutoencoder(**params, callbacks=[Checkpoint(path, resume=True)]).fit(X)
    >>> resumed.n_iter_, bool((resumed.transform(X) == ae.transform(X)).all())
    (4, True)
    """

    def __init__(self, path, every=1, resume=False):
        self.path = path
        self.every = every
        self.resume = resume

    def on_train_begin(self, estimator, info):
        if not (isinstance(self.every, int) and self.every >= 1):
            raise ValueError(f"Checkpoint every must be a positive int, got {self.every!r}.")
        if self.resume and os.path.exists(self.path):
            state = torch.load(self.path, map_location="cpu", weights_only=True)
            estimator._load_checkpoint(state, source=os.fspath(self.path))

    def on_epoch_end(self, estimator, record):
        if record["epoch"] % self.every == 0 and record["n_steps"] > 0:
            with atomic_write(self.path) as file:
                torch.save(estimator._checkpoint(), file)
