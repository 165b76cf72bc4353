"""TopoAutoencoder's training loop: length, convergence, early stopping, continuing,
checkpoints, interruption, callbacks and thread-safe randomness."""

import math
import threading

import numpy as np
import pytest
import torch
from sklearn.utils import check_random_state

from corel_sklearn import TopoAutoencoder
from corel_sklearn.callbacks import Callback
from corel_sklearn.estimators import _topo_autoencoder
from corel_sklearn.networks import ConvAutoencoder, MLPAutoencoder

SMALL = dict(hidden_layer_sizes=(8,), n_branches=2, branch_dim=2, batch_size=20, max_epochs=2)


def small(**params):
    return TopoAutoencoder(**{**SMALL, "random_state": 0, **params})


@pytest.fixture
def X(rng):
    return rng.random((60, 12), dtype=np.float32)


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


class _Stop(Exception):
    pass


class _CaptureInitial(Callback):
    """Records the weights at train begin, then aborts the fit (no training is needed)."""

    def on_train_begin(self, estimator, info):
        self.state = _state(estimator.module_)
        raise _Stop


# ---------------------------------------------------------------- initialisation


@pytest.mark.parametrize(
    "params, build",
    [
        (dict(input_shape=(3, 32, 32)), lambda: ConvAutoencoder((3, 32, 32), 16, 10)),
        (dict(input_shape=(2, 9, 10), conv_channels=(4, 4, 8), n_branches=3, branch_dim=2),
         lambda: ConvAutoencoder((2, 9, 10), 3, 2, channels=(4, 4, 8))),
        (dict(), lambda: MLPAutoencoder(64, (256,), 16, 10)),
    ],
)
def test_initial_weights_equal_global_seed_then_construction(params, build, rng):
    """The fit's own generator draws exactly what torch.manual_seed + construction drew."""
    n_features = math.prod(params.get("input_shape", (64,)))
    X = rng.random((4, n_features), dtype=np.float32)
    capture = _CaptureInitial()
    with pytest.raises(_Stop):
        TopoAutoencoder(**params, random_state=7, callbacks=[capture]).fit(X)
    seed = int(check_random_state(7).randint(2**31 - 1, size=2)[0])
    with torch.random.fork_rng(devices=[]):  # the way fits were seeded before
        torch.manual_seed(seed)
        reference = build()
    _assert_same_state(capture.state, _state(reference))


def test_fit_leaves_torch_global_generator_alone_in_every_thread(X):
    before = torch.random.get_rng_state()
    small().fit(X)
    thread = threading.Thread(target=lambda: small(random_state=1).fit(X))
    thread.start()
    thread.join()
    assert torch.equal(torch.random.get_rng_state(), before)


def test_concurrent_fits_equal_the_serial_fit(X):
    params = dict(max_epochs=3, random_state=5)
    serial = small(**params).fit(X).transform(X)
    results = [None] * 4

    def work(i):
        results[i] = small(**params).fit(X).transform(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for codes in results:
        np.testing.assert_array_equal(codes, serial)


def test_callable_architecture_layers_are_seeded_by_random_state(X):
    def build(input_shape, n_branches, branch_dim):
        encoder = torch.nn.Sequential(torch.nn.Linear(12, 6), torch.nn.Linear(6, 4))
        return encoder, torch.nn.Linear(4, 12)

    states = []
    for _ in range(2):
        capture = _CaptureInitial()
        torch.manual_seed(len(states))  # the callable's own draws differ: re-drawn anyway
        with pytest.raises(_Stop):
            small(architecture=build, random_state=3, callbacks=[capture]).fit(X)
        states.append(capture.state)
    _assert_same_state(*states)


# ---------------------------------------------------------------- training length


def test_auto_gives_the_paper_50_epochs_on_cifar_sized_data():
    ae = TopoAutoencoder()
    assert ae.max_epochs == "auto"
    assert ae._resolve_max_epochs(50_000 // 100) == 50  # CIFAR-10 at batch 100
    assert ae._resolve_max_epochs(1) == 2000  # 120 digits at batch 100: one step per epoch
    assert ae._resolve_max_epochs(7) == math.ceil(2000 / 7)
    assert TopoAutoencoder(max_epochs=13)._resolve_max_epochs(1) == 13


def test_auto_epochs_and_step_counts_are_as_hand_counted(X, monkeypatch):
    monkeypatch.setattr(_topo_autoencoder, "AUTO_MIN_EPOCHS", 4)
    monkeypatch.setattr(_topo_autoencoder, "AUTO_MIN_STEPS", 30)
    ae = small(max_epochs="auto").fit(X)  # 60 // 20 = 3 steps per epoch: 10 epochs
    assert (ae.n_iter_, ae.n_steps_, len(ae.history_)) == (10, 30, 10)
    ae = small(max_epochs="auto", batch_size=7).fit(X)  # 8 steps: max(4, ceil(30 / 8)) = 4
    assert (ae.n_iter_, ae.n_steps_) == (4, 32)
    ae = small(max_epochs=3, batch_size=25).fit(X)  # an int is exact; 60 // 25 = 2 steps
    assert (ae.n_iter_, ae.n_steps_) == (3, 6)
