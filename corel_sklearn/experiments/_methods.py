"""COREL and the baselines of the one-class protocol, each as an estimator factory."""

from dataclasses import dataclass

from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

# The input each method sees: raw inputs, codes of the COREL encoder (lambda > 0), or codes
# of the same encoder trained with lambda = 0 (a plain autoencoder, "AE").
REPRESENTATIONS = ("raw", "corel", "ae")


@dataclass(frozen=True)
class Method:
    """A one-class method of the protocol.

    ``make(n_fit, random_state, radius, n_branches)`` returns an unfitted estimator whose
    ``score_samples`` is higher for more normal inputs.
    """

    key: str
    label: str
    representation: str
    make: object
    description: str


def _ball_count(n_fit, random_state, radius, n_branches):
    from corel_sklearn import BallCountOneClass

    return BallCountOneClass(radius=radius, n_branches=n_branches)


def _ocsvm(n_fit, random_state, radius, n_branches):
    return OneClassSVM(gamma="scale", nu=0.1)


def _iforest(n_fit, random_state, radius, n_branches):
    return IsolationForest(random_state=random_state)


def _lof(n_fit, random_state, radius, n_branches):
    return LocalOutlierFactor(n_neighbors=min(20, n_fit - 1), novelty=True)


METHODS = {
    m.key: m
    for m in (
        Method("corel", "COREL", "corel", _ball_count,
               "ball count (radius r, l1, summed over branches) on the COREL codes"),
        Method("ballcount-ae", "BallCount (AE)", "ae", _ball_count,
               "the same ball count on codes of the same encoder trained with lambda = 0"),
        Method("ocsvm-ae", "OC-SVM (AE)", "ae", _ocsvm,
               "OneClassSVM(gamma='scale', nu=0.1) on the lambda = 0 codes "
               "(the paper's 'OC-SVM (CAE)')"),
        Method("ocsvm", "OC-SVM (raw)", "raw", _ocsvm,
               "OneClassSVM(gamma='scale', nu=0.1) on raw inputs"),
        Method("iforest", "IForest (raw)", "raw", _iforest,
               "IsolationForest(random_state=seed of the draw) on raw inputs"),
        Method("lof", "LOF (raw)", "raw", _lof,
               "LocalOutlierFactor(n_neighbors=min(20, n-1), novelty=True) on raw inputs"),
    )
}  # fmt: skip
DEFAULT_METHODS = tuple(METHODS)


def resolve_methods(methods):
    """Method keys (or labels) -> list of :class:`Method`, in the given order."""
    by_label = {m.label: m for m in METHODS.values()}
    resolved = []
    for name in methods:
        method = METHODS.get(name) or by_label.get(name)
        if method is None:
            raise ValueError(f"Unknown method {name!r}; choose from {list(METHODS)}.")
        resolved.append(method)
    if not resolved:
        raise ValueError("At least one method is needed.")
    return resolved
