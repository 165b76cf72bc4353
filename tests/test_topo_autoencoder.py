import io
import math
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _small_autoencoder import SMALL, small
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from corel_sklearn import TopoAutoencoder
from corel_sklearn.networks import ConvAutoencoder, MLPAutoencoder
from corel_sklearn.pershom import branch_death_times


@parametrize_with_checks([TopoAutoencoder(**SMALL)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_transform_inverse_transform_and_feature_names(X):
    ae = small(n_branches=3, branch_dim=2).fit(X)
    Z = ae.transform(X)
    assert Z.shape == (60, 6) and Z.dtype == np.float32
    X_rec = ae.inverse_transform(Z)
    assert X_rec.shape == X.shape and X_rec.dtype == np.float32
    names = ae.get_feature_names_out()
    assert names.tolist() == [f"branch{k}_dim{j}" for k in range(3) for j in range(2)]
    assert ae.architecture_ == "mlp" and isinstance(ae.module_, MLPAutoencoder)
    assert ae.input_shape_ == (12,) and ae.n_features_in_ == 12 and ae.device_ == "cpu"
    assert not ae.module_.training
    with pytest.raises(ValueError, match="expects codes with n_branches \\* branch_dim = 6"):
        ae.inverse_transform(Z[:, :5])


def test_transform_in_batches_gives_the_same_codes(X):
    ae = small().fit(X)
    full = ae.transform(X)
    ae.set_params(inference_batch_size=7)
    # Equal up to float32 round-off: BLAS may block a matmul differently for other batch sizes.
    np.testing.assert_allclose(ae.transform(X), full, rtol=1e-5, atol=1e-7)
    halves = np.concatenate([ae.inverse_transform(full[:30]), ae.inverse_transform(full[30:])])
    np.testing.assert_allclose(ae.inverse_transform(full), halves, rtol=1e-5, atol=1e-7)


def test_input_shape_selects_conv_and_reconstructs_that_shape(rng):
    X = rng.random((12, 2 * 9 * 10), dtype=np.float32)
    ae = small(input_shape=(2, 9, 10), conv_channels=(4, 4, 8), batch_size=6).fit(X)
    assert ae.architecture_ == "conv" and isinstance(ae.module_, ConvAutoencoder)
    assert ae.input_shape_ == (2, 9, 10)
    assert ae.transform(X).shape == (12, 4)
    assert ae.inverse_transform(ae.transform(X)).shape == X.shape
    # The same data as vectors when asked for an MLP.
    ae = small(architecture="mlp", input_shape=(2, 9, 10)).fit(X)
    assert ae.architecture_ == "mlp" and ae.input_shape_ == (180,)


def test_reconstruction_loss_is_l1_summed_per_sample_mean_over_batch(rng):
    x = torch.from_numpy(rng.random((5, 2, 3, 3)))
    x_hat = torch.from_numpy(rng.random((5, 2, 3, 3)))
    expected = np.abs(x.numpy() - x_hat.numpy()).reshape(5, -1).sum(1).mean()
    loss = TopoAutoencoder()._reconstruction_loss(x_hat, x)
    assert float(loss) == pytest.approx(expected, rel=1e-12)


def test_history_records_losses_death_times_and_time(X):
    ae = small(max_epochs=3).fit(X)
    assert [h["epoch"] for h in ae.history_] == [1, 2, 3]
    assert ae.n_iter_ == 3 and ae.n_steps_ == 9  # 3 epochs of 60 // 20 steps
    for h in ae.history_:
        assert h["n_steps"] == 3
        assert h["wall_time"] > 0
        assert 0 <= h["death_time_min"] <= h["death_time_mean"] <= h["death_time_max"]
        assert h["death_time_min"] <= h["death_time_median"] <= h["death_time_max"]
        assert np.isfinite([h["reconstruction_loss"], h["connectivity_loss"]]).all()
    plain = small(connectivity_weight=0).fit(X)
    assert all(math.isnan(h["connectivity_loss"]) for h in plain.history_)
    assert all(h["death_time_mean"] > 0 for h in plain.history_)


def test_connectivity_loss_moves_death_times_towards_eta(rng):
    X = rng.normal(size=(200, 10)).astype(np.float32)
    params = dict(hidden_layer_sizes=(32,), n_branches=2, branch_dim=3, batch_size=50)
    params.update(max_epochs=10, learning_rate=1e-2, random_state=0)
    gap, mean_death = {}, {}
    for weight in (0.0, 20.0):
        ae = TopoAutoencoder(connectivity_weight=weight, **params).fit(X)
        codes = torch.from_numpy(ae.transform(X))
        deaths = torch.cat([branch_death_times(batch, 2)[0] for batch in codes.split(50)])
        gap[weight] = float((deaths - ae.eta).abs().mean())
        mean_death[weight] = float(deaths.mean())
        # history_ tracks the same quantity on the last training batch.
        assert ae.history_[-1]["death_time_mean"] == pytest.approx(mean_death[weight], rel=0.3)
    assert gap[20.0] < 0.7 * gap[0.0]
    assert abs(mean_death[20.0] - 2.0) < 0.5 * abs(mean_death[0.0] - 2.0)


def test_same_seed_gives_bit_identical_codes(X):
    codes = small(random_state=3).fit(X).transform(X)
    np.testing.assert_array_equal(small(random_state=3).fit(X).transform(X), codes)
    assert not np.array_equal(small(random_state=4).fit(X).transform(X), codes)
    # A RandomState instance works too and does not disturb torch's global generator.
    state = torch.random.get_rng_state()
    small(random_state=np.random.RandomState(3)).fit(X)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_batch_size_is_clamped_to_n_samples(X):
    ae = small(batch_size=100).fit(X[:7])
    assert ae.batch_size_ == 7
    assert [h["n_steps"] for h in ae.history_] == [1, 1]
    ae = small(batch_size=25).fit(X)  # 60 = 2 * 25 + 10: the partial batch is dropped
    assert ae.batch_size_ == 25 and ae.history_[0]["n_steps"] == 2


def test_bad_input_raises_clear_errors(X):
    ae = small()
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        ae.fit(X[:1])
    X_nan = X.copy()
    X_nan[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ae.fit(X_nan)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        ae.fit(X_inf)
    with pytest.raises(TypeError, match="[Ss]parse"):
        ae.fit(sp.csr_matrix(X))
    ae.fit(X)
    with pytest.raises(ValueError, match="X has 11 features, but TopoAutoencoder is expecting"):
        ae.transform(X[:, :11])
    with pytest.raises(ValueError, match=r"input_shape=\(3, 2, 3\) describes 18 values"):
        small(input_shape=(3, 2, 3)).fit(X)
    with pytest.raises(ValueError, match="needs input_shape=\\(channels, height, width\\)"):
        small(architecture="conv").fit(X)
    with pytest.raises(ValueError, match="needs input_shape"):
        small(architecture="conv", input_shape=(3, 4)).fit(X)
    with pytest.raises(ValueError, match="input_shape must be a sequence"):
        small(input_shape=(3, -4)).fit(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be"):
        small(hidden_layer_sizes=(8, 2.5)).fit(X)
    with pytest.raises(ValueError, match="every branch needs at least one feature"):
        small(hidden_layer_sizes=(1,)).fit(X)


def test_callable_architecture(X):
    def build(input_shape, n_branches, branch_dim):
        assert input_shape == (12,)
        encoder = torch.nn.Linear(12, n_branches * branch_dim)
        decoder = torch.nn.Linear(n_branches * branch_dim, 12)
        return encoder, decoder

    ae = small(architecture=build).fit(X)
    assert ae.architecture_ == "callable"
    assert isinstance(ae.module_.encoder, torch.nn.Linear)
    assert ae.transform(X).shape == (60, 4)

    def wrong(input_shape, n_branches, branch_dim):
        return torch.nn.Linear(12, 5), torch.nn.Linear(5, 12)

    with pytest.raises(ValueError, match=r"codes of shape \(2, 5\).*expected \(2, 4\)"):
        small(architecture=wrong).fit(X)


class _NaNAtEpoch(TopoAutoencoder):
    """Returns a NaN reconstruction loss from the given epoch on (a divergence on demand)."""

    def __init__(self, *, nan_epoch=3, **params):
        super().__init__(**params)
        self.nan_epoch = nan_epoch

    def _reconstruction_loss(self, x_hat, x):
        loss = super()._reconstruction_loss(x_hat, x)
        return loss * math.nan if len(self.history_) + 1 >= self.nan_epoch else loss


def test_divergence_names_epoch_and_keeps_last_finite_weights(X):
    params = dict(SMALL, max_epochs=5, random_state=0)
    ae = _NaNAtEpoch(nan_epoch=3, **params)
    with pytest.raises(ValueError, match="diverged in epoch 3.*lower learning_rate"):
        ae.fit(X)
    assert len(ae.history_) == 2
    reference = TopoAutoencoder(**dict(params, max_epochs=2)).fit(X)
    for kept, expected in zip(ae.module_.parameters(), reference.module_.parameters(), strict=1):
        torch.testing.assert_close(kept, expected, rtol=0, atol=0)
    np.testing.assert_array_equal(ae.transform(X), reference.transform(X))


def test_huge_learning_rate_diverges_with_finite_weights(X):
    ae = small(learning_rate=1e30, max_epochs=5)
    message = r"diverged in epoch 1.*learning_rate, e.g. 1e\+29 \(now 1e\+30\)"
    with pytest.raises(ValueError, match=message):
        ae.fit(X * 1e3)
    assert all(torch.isfinite(p).all() for p in ae.module_.parameters())
    assert np.isfinite(ae.transform(X)).all()


def test_pickle_and_joblib_round_trips_give_identical_codes(X, tmp_path):
    ae = small().fit(X)
    codes = ae.transform(X)
    restored = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(restored.transform(X), codes)
    assert restored.device_ == "cpu" and restored.history_ == ae.history_
    joblib.dump(ae, tmp_path / "ae.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "ae.joblib").transform(X), codes)
    # The pickle holds the network as torch.save bytes, not as live tensors.
    assert isinstance(ae.__getstate__()["module_"], bytes)


def test_model_fitted_on_cuda_unpickles_on_a_machine_without_cuda(X, monkeypatch):
    ae = small().fit(X)
    codes = ae.transform(X)
    # Simulate a CUDA fit: torch.save tags every storage "cuda:0", as it does for GPU tensors.
    ae.device_ = "cuda"
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        payload = pickle.dumps(ae)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    # The simulation is real: loaded as saved, the network's bytes need CUDA.
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(io.BytesIO(_module_bytes(payload)), weights_only=False)
    with pytest.warns(RuntimeWarning, match="fitted on cuda but cuda is not available"):
        restored = pickle.loads(payload)
    assert restored.device_ == "cpu"
    assert all(p.device.type == "cpu" for p in restored.module_.parameters())
    np.testing.assert_array_equal(restored.transform(X), codes)


def _module_bytes(payload):
    """The torch.save bytes of ``module_`` inside a pickled TopoAutoencoder, without loading."""

    class Capture(TopoAutoencoder):
        def __setstate__(self, state):
            self.__dict__.update(state)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if name == "TopoAutoencoder":
                return Capture
            return super().find_class(module, name)

    return Unpickler(io.BytesIO(payload)).load().module_


def test_set_output_pandas(X):
    pd = pytest.importorskip("pandas")
    ae = small().set_output(transform="pandas")
    X_frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(12)])
    frame = ae.fit_transform(X_frame)
    assert isinstance(frame, pd.DataFrame)
    assert frame.columns.tolist() == ae.get_feature_names_out().tolist()
    np.testing.assert_array_equal(frame.to_numpy(), ae.transform(X_frame).to_numpy())
    assert ae.feature_names_in_.tolist()[:2] == ["pixel0", "pixel1"]


def test_pipeline_and_grid_search_fit_each_candidate_with_its_parameter(X):
    pipe = make_pipeline(MinMaxScaler(), small())
    codes = pipe.fit_transform(X)
    assert codes.shape == (60, 4)
    np.testing.assert_array_equal(codes, small().fit_transform(MinMaxScaler().fit_transform(X)))
    assert pipe.inverse_transform(codes).shape == X.shape

    def neg_reconstruction_error(estimator, X_val, y=None):
        return -np.abs(estimator.inverse_transform(estimator.transform(X_val)) - X_val).mean()

    weights = [0.0, 20.0]
    search = GridSearchCV(
        small(max_epochs=1),
        {"connectivity_weight": weights},
        scoring=neg_reconstruction_error,
        cv=2,
    ).fit(X)
    # Each candidate's score, by hand: the mean over the two folds of a fit with its weight.
    # (float64, as scikit-learn averages the float32 fold scores)
    expected = [np.mean([float(neg_reconstruction_error(
        small(max_epochs=1, connectivity_weight=weight).fit(X[train]), X[test]))
        for train, test in KFold(2).split(X)]) for weight in weights]
    assert expected[0] != expected[1]  # the weight changes the fit: the search has a choice
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], expected, rtol=1e-12)
    best = weights[int(np.argmax(expected))]
    assert search.best_params_ == {"connectivity_weight": best}
    np.testing.assert_array_equal(search.best_estimator_.transform(X),
                                  small(max_epochs=1, connectivity_weight=best).fit(X).transform(X))


def test_verbose_shows_progress_bar_and_default_is_silent(X, capsys):
    small().fit(X)
    assert capsys.readouterr().err == ""
    small(verbose=1).fit(X)
    err = capsys.readouterr().err
    assert "TopoAutoencoder" in err and "rec=" in err and "conn=" in err


def test_import_and_construction_do_not_touch_cuda():
    code = (
        "import torch\n"
        "def forbidden(*args, **kwargs):\n"
        "    raise AssertionError('CUDA was queried')\n"
        "for name in ('is_available', 'init', '_lazy_init', 'device_count'):\n"
        "    setattr(torch.cuda, name, forbidden)\n"
        "from sklearn.base import clone\n"
        "from corel_sklearn import TopoAutoencoder\n"
        "ae = clone(TopoAutoencoder(device='auto'))\n"
        "repr(ae), ae.get_params()\n"
        "assert not torch.cuda.is_initialized()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_device_is_resolved_at_fit(X, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert small(device="auto").fit(X).device_ == "cpu"
    assert small(device=torch.device("cpu")).fit(X).device_ == "cpu"
    with pytest.raises(ValueError, match="cuda is not available"):
        small(device="cuda").fit(X)
    with pytest.raises(ValueError, match="not a valid torch device"):
        small(device="gpu please").fit(X)
