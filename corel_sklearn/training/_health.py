"""Health checks of a run: divergence (blow-up, NaN) and, at the end, convergence to eta."""

import contextlib
import contextvars
import math

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from corel_sklearn._warnings import warn

__all__ = ["convergence_advice"]

# Blow-up: a step's loss this many times its best so far (and above the first step's), or a
# median death time this many times eta (and 10 times the initial one), stops training as a
# divergence before the numbers overflow to inf or NaN.
BLOWUP_LOSS_FACTOR = 1e3
BLOWUP_DEATH_FACTOR = 100.0
# Convergence warning: the last epoch's median death time must lie in [0.75 eta, 1.25 eta], and
# the last tenth of the epochs must have brought at most this share of the connectivity loss's
# whole decrease (a loss still falling at a steady pace gives about 0.11). A share of the
# decrease, not a relative drop: the loss tends to 0 at eta, so its relative drops stay
# large (10 to 15 % per tenth on the digits) long after the codes have reached the scale.
CONVERGED_DEATH_BAND = (0.75, 1.25)
CONVERGED_MAX_SHARE = 0.05


class Divergence(Exception):
    """Raised inside an epoch when the losses, codes or weights blow up or stop being finite."""


class DivergedError(ValueError):
    """The ValueError a diverged fit raises; the estimator keeps its last good state."""


def check_step(run, rec, conn):
    """Stop a step whose loss is no longer finite, or whose loss exploded."""
    loss = run.loss.combine(rec, conn)
    if not math.isfinite(loss):
        raise Divergence("the loss became NaN or inf")
    if run.first_loss is None:
        run.first_loss = loss
    if loss > BLOWUP_LOSS_FACTOR * run.best_loss and loss > run.first_loss:
        raise Divergence(
            f"the loss blew up to {loss:.4g}, more than {BLOWUP_LOSS_FACTOR:g} times its "
            f"best so far ({run.best_loss:.4g})"
        )
    run.best_loss = min(run.best_loss, loss)


def check_epoch(run, record, eta):
    """Death times far beyond eta (and the start) mean the codes are exploding."""
    if not run.loss.has_connectivity:
        return
    median = record["death_time_median"]
    if run.first_death_time is None:
        run.first_death_time = median
    limit = BLOWUP_DEATH_FACTOR * eta
    if median > limit and median > 10 * run.first_death_time:
        raise Divergence(
            f"the codes blew up: the median death time is {median:.4g}, more than "
            f"{BLOWUP_DEATH_FACTOR:g} times eta={eta:g}"
        )


def recent_share_of_decrease(values):
    """Share of the total decrease of ``values`` that happened in their last tenth.

    Compares the means of the first, the second-to-last and the last tenth of the values:
    ``(prev - last) / (first - last)``. About 0.11 while a loss still falls at a steady pace,
    near 0 once it has levelled off. Returns ``(share, window)``; the share is 0 when there
    are fewer than three windows, no decrease, or non-finite values.
    """
    window = max(1, math.ceil(len(values) / 10))
    if len(values) < 3 * window:
        return 0.0, window
    first = float(np.mean(values[:window]))
    before = float(np.mean(values[-2 * window : -window]))
    last = float(np.mean(values[-window:]))
    if not all(math.isfinite(v) for v in (first, before, last)) or first <= last:
        return 0.0, window
    return max(0.0, before - last) / (first - last), window


# The sentence the ConvergenceWarning ends with; None: the estimator's own (max_epochs).
_ADVICE = contextvars.ContextVar("corel_sklearn_convergence_advice", default=None)


@contextlib.contextmanager
def convergence_advice(advice):
    """Say, in the caller's terms, what to change when a fit in the block does not converge.

    A ``TopoAutoencoder`` fit that ends before its codes reach the scale ``eta`` emits a
    ``ConvergenceWarning`` that ends with advice in the estimator's own terms: "Increase
    max_epochs (now 'auto'), or warm_start=True and fit again to continue." A caller that
    trains the estimator for its user behind another interface (a PyOD detector with an
    ``n_steps`` knob, a command line with ``--encoder-steps``) replaces that sentence for the
    fits it runs inside this block, so the warning names the knob its user actually has. The
    warning itself still points at the user's line.

    The setting is a :mod:`contextvars` variable: it holds for fits in this thread (and in
    ``asyncio`` tasks started from it); threads and processes started inside the block (joblib
    workers) do not see it and give the estimator's own advice.

    Parameters
    ----------
    advice : str
        The sentence, e.g. ``"Raise n_steps (now 300)."``. ``{n_epochs}`` and ``{n_steps}``
        in it are filled with the fit's epochs and optimizer steps.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from corel_sklearn import TopoAutoencoder
    >>> from corel_sklearn.training import convergence_advice
    >>> X = np.random.default_rng(0).random((40, 12), dtype=np.float32)
    >>> ae = TopoAutoencoder(hidden_layer_sizes=(8,), n_branches=2, branch_dim=2,
    ...                      batch_size=20, max_epochs=1, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     with convergence_advice("Raise --encoder-steps (now {n_steps})."):
    ...         _ = ae.fit(X)
    >>> str(caught[0].message).endswith("Raise --encoder-steps (now 2).")
    True
    """
    if not isinstance(advice, str):
        raise TypeError(f"convergence_advice takes a sentence (str), got {advice!r}.")
    token = _ADVICE.set(advice)
    try:
        yield
    finally:
        _ADVICE.reset(token)


def warn_if_not_converged(estimator):
    """ConvergenceWarning when the codes did not reach the scale eta (MLP's convention).

    Reads the estimator's ``eta``, ``max_epochs``, ``history_``, ``n_iter_`` and ``n_steps_``;
    only for a run with a connectivity term (the caller checks). The advice names
    ``max_epochs`` unless a :func:`convergence_advice` block says otherwise.
    """
    history = estimator.history_
    if not history:
        return
    problems = []
    low, high = (f * estimator.eta for f in CONVERGED_DEATH_BAND)
    median = history[-1]["death_time_median"]
    if not low <= median <= high:
        problems.append(
            f"the last epoch's median death time is {median:.3g}, outside "
            f"[{low:g}, {high:g}] = [0.75 eta, 1.25 eta]"
        )
    share, window = recent_share_of_decrease([h["connectivity_loss"] for h in history])
    if share > CONVERGED_MAX_SHARE:
        problems.append(
            f"the connectivity loss was still falling: its last {window} epochs brought "
            f"{100 * share:.0f} % of its decrease since the first {window}"
        )
    if problems:
        advice = _ADVICE.get()
        if advice is None:
            advice = (f"Increase max_epochs (now {estimator.max_epochs!r}), or warm_start=True "
                      "and fit again to continue.")
        else:  # plain replacements: other braces in the sentence stay as they are
            advice = advice.replace("{n_epochs}", str(estimator.n_iter_)).replace(
                "{n_steps}", str(estimator.n_steps_))
        warn(
            f"{type(estimator).__name__} stopped after {estimator.n_iter_} epochs "
            f"({estimator.n_steps_} optimizer steps) before its codes were organised at the "
            f"scale eta: {'; '.join(problems)}. {advice}",
            ConvergenceWarning,
        )
