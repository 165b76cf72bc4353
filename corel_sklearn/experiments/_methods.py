"""The one method registry: COREL, its ablations and the baselines, one spelling everywhere."""

from dataclasses import dataclass, replace

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

# The input each method sees: raw features, codes of the COREL encoder (lambda > 0), or codes
# of the same encoder trained with lambda = 0 (a plain autoencoder, "AE").
REPRESENTATIONS = ("raw", "corel", "ae")
# Baseline settings of each protocol: the paper's ("paper": the one-class protocol of Hofer et
# al.) or pyod's defaults ("pyod": the ODDS and ADBench protocols, as in their published tables).
PROTOCOL_STYLES = ("paper", "pyod")


@dataclass(frozen=True)
class MethodContext:
    """What a method's estimator depends on in one fit.

    ``n_fit`` training rows, ``random_state`` of the draw or trial, the ball ``radius`` and
    ``n_branches`` of the encoder's codes, COREL's ``scoring`` and ``n_neighbors`` (see
    :class:`~corel_sklearn.BallCountOneClass`), and the protocol ``style`` ("paper" or "pyod").
    """

    n_fit: int
    random_state: int
    radius: float = 2.0
    n_branches: int = 1
    style: str = "paper"
    scoring: str = "count"
    n_neighbors: int = 5


@dataclass(frozen=True)
class Method:
    """A one-class method: an estimator factory, the input it sees and its score convention.

    ``make(context)`` returns an unfitted estimator; ``convention`` is "sklearn"
    (``score_samples`` higher = more normal) or "pyod" (``decision_function`` higher = more
    abnormal). :meth:`anomaly_scores` turns either into anomaly scores.
    """

    key: str
    representation: str
    make: object
    description: str
    convention: str = "sklearn"

    def anomaly_scores(self, X_fit, X_score, context):
        """Fit on ``X_fit``; anomaly scores (higher = more abnormal) of ``X_score``."""
        estimator = self.make(context).fit(X_fit)
        if self.convention == "pyod":
            return np.asarray(estimator.decision_function(X_score), dtype=np.float64)
        return -estimator.score_samples(X_score)


def _corel_score(context):
    from corel_sklearn.estimators import BallCountOneClass

    # contamination="auto": scores (and so every AUROC) do not depend on the threshold, and
    # "auto" skips the leave-one-out pass, quadratic in n_fit, that a float needs.
    return BallCountOneClass(radius=context.radius, n_branches=context.n_branches,
                             scoring=context.scoring, n_neighbors=context.n_neighbors,
                             contamination="auto")


def _ball_count(context):
    return _corel_score(replace(context, scoring="count"))


def _ocsvm(context):
    if context.style == "paper":
        return OneClassSVM(gamma="scale", nu=0.1)
    return OneClassSVM(nu=0.5, gamma="auto")  # pyod's OCSVM defaults


def _iforest(context):
    return IsolationForest(random_state=context.random_state)


def _lof(context):
    return LocalOutlierFactor(n_neighbors=min(20, context.n_fit - 1), novelty=True)


def _pyod_class(module, name):
    try:
        from importlib import import_module

        return getattr(import_module(f"pyod.models.{module}"), name)
    except ImportError as exc:
        raise ImportError(
            f"The {name} baseline comes from PyOD; install it with `pip install "
            "corel-sklearn[pyod]` or leave it out of the methods."
        ) from exc


def _knn(context):
    # pyod's default: distance to the 5th neighbour ("largest")
    return _pyod_class("knn", "KNN")(n_neighbors=min(5, context.n_fit - 1))


def _ecod(context):
    return _pyod_class("ecod", "ECOD")()


METHODS = {
    m.key: m
    for m in (
        Method("COREL", "corel", _corel_score,
               "COREL's score of its codes: the ball count (radius r, l1, summed over "
               "branches) in the paper's protocol; the tabular recipe's distance to the 5th "
               "nearest training code in the ODDS and ADBench protocols"),
        Method("COREL-count", "corel", _ball_count,
               "the paper's ball count (radius r = eta, l1) on the same COREL codes"),
        Method("BallCount-AE", "ae", _ball_count,
               "the same ball count on codes of the same encoder trained with lambda = 0"),
        Method("OCSVM-AE", "ae", _ocsvm,
               "OCSVM on the lambda = 0 codes (the paper's 'OC-SVM (CAE)')"),
        Method("OCSVM", "raw", _ocsvm,
               "OneClassSVM: gamma='scale', nu=0.1 in the paper's protocol; pyod's defaults "
               "nu=0.5, gamma='auto' in the ODDS and ADBench protocols"),
        Method("IForest", "raw", _iforest,
               "IsolationForest(random_state=seed of the draw or trial)"),
        Method("LOF", "raw", _lof,
               "LocalOutlierFactor(n_neighbors=min(20, n-1), novelty=True)"),
        Method("KNN", "raw", _knn, "pyod KNN(n_neighbors=min(5, n-1)): distance to the kth "
               "neighbour (needs pyod)", convention="pyod"),
        Method("ECOD", "raw", _ecod, "pyod ECOD(): empirical-CDF tail probabilities "
               "(needs pyod)", convention="pyod"),
    )
}  # fmt: skip
#: Methods of the paper's one-class protocol (``oneclass``, ``demo``).
PAPER_METHODS = ("COREL", "BallCount-AE", "OCSVM-AE", "OCSVM", "IForest", "LOF")
#: Methods of the ODDS run (``odds``); "BallCount-AE" adds the lambda = 0 ablation.
ODDS_METHODS = ("COREL", "IForest", "OCSVM", "LOF")
#: Methods of the ADBench run (``adbench``).
ADBENCH_METHODS = ("COREL", "IForest", "OCSVM", "LOF", "ECOD", "KNN")


def resolve_methods(methods):
    """Method names (any case: "corel", "COREL") -> list of :class:`Method`, in order.

    Examples
    --------
    >>> from corel_sklearn.experiments import resolve_methods
    >>> [m.key for m in resolve_methods(["corel", "ballcount-ae", "IForest"])]
    ['COREL', 'BallCount-AE', 'IForest']
    """
    by_name = {key.casefold(): method for key, method in METHODS.items()}
    resolved = []
    for name in methods:
        method = by_name.get(str(name).casefold())
        if method is None:
            raise ValueError(f"Unknown method {name!r}; choose from {list(METHODS)}.")
        resolved.append(method)
    if not resolved:
        raise ValueError("At least one method is needed.")
    return resolved
