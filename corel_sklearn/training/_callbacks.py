"""Hooks into the training loop: the protocol, its dispatch, and the package's callbacks."""

import inspect
import math
import os
import sys

from corel_sklearn._checkpoint_file import read_checkpoint, write_checkpoint
from corel_sklearn._files import ensure_writable_dir
from corel_sklearn.training._state import callback_states, clone_state, load_callback_states

__all__ = ["Callback", "Checkpoint", "EarlyStopping", "ProgressBar"]

HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end", "on_train_end")
# The arguments each hook had before hooks took keywords: a hook without **kwargs whose
# parameters are not named like ours still gets these, in this order.
_POSITIONAL = {
    "on_train_begin": ("info",),
    "on_epoch_begin": ("epoch",),
    "on_batch_end": ("epoch", "step"),
    "on_epoch_end": ("record",),
    "on_train_end": ("reason",),
}


class Callback:
    """Base class of training callbacks: every hook does nothing, there is no state.

    Subclass it and override the hooks you need. Every hook gets the estimator being trained
    (positionally) and keyword arguments; declare ``**kwargs`` so that arguments added in
    later versions never break your callback. ``estimator``'s fitted attributes (``module_``,
    ``history_``, ``n_iter_``, ...) hold the current state during training, so
    ``estimator.transform(X)`` works inside a hook (the loop puts the network back in train
    mode before every step). ``run`` is the :class:`~corel_sklearn.training.TrainingRun`.

    A callback with state that a resumed fit needs (counters, a best value) returns it from
    :meth:`state_dict` as plain containers (tensors, numbers, strings, lists, dicts) and takes
    it back in :meth:`load_state_dict`: :class:`Checkpoint` saves and restores it.
    """

    def on_train_begin(self, estimator, info, **kwargs):
        """Called once before the first epoch of a ``fit`` or ``partial_fit`` call.

        ``info`` is a dict: ``first_epoch`` and ``last_epoch`` (1-based, inclusive; the epochs
        this call plans to run, counted over the estimator's whole history), ``steps_per_epoch``,
        ``n_samples`` (training samples) and ``n_validation`` (held-out samples, 0 without
        early stopping).
        """

    def on_epoch_begin(self, estimator, epoch, **kwargs):
        """Called before epoch ``epoch`` (1-based, counted over the whole history)."""

    def on_batch_end(self, estimator, epoch, step, **kwargs):
        """Called after optimizer step ``step`` (1-based, within the epoch)."""

    def on_epoch_end(self, estimator, record, **kwargs):
        """Called after each epoch with its ``history_`` record; return True to stop training."""

    def on_train_end(self, estimator, reason, **kwargs):
        """Called once when the loop ends, also when it ends with an exception.

        ``reason`` is ``"max_epochs"`` (all planned epochs ran), ``"stopped"`` (a callback
        returned True), ``"interrupted"`` (KeyboardInterrupt), ``"diverged"`` or ``"error"``.
        An exception raised here is raised by ``fit``; the trained model is kept.
        """

    def state_dict(self):
        """The callback's state for a :class:`Checkpoint`: a dict of plain containers."""
        return {}

    def load_state_dict(self, state):
        """Take back what :meth:`state_dict` returned (when a checkpoint is resumed)."""


def check_callbacks(callbacks):
    """Refuse what is not a callback instance, with the fix; returns the list."""
    callbacks = list(callbacks or ())
    for callback in callbacks:
        if isinstance(callback, type):
            raise TypeError(
                f"callbacks must hold callback instances, got the class "
                f"{callback.__qualname__}; pass an instance: {callback.__qualname__}()."
            )
        if not any(callable(getattr(callback, hook, None)) for hook in HOOKS):
            raise TypeError(
                f"callbacks must hold objects with hooks such as on_epoch_end (subclass "
                f"corel_sklearn.callbacks.Callback); got {callback!r}."
            )
    return callbacks


def _caller(hook, name):
    """How to call ``hook``: ``caller(estimator, kwargs)``, read once from its signature."""
    positional = _POSITIONAL[name]
    try:
        parameters = list(inspect.signature(hook).parameters.values())[1:]  # after estimator
    except (TypeError, ValueError):
        parameters = None
    if parameters is not None and any(p.kind is p.VAR_KEYWORD for p in parameters):
        return lambda estimator, kwargs: hook(estimator, **kwargs)
    names = set() if parameters is None else {
        p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if set(positional) <= names:
        return lambda estimator, kwargs: hook(
            estimator, **{k: v for k, v in kwargs.items() if k in names})
    extra = names - set(positional)  # a hook written for the positional arguments
    return lambda estimator, kwargs: hook(
        estimator, *(kwargs[k] for k in positional),
        **{k: v for k, v in kwargs.items() if k in extra})


class CallbackList:
    """The run's callbacks and how to call each of their hooks."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)
        self._callers = {
            hook: [_caller(getattr(cb, hook), hook) for cb in self.callbacks
                   if callable(getattr(cb, hook, None))]
            for hook in HOOKS
        }

    def has(self, hook):
        return bool(self._callers[hook])

    def call(self, hook, estimator, **kwargs):
        """Call ``hook`` on every callback that has it; True when any of them returned True."""
        results = [caller(estimator, kwargs) for caller in self._callers[hook]]
        return any(result is True for result in results)

    def call_all(self, hook, estimator, **kwargs):
        """Call ``hook`` on every callback even when one raises; then raise the first error."""
        error = None
        for caller in self._callers[hook]:
            try:
                caller(estimator, kwargs)
            except BaseException as exc:  # noqa: PERF203 - each callback must run
                if error is None:
                    error = exc
        if error is not None:
            raise error


def _in_notebook_kernel():
    shell = sys.modules.get("IPython")
    shell = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    return shell is not None and hasattr(shell, "kernel")


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


class _DisplayLine:
    """A file for tqdm's text bar in a notebook: one output, updated in place.

    tqdm redraws its line with ``\\r`` writes; written to the kernel's stderr each redraw
    becomes an output of its own in the saved notebook. Here the line goes to one display
    (``display_id``) that every redraw updates.
    """

    def __init__(self):
        self.handle = None
        self.line = ""

    def write(self, text):
        line = text.rsplit("\r", 1)[-1].rstrip("\n")
        if not line.strip() or line == self.line:
            return
        self.line = line
        from IPython.display import display

        if self.handle is None:
            self.handle = display({"text/plain": line}, raw=True, display_id=True)
        else:
            self.handle.update({"text/plain": line}, raw=True)

    def flush(self):
        pass


class ProgressBar(Callback):
    """A tqdm bar over the optimizer steps, with the last epoch's losses (``verbose=1``).

    In Jupyter it is tqdm's widget when ``ipywidgets`` is installed, otherwise a text line
    that is updated in place (one output in the saved notebook); elsewhere tqdm's text bar on
    stderr. The connectivity loss is shown only when it is computed (``connectivity_weight >
    0``).

    Parameters
    ----------
    **tqdm_params
        Passed to ``tqdm`` (e.g. ``file=sys.stdout``, ``leave=False``).
    """

    def __init__(self, **tqdm_params):
        self.tqdm_params = tqdm_params

    def on_train_begin(self, estimator, info, **kwargs):
        self.info_ = info
        self.bar_ = None

    def on_epoch_begin(self, estimator, epoch, **kwargs):
        if self.bar_ is None:  # here, not at train begin: a resumed run starts later
            n_epochs = self.info_["last_epoch"] - epoch + 1
            params = {"desc": type(estimator).__name__, "unit": "step", **self.tqdm_params}
            tqdm = _tqdm()
            if "file" not in params and tqdm.__module__ == "tqdm.std" and \
                    _in_notebook_kernel():
                params["file"] = _DisplayLine()
            self.bar_ = tqdm(total=n_epochs * self.info_["steps_per_epoch"], **params)

    def on_batch_end(self, estimator, epoch, step, **kwargs):
        self.bar_.update()

    def on_epoch_end(self, estimator, record, **kwargs):
        postfix = {"epoch": record["epoch"], "rec": f"{record['reconstruction_loss']:.4g}"}
        if not math.isnan(record["connectivity_loss"]):  # NaN: not computed (lambda = 0)
            postfix["conn"] = f"{record['connectivity_loss']:.4g}"
        postfix["death"] = f"{record['death_time_median']:.3g}"
        if "validation_loss" in record:
            postfix["val"] = f"{record['validation_loss']:.4g}"
        self.bar_.set_postfix(postfix)

    def on_train_end(self, estimator, reason, **kwargs):
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

    def on_train_begin(self, estimator, info, **kwargs):
        self.best_ = math.inf
        self.best_epoch_ = None
        self.best_state_ = None
        self.n_no_change_ = 0

    def on_epoch_end(self, estimator, record, **kwargs):
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
                self.best_state_ = clone_state(estimator.module_.state_dict())
        else:
            self.n_no_change_ += 1
        return self.n_no_change_ >= self.n_iter_no_change

    def on_train_end(self, estimator, reason, **kwargs):
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


class Checkpoint(Callback):
    """Save the whole training state every ``every`` epochs; optionally resume from it.

    The file holds the estimator's :meth:`~corel_sklearn.TopoAutoencoder.get_training_state`
    (the network's weights, the optimizer's state, the shuffling generator's state, the epoch,
    ``history_``, the parameters and the data's shape) and the ``state_dict()`` of every
    callback of the fit that has state (e.g. early stopping's best loss and weights), keyed by
    class name and rank (``EarlyStopping#0``). It is plain tensors, numbers and strings written
    with ``torch.save`` behind a SHA-256 checksum and read back with
    ``torch.load(weights_only=True)`` (no code is unpickled) only when the checksum matches,
    so a damaged file is refused with a ValueError naming it. It is written atomically (to a
    temporary file in the same folder, then renamed over ``path``), so an interrupted write
    never leaves a broken checkpoint. The folder is created
    (and checked for writing) when training begins, before the first epoch.

    With ``resume=True`` an existing ``path`` is loaded when training begins and the fit
    continues after its epoch: the result is bit-identical (on the CPU) to a fit that was never
    interrupted. The checkpoint must come from the same parameters (up to ``max_epochs``,
    ``verbose``, ``callbacks``, ``device``, ``n_jobs``, ``warm_start`` and
    ``inference_batch_size``), data of the same shape and callbacks that take its callback
    states, otherwise a ValueError says what differs. Without the file, training starts afresh.

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

    def on_train_begin(self, estimator, info, run=None, **kwargs):
        if not (isinstance(self.every, int) and self.every >= 1):
            raise ValueError(f"Checkpoint every must be a positive int, got {self.every!r}.")
        path = os.fspath(self.path)
        ensure_writable_dir(os.path.dirname(os.path.abspath(path)), "Checkpoint folder")
        if self.resume and os.path.exists(path):
            state = read_checkpoint(path)  # checksum checked: a damaged file is refused
            estimator.set_training_state(state, source=path)  # checks the format
            if run is not None:
                # Version 1 files keyed the (early stopping) states by list position.
                legacy = str(state.get("format", "")).endswith("/1")
                load_callback_states(run.callbacks, state.get("callbacks"), path,
                                     legacy_positions=legacy)

    def on_epoch_end(self, estimator, record, run=None, **kwargs):
        if record["epoch"] % self.every == 0 and record["n_steps"] > 0:
            state = estimator.get_training_state()
            state["callbacks"] = callback_states(run.callbacks) if run is not None else {}
            write_checkpoint(state, self.path)
