"""Hooks into :class:`~corel_sklearn.TopoAutoencoder`'s training loop.

The callbacks live in :mod:`corel_sklearn.training` with the loop that calls them; this module
names them too. A callback is an object with any of the hooks of :class:`Callback`; ``fit`` and
``partial_fit`` call them at fixed points of the loop, with keyword arguments. The estimator's
own progress bar (``verbose=1``), early stopping (``early_stopping=True``) and the checkpoints of
:class:`Checkpoint` are callbacks too, so a user's callback sees exactly what they see.

Order: the estimator's early stopping first, then the ``callbacks`` parameter's entries in their
order, then the progress bar.

Examples
--------
>>> import numpy as np
>>> from corel_sklearn import TopoAutoencoder
>>> from corel_sklearn.callbacks import Callback
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

from corel_sklearn.training import Callback, Checkpoint, EarlyStopping, ProgressBar

__all__ = ["Callback", "Checkpoint", "EarlyStopping", "ProgressBar"]
