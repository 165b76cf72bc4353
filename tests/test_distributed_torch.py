"""fit_distributed: DistributedDataParallel over gloo on the CPU, 2 processes on loopback."""

import socket
import time
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from corel_sklearn import TopoAutoencoder
from corel_sklearn.callbacks import Callback
from corel_sklearn.distributed import fit_distributed
from corel_sklearn.pershom import branch_death_times
from corel_sklearn.serialization import load

STEP = {"hidden_layer_sizes": (16,), "n_branches": 2, "branch_dim": 3, "batch_size": 20,
        "max_epochs": 1, "random_state": 0, "device": "cpu"}
TRAIN = {"hidden_layer_sizes": (32,), "n_branches": 2, "branch_dim": 4, "batch_size": 50,
         "max_epochs": 20, "learning_rate": 1e-2, "random_state": 0, "device": "cpu"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(function, *args, nprocs=2, timeout=180):
    """Run ``function(rank, port, *args)`` in ``nprocs`` spawned processes, or fail in time."""
    port = free_port()
    context = mp.start_processes(function, args=(port, *args), nprocs=nprocs, join=False,
                                 start_method="spawn")
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"the {nprocs} ranks did not finish within {timeout} s")


def init_rank(rank, port, world_size=2):
    torch.set_num_threads(1)  # two ranks on two cores
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world_size)


class GradientRecorder(Callback):
    def on_batch_end(self, estimator, epoch, step):
        self.gradients = [p.grad.detach().clone() for p in estimator.module_.parameters()]


def quietly(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the one-step fits
        return function(*args, **kwargs)


def one_ddp_step(rank, port, X, folder):
    init_rank(rank, port)
    try:
        recorder = GradientRecorder()
        quietly(fit_distributed, TopoAutoencoder(**STEP, callbacks=[recorder]), X)
        torch.save(recorder.gradients, f"{folder}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_gradient_is_the_mean_of_the_ranks_gradients(tmp_path):
    X = np.random.default_rng(0).random((40, 12), dtype=np.float32)  # one step of 2 x 20
    spawn(one_ddp_step, X, str(tmp_path))
    ddp = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for a, b in zip(*ddp, strict=True):
        assert torch.equal(a, b)  # every rank applies the same averaged gradient

    # Rank r's batch is its DistributedSampler slice of the epoch's seeded permutation.
    # A single-process fit on those 20 rows, placed so that its own shuffle of 20 restores
    # the rank's order, computes the rank's gradient with the same rounding.
    shuffle_seed = int(TopoAutoencoder(**STEP)._seeds()[1])
    order = torch.randperm(40, generator=torch.Generator().manual_seed(shuffle_seed)).numpy()
    order_of_20 = torch.randperm(20, generator=torch.Generator().manual_seed(shuffle_seed))
    single = []
    for rank in (0, 1):
        placed = np.empty((20, 12), dtype=np.float32)
        placed[order_of_20.numpy()] = X[order[rank::2]]
        recorder = GradientRecorder()
        quietly(TopoAutoencoder(**STEP, callbacks=[recorder]).fit, placed)
        single.append(recorder.gradients)
    for got, g0, g1 in zip(ddp[0], *single, strict=True):
        torch.testing.assert_close(got, (g0 + g1) / 2, rtol=1e-6, atol=1e-9)
    # The two ranks' batches did differ, so the average is not either one of them.
    assert not torch.allclose(single[0][0], single[1][0], rtol=1e-2)


def death_time_median(estimator, X, batch_size):
    """Median over fixed consecutive batches (the paper's batch) of the codes' death times."""
    Z = torch.from_numpy(estimator.transform(X))
    return float(torch.cat([
        branch_death_times(Z[i : i + batch_size], estimator.n_branches)[0].flatten()
        for i in range(0, len(Z) - batch_size + 1, batch_size)
    ]).median())


def train_two_ranks(rank, port, X, path):
    init_rank(rank, port)
    try:
        quietly(fit_distributed, TopoAutoencoder(**TRAIN), X, save_path=path)
    finally:
        dist.destroy_process_group()


def test_two_ranks_reach_the_death_times_of_one_process(tmp_path):
    X = np.random.default_rng(0).random((400, 16), dtype=np.float32)
    path = tmp_path / "ddp.corel"
    spawn(train_two_ranks, X, str(path))
    ddp = load(path)  # written by rank 0 in the safe format, loaded here as a fitted model
    assert isinstance(ddp, TopoAutoencoder) and ddp.n_iter_ == 20
    assert all(r["n_steps"] == 4 for r in ddp.history_)  # 400 // (2 ranks x 50)
    single = quietly(TopoAutoencoder(**TRAIN).fit, X)
    start = quietly(TopoAutoencoder(**{**TRAIN, "max_epochs": 1, "learning_rate": 1e-12}).fit, X)
    eta, batch = ddp.eta, TRAIN["batch_size"]
    medians = {name: death_time_median(model, X, batch)
               for name, model in (("ddp", ddp), ("single", single), ("start", start))}
    # "Same": both runs organise the codes at eta (median within 25 % of it, the band of the
    # estimator's ConvergenceWarning) and within 10 % of eta of each other, from a start far off.
    assert medians["start"] < 0.1 * eta, medians
    assert abs(medians["ddp"] - eta) < 0.25 * eta and abs(medians["single"] - eta) < 0.25 * eta
    assert abs(medians["ddp"] - medians["single"]) < 0.1 * eta, medians


def test_one_process_equals_fit():
    X = np.random.default_rng(1).random((60, 12), dtype=np.float32)
    init_rank(0, free_port(), world_size=1)
    try:
        ddp = quietly(fit_distributed, TopoAutoencoder(**{**STEP, "max_epochs": 3}), X)
    finally:
        dist.destroy_process_group()
    single = quietly(TopoAutoencoder(**{**STEP, "max_epochs": 3}).fit, X)
    for a, b in zip(ddp.module_.state_dict().values(), single.module_.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    assert type(ddp) is TopoAutoencoder and ddp.device == "cpu"
    np.testing.assert_array_equal(ddp.transform(X), single.transform(X))


def test_fit_distributed_needs_a_launcher(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="run the script with torchrun"):
        fit_distributed(TopoAutoencoder(**STEP), np.zeros((40, 12), dtype=np.float32))
    with pytest.raises(TypeError, match="trains a TopoAutoencoder"):
        fit_distributed(object(), np.zeros((40, 12)))


def test_unwritable_save_path_fails_before_the_first_epoch(tmp_path):
    X = np.random.default_rng(1).random((60, 12), dtype=np.float32)
    (tmp_path / "file").write_text("not a folder")
    epochs = []

    class Epochs(Callback):
        def on_epoch_begin(self, estimator, epoch, **kwargs):
            epochs.append(epoch)

    init_rank(0, free_port(), world_size=1)
    try:
        with pytest.raises(OSError, match="save_path folder"):
            fit_distributed(TopoAutoencoder(**STEP, callbacks=[Epochs()]), X,
                            save_path=tmp_path / "file" / "model.corel")
        with pytest.raises(TypeError, match="cannot save a value of type Epochs"):
            fit_distributed(TopoAutoencoder(**STEP, callbacks=[Epochs()]), X,
                            save_path=tmp_path / "model.corel")  # callbacks are code
        assert epochs == []  # nothing was trained
        # A folder that does not exist yet is created before training, and the model saved.
        fitted = quietly(fit_distributed, TopoAutoencoder(**STEP), X,
                         save_path=tmp_path / "new" / "model.corel")
    finally:
        dist.destroy_process_group()
    np.testing.assert_array_equal(load(tmp_path / "new" / "model.corel").transform(X),
                                  fitted.transform(X))


def test_warm_start_through_fit_distributed_continues_like_fit():
    X = np.random.default_rng(1).random((60, 12), dtype=np.float32)
    params = {**STEP, "max_epochs": 2, "warm_start": True}
    init_rank(0, free_port(), world_size=1)
    try:
        ddp = quietly(fit_distributed, TopoAutoencoder(**params), X)
        quietly(fit_distributed, ddp, X)
    finally:
        dist.destroy_process_group()
    single = quietly(TopoAutoencoder(**{**STEP, "max_epochs": 4}).fit, X)
    assert ddp.n_iter_ == 4 and [h["epoch"] for h in ddp.history_] == [1, 2, 3, 4]
    np.testing.assert_array_equal(ddp.transform(X), single.transform(X))
