"""The runners' log lines and progress displays, all on stderr.

On a terminal, progress is a tqdm bar. Anywhere else (a pipe, a file, a CI log, a notebook)
it is plain lines, at most about :data:`MAX_LINES` per bar, without carriage returns or cursor
codes, so a redirected log reads top to bottom.
"""

import math
import sys

from corel_sklearn.callbacks import Callback

#: Most lines one progress display writes when stderr is not a terminal.
MAX_LINES = 20


def log(verbose, message):
    """Print ``[corel_sklearn] message`` to stderr when ``verbose``."""
    if verbose:
        print(f"[corel_sklearn] {message}", file=sys.stderr, flush=True)


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def _tqdm_bar(total, desc, unit, stream):
    from tqdm.std import tqdm  # a terminal: the text bar, never the notebook widget

    return tqdm(total=total, desc=desc, unit=unit, file=stream, leave=False)


class _NoProgress:
    def update(self, n=1):
        pass

    def close(self):
        pass


class _Milestones:
    """Which of ``total`` counts get a line: every ``ceil(total / MAX_LINES)``th, and the last."""

    def __init__(self, total):
        self.total = max(1, int(total))
        self.every = max(1, math.ceil(self.total / MAX_LINES))
        self.last_shown = 0

    def due(self, count):
        if count >= self.total or count // self.every > self.last_shown // self.every:
            self.last_shown = count
            return True
        return False


class _LineProgress:
    """A progress display of plain lines: ``[corel_sklearn] draws: 3/10``."""

    def __init__(self, total, desc):
        self.desc = desc
        self.count = 0
        self.milestones = _Milestones(total)

    def update(self, n=1):
        self.count += n
        if self.milestones.due(self.count):
            log(True, f"{self.desc}: {self.count}/{self.milestones.total}")

    def close(self):
        pass


def progress(total, verbose, desc, unit):
    """A progress display on stderr with ``update(n=1)`` and ``close()``.

    A tqdm bar when stderr is a terminal, plain lines otherwise (see the module's
    docstring), nothing when not ``verbose``.
    """
    if not verbose:
        return _NoProgress()
    if _is_terminal(sys.stderr):
        return _tqdm_bar(total, desc, unit, sys.stderr)
    return _LineProgress(total, desc)


def _epoch_summary(estimator, record):
    """``{"rec": "0.0123", "conn": ..., "death": ...}`` of an epoch record, finite values only.

    The connectivity loss is left out when the encoder does not train it (lambda = 0: the
    value is not computed, and "conn=nan" would read as a failure).
    """
    fields = {"rec": ("reconstruction_loss", ".4g"), "conn": ("connectivity_loss", ".4g"),
              "death": ("death_time_median", ".3g"), "val": ("validation_loss", ".4g")}
    trains_connectivity = getattr(estimator, "connectivity_weight", 1) != 0
    summary = {}
    for label, (key, spec) in fields.items():
        value = record.get(key)
        if label == "conn" and not trains_connectivity:
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            summary[label] = format(value, spec)
    return summary


class TrainingProgress(Callback):
    """Progress of one encoder fit on stderr: a bar on a terminal, epoch lines elsewhere.

    The runners attach it to encoders whose own ``verbose`` is off; it shows the losses of
    the last epoch, and no connectivity loss for an encoder trained with lambda = 0.

    Parameters
    ----------
    desc : str
        What is trained, e.g. ``"encoder train-corel"``; starts every line.
    """

    def __init__(self, desc):
        self.desc = desc

    def on_train_begin(self, estimator, info):
        self.last_epoch_ = info["last_epoch"]
        n_epochs = info["last_epoch"] - info["first_epoch"] + 1
        self.bar_ = None
        self.milestones_ = _Milestones(n_epochs)
        self.first_epoch_ = info["first_epoch"]
        if _is_terminal(sys.stderr):
            self.bar_ = _tqdm_bar(n_epochs * info["steps_per_epoch"], self.desc, "step",
                                  sys.stderr)
        else:
            log(True, f"{self.desc}: training on {info['n_samples']} samples, {n_epochs} "
                f"epochs of {info['steps_per_epoch']} steps")

    def on_batch_end(self, estimator, epoch, step):
        if self.bar_ is not None:
            self.bar_.update()

    def on_epoch_end(self, estimator, record):
        summary = _epoch_summary(estimator, record)
        if self.bar_ is not None:
            self.bar_.set_postfix({"epoch": record["epoch"], **summary})
        elif self.milestones_.due(record["epoch"] - self.first_epoch_ + 1) or \
                record["epoch"] == self.first_epoch_:
            losses = "  ".join(f"{k} {v}" for k, v in summary.items())
            log(True, f"{self.desc}: epoch {record['epoch']}/{self.last_epoch_}  {losses}")

    def on_train_end(self, estimator, reason):
        if getattr(self, "bar_", None) is not None:
            self.bar_.close()
            self.bar_ = None
