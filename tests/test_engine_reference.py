"""Moving the training loop out of TopoAutoencoder changed no bit (issue 19, item 4).

The SHA-256 sums below were computed from the codes (float32 bytes of ``transform(X)``) and the
histories of the estimator as it was before the move (commit 6b433bb, one torch thread), for
the paper's conv network, an MLP and a callable conv network: after ``fit``, after 5 + 5
warm-started epochs, after a checkpoint resume, after 3 ``partial_fit`` calls and after early
stopping. Float bits depend on the CPU's kernels, so the sums are compared on the platform
that recorded them (torch 2.13.0+cpu, AVX2); elsewhere the runs are compared with each other
(fit == warm start == resume, bit for bit), which holds on any machine.
"""

import hashlib
import json
import warnings

import numpy as np
import pytest
import torch

from corel_sklearn import TopoAutoencoder
from corel_sklearn.training import Callback, Checkpoint

REFERENCE_PLATFORM = ("2.13.0+cpu", "AVX2")
ON_REFERENCE_PLATFORM = (torch.__version__, torch.backends.cpu.get_cpu_capability()) \
    == REFERENCE_PLATFORM

# (codes, history) SHA-256 prefixes, from the code before the move.
BEFORE = {
    "conv_paper": {
        "fit": ("63f56f67db18eabee2d3fab69c2b4ea5",
            "ec92067bf6cd44bdf87a55c3d84c3ef6"),
        "partial_fit_3": ("4f079ad7b105859489e00cd2cbe8ce61",
            "d0416518af4ed17dbdd491d810377583"),
        "early_stopping": ("85b35ddf94074865e31f77e6d575e5c0",
            "63be675277bf882c42d3a733dc79ee0f"),
    },
    "mlp": {
        "fit": ("48b19aee54f92490fb6a58108e670eee",
            "54f87aabaaf8119660634a8cd302243a"),
        "partial_fit_3": ("e69dd49a443452b02384e6fff57ef310",
            "023fbda78407869b887ff378c9b905ea"),
        "early_stopping": ("31c978d7f15e7d5b37008b68bb20fdc2",
            "dccd2e589db8a9c26f33749b15460289"),
    },
    "callable_conv": {
        "fit": ("a9ea93f85fbc5bd9a49fa828139b03b5",
            "c7dad2d5d1676ccac6318de615b214b3"),
        "partial_fit_3": ("e0f058f893c2484d4180bc76ce7842a1",
            "6a97ed39e80502ca7cae3d94207f9ef2"),
        "early_stopping": ("cef2eadd2750f30517b96a495f85abf8",
            "5e54c3550b2b6e16bdf7b411edcb1d9f"),
    },
}


def callable_conv(input_shape, n_branches, branch_dim):
    c, h, w = input_shape
    encoder = torch.nn.Sequential(
        torch.nn.Conv2d(c, 4, 3, stride=2, padding=1), torch.nn.LeakyReLU(0.01),
        torch.nn.Flatten(), torch.nn.Linear(4 * (h // 2) * (w // 2), n_branches * branch_dim))
    decoder = torch.nn.Sequential(
        torch.nn.Linear(n_branches * branch_dim, 4 * (h // 2) * (w // 2)), torch.nn.ReLU(),
        torch.nn.Unflatten(1, (4, h // 2, w // 2)),
        torch.nn.ConvTranspose2d(4, c, 3, stride=2, padding=1, output_padding=1))
    return encoder, decoder


def _config(name):
    """The recorded configurations; the data drawn in the recording's order."""
    rng = np.random.default_rng(0)
    data = [rng.random((40, 3 * 32 * 32), dtype=np.float32), rng.random((60, 24), dtype=np.float32),
            rng.random((60, 64), dtype=np.float32)]
    return {
        "conv_paper": (dict(input_shape=(3, 32, 32), batch_size=20), data[0]),
        "mlp": (dict(hidden_layer_sizes=(32,), n_branches=4, branch_dim=3, batch_size=20), data[1]),
        "callable_conv": (dict(architecture=callable_conv, input_shape=(1, 8, 8), n_branches=2,
                               branch_dim=3, batch_size=20), data[2]),
    }[name]


class _Kill(Exception):
    pass


class _KillAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, estimator, record, **kwargs):
        if record["epoch"] == self.epoch:
            raise _Kill


def _digests(ae, X):
    codes = np.ascontiguousarray(ae.transform(X), dtype=np.float32)
    keys = ("epoch", "reconstruction_loss", "connectivity_loss", "death_time_min",
            "death_time_median", "death_time_mean", "death_time_max", "validation_loss",
            "n_steps")
    rows = json.dumps([[h.get(k) for k in keys] for h in ae.history_]).encode()
    return hashlib.sha256(codes.tobytes()).hexdigest(), hashlib.sha256(rows).hexdigest()


@pytest.mark.parametrize("name", [
    pytest.param("conv_paper", marks=pytest.mark.slow), "mlp", "callable_conv"])
def test_codes_are_bit_identical_to_the_code_before_the_move(name, tmp_path):
    params, X = _config(name)
    base = dict(params, random_state=0, n_jobs=1)
    runs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits do not converge
        runs["fit"] = TopoAutoencoder(**base, max_epochs=10).fit(X)
        warm = TopoAutoencoder(**base, max_epochs=5, warm_start=True).fit(X)
        runs["warm_5_plus_5"] = warm.fit(X)
        path = tmp_path / "ck.pt"
        with pytest.raises(_Kill):
            TopoAutoencoder(**base, max_epochs=10,
                            callbacks=[Checkpoint(path, every=2), _KillAfter(5)]).fit(X)
        runs["resume"] = TopoAutoencoder(**base, max_epochs=10,
                                         callbacks=[Checkpoint(path, resume=True)]).fit(X)
        runs["partial_fit_3"] = TopoAutoencoder(**base)
        for _ in range(3):
            runs["partial_fit_3"].partial_fit(X)
        runs["early_stopping"] = TopoAutoencoder(**base, max_epochs=6, early_stopping=True,
                                                 validation_fraction=0.2).fit(X)
    digests = {run: _digests(ae, X) for run, ae in runs.items()}
    # On any machine: a continued or resumed fit is the uninterrupted fit, bit for bit.
    assert digests["warm_5_plus_5"] == digests["resume"] == digests["fit"]
    assert runs["fit"].n_steps_ == runs["resume"].n_steps_
    if not ON_REFERENCE_PLATFORM:
        pytest.skip(f"float bits recorded on {REFERENCE_PLATFORM}; compared only with each other")
    for run, (codes, history) in BEFORE[name].items():
        assert digests[run][0].startswith(codes), run
        assert digests[run][1].startswith(history), run
