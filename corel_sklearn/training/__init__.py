"""The training engine of :class:`~corel_sklearn.TopoAutoencoder`, and its callbacks.

The estimator keeps the scikit-learn face (parameters, validation, the network, ``transform``);
this package runs the loop. :func:`train` is handed the estimator and a :class:`TrainingRun`
and drives the epochs through a small public step API of the estimator, which
``corel_sklearn.distributed`` overrides for data-parallel training:

* ``steps_per_epoch(n_train, batch_size)``: optimizer steps of one epoch;
* ``wrap_module(module)``: the module the steps run;
* ``epoch_order(run)``: this epoch's training indices, in order;
* ``train_step(run, x)``: one optimizer step on a batch, a :class:`StepResult`;
* ``validation_loss(run)``: the held-out loss of early stopping;
* ``reduce_epoch_record(record)``: an epoch's ``history_`` record, combined over processes;
* ``get_training_state()`` / ``set_training_state(state)``: everything a continuation needs,
  as plain containers (what a :class:`Checkpoint` file holds).

Callbacks (:class:`Callback` and its subclasses; also importable from
``corel_sklearn.callbacks``) are called at fixed points of the loop with keyword arguments.
The user guide's "Training loop" page shows the order of the hooks.

Examples
--------
>>> import numpy as np
>>> from corel_sklearn import TopoAutoencoder
>>> from corel_sklearn.training import Callback
>>> class LogDeathTimes(Callback):
...     def on_train_begin(self, estimator, info, **kwargs):
...         self.medians = []
...     def on_epoch_end(self, estimator, record, **kwargs):
...         self.medians.append(round(record["death_time_median"], 2))
...         return record["death_time_median"] > 1.5  # True stops after this epoch
>>> log = LogDeathTimes()
>>> X = np.random.default_rng(0).random((40, 12), dtype=np.float32)
>>> ae = TopoAutoencoder(hidden_layer_sizes=(16,), n_branches=2, branch_dim=3, batch_size=20,
...                      max_epochs=3, random_state=0, callbacks=[log]).fit(X)
>>> len(log.medians) == ae.n_iter_ == 3
True
"""

from corel_sklearn.training._callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    ProgressBar,
)
from corel_sklearn.training._health import convergence_advice
from corel_sklearn.training._loop import train
from corel_sklearn.training._run import StepResult, TrainingLoss, TrainingRun

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "ProgressBar",
    "StepResult",
    "TrainingLoss",
    "TrainingRun",
    "convergence_advice",
    "train",
]
