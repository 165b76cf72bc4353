"""TopoAutoencoder's training loop: length, convergence, early stopping, continuing,
checkpoints, interruption, callbacks and thread-safe randomness."""

import math
import os
import pickle
import re
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
import torch
from _small_autoencoder import small
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from corel_sklearn import TopoAutoencoder
from corel_sklearn._checkpoint_file import read_checkpoint
from corel_sklearn.callbacks import Callback, Checkpoint, EarlyStopping, ProgressBar
from corel_sklearn.estimators import _topo_autoencoder
from corel_sklearn.losses import connectivity_loss
from corel_sklearn.networks import ConvAutoencoder, MLPAutoencoder
from corel_sklearn.training import _callbacks as callbacks_module
from corel_sklearn.training._health import warn_if_not_converged


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
    assert ae._resolve_max_epochs(1) == 1000  # 120 digits at batch 100: one step per epoch
    assert ae._resolve_max_epochs(7) == math.ceil(1000 / 7)
    assert ae._resolve_max_epochs(10) == 100
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


# ---------------------------------------------------------------- convergence warning


def _history(medians, conn):
    return [
        {"epoch": i + 1, "death_time_median": m, "connectivity_loss": c, "n_steps": 1}
        for i, (m, c) in enumerate(zip(medians, conn, strict=True))
    ]


@pytest.mark.parametrize(
    "medians, conn, expected",
    [
        ([2.0] * 20, [10.0] * 20, None),  # at eta, flat: converged
        ([2.0] * 19 + [1.49], [10.0] * 20, "median death time is 1.49, outside \\[1.5, 2.5\\]"),
        ([2.0] * 19 + [2.51], [10.0] * 20, "median death time is 2.51"),
        # Windows of 2 epochs (a tenth of 20): first 30, second-to-last 12, last 10: the last
        # tenth brought (12 - 10) / (30 - 10) = 10 % of the decrease.
        ([2.0] * 20, [30.0] * 2 + [20.0] * 14 + [12.0] * 2 + [10.0] * 2,
         "its last 2 epochs brought 10 % of its decrease since the first 2"),
        # A loss that keeps falling by 10 % per tenth towards 0 but has levelled off in
        # absolute terms: (1.1 - 1) / (200 - 1) = 0.05 %.
        ([2.0] * 20, [200.0] * 2 + [5.0] * 14 + [1.1] * 2 + [1.0] * 2, None),
        ([2.0] * 20, [30.0] * 2 + [20.0] * 14 + [10.8] * 2 + [10.0] * 2, None),  # 4 %
    ],
)
def test_convergence_warning_is_decided_on_hand_made_histories(medians, conn, expected):
    ae = TopoAutoencoder(eta=2.0, max_epochs=20)
    ae.history_ = _history(medians, conn)
    ae.n_iter_, ae.n_steps_ = 20, 20
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_not_converged(ae)
    messages = [str(w.message) for w in caught if w.category is ConvergenceWarning]
    if expected is None:
        assert messages == []
    else:
        assert len(messages) == 1
        assert re.search(expected, messages[0]) and "Increase max_epochs" in messages[0]


def test_short_fit_warns_and_plain_autoencoder_does_not(X):
    with pytest.warns(ConvergenceWarning, match=r"stopped after 1 epochs \(3 optimizer steps\)"):
        small(max_epochs=1).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        small(max_epochs=1, connectivity_weight=0).fit(X)  # no scale to reach


# ---------------------------------------------------------------- early stopping


def _validation_loss(ae, X_val, eta, weight):
    """Independent reference: the loss formula on the held-out rows, batches as documented."""
    Z = torch.from_numpy(ae.transform(X_val))
    X_rec = ae.inverse_transform(Z.numpy())
    n_batches = math.ceil(len(X_val) / min(ae.batch_size_, len(X_val)))
    total = 0.0
    for rows in np.array_split(np.arange(len(X_val)), n_batches):
        rec = np.abs(X_rec[rows] - X_val[rows]).sum(1).mean()
        conn = float(connectivity_loss(Z[rows], eta=eta, n_branches=ae.n_branches))
        total += (rec + weight * conn) * len(rows)
    return total / len(X_val)


def test_early_stopping_restores_the_best_epoch(rng):
    X = rng.random((100, 12), dtype=np.float32)
    states = {}

    class Keep(Callback):
        def on_epoch_end(self, estimator, record):
            states[record["epoch"]] = _state(estimator.module_)

    ae = small(early_stopping=True, n_iter_no_change=3, max_epochs=40, learning_rate=0.05,
               callbacks=[Keep()]).fit(X)
    losses = [h["validation_loss"] for h in ae.history_]
    # The documented rule replayed on the recorded losses: an epoch improves when its loss is
    # below the best so far minus tol; the fit stops after 3 epochs without improvement.
    best, best_epoch, stop = math.inf, None, None
    for epoch, loss in enumerate(losses, start=1):
        if loss < best - ae.tol:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch == 3:
            stop = epoch
            break
    assert stop is not None and ae.n_iter_ == len(losses) == stop < 40, (stop, losses)
    assert ae.best_validation_loss_ == best == min(losses)
    _assert_same_state(_state(ae.module_), states[best_epoch])
    # The recorded loss is the documented formula on the held-out 10 % (ceil(0.1 * 100) rows).
    split_seed = int(check_random_state(0).randint(2**31 - 1, size=3)[2])
    held_out = torch.randperm(100, generator=torch.Generator().manual_seed(split_seed))[:10]
    assert ae.batch_size_ == 20 and ae.history_[0]["n_steps"] == 4  # 90 training rows
    expected = _validation_loss(ae, X[held_out.numpy()], eta=2.0, weight=20.0)
    assert ae.best_validation_loss_ == pytest.approx(expected, rel=1e-5)


def test_without_early_stopping_every_epoch_runs_and_nothing_is_held_out(X):
    ae = small(max_epochs=4).fit(X)
    assert ae.n_iter_ == 4 and "validation_loss" not in ae.history_[0]
    assert not hasattr(ae, "best_validation_loss_")
    assert ae.history_[0]["n_steps"] == 3  # all 60 rows train


def test_early_stopping_needs_two_validation_samples(X):
    with pytest.raises(ValueError, match="validation_fraction=0.01 of 60 samples holds out 1"):
        small(early_stopping=True, validation_fraction=0.01).fit(X)


# ---------------------------------------------------------------- blow-up


def test_huge_learning_rate_is_stopped_before_nan(X):
    ae = small(learning_rate=1e3, max_epochs=20)
    with pytest.raises(ValueError, match=r"diverged in epoch \d+.*blew up.*e.g. 100 \(now 1000\)"):
        ae.fit(X)
    check_is_fitted(ae)  # the documented exception: last good weights are kept
    assert all(torch.isfinite(p).all() for p in ae.module_.parameters())
    assert all(h["death_time_median"] < 200 for h in ae.history_)


# ---------------------------------------------------------------- continuing


def test_warm_start_continues_bit_identically(X):
    once = small(max_epochs=10).fit(X)
    twice = small(max_epochs=5, warm_start=True).fit(X)
    twice.fit(X)
    np.testing.assert_array_equal(twice.transform(X), once.transform(X))
    assert [h["epoch"] for h in twice.history_] == list(range(1, 11))
    assert (twice.n_iter_, twice.n_steps_) == (10, 30)
    # Without warm_start, fit starts over.
    again = twice.set_params(warm_start=False, max_epochs=10).fit(X)
    np.testing.assert_array_equal(again.transform(X), once.transform(X))
    assert again.n_iter_ == 10


def test_warm_start_survives_pickling(X):
    once = small(max_epochs=4).fit(X)
    half = pickle.loads(pickle.dumps(small(max_epochs=2, warm_start=True).fit(X)))
    np.testing.assert_array_equal(half.fit(X).transform(X), once.transform(X))


def test_partial_fit_runs_one_epoch_per_call(X):
    ae = small()
    for _ in range(3):
        ae.partial_fit(X)
    assert (ae.n_iter_, ae.n_steps_) == (3, 9)
    np.testing.assert_array_equal(ae.transform(X), small(max_epochs=3).fit(X).transform(X))


def test_warm_start_with_another_network_is_refused(X):
    ae = small(warm_start=True).fit(X)
    with pytest.raises(ValueError, match="describe another network"):
        ae.set_params(hidden_layer_sizes=(9,)).fit(X)
    ae = small(warm_start=True).fit(X)
    codes = ae.transform(X)
    with pytest.raises(ValueError, match="X has 11 features"):
        ae.fit(X[:, :11])
    # A failed continuation keeps the fitted model (issue 19; it used to be discarded).
    np.testing.assert_array_equal(ae.transform(X), codes)


# ---------------------------------------------------------------- checkpoints


class _KillAfter(Callback):
    """Raises after the given epoch, as a crash of the machine would end the fit."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, estimator, record):
        if record["epoch"] == self.epoch:
            raise _Stop


def test_checkpoint_resume_is_bit_identical_to_an_uninterrupted_fit(X, tmp_path):
    path = tmp_path / "ae.pt"
    params = dict(max_epochs=7)
    reference = small(**params).fit(X)
    crashed = small(**params, callbacks=[Checkpoint(path, every=2), _KillAfter(5)])
    with pytest.raises(_Stop):
        crashed.fit(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(crashed)
    saved = read_checkpoint(path)  # plain tensors, numbers and strings, checksum checked
    assert saved["epoch"] == 4 and len(saved["history"]) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["ae.pt"]  # no temporary file left
    resumed = small(**params, callbacks=[Checkpoint(path, every=2, resume=True)]).fit(X)
    np.testing.assert_array_equal(resumed.transform(X), reference.transform(X))
    assert [h["epoch"] for h in resumed.history_] == list(range(1, 8))
    assert resumed.n_steps_ == reference.n_steps_ == 21
    for got, expected in zip(resumed.history_, reference.history_, strict=True):
        assert got["reconstruction_loss"] == expected["reconstruction_loss"]


def test_checkpoint_resume_with_early_stopping_keeps_the_best_weights(rng, tmp_path):
    X = rng.random((100, 12), dtype=np.float32)
    params = dict(early_stopping=True, n_iter_no_change=2, max_epochs=12, learning_rate=0.05)
    reference = small(**params).fit(X)
    path = tmp_path / "ae.pt"
    with pytest.raises(_Stop):
        small(**params, callbacks=[Checkpoint(path), _KillAfter(3)]).fit(X)
    resumed = small(**params, callbacks=[Checkpoint(path, resume=True)]).fit(X)
    np.testing.assert_array_equal(resumed.transform(X), reference.transform(X))
    assert resumed.n_iter_ == reference.n_iter_
    assert resumed.best_validation_loss_ == reference.best_validation_loss_


def test_checkpoint_from_another_fit_is_refused(X, tmp_path):
    path = tmp_path / "ae.pt"
    small(callbacks=[Checkpoint(path)]).fit(X)
    with pytest.raises(ValueError, match="eta=2.0 in the checkpoint, 1.5 now"):
        small(eta=1.5, callbacks=[Checkpoint(path, resume=True)]).fit(X)
    with pytest.raises(ValueError, match=r"data of shape \(60, 12\) in the checkpoint, \(50, 12\)"):
        small(callbacks=[Checkpoint(path, resume=True)]).fit(X[:50])
    # resume=True without a file starts afresh.
    fresh = small(callbacks=[Checkpoint(tmp_path / "new.pt", resume=True)]).fit(X)
    np.testing.assert_array_equal(fresh.transform(X), small().fit(X).transform(X))


# ---------------------------------------------------------------- interruption


class _InterruptAt(Callback):
    def __init__(self, epoch, step):
        self.epoch, self.step = epoch, step

    def on_batch_end(self, estimator, epoch, step):
        if (epoch, step) == (self.epoch, self.step):
            raise KeyboardInterrupt


class _StateAt(Callback):
    def __init__(self, epoch, step):
        self.epoch, self.step = epoch, step

    def on_batch_end(self, estimator, epoch, step):
        if (epoch, step) == (self.epoch, self.step):
            self.state = _state(estimator.module_)


def test_keyboard_interrupt_keeps_a_fitted_estimator_after_that_step(X):
    reference = _StateAt(2, 2)
    small(max_epochs=4, callbacks=[reference]).fit(X)
    ae = small(max_epochs=4, callbacks=[_InterruptAt(2, 2)])
    with pytest.warns(UserWarning, match="interrupted .KeyboardInterrupt. in epoch 2 after step 2"):
        ae.fit(X)
    check_is_fitted(ae)
    _assert_same_state(_state(ae.module_), reference.state)
    assert [h["n_steps"] for h in ae.history_] == [3, 2] and ae.n_steps_ == 5
    assert ae.transform(X).shape == (60, 4)


def test_keyboard_interrupt_inside_a_step_is_handled_too(X, monkeypatch):
    calls = []
    original = TopoAutoencoder.train_step

    def step(self, run, x):
        calls.append(1)
        if len(calls) == 5:  # epoch 2, step 2: before its optimizer step
            raise KeyboardInterrupt
        return original(self, run, x)

    monkeypatch.setattr(TopoAutoencoder, "train_step", step)
    with pytest.warns(UserWarning, match="in epoch 2 after step 1 of 3"):
        ae = small(max_epochs=4).fit(X)
    assert ae.n_steps_ == 4 and ae.n_iter_ == 2


_SIGINT_SCRIPT = """
import os, signal, warnings
import numpy as np
from corel_sklearn import TopoAutoencoder
from corel_sklearn.callbacks import Callback

class SendSigint(Callback):
    def on_batch_end(self, estimator, epoch, step):
        if (epoch, step) == (2, 1):
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, delivered to this process

X = np.random.default_rng(0).random((60, 12), dtype=np.float32)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ae = TopoAutoencoder(hidden_layer_sizes=(8,), n_branches=2, branch_dim=2, batch_size=20,
                         max_epochs=5, random_state=0, callbacks=[SendSigint()]).fit(X)
print("steps", ae.n_steps_, "epochs", ae.n_iter_)
print([str(w.message) for w in caught if w.category is UserWarning][0])
assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
"""


@pytest.mark.slow  # a fresh interpreter, signalled mid-fit
def test_real_sigint_stops_after_the_current_step():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    result = subprocess.run([sys.executable, "-c", _SIGINT_SCRIPT], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "steps 4 epochs 2" in result.stdout
    assert "epoch 2 after step 1 of 3" in result.stdout


def test_other_exceptions_leave_the_estimator_unfitted(X):
    class Boom(Callback):
        def on_epoch_end(self, estimator, record):
            if record["epoch"] == 2:
                raise RuntimeError("tracker offline")

    ae = small(max_epochs=3, n_branches=3, branch_dim=2).fit(X)
    assert ae.transform(X).shape == (60, 6)
    # A failed refit with other shapes does not keep the old network next to new attributes.
    ae.set_params(n_branches=2, callbacks=[Boom()])
    with pytest.raises(RuntimeError, match="tracker offline"):
        ae.fit(X)
    with pytest.raises(NotFittedError):
        ae.transform(X)
    assert not [k for k in vars(ae) if k.endswith("_") and not k.startswith("__")]


# ---------------------------------------------------------------- callbacks


class _Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, estimator, info):
        self.events.append(("begin", info["first_epoch"], info["last_epoch"],
                            info["steps_per_epoch"]))

    def on_epoch_begin(self, estimator, epoch):
        self.events.append(("epoch", epoch))

    def on_batch_end(self, estimator, epoch, step):
        self.events.append(("step", epoch, step))

    def on_epoch_end(self, estimator, record):
        self.events.append(("end", record["epoch"], len(estimator.history_)))

    def on_train_end(self, estimator, reason):
        self.events.append(("done", reason))


def test_callback_hooks_are_called_in_order_and_do_not_change_the_fit(X):
    recorder = _Recorder()
    ae = small(max_epochs=2, callbacks=[recorder]).fit(X)
    assert recorder.events == [
        ("begin", 1, 2, 3),
        ("epoch", 1), ("step", 1, 1), ("step", 1, 2), ("step", 1, 3), ("end", 1, 1),
        ("epoch", 2), ("step", 2, 1), ("step", 2, 2), ("step", 2, 3), ("end", 2, 2),
        ("done", "max_epochs"),
    ]
    np.testing.assert_array_equal(ae.transform(X), small(max_epochs=2).fit(X).transform(X))


def test_callback_returning_true_stops_and_custom_early_stopping(X):
    class StopAt2(Callback):
        def on_epoch_end(self, estimator, record):
            return record["epoch"] == 2

    assert small(max_epochs=9, callbacks=[StopAt2()]).fit(X).n_iter_ == 2
    stopper = EarlyStopping("reconstruction_loss", n_iter_no_change=1, tol=1e9)
    ae = small(max_epochs=9, callbacks=[stopper]).fit(X)
    assert ae.n_iter_ == 2 and stopper.best_epoch_ == 1  # nothing improves by 1e9
    with pytest.raises(KeyError, match="set early_stopping=True"):
        small(callbacks=[EarlyStopping()]).fit(X)
    with pytest.raises(TypeError, match="callbacks must hold objects with hooks"):
        small(callbacks=[object()]).fit(X)


def test_progress_bar_uses_plain_tqdm_without_ipywidgets(X, monkeypatch, capsys):
    from tqdm.std import tqdm as plain_tqdm

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    assert callbacks_module._tqdm() is plain_tqdm
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. tqdm's "IProgress not found"
        small(verbose=1, max_epochs=2, connectivity_weight=0).fit(X)
    err = capsys.readouterr().err
    assert "TopoAutoencoder" in err and "6/6" in err and "rec=" in err
    bar = ProgressBar(file=sys.stdout)
    small(max_epochs=1, connectivity_weight=0, callbacks=[bar]).fit(X)
    assert "3/3" in capsys.readouterr().out


def test_unpickling_leaves_torch_global_generator_alone(X):
    blob = pickle.dumps(small().fit(X))
    before = torch.random.get_rng_state()
    restored = pickle.loads(blob)
    assert torch.equal(torch.random.get_rng_state(), before)
    np.testing.assert_array_equal(restored.transform(X), pickle.loads(blob).transform(X))


@pytest.mark.slow  # three fits of 1,000 steps of the default network
def test_zero_configuration_pipeline_on_120_digits_reaches_the_scale_eta():
    # The README's pipeline fitted directly on a small normal set (issue: 50 one-step epochs
    # left the codes at a quarter of eta and AUROC at chance). With max_epochs="auto" the first
    # three digits, each against the nine others, must average AUROC >= 0.95 with every
    # parameter at its default, and each fit must end at the scale eta without a warning.
    from sklearn.datasets import load_digits
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline

    from corel_sklearn import BallCountOneClass

    X_all, y = load_digits(return_X_y=True)
    X_all = (X_all / 16).astype(np.float32)
    aurocs = []
    for digit in (0, 1, 2):
        pipe = Pipeline([("enc", TopoAutoencoder(random_state=0)), ("oc", BallCountOneClass())])
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            pipe.fit(X_all[y == digit][:120])
        encoder = pipe.named_steps["enc"]
        # 120 samples at batch 100: one step per epoch, so "auto" runs the 1,000-step floor
        assert (encoder.n_iter_, encoder.n_steps_) == (1000, 1000)
        assert 0.75 * 2.0 <= encoder.history_[-1]["death_time_median"] <= 1.25 * 2.0
        aurocs.append(roc_auc_score(y == digit, pipe.decision_function(X_all)))
    assert np.mean(aurocs) >= 0.95, aurocs
