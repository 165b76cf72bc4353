"""Checkpoint files: written atomically behind a SHA-256 checksum, refused whole when damaged."""

import io
import os

import numpy as np
import pytest
import torch

from corel_sklearn._checkpoint_file import read_checkpoint, write_checkpoint


def _state():
    """What a training checkpoint holds: tensors, numbers, strings, nested plain containers."""
    generator = torch.Generator().manual_seed(0)
    return {
        "format": "corel-sklearn-topo-autoencoder-checkpoint",
        "epoch": 3,
        "history": [{"epoch": 1, "loss": 2.5}, {"epoch": 2, "loss": float("nan")}],
        "module": {"encoder.0.weight": torch.randn(8, 4, generator=generator),
                   "encoder.0.bias": torch.zeros(8)},
        "shuffle_generator": generator.get_state(),
    }


def _assert_same(a, b):
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_round_trip_gives_the_same_state(tmp_path):
    path = tmp_path / "fit.ckpt"
    write_checkpoint(_state(), path)
    _assert_same(read_checkpoint(path), _state())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.ckpt"]


def _refusal(path):
    with pytest.raises(ValueError) as info:
        read_checkpoint(path)
    assert type(info.value) is ValueError and repr(str(path)) in str(info.value)
    return str(info.value)


def test_every_flipped_byte_and_every_truncation_is_refused(tmp_path):
    # The checksum covers the payload and every header field is checked: no single-byte
    # damage anywhere may resume silently (with torch.save alone, most flips in the tensor
    # data load without a word).
    path = tmp_path / "fit.ckpt"
    write_checkpoint(_state(), path)
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    offsets = np.unique(np.r_[np.arange(80), np.linspace(0, len(data) - 1, 300).astype(int),
                              rng.integers(0, len(data), 200)])
    for offset in offsets:
        damaged = bytearray(data)
        damaged[offset] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(damaged))
        _refusal(path)
    for length in np.unique(np.linspace(0, len(data) - 1, 60).astype(int)):
        path.write_bytes(data[:length])
        _refusal(path)
    path.write_bytes(data + b"\0")
    assert "header announces" in _refusal(path)


def test_damage_in_the_data_is_named_as_such(tmp_path):
    path = tmp_path / "fit.ckpt"
    write_checkpoint(_state(), path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x10
    path.write_bytes(bytes(data))
    assert "SHA-256 checksum does not match" in _refusal(path)


def test_a_plain_torch_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "fit.pt"
    torch.save(_state(), path)
    assert "not a corel-sklearn checkpoint" in _refusal(path)
    (tmp_path / "empty").write_bytes(b"")
    assert "not a corel-sklearn checkpoint" in _refusal(tmp_path / "empty")


class _RunsCode:
    def __reduce__(self):
        return os.system, ("true",)


def test_a_payload_with_code_is_refused_even_with_a_valid_checksum(tmp_path, monkeypatch):
    # Anyone can compute a checksum: it detects damage, not intent. The payload is still
    # read with torch.load(weights_only=True).
    path = tmp_path / "fit.ckpt"
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, f: real_save({"x": _RunsCode()}, f))
    write_checkpoint(_state(), path)
    monkeypatch.undo()
    assert "something other than plain tensors" in _refusal(path)


def test_a_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "fit.ckpt"
    write_checkpoint(_state(), path)
    before = path.read_bytes()

    def interrupted(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint({"epoch": 4}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.ckpt"]
    _assert_same(read_checkpoint(path), _state())


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "absent.ckpt")


def test_the_layout_is_what_the_module_documents(tmp_path):
    import hashlib
    import struct

    path = tmp_path / "fit.ckpt"
    write_checkpoint(_state(), path)
    data = path.read_bytes()
    magic = b"COREL-SKLEARN-CHECKPOINT\n"
    assert data.startswith(magic)
    version, length, digest = struct.unpack_from("<IQ32s", data, len(magic))
    payload = data[len(magic) + 44:]
    assert version == 1 and length == len(payload)
    assert digest == hashlib.sha256(payload).digest()
    _assert_same(torch.load(io.BytesIO(payload), weights_only=True), _state())
