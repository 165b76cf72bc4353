"""Model files: save/load, pickle and skops load weights only and never run code from the file."""

import io
import json
import pickle
import sys
import zipfile

import numpy as np
import pytest
import torch
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
def X():
    return np.random.default_rng(0).random((60, 12), dtype=np.float32)


@pytest.fixture(scope="module")
def models(X):
    """A fitted Pipeline(TopoAutoencoder, BallCountOneClass), its encoder and a classwise model."""
    ae = TopoAutoencoder(hidden_layer_sizes=(8,), n_branches=2, branch_dim=3, batch_size=20,
                         max_epochs=1, random_state=0)
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


def test_saved_history_keeps_nan_and_tuples(X, tmp_path):
    ae = TopoAutoencoder(hidden_layer_sizes=(8,), n_branches=2, branch_dim=3, batch_size=20,
                         max_epochs=1, connectivity_weight=0, random_state=0).fit(X)
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
    ae = TopoAutoencoder(architecture=_architecture, n_branches=2, branch_dim=3,
                         batch_size=20, max_epochs=1, random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(restored.transform(X), ae.transform(X))
    with pytest.raises(TypeError, match="architecture is a callable.*skops"):
        save(ae, tmp_path / "m.zip")


def test_save_refuses_other_classes(tmp_path):
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(TypeError, match="StandardScaler.*skops"):
        save(make_pipeline(StandardScaler(), BallCountOneClass()), tmp_path / "m.zip")


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
    with pytest.raises(ImportError, match=r"corel-sklearn\[io\]"):
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
