"""Plots of COREL's topology: training history, barcodes, ball counts and ROC curves.

matplotlib is an optional dependency (the ``[plot]`` extra, or ``pip install matplotlib``),
imported only when a function here is called. Every function draws on ``ax`` when given (else
on a new figure) and returns the matplotlib ``Axes`` it drew on, so plots compose into
subplots and tests can read back what was drawn.
"""

import numpy as np
import torch

from corel_sklearn._outlier_labels import read_outlier_labels

__all__ = [
    "plot_ball_counts",
    "plot_barcode",
    "plot_death_time_histogram",
    "plot_loss_history",
    "plot_roc_curves",
    "plot_training_history",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "corel_sklearn.plotting needs matplotlib, which is not installed. Install it with "
            "`pip install matplotlib` (or `pip install \".[plot]\"` in a corel-sklearn checkout)."
        ) from exc
    return plt


def _axes(ax, figsize=(6.0, 4.0)):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize)
    return ax


def _history_columns(history):
    """``history`` (a fitted TopoAutoencoder, its ``history_``, or a DataFrame) as columns."""
    if hasattr(history, "history_"):
        history = history.history_
    if hasattr(history, "to_dict") and hasattr(history, "columns"):  # a pandas DataFrame
        history = history.to_dict("records")
    try:
        records = list(history)
    except TypeError:  # e.g. an unfitted estimator
        records = []
    if not records or not all(isinstance(r, dict) for r in records):
        raise ValueError(
            "history must be a fitted TopoAutoencoder, its history_ (a non-empty list of "
            f"dicts, one per epoch) or a DataFrame of it; got {type(history).__name__} "
            f"with {len(records)} epochs. An estimator needs fit first."
        )
    keys = {k for r in records for k in r}
    columns = {k: np.array([r.get(k, np.nan) for r in records], dtype=float) for k in keys}
    if "epoch" not in columns:
        columns["epoch"] = np.arange(1, len(records) + 1, dtype=float)
    return columns


def plot_training_history(history, *, eta=None, ax=None):
    """Death times of the training batches per epoch: the band min-max, the median, and eta.

    The connectivity loss pulls every death time (0-dim persistence, per branch) towards
    ``eta``; this plot shows whether it got there: the shaded band spans the smallest and
    largest death time of the epoch's recorded batch, the line is its median (the mean when
    the history has no median), and the dashed horizontal line is ``eta``.

    Parameters
    ----------
    history : TopoAutoencoder, list of dict or pandas.DataFrame
        A fitted :class:`~corel_sklearn.TopoAutoencoder` (its ``history_`` and ``eta`` are
        used), its ``history_``, or ``pandas.DataFrame(history_)``. Needs the keys
        ``death_time_min`` and ``death_time_max``, and ``death_time_median`` or
        ``death_time_mean``.
    eta : float, default=None
        The target death time to draw; taken from the estimator when ``history`` is one.
        None draws no eta line.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes

    See Also
    --------
    plot_loss_history : The losses of the same history.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from corel_sklearn.plotting import plot_training_history
    >>> history = [{"epoch": 1, "death_time_min": 0.1, "death_time_median": 0.9,
    ...             "death_time_max": 1.5},
    ...            {"epoch": 2, "death_time_min": 1.2, "death_time_median": 1.9,
    ...             "death_time_max": 2.6}]
    >>> ax = plot_training_history(history, eta=2.0)
    >>> ax.get_lines()[0].get_ydata().tolist()
    [0.9, 1.9]
    """
    if eta is None and hasattr(history, "history_"):
        eta = getattr(history, "eta", None)
    columns = _history_columns(history)
    centre_key = "death_time_median" if "death_time_median" in columns else "death_time_mean"
    missing = [k for k in ("death_time_min", centre_key, "death_time_max") if k not in columns]
    if missing:
        raise ValueError(
            f"history has no {missing} entries; it needs death_time_min, death_time_max and "
            "death_time_median (or death_time_mean), as TopoAutoencoder.history_ records."
        )
    ax = _axes(ax)
    epochs = columns["epoch"]
    ax.fill_between(epochs, columns["death_time_min"], columns["death_time_max"], alpha=0.25,
                    color="C0", label="death times (min to max)")
    ax.plot(epochs, columns[centre_key], color="C0", marker="o", markersize=3,
            label=f"death time ({centre_key.rsplit('_', 1)[1]})")
    if eta is not None:
        ax.axhline(float(eta), color="C3", linestyle="--", label=f"eta = {float(eta):g}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("death time (MST edge length)")
    ax.set_title("0-dim death times of the training batches")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_loss_history(history, *, ax=None):
    """Reconstruction, connectivity and (when recorded) validation losses per epoch.

    Parameters
    ----------
    history : TopoAutoencoder, list of dict or pandas.DataFrame
        As for :func:`plot_training_history`. The keys drawn are those present among
        ``reconstruction_loss``, ``connectivity_loss`` and ``validation_loss``; a loss that is
        NaN in every epoch (the connectivity loss with ``connectivity_weight=0``) is left out.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        One line per loss, on a logarithmic y axis when every value drawn is positive.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from corel_sklearn.plotting import plot_loss_history
    >>> ax = plot_loss_history([{"reconstruction_loss": 9.0, "connectivity_loss": 3.0},
    ...                         {"reconstruction_loss": 5.0, "connectivity_loss": 1.0}])
    >>> [line.get_label() for line in ax.get_lines()]
    ['reconstruction loss', 'connectivity loss']
    """
    columns = _history_columns(history)
    keys = [
        k for k in ("reconstruction_loss", "connectivity_loss", "validation_loss")
        if k in columns and not np.all(np.isnan(columns[k]))
    ]
    if not keys:
        raise ValueError(
            "history has no reconstruction_loss, connectivity_loss or validation_loss values "
            "to plot."
        )
    ax = _axes(ax)
    for i, key in enumerate(keys):
        ax.plot(columns["epoch"], columns[key], color=f"C{i}", marker="o", markersize=3,
                label=key.replace("_", " "))
    values = np.concatenate([columns[k][~np.isnan(columns[k])] for k in keys])
    if np.all(values > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (mean over the epoch's steps)")
    ax.set_title("training losses")
    ax.legend(loc="best", fontsize="small")
    return ax


def _death_times(codes, n_branches, metric):
    """Per-branch death times of a batch of codes, as a (n_branches, B-1) float64 array."""
    from corel_sklearn.pershom import branch_death_times

    points = torch.as_tensor(np.asarray(codes) if not torch.is_tensor(codes) else codes)
    if not points.is_floating_point():
        points = points.double()
    with torch.no_grad():
        deaths, _ = branch_death_times(points.detach(), n_branches, metric)
    return deaths.cpu().numpy().astype(np.float64)


def _branch_settings(n_branches, encoder, eta, function):
    """``(n_branches, eta)`` from the arguments and the encoder that made the codes."""
    if encoder is not None:
        encoder_branches = getattr(encoder, "n_branches", None)
        if encoder_branches is None:
            raise ValueError(
                f"{function}: encoder must be the TopoAutoencoder that made the codes (with "
                f"n_branches), got {type(encoder).__name__}."
            )
        if n_branches is not None and n_branches != encoder_branches:
            raise ValueError(
                f"{function}: n_branches={n_branches} but the encoder has "
                f"n_branches={encoder_branches}; leave n_branches out to use the encoder's."
            )
        n_branches = encoder_branches
        if eta is None:
            eta = getattr(encoder, "eta", None)
    if n_branches is None:
        raise ValueError(
            f"{function} needs the number of latent branches the codes are made of: pass "
            "encoder=<the fitted TopoAutoencoder> or n_branches=encoder.n_branches "
            "(n_branches=1 draws the whole code as one point cloud)."
        )
    return n_branches, eta


def plot_barcode(codes, *, n_branches=None, encoder=None, metric="l1", eta=None, ax=None):
    """The 0-dim persistence barcode of a batch of codes, branch by branch.

    Every finite bar is born at 0 and dies when its component merges (an edge of the
    branch's minimum spanning tree, :func:`~corel_sklearn.pershom.branch_death_times`). Bars
    are drawn as horizontal segments from 0 to their death time, sorted within each branch
    and stacked branch after branch; zero-length bars (duplicate codes) are kept, so each
    branch has ``B - 1`` rows. After COREL's training the right ends line up near ``eta``.

    Parameters
    ----------
    codes : array-like or torch.Tensor of shape (B, n_branches * width)
        A batch of codes, e.g. ``TopoAutoencoder.transform(X[:100])``.
    n_branches : int, default=None
        Number of latent branches; must divide the number of columns. None takes it from
        ``encoder``; without an encoder it must be given (``n_branches=1`` draws the whole
        code as one point cloud, which is not what COREL's loss shapes).
    encoder : TopoAutoencoder, default=None
        The fitted encoder that made the codes: its ``n_branches`` (and ``eta``, when ``eta``
        is None) are used. A given ``n_branches`` must agree with it.
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch (l1 as in the paper).
    eta : float, default=None
        Draws a dashed vertical line at ``eta`` when given (or taken from ``encoder``).
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        ``ax.collections[k]`` holds the bars of branch ``k``.

    Raises
    ------
    ValueError
        When neither ``n_branches`` nor ``encoder`` says how the code splits into branches,
        or they disagree.

    See Also
    --------
    plot_death_time_histogram : The same death times as a histogram.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from corel_sklearn.plotting import plot_barcode
    >>> codes = np.array([[0.0, 0.0], [1.0, 5.0], [3.0, 5.0]])
    >>> ax = plot_barcode(codes, n_branches=2, eta=2.0)
    >>> len(ax.collections), len(ax.collections[0].get_segments())
    (2, 2)
    """
    n_branches, eta = _branch_settings(n_branches, encoder, eta, "plot_barcode")
    deaths = _death_times(codes, n_branches, metric)
    ax = _axes(ax)
    n_bars = deaths.shape[1]
    for k, branch_deaths in enumerate(deaths):
        rows = k * n_bars + np.arange(n_bars)
        ax.hlines(rows, 0.0, branch_deaths, color=f"C{k % 10}", linewidth=1.0,
                  label=f"branch {k}" if n_branches <= 10 else None)
    if eta is not None:
        ax.axvline(float(eta), color="C3", linestyle="--", label=f"eta = {float(eta):g}")
    ax.set_xlim(left=0.0)
    ax.set_xlabel("death time (birth = 0)")
    ax.set_ylabel("bar (sorted within each branch)")
    ax.set_title(f"0-dim barcode, {n_branches} branch{'es' if n_branches > 1 else ''}")
    if n_branches <= 10 or eta is not None:
        ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_death_time_histogram(codes, *, n_branches=None, encoder=None, metric="l1", eta=None,
                              bins=30, ax=None):
    """Histogram of the 0-dim death times of a batch of codes, over all branches.

    Parameters
    ----------
    codes : array-like or torch.Tensor of shape (B, n_branches * width)
        A batch of codes, e.g. ``TopoAutoencoder.transform(X[:100])``.
    n_branches : int, default=None
        Number of latent branches; must divide the number of columns. None takes it from
        ``encoder``; without an encoder it must be given, as for :func:`plot_barcode`.
    encoder : TopoAutoencoder, default=None
        The fitted encoder that made the codes: its ``n_branches`` (and ``eta``, when ``eta``
        is None) are used.
    metric : {"l1", "l2", "linf"}, default="l1"
        Distance within a branch.
    eta : float, default=None
        Draws a dashed vertical line at ``eta`` when given (or taken from ``encoder``).
    bins : int or sequence, default=30
        Passed to ``Axes.hist``.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from corel_sklearn.plotting import plot_death_time_histogram
    >>> codes = np.random.default_rng(0).normal(size=(50, 4))
    >>> ax = plot_death_time_histogram(codes, n_branches=2, bins=5)
    >>> int(sum(patch.get_height() for patch in ax.patches))  # 2 branches x 49 bars
    98
    """
    n_branches, eta = _branch_settings(n_branches, encoder, eta, "plot_death_time_histogram")
    deaths = _death_times(codes, n_branches, metric)
    ax = _axes(ax)
    ax.hist(deaths.ravel(), bins=bins, color="C0", alpha=0.8,
            label=f"{deaths.size} death times")
    if eta is not None:
        ax.axvline(float(eta), color="C3", linestyle="--", label=f"eta = {float(eta):g}")
    ax.set_xlabel("death time (MST edge length)")
    ax.set_ylabel("number of bars")
    ax.set_title("0-dim death times")
    ax.legend(loc="best", fontsize="small")
    return ax


def _ball_count_model(estimator):
    """The fitted ball-count model at the end of ``estimator`` and the steps before it."""
    steps = getattr(estimator, "steps", None)
    if steps is not None:
        model = steps[-1][1]
        return model, estimator[:-1]
    return estimator, None


def plot_ball_counts(estimator, X, is_inlier, *, ax=None):
    """Per-branch ball counts of inliers against outliers, as side-by-side box plots.

    COREL's score sums, over the latent branches, the number of anchors inside the closed
    ball around a sample's code. This plot shows each branch's counts separately for the
    inliers and the outliers of ``X``: branches whose two boxes overlap do not tell them
    apart.

    Parameters
    ----------
    estimator : BallCountOneClass or Pipeline
        A fitted :class:`~corel_sklearn.BallCountOneClass`, or a fitted pipeline ending in
        one (``X`` then goes through the steps before it, e.g. the encoder).
    X : array-like of shape (n_samples, n_features)
        Samples to count for (codes, or the pipeline's input).
    is_inlier : array-like of bool of shape (n_samples,)
        True for the inliers; both kinds must be present.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        Box ``2k`` (inliers) and ``2k + 1`` (outliers) belong to branch ``k``; their median
        lines carry the gid ``"median branch k inliers"`` / ``"median branch k outliers"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from corel_sklearn import BallCountOneClass
    >>> from corel_sklearn.plotting import plot_ball_counts
    >>> rng = np.random.default_rng(0)
    >>> model = BallCountOneClass(n_branches=2).fit(rng.normal(size=(30, 4)))
    >>> X = np.vstack([rng.normal(size=(10, 4)), rng.normal(8.0, 1.0, size=(10, 4))])
    >>> ax = plot_ball_counts(model, X, np.arange(20) < 10)
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['0', '1']
    """
    from corel_sklearn.ball_counting import branch_ball_counts

    model, transform = _ball_count_model(estimator)
    if not hasattr(model, "anchors_"):
        raise ValueError(
            "plot_ball_counts needs a fitted BallCountOneClass (or a fitted pipeline ending in "
            f"one); got {type(model).__name__} without anchors_. Call fit first."
        )
    if hasattr(model, "anchor_classes_"):
        # its anchors mix all classes: counting against all of them would describe no model
        raise ValueError(
            "plot_ball_counts draws one one-class model; got a ClasswiseBallCount. Fit "
            "BallCountOneClass(**its params) on the codes of the class to look at."
        )
    is_inlier = np.asarray(is_inlier)
    if is_inlier.dtype != bool:
        raise ValueError(
            f"is_inlier must be boolean (True = inlier), got dtype {is_inlier.dtype}; e.g. "
            "pass y == normal_class."
        )
    codes = transform.transform(X) if transform is not None else np.asarray(X)
    if len(is_inlier) != len(codes) or is_inlier.all() or not is_inlier.any():
        raise ValueError(
            f"is_inlier must mark {len(codes)} samples and contain both inliers and outliers; "
            f"got {len(is_inlier)} entries with {int(is_inlier.sum())} inliers."
        )
    counts = branch_ball_counts(codes, model.anchors_, model.radius_,
                                n_branches=model.n_branches_, metric=model.metric)
    ax = _axes(ax, figsize=(max(6.0, 0.6 * model.n_branches_ + 2), 4.0))
    n_branches = counts.shape[1]
    data, positions = [], []
    for k in range(n_branches):
        data += [counts[is_inlier, k], counts[~is_inlier, k]]
        positions += [3 * k, 3 * k + 1]
    boxes = ax.boxplot(data, positions=positions, widths=0.8, patch_artist=True,
                       showfliers=False, medianprops={"color": "black"})
    for i, (box, median) in enumerate(zip(boxes["boxes"], boxes["medians"], strict=True)):
        box.set_facecolor("C0" if i % 2 == 0 else "C1")
        box.set_alpha(0.6)
        median.set_gid(f"median branch {i // 2} {'inliers' if i % 2 == 0 else 'outliers'}")
    ax.set_xticks(3 * np.arange(n_branches) + 0.5, [str(k) for k in range(n_branches)])
    ax.set_xlim(-1.0, 3 * n_branches - 1.0)
    ax.set_xlabel("branch")
    ax.set_ylabel(f"anchors within radius {model.radius_:g}")
    ax.set_title("per-branch ball counts")
    ax.legend([boxes["boxes"][0], boxes["boxes"][1]],
              [f"inliers (n={int(is_inlier.sum())})", f"outliers (n={int((~is_inlier).sum())})"],
              loc="upper right", fontsize="small")
    return ax


def _inlier_labels(y_true, pos_label):
    """``(is_inlier, how y_true was read)``, from the label conventions RocCurveDisplay takes."""
    y_true = np.asarray(y_true)
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {y_true.shape}.")
    if pos_label is not None:
        if not (y_true == pos_label).any():
            raise ValueError(
                f"pos_label={pos_label!r} (the inliers' label) is not among the labels "
                f"{sorted(set(y_true.tolist()), key=str)[:10]}."
            )
        return y_true == pos_label, f"pos_label={pos_label!r} marking the inliers"
    if y_true.dtype == bool:
        return y_true, "booleans, True = inlier"  # True is the positive class: the inliers
    try:
        is_inlier, convention = read_outlier_labels(y_true)
    except ValueError as exc:
        raise ValueError(
            f"y_true: {exc} For other labels, pass pos_label=<the inliers' label> (every other "
            "label is an outlier), or a boolean is_inlier."
        ) from None
    how = {"pyod": "PyOD's 0/1, 1 = anomaly (pass pos_label=1 if 1 marks the inliers)",
           "sklearn": "scikit-learn's +1 inlier / -1 outlier",
           None: "all 1s, no outlier"}[convention]
    return is_inlier, how


def _is_detector(value):
    return hasattr(value, "decision_function") or hasattr(value, "score_samples")


def _inlier_scores(name, value, X, higher_score):
    """One score per sample, higher = more normal, for an array or a fitted estimator."""
    if _is_detector(value):
        from corel_sklearn.model_selection import anomaly_scores

        if X is None:
            raise ValueError(
                f"scores[{name!r}] is a fitted {type(value).__name__}: pass X=<the samples> "
                "to score it."
            )
        # the direction comes from the estimator's type, as in make_anomaly_scorer
        return -anomaly_scores(value, X)
    score = np.asarray(value, dtype=float)
    return score if higher_score == "inlier" else -score


def plot_roc_curves(scores, y_true, *, X=None, higher_score="inlier", pos_label=None, ax=None):
    """ROC curves of several one-class scores on the same samples, as in the protocol.

    The protocol's convention: inliers are the positive class and the curve ranks samples from
    the most to the least normal. Each legend entry carries the method's AUROC. Scores are
    oriented the way :func:`~corel_sklearn.model_selection.make_anomaly_scorer` orients them:
    a fitted detector (with ``X``) by its type (a PyOD detector's ``decision_function`` is
    higher for anomalies, a scikit-learn outlier detector's for inliers; any other estimator
    raises), an array by ``higher_score``. A curve below chance (AUROC < 0.5) raises a
    UserWarning naming both readings, so inverted scores are never plotted without a word.

    Parameters
    ----------
    scores : dict of str to array-like of shape (n_samples,) or fitted estimator
        For each method, its scores (oriented by ``higher_score``) or the fitted detector
        itself (scored on ``X``).
    y_true : array-like of shape (n_samples,)
        Which samples are inliers, in the conventions ``RocCurveDisplay`` takes: booleans
        (True = inlier, the positive class), outlier labels +1 inlier / -1 outlier
        (scikit-learn) or 0 normal / 1 anomaly (PyOD; an all-1 ``y_true`` marks no outlier),
        or any labels with ``pos_label``.
    X : array-like of shape (n_samples, n_features), default=None
        The samples, needed when ``scores`` holds estimators.
    higher_score : {"inlier", "anomaly"}, default="inlier"
        What a higher array score means: "inlier" for ``score_samples`` /
        ``decision_function`` of scikit-learn outlier detectors (and COREL's), "anomaly" for
        PyOD's ``decision_function`` or ``decision_scores_``.
    pos_label : scalar, default=None
        The label of the inliers in ``y_true``; every other label is an outlier. None reads
        ``y_true`` as above.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        One line per method, in the order of ``scores``, then the chance diagonal.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from corel_sklearn.plotting import plot_roc_curves
    >>> ax = plot_roc_curves({"perfect": [0.9, 0.8, 0.1]}, [True, True, False])
    >>> ax.get_legend().get_texts()[0].get_text()
    'perfect (AUROC 1.000)'
    >>> ax = plot_roc_curves({"PyOD-like": [0.1, 0.2, 0.9]}, [0, 0, 1], higher_score="anomaly")
    >>> ax.get_legend().get_texts()[0].get_text()
    'PyOD-like (AUROC 1.000)'
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    from corel_sklearn._warnings import warn

    if not isinstance(scores, dict) or not scores:
        raise ValueError(
            "scores must be a non-empty dict {method name: scores or fitted detector}; "
            f"got {type(scores).__name__}."
        )
    if higher_score not in ("inlier", "anomaly"):
        raise ValueError(
            f"higher_score must be 'inlier' or 'anomaly', got {higher_score!r}."
        )
    is_inlier, labels_read_as = _inlier_labels(y_true, pos_label)
    if is_inlier.all() or not is_inlier.any():
        raise ValueError(
            f"y_true must contain both inliers and outliers; got {int(is_inlier.sum())} "
            f"inliers among {is_inlier.size} samples."
        )
    ax = _axes(ax, figsize=(5.0, 5.0))
    for i, (name, value) in enumerate(scores.items()):
        score = _inlier_scores(name, value, X, higher_score)
        if score.shape != is_inlier.shape:
            raise ValueError(
                f"scores[{name!r}] has shape {score.shape}, y_true {is_inlier.shape}: one "
                "score per sample is needed."
            )
        fpr, tpr, _ = roc_curve(is_inlier, score)
        auroc = roc_auc_score(is_inlier, score)
        if auroc < 0.5:
            reading = ("the detector's type" if _is_detector(value) else
                       f"higher_score={higher_score!r}")
            warn(
                f"plot_roc_curves: {name!r} ranks below chance (AUROC {auroc:.3f}), its scores "
                f"oriented by {reading} and y_true read as {labels_read_as}. If the scores "
                "are higher for anomalies (PyOD's decision_function), pass "
                "higher_score='anomaly' or the fitted detector with X=.",
                UserWarning,
            )
        ax.plot(fpr, tpr, color=f"C{i % 10}", label=f"{name} (AUROC {auroc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate (outliers scored as normal)")
    ax.set_ylabel("true positive rate (inliers scored as normal)")
    ax.set_title("ROC, inliers positive")
    ax.legend(loc="lower right", fontsize="small")
    return ax
