"""The command line under interruption, in a log, with hostile cache files; its vocabulary."""

import csv
import dataclasses
import inspect
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
import scipy.io
from _small_autoencoder import small

import corel_sklearn
from corel_sklearn import TopoAutoencoder
from corel_sklearn.callbacks import Callback
from corel_sklearn.experiments import encoder_cache_key, fit_encoder_cached
from corel_sklearn.experiments.cli import build_parser, main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(corel_sklearn.__file__)))
# Each subprocess test waits at most this long for the command (numba may compile first).
PATIENCE_S = 600


def _command(*args):
    """``python -m corel_sklearn *args`` and an environment that imports this checkout."""
    path = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
    return [sys.executable, "-m", "corel_sklearn", *args], {**os.environ, "PYTHONPATH": path}


def _default_sigint():
    # A test runner started in the background may ignore SIGINT, and children inherit that:
    # give the command Python's ordinary Ctrl-C handling, as in a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _tiny_encoder(**params):
    settings = dict(architecture="mlp", hidden_layer_sizes=(16,), eta=1.0, max_epochs=4,
                    learning_rate=1e-2)
    return small(**{**settings, **params})


class _CtrlCAtEpoch2(Callback):
    """Raises KeyboardInterrupt in the first step of epoch 2, as Ctrl-C does there."""

    def on_batch_end(self, estimator, epoch, step):
        if epoch == 2 and step == 1:
            raise KeyboardInterrupt


class _PlantedPayload:
    """A pickle that, when loaded, creates ``marker``: proof that something unpickled it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_during_encoder_training_exits_130_and_caches_nothing(tmp_path):
    cache, out = tmp_path / "cache", tmp_path / "out"
    command, env = _command(
        "oneclass", "--dataset", "digits", "--n", "10", "--draws", "1", "--classes", "0",
        "--methods", "corel", "--epochs", "3000", "--cache-dir", str(cache), "--out", str(out),
        "--no-plot")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    watchdog = threading.Timer(PATIENCE_S, process.kill)
    watchdog.start()
    seen = []
    try:
        for line in process.stderr:  # plain progress lines: stderr is a pipe
            seen.append(line)
            if ": epoch 1/3000" in line:  # the encoder is training
                break
        else:
            pytest.fail("no training progress before the command ended:\n" + "".join(seen))
        process.send_signal(signal.SIGINT)
        stdout, rest = process.communicate(timeout=PATIENCE_S)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    err = "".join(seen) + rest
    assert process.returncode == 130, err
    assert "corel-sklearn: interrupted" in err and "Traceback" not in err, err
    assert "cached at" not in err and os.listdir(cache) == []
    assert not os.path.exists(out / "aurocs.csv") and "One-class AUROC" not in stdout


def test_interrupted_fit_raises_and_is_never_cached(tmp_path):
    X = np.random.default_rng(0).random((60, 5), dtype=np.float32)
    y = np.repeat([0, 1], 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the estimator's own "Training interrupted" warning
        with pytest.raises(KeyboardInterrupt):
            fit_encoder_cached(_tiny_encoder(callbacks=[_CtrlCAtEpoch2()]), X, dataset_id="d",
                               aux="train", cache_dir=str(tmp_path), verbose=0)
        assert os.listdir(tmp_path) == []
        from corel_sklearn.experiments import BenchmarkInterrupted, run_one_class_protocol

        with pytest.raises(BenchmarkInterrupted) as caught:
            run_one_class_protocol(X, y, X, y, encoder=_tiny_encoder(callbacks=[_CtrlCAtEpoch2()]),
                                   n_samples=5, n_draws=1, methods=["corel"],
                                   cache_dir=str(tmp_path), verbose=0)
    assert caught.value.result is None and os.listdir(tmp_path) == []
    # The encoder's parameters are left as they were (the runner's callbacks were temporary).
    encoder = _tiny_encoder()
    fit_encoder_cached(encoder, X, dataset_id="d", aux="train", cache_dir=None, verbose=1)
    assert encoder.callbacks is None


def test_cli_tabular_encoders_stop_on_ctrl_c():
    from corel_sklearn.experiments import TabularSettings
    from corel_sklearn.experiments.cli import _tabular_encoder

    make_encoder = _tabular_encoder(40)
    assert TabularSettings(make_encoder=make_encoder).report()["make_encoder"] == \
        "tabular_encoder(n_steps=40)"
    encoder = make_encoder(60, 4, 0)
    encoder.set_params(callbacks=[_CtrlCAtEpoch2(), *encoder.callbacks], batch_size=20)
    X = np.random.default_rng(1).normal(size=(60, 4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(KeyboardInterrupt):
            encoder.fit(X)


def test_planted_pickles_in_the_cache_are_never_unpickled(tmp_path, capsys):
    X = np.random.default_rng(0).random((40, 5), dtype=np.float32)
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_PlantedPayload(str(marker)))
    cache = tmp_path / "cache"
    cache.mkdir()
    # At the name a joblib entry of corel-sklearn 0.1 had: ignored, with one log line.
    key = encoder_cache_key(_tiny_encoder(), X, dataset_id="e", aux="train")
    legacy = cache / f"e-train-{key}.joblib"
    legacy.write_bytes(payload)
    _, info = fit_encoder_cached(_tiny_encoder(), X, dataset_id="e", aux="train",
                                 cache_dir=str(cache), verbose=1)
    err = capsys.readouterr().err
    assert not marker.exists() and not info["cached"]
    assert sum(str(legacy) in line for line in err.splitlines()) == 1, err
    # At the entry's own name: refused as a model file, refitted with one log line.
    key = encoder_cache_key(_tiny_encoder(), X, dataset_id="d", aux="train")
    planted = cache / f"d-train-{key}.zip"
    planted.write_bytes(payload)
    fitted, info = fit_encoder_cached(_tiny_encoder(), X, dataset_id="d", aux="train",
                                      cache_dir=str(cache), verbose=1)
    err = capsys.readouterr().err
    assert not marker.exists()
    assert [line for line in err.splitlines() if str(planted) in line and "refit" in line] \
        and sum("unreadable" in line for line in err.splitlines()) == 1, err
    assert not info["cached"] and info["path"] == str(planted)
    from corel_sklearn.serialization import load

    np.testing.assert_array_equal(load(planted).transform(X), fitted.transform(X))
    # A foreign model at the right name (other parameters) is refitted, not used.
    _, info = fit_encoder_cached(_tiny_encoder(eta=0.5), X, dataset_id="g", aux="train",
                                 cache_dir=str(cache), verbose=0)
    other = cache / f"f-train-{encoder_cache_key(_tiny_encoder(), X, dataset_id='f', aux='train')}"
    os.replace(info["path"], f"{other}.zip")
    _, info = fit_encoder_cached(_tiny_encoder(), X, dataset_id="f", aux="train",
                                 cache_dir=str(cache), verbose=1)
    assert not info["cached"] and "holds another model" in capsys.readouterr().err


def test_cli_progress_in_a_pipe_is_plain_lines_with_the_clis_advice(tmp_path):
    command, env = _command(
        "oneclass", "--dataset", "digits", "--n", "10", "--draws", "2", "--classes", "0",
        "--methods", "corel", "ballcount-ae", "--epochs", "2", "--no-cache", "--no-plot",
        "--out", str(tmp_path))
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PATIENCE_S)
    err = done.stderr
    assert done.returncode == 0, err
    assert "\x1b[" not in err and "\r" not in err, repr(err)
    lines = err.splitlines()
    corel = [line for line in lines if "encoder train-corel: epoch" in line]
    twin = [line for line in lines if "encoder train-ae: epoch" in line]
    assert len(corel) == len(twin) == 2, err
    assert all(" conn " in line for line in corel)
    assert not any("conn" in line for line in twin) and "nan" not in err  # lambda = 0
    assert any(line.endswith("draws: 2/2") for line in lines), err
    # The encoder's convergence advice in the command line's terms, as a note.
    notes = [line for line in lines if "note:" in line]
    assert len(notes) == 1 and "train longer with --epochs (now 2)" in notes[0], err
    assert "max_epochs" not in err and "Warning" not in err, err


def _write_tiny_odds(folder, rng):
    os.makedirs(folder, exist_ok=True)
    for name, n, d in (("alpha", 120, 5), ("beta", 150, 8)):
        X = rng.normal(size=(n, d))
        y = np.zeros(n, dtype=np.uint8)
        y[:12] = 1
        X[:12] += 6
        scipy.io.savemat(os.path.join(folder, f"{name}.mat"), {"X": X, "y": y[:, None]})


def _ctrl_c_on_call(method, call, monkeypatch):
    """Make the registry's ``method`` raise KeyboardInterrupt when built the ``call``-th time."""
    from corel_sklearn.experiments import METHODS

    original = METHODS[method]
    calls = []

    def make(context):
        calls.append(context)
        if len(calls) == call:
            raise KeyboardInterrupt
        return original.make(context)

    monkeypatch.setitem(METHODS, method, dataclasses.replace(original, make=make))


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_ctrl_c_writes_the_finished_draws_marked_partial(tmp_path, capsys, monkeypatch):
    _ctrl_c_on_call("OCSVM", 3, monkeypatch)  # class 0 draws 0 and 1 finish, class 1 does not
    out = tmp_path / "out"
    rc = main(["oneclass", "--dataset", "digits", "--n", "10", "--draws", "2", "--classes",
               "0", "1", "--methods", "corel", "ocsvm", "--epochs", "1", "--no-cache",
               "--no-plot", "--out", str(out), "-q"])
    captured = capsys.readouterr()
    assert rc == 130 and "interrupted" in captured.err
    assert sorted(os.listdir(out)) == ["partial_aurocs.csv", "partial_results.json",
                                       "partial_summary.csv"]
    rows = _rows(out / "partial_aurocs.csv")
    assert sorted((r["method"], r["group"], r["run"]) for r in rows) == [
        ("COREL", "0", "0"), ("COREL", "0", "1"), ("OCSVM", "0", "0"), ("OCSVM", "0", "1")]
    assert [r["class"] for r in _rows(out / "partial_summary.csv")] == ["0", "mean"]
    with open(out / "partial_results.json") as f:
        assert json.load(f)["partial"] is True
    assert "PARTIAL" in captured.out


def test_ctrl_c_in_odds_writes_the_finished_sets_marked_partial(tmp_path, capsys, monkeypatch):
    _write_tiny_odds(str(tmp_path / "odds"), np.random.default_rng(0))
    _ctrl_c_on_call("LOF", 2, monkeypatch)  # one trial per set: alpha finishes, beta does not
    out = tmp_path / "out"
    rc = main(["odds", "--data-path", str(tmp_path / "odds"), "--published", "none",
               "--datasets", "alpha", "beta", "--trials", "1", "--methods", "IForest", "LOF",
               "--n-jobs", "1", "--no-plot", "--out", str(out), "-q"])
    assert rc == 130 and "interrupted" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["odds_partial_aurocs.csv", "odds_partial_results.json",
                                       "odds_partial_summary.csv"]
    assert {r["group"] for r in _rows(out / "odds_partial_aurocs.csv")} == {"alpha"}
    assert [r["dataset"] for r in _rows(out / "odds_partial_summary.csv")] == ["alpha", "mean"]


def test_partial_statistics_are_over_the_finished_runs():
    from corel_sklearn.experiments import BenchmarkResult

    records = [dict(method="m", group=g, run=d, auroc=a)
               for g, d, a in [("x", 0, 0.6), ("x", 1, 0.8), ("y", 0, 1.0)]]
    result = BenchmarkResult(records, ["m"], ["x", "y"], partial=True)
    summary = result.summary()["m"]
    assert summary["x"] == pytest.approx((0.7, 0.1)) and summary["y"] == pytest.approx((1.0, 0))
    assert summary["mean"][0] == pytest.approx(0.85)
    assert result.table().splitlines()[0].startswith("PARTIAL")
    finished = BenchmarkResult(records, ["m"], ["x", "y"])
    assert np.isnan(finished.summary()["m"]["y"][0])  # a missing run is not hidden


# ------------------------------------------------------------------------ vocabulary


def test_cli_accepts_the_apis_parameter_names():
    """Every option that is an API parameter takes the API's name (dashes for underscores)."""
    parser = build_parser()
    short = parser.parse_args(["oneclass", "--n", "7", "--draws", "2", "--lambda", "3",
                               "--epochs", "4", "--lr", "0.5", "--n-jobs", "2"])
    api = parser.parse_args(["oneclass", "--n-samples", "7", "--n-draws", "2",
                             "--connectivity-weight", "3", "--max-epochs", "4",
                             "--learning-rate", "0.5", "--n-jobs", "2"])
    assert vars(short) == vars(api)
    protocol = set(inspect.signature(
        corel_sklearn.experiments.run_one_class_protocol).parameters)
    encoder = set(TopoAutoencoder().get_params())
    oneclass = {a.option_strings[0][2:].replace("-", "_") for a in _actions(parser, "oneclass")
                if a.option_strings}
    assert {"n_samples", "n_draws", "radius", "classes", "aux", "methods", "cache_dir",
            "n_jobs"} <= protocol & oneclass
    assert {"connectivity_weight", "max_epochs", "learning_rate", "eta", "batch_size",
            "n_branches", "branch_dim", "hidden_layer_sizes", "architecture", "device"} <= \
        encoder & oneclass
    tabular = parser.parse_args(["odds", "--n-trials", "3", "--encoder-n-jobs", "2"])
    assert (tabular.trials, tabular.encoder_n_jobs) == (3, 2)
    shared = {"data_dir", "datasets", "methods", "published_csv", "radius", "n_jobs",
              "encoder_n_jobs"}
    for command, runner, own in (("odds", "run_odds_benchmark", {"n_trials"}),
                                 ("adbench", "run_adbench_benchmark", {"labeled_ratio"})):
        options = {a.option_strings[0][2:].replace("-", "_")
                   for a in _actions(parser, command) if a.option_strings}
        runner = set(inspect.signature(getattr(corel_sklearn.experiments, runner)).parameters)
        assert shared | own <= runner & options, (command, (shared | own) - options)
    assert parser.parse_args(["odds", "--data-path", "d", "--published", "p"]).data_path == \
        parser.parse_args(["odds", "--data-dir", "d", "--published-csv", "p"]).data_path == "d"


def _actions(parser, command):
    import argparse

    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[command]._actions


def test_former_thread_flags_still_work_with_a_note(capsys):
    parser = build_parser()
    assert parser.parse_args(["oneclass", "--threads", "2"]).n_jobs == 2
    assert parser.parse_args(["odds", "--threads", "3"]).encoder_n_jobs == 3
    err = capsys.readouterr().err
    assert "--threads is now --n-jobs" in err and "--threads is now --encoder-n-jobs" in err
    assert parser.parse_args(["oneclass"]).n_jobs is None
    assert parser.parse_args(["odds"]).encoder_n_jobs == 1


def _public_callables():
    import corel_sklearn.experiments as experiments

    for name in experiments.__all__:
        obj = getattr(experiments, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield name, obj


@pytest.mark.parametrize("name, obj", list(_public_callables()))
def test_every_public_name_has_parameters_an_example_and_an_explicit_signature(name, obj):
    doc = inspect.getdoc(obj) or ""
    signature = inspect.signature(obj)
    if any(p.name != "self" for p in signature.parameters.values()):
        assert "\nParameters\n----------\n" in doc, name
    assert "\nExamples\n--------\n>>> " in doc, name
    assert all(p.kind is not p.VAR_KEYWORD for p in signature.parameters.values()), name


# Names the vocabulary replaces (CONTRIBUTING.md, "Names"): n_jobs for threads or jobs,
# random_state(s) for seeds; the command line alone says --seed and --seeds.
NOT_API_NAMES = {"seed", "seeds", "trial", "n_threads", "threads", "encoder_threads",
                 "workers"}


@pytest.mark.parametrize("name, obj", list(_public_callables()))
def test_public_parameters_use_the_vocabulary(name, obj):
    parameters = set(inspect.signature(obj).parameters)
    if dataclasses.is_dataclass(obj):
        parameters |= {f.name for f in dataclasses.fields(obj)}
    assert not parameters & NOT_API_NAMES, (name, parameters & NOT_API_NAMES)


@pytest.mark.parametrize("runner, own_defaults", [
    ("run_odds_benchmark", {"methods": ("COREL", "IForest", "OCSVM", "LOF")}),
    ("run_adbench_benchmark", {"methods": ("COREL", "IForest", "OCSVM", "LOF", "ECOD", "KNN"),
                               "standardize_encoder_input": True,
                               "trim": None}),  # None: default_trim(setting)
])
def test_the_tabular_runners_list_every_setting_with_its_default(runner, own_defaults):
    from corel_sklearn.experiments import TabularSettings

    parameters = inspect.signature(getattr(corel_sklearn.experiments, runner)).parameters
    for field in dataclasses.fields(TabularSettings):
        parameter = parameters[field.name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, field.name
        assert parameter.default == own_defaults.get(field.name, field.default), field.name


def test_encoder_n_jobs_minus_one_and_none_leave_the_threads_as_they_are(tmp_path,
                                                                        monkeypatch):
    import corel_sklearn.experiments._tabular_benchmarks as tabular
    from corel_sklearn.experiments import TabularSettings, run_odds_benchmark

    _write_tiny_odds(str(tmp_path), np.random.default_rng(0))
    limits = []
    original = tabular.limited_threads

    def recording(n_threads):
        limits.append(n_threads)
        return original(n_threads)

    monkeypatch.setattr(tabular, "limited_threads", recording)
    for value in (-1, None, 2):
        run_odds_benchmark(tmp_path, datasets=["alpha"], n_trials=1, methods=["IForest"],
                           encoder_n_jobs=value, verbose=0)
    assert limits == [None, None, 2]  # limited_threads(-1) would mean one thread
    for bad in (0, -2, 1.5, "2"):
        with pytest.raises(ValueError, match="encoder_n_jobs must be a positive int, -1 or"):
            TabularSettings(encoder_n_jobs=bad)
    with pytest.raises(ValueError, match="n_jobs must be a nonzero int"):
        TabularSettings(n_jobs=0)


def test_the_protocols_signature_and_settings_share_their_defaults():
    from corel_sklearn.experiments import ProtocolSettings, run_one_class_protocol

    parameters = inspect.signature(run_one_class_protocol).parameters
    for field in dataclasses.fields(ProtocolSettings):
        assert parameters[field.name].default == field.default, field.name
        assert parameters[field.name].kind is inspect.Parameter.KEYWORD_ONLY
