"""Model files: save/load, pickle and skops load weights only and never run code from the file."""

import io
import json
import os
import pickle
import re
import struct
import sys
import warnings
import zipfile
import zlib

import numpy as np
import pytest
import torch
from _small_autoencoder import small, tiny_data
from sklearn.pipeline import make_pipeline

from corel_sklearn import BallCountOneClass, ClasswiseBallCount, TopoAutoencoder
from corel_sklearn.estimators import _topo_autoencoder
from corel_sklearn.serialization import (
    FORMAT_VERSION,
    UnsafeModelFileError,
    load,
    save,
    trust_legacy_pickles,
)

pytest.importorskip("safetensors")


@pytest.fixture(scope="module")
def models():
    """A fitted Pipeline(TopoAutoencoder, BallCountOneClass), its encoder and a classwise model
    (fitted on ``tiny_data()``, the ``X`` of the tests)."""
    X = tiny_data()
    ae = small(branch_dim=3, max_epochs=1)
    pipe = make_pipeline(ae, BallCountOneClass(n_branches=2, radius=0.5)).fit(X)
    codes = ae.transform(X)
    y = np.array(["cat", "dog", "emu"] * 20)
    classwise = ClasswiseBallCount(n_branches=2, radius=0.5).fit(codes, y)
    return {"pipeline": pipe, "autoencoder": ae, "ball_count": pipe[-1],
            "classwise": classwise}


def _outputs(model, X):
    if isinstance(model, TopoAutoencoder):
        return model.transform(X)
    if isinstance(model, (BallCountOneClass, ClasswiseBallCount)):
        X = np.random.default_rng(1).random((30, 6))  # codes: 2 branches x 3
    return model.decision_function(X)


def _same_fitted_state(a, b):
    assert type(a) is type(b)
    assert a.get_params(deep=False).keys() == b.get_params(deep=False).keys()
    fitted = {k for k in vars(a) if k.endswith("_") and not k.startswith("_")}
    assert fitted == {k for k in vars(b) if k.endswith("_") and not k.startswith("_")}
    for key in fitted - {"module_"}:
        va, vb = getattr(a, key), getattr(b, key)
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb or (va != va and vb != vb), key


@pytest.mark.parametrize("name", ["pipeline", "autoencoder", "ball_count", "classwise"])
def test_save_load_round_trip_gives_identical_outputs(models, X, name, tmp_path):
    model = models[name]
    path = tmp_path / "model.zip"
    save(model, path)
    restored = load(path)
    np.testing.assert_array_equal(_outputs(restored, X), _outputs(model, X))
    steps = zip(restored.steps, model.steps, strict=True) if name == "pipeline" else [
        ((None, restored), (None, model))]
    for (_, a), (_, b) in steps:
        _same_fitted_state(a, b)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "weights.safetensors"]
        config = json.loads(archive.read("config.json"))
    assert config["format_version"] == FORMAT_VERSION
    import corel_sklearn

    assert config["corel_sklearn_version"] == corel_sklearn.__version__


def test_saved_history_keeps_nan_and_tuples(X, tmp_path):
    ae = small(branch_dim=3, max_epochs=1, connectivity_weight=0).fit(X)
    save(ae, tmp_path / "m.zip")
    restored = load(tmp_path / "m.zip")
    assert np.isnan(restored.history_[0]["connectivity_loss"])
    assert restored.input_shape_ == ae.input_shape_ == (12,)
    assert restored.hidden_layer_sizes == (8,)


def test_load_model_saved_on_cuda_on_a_machine_without_it(models, X, tmp_path, monkeypatch):
    ae = pickle.loads(pickle.dumps(models["autoencoder"]))
    ae.device_ = "cuda"  # the file records where the model was fitted; weights are CPU tensors
    save(ae, tmp_path / "m.zip")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="fitted on cuda but cuda is not available"):
        restored = load(tmp_path / "m.zip")
    assert restored.device_ == "cpu"
    np.testing.assert_array_equal(restored.transform(X), models["autoencoder"].transform(X))
    assert load(tmp_path / "m.zip", device="cpu").device_ == "cpu"


def test_unpickling_does_not_touch_the_global_torch_generator(models):
    payload = pickle.dumps(models["autoencoder"])
    before = torch.get_rng_state()
    pickle.loads(payload)
    assert torch.equal(torch.get_rng_state(), before)


def _architecture(input_shape, n_branches, branch_dim):
    from torch import nn

    return nn.Linear(input_shape[0], n_branches * branch_dim), \
        nn.Linear(n_branches * branch_dim, input_shape[0])


def test_callable_architecture_pickles_but_is_refused_by_save(X, tmp_path):
    ae = small(architecture=_architecture, branch_dim=3, max_epochs=1).fit(X)
    restored = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(restored.transform(X), ae.transform(X))
    with pytest.raises(TypeError, match="architecture is a callable.*skops"):
        save(ae, tmp_path / "m.zip")


def test_save_refuses_other_classes(tmp_path):
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(TypeError, match="StandardScaler.*skops"):
        save(make_pipeline(StandardScaler(), BallCountOneClass()), tmp_path / "m.zip")


def test_save_refuses_a_fitted_attribute_load_would_refuse(models, tmp_path):
    model = pickle.loads(pickle.dumps(models["ball_count"]))
    model.calibration_ = 0.5
    with pytest.raises(TypeError, match=r"fitted attributes \['calibration_'\].*skops"):
        save(model, tmp_path / "m.zip")
    assert not (tmp_path / "m.zip").exists()


def _rewrite_config(path, edit):
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        weights = archive.read("weights.safetensors")
    edit(config)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("weights.safetensors", weights)


def test_load_refuses_unknown_classes_newer_versions_and_damaged_files(models, tmp_path):
    path = tmp_path / "m.zip"
    save(models["ball_count"], path)
    _rewrite_config(path, lambda c: c["model"].update({"class": "os.system"}))
    with pytest.raises(ValueError, match="class 'os.system'; only"):
        load(path)
    save(models["ball_count"], path)
    _rewrite_config(path, lambda c: c.update({"format_version": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match="format version 2.*Upgrade corel-sklearn"):
        load(path)
    save(models["ball_count"], path)
    _rewrite_config(path, lambda c: c["model"]["attributes"].update({"__class__": 1}))
    with pytest.raises(ValueError, match="'__class__', which is not a fitted attribute"):
        load(path)
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a model file written by"):
        load(path)


def test_missing_safetensors_gives_an_install_hint(models, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(ImportError, match=r"pip install safetensors \(or pip install "
                       r"\"\.\[io\]\" in a corel-sklearn checkout\)"):
        save(models["ball_count"], tmp_path / "m.zip")


# ------------------------------------------------------------------ pickle and skops


class _CreatesMarker:
    """Unpickling this runs ``open(marker, "w")``: a payload that leaves a trace."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def _crafted_payload(marker):
    buffer = io.BytesIO()
    torch.save({"format_version": 1, "state_dict": _CreatesMarker(str(marker))}, buffer)
    return buffer.getvalue()


def test_crafted_network_payload_is_refused_by_pickle(models, X, tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    with monkeypatch.context() as m:
        m.setattr(_topo_autoencoder, "state_dict_bytes", lambda module: _crafted_payload(marker))
        payload = pickle.dumps(models["autoencoder"])
    # The payload is real: loading the network the way 0.1 did runs it.
    torch.load(io.BytesIO(_crafted_payload(tmp_path / "proof")), weights_only=False)
    assert (tmp_path / "proof").exists()
    with pytest.raises(UnsafeModelFileError, match="not plain weights"):
        pickle.loads(payload)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["pipeline", "autoencoder", "ball_count", "classwise"])
def test_skops_round_trip_trusts_only_our_estimator_types(models, X, name):
    sio = pytest.importorskip("skops.io")
    model = models[name]
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    ours = {f"{type(step).__module__}.{type(step).__name__}"
            for _, step in (model.steps if name == "pipeline" else [(None, model)])}
    assert set(untrusted) == ours
    restored = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(_outputs(restored, X), _outputs(model, X))


def test_skops_file_with_a_crafted_network_payload_is_refused(models, tmp_path, monkeypatch):
    sio = pytest.importorskip("skops.io")
    marker = tmp_path / "marker"
    with monkeypatch.context() as m:
        m.setattr(_topo_autoencoder, "state_dict_bytes", lambda module: _crafted_payload(marker))
        data = sio.dumps(models["autoencoder"])
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == ["corel_sklearn.estimators._topo_autoencoder.TopoAutoencoder"]
    with pytest.raises(UnsafeModelFileError, match="not plain weights"):
        sio.loads(data, trusted=untrusted)
    assert not marker.exists()


def _legacy_getstate(self):
    """How corel-sklearn 0.1 pickled a TopoAutoencoder: the whole module via torch.save."""
    state = dict(super(TopoAutoencoder, self).__getstate__())
    buffer = io.BytesIO()
    torch.save(state["module_"], buffer)
    state["module_"] = buffer.getvalue()
    return state


def test_legacy_pickle_is_refused_unless_trusted(models, X, monkeypatch):
    ae = models["autoencoder"]
    with monkeypatch.context() as m:
        m.setattr(TopoAutoencoder, "__getstate__", _legacy_getstate)
        payload = pickle.dumps(ae)
    with pytest.raises(UnsafeModelFileError, match="corel-sklearn 0.1.*trust_legacy_pickles"):
        pickle.loads(payload)
    with trust_legacy_pickles():
        restored = pickle.loads(payload)
    np.testing.assert_array_equal(restored.transform(X), ae.transform(X))
    # Saved again, it is in the weights-only format.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(restored)).transform(X),
                                  ae.transform(X))
    with pytest.raises(UnsafeModelFileError):
        pickle.loads(payload)


# ------------------------------------------------------------- failed saves, hostile files


def test_a_failed_save_leaves_the_old_file_loadable(models, X, tmp_path, monkeypatch):
    path = tmp_path / "m.zip"
    save(models["ball_count"], path)
    before = path.read_bytes()
    real_writestr = zipfile.ZipFile.writestr

    def fail_on_the_weights(self, name, data, *args, **kwargs):
        if getattr(name, "filename", name) == "weights.safetensors":
            raise OSError(28, "No space left on device")  # the config is already written
        return real_writestr(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_on_the_weights)
    with pytest.raises(OSError, match="No space left"):
        save(models["autoencoder"], path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.zip"]  # no temporary left over
    np.testing.assert_array_equal(_outputs(load(path), X), _outputs(models["ball_count"], X))


def _load_error(path):
    """load's error on ``path``: one ValueError naming the file, nothing else escapes."""
    with pytest.raises(ValueError) as info:
        load(path)
    assert type(info.value) is ValueError
    assert repr(str(path)) in str(info.value)
    return str(info.value)


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json")), archive.read("weights.safetensors")


def _write_zip(path, config, weights):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config) if not isinstance(config, str)
                         else config)
        archive.writestr("weights.safetensors", weights)


def _edit_tensors(path, edit):
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    config, weights = _read_zip(path)
    tensors = dict(st_load(weights))
    edit(tensors)
    _write_zip(path, config, st_save(tensors))


def _set_attribute(key, value):
    def edit(config):
        config["model"]["attributes"][key] = value
    return edit


def _params(key, value, step=None):
    def edit(config):
        model = config["model"] if step is None else config["model"]["steps"][step][1]
        model["params"]["__dict__"][key] = value  # save tags dicts
    return edit


def _nan_weight(tensors):
    key = next(k for k in tensors if ".module_." in k)
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[0] = float("nan")


def _float64_weights(tensors):
    for key in [k for k in tensors if ".module_." in k]:
        tensors[key] = tensors[key].double()


# (model, what is done to its file, what the error says)
CRAFTED = {
    "offset_ a string": ("ball_count", _set_attribute("offset_", "0.5"),
                         "offset_ must be a number"),
    "offset_ NaN": ("ball_count", _set_attribute("offset_", {"__float__": "nan"}),
                    "offset_ must be finite"),
    "float tag not a float": ("ball_count", _set_attribute("offset_", {"__float__": "abc"}),
                              "the float 'abc'"),
    "unknown attribute": ("ball_count", _set_attribute("shell_", 1.0),
                          r"sets \['shell_'\], which a BallCountOneClass does not have"),
    "invalid parameter": ("ball_count", _params("radius", "huge"), "invalid parameters"),
    "unknown parameter": ("ball_count", _params("exec", "rm -rf"),
                          "parameters a BallCountOneClass does not take"),
    "anchors of the wrong width": ("ball_count",
                                   _set_attribute("n_features_in_", 4),
                                   "anchors_ has shape"),
    "anchors missing": ("ball_count", lambda c: c["model"].update({"arrays": []}),
                        r"without \['anchors_'\]"),
    "history_ not a list": ("autoencoder", _set_attribute("history_", "lots"),
                            "history_ must be a list"),
    "input_shape_ of another size": ("autoencoder",
                                     _set_attribute("input_shape_", {"__tuple__": [3, 4]}),
                                     "input_shape_=.* does not fit"),
    "network of other sizes": ("autoencoder",
                               _params("hidden_layer_sizes", {"__tuple__": [9]}),
                               "size mismatch"),
    "weights without a fit": ("autoencoder", lambda c: c["model"].update({"attributes": {}}),
                              "unfitted TopoAutoencoder with network weights"),
    "Pipeline with memory": ("pipeline", _params("memory", "/tmp/cache"),
                             r"memory=\.\.\.\), which save refuses"),
    "Pipeline step a string": ("pipeline",
                               lambda c: c["model"]["steps"].append(["x", "os.system"]),
                               "'os.system'; a saved Pipeline holds models and 'passthrough'"),
    "Pipeline step name with __": ("pipeline",
                                   lambda c: c["model"]["steps"][0].__setitem__(0, "a__b"),
                                   "step names are unique"),
    "Pipeline step with a bad parameter": ("pipeline", _params("n_branches", -2, step=0),
                                           "invalid parameters"),
    "deep JSON": ("ball_count", _params("radius", json.loads("[" * 900 + "]" * 900)),
                  "nested deeper than"),
    "unknown tag": ("ball_count", _set_attribute("offset_", {"__reduce__": ["os.system"]}),
                    "keys \\['__reduce__'\\], which save never writes"),
    "newer format": ("ball_count", lambda c: c.update({"format_version": FORMAT_VERSION + 1}),
                     "format version 2.*Upgrade corel-sklearn"),
    "unknown class": ("ball_count", lambda c: c["model"].update({"class": "os.system"}),
                      "class 'os.system'; only"),
    "not a fitted attribute": ("ball_count", _set_attribute("__class__", 1),
                               "'__class__', which is not a fitted attribute"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_config_gives_one_value_error_naming_the_file(models, tmp_path, case):
    name, edit, match = CRAFTED[case]
    path = tmp_path / "m.zip"
    save(models[name], path)
    config, weights = _read_zip(path)
    edit(config)
    _write_zip(path, config, weights)
    assert re.search(match, _load_error(path))


@pytest.mark.parametrize("edit, match", [
    (_nan_weight, "NaN or infinite weights"),
    (_float64_weights, "is torch.float64; the network holds torch.float32"),
    (lambda t: t.update({"model.steps.1.spare_": torch.zeros(3)}), "no part of the model uses"),
    (lambda t: t.pop("model.steps.1.anchors_"), "listed as an array but has no tensor"),
])
def test_crafted_weights_give_one_value_error_naming_the_file(models, tmp_path, edit, match):
    path = tmp_path / "m.zip"
    save(models["pipeline"], path)
    _edit_tensors(path, edit)
    assert re.search(match, _load_error(path))


def test_a_deeply_nested_config_is_refused_without_recursion_error(models, tmp_path):
    path = tmp_path / "m.zip"
    save(models["ball_count"], path)
    _, weights = _read_zip(path)
    _write_zip(path, '{"format": "corel-sklearn-model", "format_version": 1, "model": '
               + "[" * 100_000 + "]" * 100_000 + "}", weights)
    assert "nested too deeply" in _load_error(path)


def _flipped_and_truncated(data, n_offsets, seed):
    """Copies of ``data`` with one byte flipped (at spread and random offsets) or cut short."""
    rng = np.random.default_rng(seed)
    offsets = np.unique(np.r_[np.linspace(0, len(data) - 1, n_offsets).astype(int),
                              rng.integers(0, len(data), n_offsets)])
    for offset in offsets:
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF if offset % 2 else 0x01
        yield f"flip {offset}", bytes(damaged)
    for length in np.unique(np.linspace(0, len(data) - 1, n_offsets // 4).astype(int)):
        yield f"truncate to {length}", data[:length]


@pytest.mark.parametrize("name", ["pipeline", "classwise"])
def test_damaged_model_files_load_correctly_or_give_one_value_error(models, X, tmp_path,
                                                                    name):
    path = tmp_path / "m.zip"
    save(models[name], path)
    data = path.read_bytes()
    expected = _outputs(models[name], X)
    outcomes = {"loaded": 0, "refused": 0}
    for what, damaged in _flipped_and_truncated(data, 120, seed=0):
        path.write_bytes(damaged)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a warning is not a clean outcome either
                restored = load(path)
        except ValueError as exc:
            assert type(exc) is ValueError and repr(str(path)) in str(exc), (what, exc)
            outcomes["refused"] += 1
            continue
        # a flip the zip format ignores (a timestamp, a version field): the model is intact
        np.testing.assert_array_equal(_outputs(restored, X), expected, err_msg=what)
        steps = zip(restored.steps, models[name].steps, strict=True) \
            if name == "pipeline" else [((None, restored), (None, models[name]))]
        for (_, a), (_, b) in steps:
            _same_fitted_state(a, b)
        outcomes["loaded"] += 1
    assert outcomes["refused"] > outcomes["loaded"] > 0, outcomes


# A zip written byte by byte, so its members and headers can say anything.
_LOCAL = struct.Struct("<4s5H3I2H")
_CENTRAL = struct.Struct("<4s6H3I5H2I")
_END = struct.Struct("<4s4H2IH")


def _raw_zip(path, members):
    """``members``: (name, stored bytes, method, declared inflated size)."""
    out, central = bytearray(), bytearray()
    for name, data, method, size in members:
        offset, encoded = len(out), name.encode()
        crc = zlib.crc32(data) if method == zipfile.ZIP_STORED else 0
        out += _LOCAL.pack(b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size,
                           len(encoded), 0) + encoded + data
        central += _CENTRAL.pack(b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data),
                                 size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    out += central + _END.pack(b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                               len(out), 0)
    path.write_bytes(bytes(out))


def _zeros_deflated(n_mib):
    """A raw deflate stream of ``n_mib`` MiB of zeros, about 1000 times smaller.

    A full flush resets the stream's history, so one compressed 8 MiB block repeats.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(8 * 2**20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (n_mib // 8) + b"\x03\x00"  # then an empty final block


_PEAK_SCRIPT = """
import json, resource, sys, tracemalloc
from corel_sklearn.serialization import load
results = {}
for path in sys.argv[1:]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        load(path)
        outcome = "loaded"
    except ValueError as exc:
        outcome = str(exc)
    except BaseException as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # ru_maxrss is the process's high-water mark (KiB on Linux): growth past the peak so far;
    # tracemalloc sees every buffer zipfile and zlib inflate into, in any order of the cases.
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    results[path] = [outcome, peak / 2**20, grown / 2**10]
print(json.dumps(results))
"""


@pytest.mark.slow  # a subprocess that imports torch, to measure its memory alone
def test_decompression_bombs_are_refused_in_little_memory(models, tmp_path):
    import subprocess

    path = tmp_path / "good.zip"
    save(models["ball_count"], path)
    config, weights = _read_zip(path)
    config_bytes = json.dumps(config).encode()
    bomb = _zeros_deflated(768)
    assert len(bomb) < 2**20  # a file under 1 MiB that inflates to 768 MiB
    inflated = 768 * 2**20
    cases = {
        "weights bomb": [("config.json", config_bytes, 0, len(config_bytes)),
                         ("weights.safetensors", bomb, 8, inflated)],
        "config bomb": [("config.json", bomb, 8, inflated),
                        ("weights.safetensors", weights, 0, len(weights))],
        # the header lies: it declares 4 KiB, the stream holds 768 MiB
        "lying weights bomb": [("config.json", config_bytes, 0, len(config_bytes)),
                               ("weights.safetensors", bomb, 8, 4096)],
    }
    paths = {}
    for case, members in cases.items():
        paths[case] = tmp_path / f"{case.replace(' ', '_')}.zip"
        _raw_zip(paths[case], members)
        assert paths[case].stat().st_size < 2**20
    assert load_ok(tmp_path, config_bytes, weights)
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, *map(str, paths.values())],
        capture_output=True, text=True, timeout=600, check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    results = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {"weights bomb": "more than 16 times", "config bomb": "declares 805306368 bytes",
                "lying weights bomb": "damaged|CRC"}
    for case, path in paths.items():
        outcome, traced_mib, rss_growth_mib = results[str(path)]
        assert repr(str(path)) in outcome and re.search(expected[case], outcome), outcome
        assert traced_mib < 100 and rss_growth_mib < 100, (case, traced_mib, rss_growth_mib)


def load_ok(tmp_path, config_bytes, weights):
    """The hand-written zip format itself loads when its members are honest."""
    path = tmp_path / "honest.zip"
    _raw_zip(path, [("config.json", config_bytes, 0, len(config_bytes)),
                    ("weights.safetensors", weights, 0, len(weights))])
    return isinstance(load(path), BallCountOneClass)


def test_resolved_radius_and_branches_round_trip_and_are_checked(tmp_path):
    from corel_sklearn.serialization import load, save

    rng = np.random.default_rng(3)
    X = rng.random((30, 4))
    model = BallCountOneClass(radius=0.7, n_branches=2).fit(X)
    path = tmp_path / "bc.zip"
    save(model, path)
    loaded = load(path)
    assert (loaded.radius_, loaded.n_branches_) == (0.7, 2)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
