"""TopoAutoencoder's side of training: planning a run, the public step methods, the state.

:class:`TopoTraining` is a part of :class:`~corel_sklearn.TopoAutoencoder` (a base class that
only it uses): how a ``fit`` / ``partial_fit`` call sets up its
:class:`~corel_sklearn.training.TrainingRun` and keeps a continuation's fitted state safe, the
step methods the engine (:func:`corel_sklearn.training.train`) calls, and the training state
that checkpoints, pickles and model files carry.
"""

import copy
import io
import math

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from corel_sklearn._device import loadable_device, resolve_device
from corel_sklearn._threads import threads_for_n_jobs, torch_threads
from corel_sklearn.estimators._data import check_input, make_training_data
from corel_sklearn.losses import connectivity_loss
from corel_sklearn.training import (
    EarlyStopping,
    ProgressBar,
    StepResult,
    TrainingLoss,
    TrainingRun,
    train,
)

# Parameters that may differ between a checkpoint and the fit resuming from it.
_RESUMABLE_PARAMS = {"max_epochs", "verbose", "callbacks", "device", "inference_batch_size",
                     "warm_start", "n_jobs"}
# The layout of get_training_state() and of a Checkpoint file (plus "callbacks"); version 1
# (callback states keyed by list position) is still read.
_STATE_FORMAT = "corel_sklearn.TopoAutoencoder.checkpoint/2"
_READABLE_FORMATS = ("corel_sklearn.TopoAutoencoder.checkpoint/1", _STATE_FORMAT)
# Fitted attributes a training state holds at its top level (the others under "attributes").
_TOP_LEVEL = {"n_features_in_": "n_features_in", "n_steps_": "n_steps", "history_": "history"}


def _clone_state(state):
    return {name: tensor.detach().clone() for name, tensor in state.items()}


def _state_bytes(state):
    """``torch.save`` bytes of plain containers of tensors and numbers."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _state_from_bytes(payload):
    """Read :func:`_state_bytes` back on the CPU, never unpickling code (weights_only)."""
    return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)


def _is_fitted_name(name):
    return (name.endswith("_") and not name.startswith("__")) or name == "_training_state"


class _FittedState:
    """A continuation's starting point, put back exactly when the continuation fails."""

    def __init__(self, estimator):
        self.attributes = {k: v for k, v in vars(estimator).items() if _is_fitted_name(k)}
        self.attributes["history_"] = copy.deepcopy(estimator.history_)
        self.weights = _clone_state(estimator.module_.state_dict())

    def restore(self, estimator):
        estimator._discard_fit()
        vars(estimator).update(self.attributes)
        module = self.attributes["module_"].to(self.attributes["device_"])
        module.load_state_dict(self.weights)
        module.eval()


class TopoTraining:
    """Training steps and training state of :class:`~corel_sklearn.TopoAutoencoder`."""

    def _fit(self, X, incremental):
        continuing = (incremental or self.warm_start) and hasattr(self, "module_")
        with torch_threads(threads_for_n_jobs(self.n_jobs)):
            try:  # validation first: a continuation changes nothing before it passes
                X = check_input(self, X, reset=not continuing, ensure_min_samples=2)
                plan = self._plan_run(X, incremental, continuing)
            except BaseException:
                if not continuing:
                    self._discard_fit()
                raise
            backup = _FittedState(self) if continuing else None
            run = None
            try:
                run = self._start_run(plan, continuing)
                self._run = run
                train(self, run)
            except BaseException:
                if run is None or run.reason in (None, "error"):
                    backup.restore(self) if backup is not None else self._discard_fit()
                raise  # else kept: the rollback of a divergence, or on_train_end's error
            finally:
                vars(self).pop("_run", None)
                if run is not None and run.reason not in (None, "error"):
                    self._end_run(run)
        return self

    def _discard_fit(self):
        """Remove every fitted attribute: a failed fresh fit leaves the estimator unfitted."""
        for name in [name for name in vars(self) if _is_fitted_name(name) or name == "_run"]:
            delattr(self, name)

    def _plan_run(self, X, incremental, continuing):
        """Everything this call needs that can be checked before a fitted state changes."""
        n_samples, n_features = X.shape
        seeds = self._seeds()
        architecture, input_shape = self._resolve_architecture(n_features)
        if continuing and not self._is_fitted_network(architecture, input_shape):
            raise ValueError(
                f"Cannot continue training (warm_start=True or partial_fit): the parameters "
                f"now describe another network (a {architecture} network for samples of "
                f"shape {input_shape}, with these widths and branches) than the fitted "
                f"{self.architecture_} network for {self.input_shape_}; set warm_start=False "
                "to fit afresh."
            )
        device = str(resolve_device(self.device))
        plan = dict(architecture=architecture, input_shape=input_shape, device=device,
                    seeds=seeds, train_indices=None, validation_indices=None)
        n_train = n_samples
        if self.early_stopping and not incremental:
            n_validation = math.ceil(self.validation_fraction * n_samples)
            if n_validation < 2 or n_samples - n_validation < 2:
                raise ValueError(
                    f"early_stopping needs at least 2 training and 2 validation samples: "
                    f"validation_fraction={self.validation_fraction} of {n_samples} samples "
                    f"holds out {n_validation}. Use more samples or another "
                    "validation_fraction, or early_stopping=False."
                )
            order = torch.randperm(n_samples, generator=torch.Generator().manual_seed(
                int(seeds[2])))
            plan.update(validation_indices=order[:n_validation], train_indices=order[n_validation:])
            n_train = n_samples - n_validation
        plan["batch_size"] = min(self.batch_size, n_train)
        plan["steps_per_epoch"] = self.steps_per_epoch(n_train, plan["batch_size"])
        plan["n_epochs"] = 1 if incremental else self._resolve_max_epochs(plan["steps_per_epoch"])
        plan["incremental"] = incremental
        plan["data"] = make_training_data(X, input_shape, device)
        return plan

    def _start_run(self, plan, continuing):
        """Set up the network, the optimizer and the shuffling; the run of this call."""
        init_seed, shuffle_seed, _ = plan["seeds"]
        if continuing:
            self.module_.to(plan["device"])
        else:
            self.architecture_, self.input_shape_ = plan["architecture"], plan["input_shape"]
            self.device_ = plan["device"]
            self.history_ = []
            self.n_iter_ = self.n_steps_ = 0
            self.module_ = self._initialize_module(int(init_seed))
        self.device_ = plan["device"]
        self.batch_size_ = plan["batch_size"]
        self._check_module(plan["data"].batch(torch.arange(2)))
        model = self.wrap_module(self.module_)
        optimizer = self._initialize_optimizer(model)
        shuffle_generator = torch.Generator()
        # A model loaded from a weights-only file has no optimizer state: it continues from its
        # weights with a fresh optimizer and shuffling seeded like a new fit.
        training_state = getattr(self, "_training_state", None) if continuing else None
        if training_state is not None:
            training_state = _state_from_bytes(training_state)
            optimizer.load_state_dict(training_state["optimizer"])
            shuffle_generator.set_state(training_state["shuffle_generator"])
        else:
            shuffle_generator.manual_seed(int(shuffle_seed))
        self._use_learning_rate(optimizer)
        early_stopping = None if plan["validation_indices"] is None else EarlyStopping(
            "validation_loss", n_iter_no_change=self.n_iter_no_change, tol=self.tol)
        # The estimator's early stopping, then the user's callbacks, then the progress bar.
        callbacks = [early_stopping] if early_stopping is not None else []
        callbacks += list(self.callbacks or ()) + ([ProgressBar()] if self.verbose else [])
        return TrainingRun(
            data=plan["data"], model=model, optimizer=optimizer,
            shuffle_generator=shuffle_generator, loss=self._training_loss(),
            batch_size=plan["batch_size"], steps_per_epoch=plan["steps_per_epoch"],
            epoch=self.n_iter_, last_epoch=self.n_iter_ + plan["n_epochs"],
            incremental=plan["incremental"], train_indices=plan["train_indices"],
            validation_indices=plan["validation_indices"], callbacks=callbacks,
            early_stopping=early_stopping,
        )

    def _end_run(self, run):
        """What a finished (or rolled back, or interrupted) run leaves besides the weights."""
        # Kept as bytes: pickles and skops files hold no live optimizer objects.
        self._training_state = _state_bytes(self._continuation_state(run))
        early = run.early_stopping
        if early is not None and early.best_epoch_ is not None:
            self.best_validation_loss_ = early.best_

    def _continuation_state(self, run):
        """What continuing needs besides the weights: the optimizer's and the shuffling state."""
        return {"optimizer": run.optimizer.state_dict(),
                "shuffle_generator": run.shuffle_generator.get_state()}

    def _use_learning_rate(self, optimizer):
        """``learning_rate`` for the coming steps, also over a continued optimizer's own."""
        for group in optimizer.param_groups:
            group["lr"] = self.learning_rate

    def _initialize_optimizer(self, model):
        return torch.optim.Adam(model.parameters(), lr=self.learning_rate)

    def _training_loss(self):
        """The run's loss, chosen here once: no connectivity term (and no persistence) at 0."""
        connectivity = self._connectivity_loss if self.connectivity_weight > 0 else None
        return TrainingLoss(self._reconstruction_loss, connectivity, self.connectivity_weight)

    def _reconstruction_loss(self, x_hat, x):
        """l1 error summed over each sample's values, averaged over the batch (as the paper)."""
        return (x_hat - x).abs().flatten(1).sum(1).mean()

    def _connectivity_loss(self, z):
        return connectivity_loss(z, eta=self.eta, n_branches=self.n_branches, metric="l1")

    # ------------------------------------------------------- training steps

    def steps_per_epoch(self, n_train, batch_size):
        """Optimizer steps of one epoch over ``n_train`` samples in batches of ``batch_size``.

        The last partial batch is dropped: ``n_train // batch_size``. Also the
        ``steps_per_epoch`` of ``max_epochs="auto"``.
        """
        return n_train // batch_size

    def wrap_module(self, module):
        """The module the training steps run: ``module`` itself (e.g. DDP wraps it)."""
        return module

    def epoch_order(self, run):
        """This epoch's training indices in order: a permutation from ``run.shuffle_generator``."""
        order = torch.randperm(run.n_train, generator=run.shuffle_generator)
        return order if run.train_indices is None else run.train_indices[order]

    def train_step(self, run, x):
        """One optimizer step on the batch ``x`` (the engine has set train mode).

        Forward through ``run.model``, ``run.loss`` (on the CPU it stops at a NaN loss or
        code before the backward pass), backward, ``run.optimizer.step()``.

        Returns
        -------
        result : corel_sklearn.training.StepResult
            The detached reconstruction and connectivity losses and the batch's codes.
        """
        x_hat, z = run.model(x)
        loss, rec, conn = run.loss(x_hat, x, z, check_finite=x.device.type == "cpu")
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        return StepResult(rec, conn, z.detach())

    def validation_loss(self, run):
        """Mean over the held-out samples of ``run.loss``, in eval mode.

        Batches of ``run.batch_size`` (at most the split's size, nearly equal so none is tiny);
        each batch's loss is weighted by its size.
        """
        indices = run.validation_indices
        n_batches = math.ceil(len(indices) / min(run.batch_size, len(indices)))
        total = 0.0
        run.model.eval()
        with torch.no_grad():
            for chunk in indices.tensor_split(n_batches):
                x = run.data.batch(chunk)
                x_hat, z = run.model(x)
                total += float(run.loss(x_hat, x, z)[0]) * len(chunk)
        return total / len(indices)

    def reduce_epoch_record(self, record):
        """An epoch's ``history_`` record as the whole run sees it: as it is in one process."""
        return record

    # ------------------------------------------------------- training state

    def get_training_state(self):
        """Everything a continuation needs, as plain containers (what a Checkpoint holds).

        Inside a training hook it is the live state of the run. The dict holds ``format``,
        ``params`` (the parameters a continuation must share, as strings), ``n_features_in``,
        ``epoch``, ``n_steps``, ``history``, ``attributes`` (the other fitted attributes),
        ``module`` (the weights), ``optimizer`` and ``shuffle_generator`` (None for a model
        loaded from a weights-only file) and, during a run, ``n_samples``; all of it
        tensors, numbers, strings, lists and dicts, for ``torch.save`` and
        ``torch.load(weights_only=True)``.

        Returns
        -------
        state : dict
        """
        check_is_fitted(self)
        run = getattr(self, "_run", None)
        if run is not None:
            continuation = self._continuation_state(run)
        elif getattr(self, "_training_state", None) is not None:
            continuation = _state_from_bytes(self._training_state)
        else:
            continuation = {"optimizer": None, "shuffle_generator": None}
        attributes = {k: v for k, v in vars(self).items() if k.endswith("_")
                      and not k.startswith("_") and k not in _TOP_LEVEL
                      and k not in ("module_", "n_iter_")}
        if "feature_names_in_" in attributes:
            attributes["feature_names_in_"] = attributes["feature_names_in_"].tolist()
        state = {"format": _STATE_FORMAT, "params": self._checkpoint_params(),
                 **{key: getattr(self, name) for name, key in _TOP_LEVEL.items()},
                 "epoch": self.n_iter_, "attributes": attributes,
                 "module": _clone_state(self.module_.state_dict()),
                 **copy.deepcopy(continuation)}
        state["history"] = [dict(h) for h in state["history"]]
        if run is not None:
            state["n_samples"] = run.data.n_samples
        return state

    def set_training_state(self, state, *, source="the training state"):
        """Continue from ``state`` (from :meth:`get_training_state`, or a Checkpoint file).

        Inside a training hook (``Checkpoint(resume=True)`` at ``on_train_begin``) the run
        continues after the state's epoch; its parameters and data shape must match. Outside
        training the estimator becomes the fitted model of ``state``: ``attributes`` must then
        hold ``architecture_``, ``input_shape_`` and ``device_``, and the top-level keys may
        also be given as attributes (``history_``, ...). Without ``optimizer`` a continuation
        starts a fresh optimizer.

        Parameters
        ----------
        state : dict
        source : str, default="the training state"
            How error messages name the state, e.g. its file.

        Returns
        -------
        self : TopoAutoencoder

        Raises
        ------
        ValueError
            When ``state`` is not such a state, or comes from another fit.
        """
        if not isinstance(state, dict) or state.get("format", _STATE_FORMAT) not in \
                _READABLE_FORMATS or "module" not in state:
            raise ValueError(f"{source} is not a TopoAutoencoder checkpoint (training state).")
        run = getattr(self, "_run", None)
        attributes = dict(state.get("attributes") or {})
        attributes.update({name: state[key] for name, key in _TOP_LEVEL.items() if key in state})
        self._check_state(state, attributes, run, source)
        history = [dict(h) for h in attributes.get("history_", [])]
        attributes.update(history_=history, n_iter_=len(history),
                          n_steps_=int(attributes.get("n_steps_", 0)))
        if isinstance(attributes.get("feature_names_in_"), list):
            attributes["feature_names_in_"] = np.asarray(attributes["feature_names_in_"],
                                                         dtype=object)
        try:
            if run is not None:
                self.module_.load_state_dict(state["module"])
                vars(self).update({k: attributes[k] for k in ("history_", "n_iter_", "n_steps_")})
                run.epoch = self.n_iter_
                if state.get("optimizer") is not None:
                    run.optimizer.load_state_dict(state["optimizer"])
                    self._use_learning_rate(run.optimizer)
                if state.get("shuffle_generator") is not None:
                    run.shuffle_generator.set_state(state["shuffle_generator"])
                return self
            attributes["device_"] = str(loadable_device(attributes["device_"]))
            fitted = copy.copy(self)
            vars(fitted).update(attributes)
            module = fitted._initialize_module()
            module.load_state_dict(state["module"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source} does not fit this estimator: {exc}") from None
        self._discard_fit()
        vars(self).update(attributes, module_=module.eval())
        if state.get("optimizer") is not None:
            self._training_state = _state_bytes({
                "optimizer": state["optimizer"],
                "shuffle_generator": state["shuffle_generator"]})
        return self

    def _check_state(self, state, attributes, run, source):
        """ValueError listing how ``state`` differs from this fit (parameters, data shape)."""
        saved = state.get("params", {})
        differ = sorted(f"{name}={saved.get(name)} in the checkpoint, {value} now"
                        for name, value in self._checkpoint_params().items()
                        if "params" in state and saved.get(name) != value)
        if run is not None:
            shape = (state.get("n_samples", run.data.n_samples), attributes.get("n_features_in_"))
            if shape != (run.data.n_samples, self.n_features_in_):
                differ.append(f"data of shape {shape} in the checkpoint, "
                              f"({run.data.n_samples}, {self.n_features_in_}) now")
        if differ:
            raise ValueError(
                f"Cannot resume from {source}: it was written by a different fit: "
                f"{'; '.join(differ)}. Use the same parameters and data, or another path."
            )

    def _checkpoint_params(self):
        """The parameters a resumed fit must share, as strings (callables by name)."""
        params = {}
        for name, value in self.get_params(deep=False).items():
            if name in _RESUMABLE_PARAMS:
                continue
            if callable(value) or isinstance(value, np.random.RandomState):
                value = getattr(value, "__qualname__", type(value).__qualname__)
            params[name] = repr(value)
        return params
