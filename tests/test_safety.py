"""Interrupts, float16 input, read-only installs and compilation notices."""

import os
import shutil
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from _small_autoencoder import small

from corel_sklearn import BallCountOneClass, ClasswiseBallCount, TopoAutoencoder, connectivity_loss
from corel_sklearn.pershom import branch_death_times, vr_persistence_l1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, env=None, timeout=300, cwd=None):
    env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow  # a fresh interpreter, signalled mid-call
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT via os.kill")
def test_ctrl_c_during_score_samples_is_a_prompt_keyboard_interrupt():
    out = _run("""
        import os, signal, threading, time
        import numpy as np
        from corel_sklearn import BallCountOneClass
        from corel_sklearn.ball_counting import _cpu

        rng = np.random.default_rng(0)
        anchors = rng.random((20000, 160), dtype=np.float32)
        model = BallCountOneClass(radius=2.0, contamination="auto").fit(anchors)
        model.score_samples(anchors[:10])  # compiled before the clock starts
        queries = rng.random((20000, 160), dtype=np.float32)
        calls = []
        entry = _cpu._COUNT_ENTRY["l1"]

        def timed_entry(*args):
            start = time.perf_counter()
            result = entry(*args)
            calls.append(time.perf_counter() - start)
            return result

        _cpu._COUNT_ENTRY["l1"] = timed_entry
        sent = []
        def interrupt():
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)
        threading.Timer(0.5, interrupt).start()
        try:
            model.score_samples(queries)
            print("finished", 0, len(calls), 0)
        except BaseException as exc:
            longest = max(calls, default=0.0)
            print(type(exc).__name__, time.perf_counter() - sent[0], len(calls), longest)
    """)
    assert out.returncode == 0, out.stderr
    kind, latency, n_calls, longest_call = out.stdout.split()
    # 20000 queries x 20000 anchors x 160 coordinates, at most 2**30 per kernel call: 60 calls.
    assert kind == "KeyboardInterrupt", out.stdout
    assert int(n_calls) < 60  # stopped before the work was done
    # Honoured at the end of the kernel call under way (a whole score_samples used to run
    # first); the bound is relative to this machine's own call times, so a busy machine
    # cannot fail it.
    assert float(latency) < 1.0 + 3 * float(longest_call), out.stdout


@pytest.mark.slow  # a fresh interpreter, signalled mid-call
@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT via os.kill")
def test_ctrl_c_during_a_long_persistence_call_is_a_prompt_keyboard_interrupt():
    # One wide cloud (split over threads) and 16 narrow branches (the branch loop), each far
    # longer than the wait for the interrupt: B = 20,000 x 160 is ~32 G coordinate operations.
    out = _run("""
        import os, signal, threading, time
        import numpy as np
        import torch
        from corel_sklearn.losses import connectivity_loss
        from corel_sklearn.pershom import vr_persistence_l1

        rng = np.random.default_rng(0)
        points = torch.tensor(rng.random((20000, 160), dtype=np.float32))
        calls = {"one cloud": lambda z: vr_persistence_l1(z),
                 "16 branches": lambda z: connectivity_loss(z.requires_grad_(), 2.0, 16)}
        for name, call in calls.items():
            call(points[:2000].clone())  # compiled, and timed: 1/100 of the work
            start = time.perf_counter()
            call(points[:2000].clone())
            expected = 100 * (time.perf_counter() - start)  # Prim's work grows as B^2
            sent = []
            def interrupt():
                sent.append(time.perf_counter())
                os.kill(os.getpid(), signal.SIGINT)
            threading.Timer(0.3, interrupt).start()
            start = time.perf_counter()
            try:
                call(points.clone())
                print(name.replace(" ", "_"), "finished", 0, 0, expected)
            except KeyboardInterrupt:
                now = time.perf_counter()
                print(name.replace(" ", "_"), "KeyboardInterrupt", now - sent[0], now - start,
                      expected)
        print("alive")
    """)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[2] == "alive", out.stdout  # the process goes on normally afterwards
    for line in lines[:2]:
        name, kind, latency, elapsed, expected = line.split()
        assert kind == "KeyboardInterrupt", out.stdout
        # Under a second after the signal (generous: the kernel stops at its next Prim step,
        # well under a millisecond), and long before the whole call would have ended.
        assert float(latency) < 1.0, out.stdout
        assert float(elapsed) < 0.5 * float(expected), out.stdout


# ----------------------------------------------------------------------------- float16


def test_float16_input_is_computed_like_float32_in_every_estimator():
    rng = np.random.default_rng(0)
    X = rng.random((60, 12)).astype(np.float16)
    X32 = X.astype(np.float32)
    ae16 = small(branch_dim=3, max_epochs=1).fit(X)
    ae32 = small(branch_dim=3, max_epochs=1).fit(X32)
    np.testing.assert_array_equal(ae16.transform(X), ae32.transform(X32))
    np.testing.assert_array_equal(
        BallCountOneClass(n_branches=2).fit(X).score_samples(X),
        BallCountOneClass(n_branches=2).fit(X32).score_samples(X32))
    y = np.arange(60) % 3
    np.testing.assert_array_equal(
        ClasswiseBallCount(n_branches=2).fit(X, y).score_samples(X),
        ClasswiseBallCount(n_branches=2).fit(X32, y).score_samples(X32))


def test_float16_overflow_raises_in_every_estimator():
    with np.errstate(over="ignore"):
        X = np.full((40, 4), 1e5).astype(np.float16)  # inf: the cast overflowed
    for model in (TopoAutoencoder(hidden_layer_sizes=(4,), n_branches=1, branch_dim=2),
                  BallCountOneClass(n_branches=1)):
        with pytest.raises(ValueError, match="infinity"):
            model.fit(X)
    with pytest.raises(ValueError, match="infinity"):
        ClasswiseBallCount(n_branches=1).fit(X, np.arange(40) % 2)


@pytest.mark.parametrize("call", [
    lambda z: branch_death_times(z, 2),
    lambda z: vr_persistence_l1(z),
    lambda z: connectivity_loss(z.requires_grad_(), 2.0, 2),
])
def test_float16_persistence_that_overflows_raises_instead_of_returning_inf(call):
    z = (torch.rand(50, 20, generator=torch.Generator().manual_seed(0)) * 6e4).half()
    with pytest.raises(ValueError, match="overflow to inf in torch.float16"):
        call(z)
    small = (z.float() / 1e4).half()
    assert torch.isfinite(branch_death_times(small, 2)[0]).all()


# ------------------------------------------------------------------- read-only install


def _read_only_runner(site, home):
    """A command prefix that runs a process seeing ``site`` and ``home`` read-only, or None.

    Root ignores file permissions, so there both folders are bind-mounted read-only in a
    private mount namespace; other users get them chmod-ed read-only.
    """
    if os.geteuid() != 0:
        for path in [home, *site.rglob("*"), site]:
            path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        return []
    if shutil.which("unshare") is None:
        return None
    mounts = " && ".join(f"mount --bind {p} {p} && mount -o remount,bind,ro {p}"
                         for p in (site, home))
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"{mounts} && ! touch {home}/probe"],
                           capture_output=True)
    if probe.returncode != 0:
        return None
    return ["unshare", "-m", "sh", "-c", f'{mounts} && exec "$0" "$@"']


@pytest.mark.slow  # without a writable cache, the subprocess compiles every numba kernel
@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_import_works_from_a_read_only_install_and_home(tmp_path):
    site = tmp_path / "site"
    shutil.copytree(os.path.join(ROOT, "corel_sklearn"), site / "corel_sklearn",
                    ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    home = tmp_path / "home"
    home.mkdir()
    runner = _read_only_runner(site, home)
    if runner is None:
        pytest.skip("cannot make a folder read-only for root here (no mount namespace)")
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(PYTHONPATH=str(site), HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    script = textwrap.dedent("""
        import numpy as np
        import corel_sklearn
        from corel_sklearn import BallCountOneClass
        x = np.array([[0.0], [0.4], [3.0]])
        print(BallCountOneClass(n_branches=1, radius=0.5).fit(x).score_samples(x).tolist())
    """)
    try:
        out = subprocess.run([*runner, sys.executable, "-c", script], env=env, cwd=str(home),
                             capture_output=True, text=True, timeout=600)
    finally:
        for path in [site, *site.rglob("*"), home]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "[2.0, 2.0, 1.0]"
    warnings = [line for line in out.stderr.splitlines() if "read-only" in line]
    assert len(warnings) == 1 and "NUMBA_CACHE_DIR" in warnings[0], out.stderr


def test_first_compilation_is_announced_once(monkeypatch, caplog):
    from corel_sklearn import _numba_runtime

    monkeypatch.setattr(_numba_runtime, "_NOTICE_AFTER_SECONDS", 0.05)
    monkeypatch.setattr(_numba_runtime, "_noticed", set())
    import time

    with caplog.at_level("WARNING", logger="corel_sklearn"):
        with _numba_runtime.compile_notice("test", "1 s"):
            time.sleep(0.5)  # stands for a compilation
        with _numba_runtime.compile_notice("test", "1 s"):
            time.sleep(0.5)
    notices = [r.getMessage() for r in caplog.records
               if "compiling the test kernels" in r.getMessage()]
    assert len(notices) == 1
