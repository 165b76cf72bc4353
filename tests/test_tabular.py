"""The tabular runners (ODDS, ADBench) and the tabular encoder preset."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator
from sklearn.neighbors import KDTree
from sklearn.preprocessing import StandardScaler

from corel_sklearn.estimators import tabular_encoder
from corel_sklearn.experiments import TabularSettings, resolve_methods
from corel_sklearn.experiments._tabular_benchmarks import _score_encoded


class RecordingEncoder(BaseEstimator):
    """Stands in for a TopoAutoencoder: keeps what it was trained on, codes = first 2 columns."""

    def __init__(self, connectivity_weight=20.0, eta=2.0, n_branches=1, log=None):
        self.connectivity_weight = connectivity_weight
        self.eta = eta
        self.n_branches = n_branches
        self.log = log

    def fit_transform(self, X):
        self.log.append((self.connectivity_weight, np.array(X)))
        return np.asarray(X[:, :2], dtype=np.float64)

    def transform(self, X):
        return np.asarray(X[:, :2], dtype=np.float64)


def test_corel_and_its_ablation_train_on_the_same_standardised_input():
    """Both encoders of a split see StandardScaler(X_fit) once (not twice for the ablation)."""
    rng = np.random.default_rng(0)
    # A large offset makes a second standardisation visible: the first leaves a mean of
    # about 1e-8, which the second removes, changing float32 values.
    X_fit = 1e9 + 100 * rng.random((300, 3))
    X_test = 1e9 + 100 * rng.random((60, 3))
    y_test = np.r_[np.zeros(50, dtype=int), np.ones(10, dtype=int)]
    standardised = StandardScaler().fit_transform(X_fit)
    # trim=0.3: both leave out the same 90 rows, those a KDTree ranks farthest from their
    # 100th nearest other row
    distances, _ = KDTree(standardised).query(standardised, k=101)
    kept = np.sort(np.argsort(distances[:, -1], kind="stable")[:210])
    for trim, rows in ((0.0, slice(None)), (0.3, kept)):
        log = []
        settings = TabularSettings(
            methods=("COREL", "BallCount-AE"), standardize_encoder_input=True, trim=trim,
            make_encoder=lambda n, d, seed, log=log: RecordingEncoder(log=log),
            encoder_n_jobs=None)
        _score_encoded(resolve_methods(settings.methods), (X_fit, X_test, None, y_test), 0,
                       settings)
        assert [weight for weight, _ in log] == [20.0, 0.0]
        for _, seen in log:
            assert_array_equal(seen, standardised[rows].astype(np.float32))


@pytest.mark.parametrize("n_samples, batch_size", [(700, 100), (60, 30), (9, 8)])
def test_tabular_encoder_batches_and_steps(n_samples, batch_size):
    encoder = tabular_encoder(n_samples, 5, random_state=0, n_steps=300)
    assert encoder.batch_size == batch_size
    steps_per_epoch = n_samples // batch_size
    assert abs(encoder.max_epochs * steps_per_epoch - 300) <= steps_per_epoch / 2 + 1e-9
    assert tabular_encoder(n_samples, 5).max_epochs == encoder.max_epochs  # 300 is the default
    assert tabular_encoder(n_samples, 5, n_steps="auto").max_epochs == "auto"


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "many", None])
def test_tabular_encoder_refuses_bad_steps(bad):
    with pytest.raises(ValueError, match="n_steps must be a positive int or 'auto'"):
        tabular_encoder(100, 5, n_steps=bad)
