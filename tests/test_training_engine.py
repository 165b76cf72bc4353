"""The training engine (corel_sklearn.training): failed continuations keep the fitted model, a
changed learning rate is used, callbacks (keywords, state, classes refused, on_train_end),
train mode per step, seeded callable architectures, n_jobs and the busy-CPU notice, the
convergence advice, and the progress bar."""

import logging
import math
import os
import warnings

import numpy as np
import pytest
import torch
from _small_autoencoder import small
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from corel_sklearn._checkpoint_file import read_checkpoint, write_checkpoint
from corel_sklearn.training import (
    Callback,
    Checkpoint,
    EarlyStopping,
    ProgressBar,
    TrainingLoss,
    TrainingRun,
    convergence_advice,
)
from corel_sklearn.training import _loop as loop_module


@pytest.fixture
def X(rng):
    return rng.random((60, 12), dtype=np.float32)


def _weights(estimator):
    return [p.detach().clone() for p in estimator.module_.state_dict().values()]


def _fitted_state(estimator, X):
    return (estimator.transform(X), estimator.n_iter_, estimator.n_steps_,
            [dict(h) for h in estimator.history_], _weights(estimator))


def _assert_same_fitted_state(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1:4] == b[1:4]
    assert all(torch.equal(x, y) for x, y in zip(a[4], b[4], strict=True))


class _Fail(Callback):
    """Raises in the given hook (at the given epoch)."""

    def __init__(self, hook, epoch=1, error=RuntimeError):
        self.hook, self.epoch, self.error = hook, epoch, error

    def on_epoch_end(self, estimator, record, **kwargs):
        if self.hook == "on_epoch_end" and record["epoch"] == self.epoch:
            raise self.error("tracker offline")

    def on_train_end(self, estimator, reason, **kwargs):
        if self.hook == "on_train_end":
            raise self.error("tracker offline")


# ------------------------------------------------------- failed continuations


def _failing_continuations(X):
    """(name, set-up of the fitted estimator, the failing call) for partial_fit and warm_start."""
    X_nan = X.copy()
    X_nan[3, 4] = np.nan
    return {
        "another width": lambda ae: ae.partial_fit(X[:, :10]),
        "NaN": lambda ae: ae.partial_fit(X_nan),
        "one row": lambda ae: ae.partial_fit(X[:1]),
        "another network": lambda ae: ae.set_params(hidden_layer_sizes=(9,)).partial_fit(X),
        "absent device": lambda ae: ae.set_params(device="cuda:7").partial_fit(X),
        "callback class": lambda ae: ae.set_params(callbacks=[ProgressBar]).partial_fit(X),
        "error in epoch 2": lambda ae: ae.set_params(
            warm_start=True, max_epochs=3,
            callbacks=[_Fail("on_epoch_end", epoch=ae.n_iter_ + 2)]).fit(X),
        "MemoryError in a hook": lambda ae: ae.set_params(
            warm_start=True, max_epochs=2,
            callbacks=[_Fail("on_epoch_end", epoch=ae.n_iter_ + 1, error=MemoryError)]).fit(X),
    }


@pytest.mark.parametrize("failure", list(_failing_continuations(np.zeros((60, 12)))))
def test_failed_continuation_leaves_the_fitted_state_exactly_as_it_was(X, failure):
    ae = small(max_epochs=3).fit(X)
    before = _fitted_state(ae, X)
    with pytest.raises((ValueError, RuntimeError, TypeError, MemoryError)):
        _failing_continuations(X)[failure](ae)
    _assert_same_fitted_state(_fitted_state(ae, X), before)


def test_a_failed_continuation_loses_no_optimizer_or_shuffling_state(X):
    # 3 epochs, a continuation that dies in its second epoch, then 2 more: bit-identical to
    # one fit of 5 epochs, so Adam's moments and the shuffling generator were put back too.
    reference = small(max_epochs=5).fit(X).transform(X)
    ae = small(max_epochs=3, warm_start=True).fit(X)
    with pytest.raises(RuntimeError, match="tracker offline"):
        ae.set_params(max_epochs=4, callbacks=[_Fail("on_epoch_end", epoch=5)]).fit(X)
    ae.set_params(max_epochs=2, callbacks=None).fit(X)
    np.testing.assert_array_equal(ae.transform(X), reference)
    assert [h["epoch"] for h in ae.history_] == [1, 2, 3, 4, 5]


def test_error_in_on_train_end_is_raised_with_the_trained_model_kept(X):
    reference = small(max_epochs=2).fit(X)
    for error in (RuntimeError, KeyboardInterrupt):
        ae = small(max_epochs=2, callbacks=[_Fail("on_train_end", error=error)])
        with pytest.raises(error):
            ae.fit(X)
        np.testing.assert_array_equal(ae.transform(X), reference.transform(X))
        assert ae.n_iter_ == 2
        # ... and it continues like the reference would.
        ae.set_params(callbacks=None, warm_start=True, max_epochs=1).fit(X)
        assert ae.n_iter_ == 3


def test_every_on_train_end_runs_when_one_raises(X):
    class Ends(Callback):
        def on_train_end(self, estimator, reason, **kwargs):
            self.reason = reason

    later = Ends()
    with pytest.raises(RuntimeError):
        small(callbacks=[_Fail("on_train_end"), later]).fit(X)
    assert later.reason == "max_epochs"


# ------------------------------------------------------------- learning rate


def test_a_changed_learning_rate_is_used_on_continuation_and_recorded(X):
    # Adam moves each weight by about learning_rate per step (its update is normalised), so a
    # continuation at 1e-9 leaves the weights within 1e-7, one at 0.5 moves them by > 1e-2.
    moved = {}
    for rate in (1e-9, 0.5):
        ae = small(max_epochs=3, warm_start=True).fit(X)
        start = _weights(ae)
        ae.set_params(learning_rate=rate, max_epochs=2).fit(X)
        moved[rate] = max(float((a - b).abs().max())
                          for a, b in zip(_weights(ae), start, strict=True))
        assert [h["learning_rate"] for h in ae.history_] == [1e-3] * 3 + [rate] * 2
    assert moved[1e-9] < 1e-7 and moved[0.5] > 1e-2, moved
    ae = small()
    ae.partial_fit(X)
    ae.set_params(learning_rate=0.25).partial_fit(X)
    assert ae.history_[-1]["learning_rate"] == 0.25


# ------------------------------------------------------------------ callbacks


def test_callback_class_instead_of_instance_is_refused_with_the_fix(X):
    with pytest.raises(TypeError, match=r"got the class ProgressBar; pass an instance: "
                                        r"ProgressBar\(\)"):
        small(callbacks=[ProgressBar]).fit(X)


def test_hooks_get_keywords_and_old_style_hooks_still_work(X):
    seen = {}

    class Keywords(Callback):
        def on_train_begin(self, estimator, **kwargs):
            seen["begin"] = sorted(kwargs)

        def on_batch_end(self, estimator, **kwargs):
            seen["batch"] = sorted(kwargs)

        def on_epoch_end(self, estimator, *, record, run, **kwargs):
            seen["run"] = run

    class Positional:  # no base class, parameters named otherwise
        def on_epoch_end(self, est, rec):
            seen.setdefault("positional", []).append(rec["epoch"])

    small(max_epochs=2, callbacks=[Keywords(), Positional()]).fit(X)
    assert seen["begin"] == ["info", "run"] and seen["batch"] == ["epoch", "run", "step"]
    assert isinstance(seen["run"], TrainingRun) and seen["run"].steps_per_epoch == 3
    assert seen["positional"] == [1, 2]


class _CountingCallback(Callback):
    """A callback with state: the steps it has seen over the whole (resumed) fit."""

    def on_train_begin(self, estimator, info, **kwargs):
        self.steps = getattr(self, "steps", 0)

    def on_batch_end(self, estimator, epoch, step, **kwargs):
        self.steps += 1

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


class _Crash(Exception):
    pass


class _CrashAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, estimator, record, **kwargs):
        if record["epoch"] == self.epoch:
            raise _Crash


def test_checkpoint_saves_and_restores_every_callbacks_state_by_name(X, tmp_path):
    path = tmp_path / "ck.pt"
    with pytest.raises(_Crash):
        small(max_epochs=5, callbacks=[_CountingCallback(), Checkpoint(path, every=2),
                                       _CrashAfter(3)]).fit(X)
    saved = read_checkpoint(path)
    assert saved["callbacks"] == {"_CountingCallback#0": {"steps": 6}}  # 2 epochs x 3 steps
    # Resumed with another callback list order and a progress bar: keyed by name, not place.
    counter = _CountingCallback()
    small(max_epochs=5, verbose=1,
          callbacks=[Checkpoint(path, resume=True), counter]).fit(X)
    assert counter.steps == 15  # 6 restored + epochs 3 to 5
    with pytest.raises(ValueError, match=r"_CountingCallback#0.*which this fit does not have"):
        small(max_epochs=5, callbacks=[Checkpoint(path, resume=True)]).fit(X)


def test_checkpoint_creates_and_checks_its_folder_before_the_first_epoch(X, tmp_path):
    epochs = []

    class Epochs(Callback):
        def on_train_begin(self, estimator, info, **kwargs):
            epochs.append(("folder exists", os.path.isdir(tmp_path / "a" / "b")))

        def on_epoch_end(self, estimator, record, **kwargs):
            epochs.append(record["epoch"])

    small(callbacks=[Checkpoint(tmp_path / "a" / "b" / "ck.pt"), Epochs()]).fit(X)
    assert epochs == [("folder exists", True), 1, 2]
    (tmp_path / "file").write_text("not a folder")
    epochs.clear()
    with pytest.raises(OSError, match="Checkpoint folder"):
        small(callbacks=[Checkpoint(tmp_path / "file" / "ck.pt"), Epochs()]).fit(X)
    assert epochs == []  # nothing was trained


def test_train_mode_is_set_for_every_step_even_after_transform_in_a_hook(X):
    modes = []

    class ModeRecorder(torch.nn.Module):
        def forward(self, x):
            if torch.is_grad_enabled():  # a training forward (transform runs without grad)
                modes.append(self.training)
            return x

    def build(input_shape, n_branches, branch_dim):
        encoder = torch.nn.Sequential(torch.nn.Linear(12, 4), ModeRecorder())
        return encoder, torch.nn.Linear(4, 12)

    class Transform(Callback):
        def on_batch_end(self, estimator, epoch, step, **kwargs):
            estimator.transform(X[:5])  # puts the network in eval mode

    small(architecture=build, max_epochs=2, callbacks=[Transform()]).fit(X)
    assert modes == [True] * 6


def test_early_stopping_state_round_trips():
    stopper = EarlyStopping()
    stopper.on_train_begin(None, {})
    stopper.best_, stopper.best_epoch_, stopper.n_no_change_ = 1.5, 3, 2
    other = EarlyStopping()
    other.load_state_dict(stopper.state_dict())
    assert (other.best_, other.best_epoch_, other.n_no_change_) == (1.5, 3, 2)


# ------------------------------------------------- callable architectures


def _with_custom_parameter(input_shape, n_branches, branch_dim):
    class Shift(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.offset = torch.nn.Parameter(torch.randn(4))  # not a standard layer

        def forward(self, z):
            return z + self.offset

    encoder = torch.nn.Sequential(torch.nn.Linear(12, 4), Shift())
    return encoder, torch.nn.Linear(4, 12)


def test_callable_architecture_leaves_the_global_generator_and_is_seeded(X):
    before = torch.random.get_rng_state()
    codes = [small(architecture=_with_custom_parameter, random_state=4).fit(X).transform(X)
             for _ in range(2)]
    assert torch.equal(torch.random.get_rng_state(), before)
    np.testing.assert_array_equal(codes[0], codes[1])
    other = small(architecture=_with_custom_parameter, random_state=5).fit(X).transform(X)
    assert not np.array_equal(other, codes[0])


# ------------------------------------------------------------------ threads


def test_n_jobs_sets_torch_threads_during_fit_and_transform_and_restores_them(X):
    during = []

    class Threads(Callback):
        def on_batch_end(self, estimator, epoch, step, **kwargs):
            during.append(torch.get_num_threads())

    previous = torch.get_num_threads()
    ae = small(n_jobs=1, callbacks=[Threads()]).fit(X)
    assert set(during) == {1} and torch.get_num_threads() == previous
    ae.transform(X)
    assert torch.get_num_threads() == previous
    during.clear()
    small(callbacks=[Threads()]).fit(X)  # None: torch's own setting
    assert set(during) == {previous}
    # One thread through n_jobs is one thread through torch: the same bits.
    torch.set_num_threads(1)
    try:
        by_torch = small().fit(X).transform(X)
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_array_equal(small(n_jobs=1).fit(X).transform(X), by_torch)


def test_busy_cpu_is_reported_once_per_process(X, monkeypatch, caplog):
    monkeypatch.setattr(loop_module, "_busy_cpu_reported", False)
    monkeypatch.setattr(loop_module, "idle_cores", lambda: 1)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with caplog.at_level(logging.WARNING, logger="corel_sklearn"):
            small(n_jobs=1).fit(X)  # one thread: nothing to report
            assert not caplog.records
            small().fit(X)
            small().fit(X)
    finally:
        torch.set_num_threads(previous)
    notices = [r for r in caplog.records if "idle" in r.getMessage()]
    assert len(notices) == 1 and "n_jobs=1" in notices[0].getMessage()
    assert notices[0].name == "corel_sklearn"


# ----------------------------------------------------------------- warnings


def test_fit_does_not_warn_about_labels(X):
    y = np.r_[np.zeros(50), np.ones(10)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(max_epochs=1, connectivity_weight=0).fit(X, y)


def test_convergence_warning_points_at_the_users_line_through_a_pipeline(X):
    with pytest.warns(ConvergenceWarning, match="Increase max_epochs") as caught:
        Pipeline([("enc", small(max_epochs=1))]).fit(X)
    assert caught[0].filename == __file__


def test_convergence_advice_names_the_callers_knob(X):
    with pytest.warns(ConvergenceWarning) as caught, \
            convergence_advice("Raise n_steps (now {n_steps}) of COREL {braces}."):
        small(max_epochs=1).fit(X)
    message = str(caught[0].message)
    assert message.endswith("Raise n_steps (now 3) of COREL {braces}.")
    assert "max_epochs" not in message and caught[0].filename == __file__
    with pytest.warns(ConvergenceWarning, match="Increase max_epochs"):  # outside the block
        small(max_epochs=1).fit(X)


# -------------------------------------------------------------- progress bar


def test_progress_bar_shows_no_connectivity_loss_when_it_is_not_computed(X, capsys):
    small(verbose=1, max_epochs=2, connectivity_weight=0).fit(X)
    err = capsys.readouterr().err
    assert "rec=" in err and "conn=" not in err and "nan" not in err
    small(verbose=1, max_epochs=1).fit(X)
    assert "conn=" in capsys.readouterr().err


def test_text_progress_bar_is_one_output_in_a_notebook(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    code = (
        "import sys, warnings\n"
        "sys.modules['ipywidgets'] = None  # the text bar, as without ipywidgets\n"
        "warnings.simplefilter('ignore')\n"
        "import numpy as np\n"
        "from corel_sklearn import TopoAutoencoder\n"
        "X = np.random.default_rng(0).random((200, 12), dtype=np.float32)\n"
        "ae = TopoAutoencoder(hidden_layer_sizes=(8,), n_branches=2, branch_dim=2,\n"
        "                     batch_size=4, max_epochs=6, random_state=0, verbose=1,\n"
        "                     n_jobs=1).fit(X)\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = notebook.cells[0].outputs
    assert len(outputs) == 1, outputs
    text = outputs[0]["data"]["text/plain"]
    assert "300/300" in text and "epoch=6" in text and "\r" not in text


def test_a_sentence_is_what_convergence_advice_takes():
    with pytest.raises(TypeError, match="takes a sentence"), convergence_advice(3):
        pass


def test_loss_without_connectivity_term_reads_nan(X):
    ae = small(connectivity_weight=0, max_epochs=1).fit(X)
    assert math.isnan(ae.history_[0]["connectivity_loss"])
    assert TrainingLoss(None).has_connectivity is False


# ------------------------------------------------------------ training state


def test_training_state_moves_a_fitted_model_and_its_continuation(X):
    a = small(max_epochs=3, warm_start=True).fit(X)
    state = a.get_training_state()
    b = small(max_epochs=3, warm_start=True, verbose=0).set_training_state(state)
    np.testing.assert_array_equal(b.transform(X), a.transform(X))
    assert (b.n_iter_, b.n_steps_, b.history_) == (a.n_iter_, a.n_steps_, a.history_)
    # Adam's moments and the shuffling state came along: both continue alike, bit for bit.
    np.testing.assert_array_equal(b.fit(X).transform(X), a.fit(X).transform(X))
    saved = torch.load(_saved(state), weights_only=True)  # plain containers
    assert saved["epoch"] == 3
    with pytest.raises(ValueError, match="eta=2.0 in the checkpoint, 1.5 now"):
        small(eta=1.5).set_training_state(state)
    with pytest.raises(ValueError, match="is not a TopoAutoencoder checkpoint"):
        small().set_training_state({"format": "something else", "module": {}})


def _saved(state):
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return buffer


def test_version_1_checkpoint_with_early_stopping_still_resumes(rng, tmp_path):
    X = rng.random((100, 12), dtype=np.float32)
    params = dict(early_stopping=True, n_iter_no_change=2, max_epochs=8, learning_rate=0.05)
    reference = small(**params).fit(X)
    path = tmp_path / "ck.pt"
    with pytest.raises(_Crash):
        small(**params, callbacks=[Checkpoint(path), _CrashAfter(3)]).fit(X)
    state = read_checkpoint(path)
    # As version 1 wrote it: callback states keyed by list position, no "attributes".
    state["format"] = "corel_sklearn.TopoAutoencoder.checkpoint/1"
    state["callbacks"] = {"0": state["callbacks"]["EarlyStopping#0"]}
    del state["attributes"]
    write_checkpoint(state, path)
    resumed = small(**params, callbacks=[Checkpoint(path, resume=True)]).fit(X)
    np.testing.assert_array_equal(resumed.transform(X), reference.transform(X))
    assert resumed.best_validation_loss_ == reference.best_validation_loss_
