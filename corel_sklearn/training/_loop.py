"""The epoch and step loop: hooks, snapshots and rollback, health checks, Ctrl-C."""

import logging
import signal
import threading
import time

import torch

from corel_sklearn._threads import idle_cores
from corel_sklearn._warnings import warn
from corel_sklearn.pershom import branch_death_times
from corel_sklearn.training._callbacks import CallbackList
from corel_sklearn.training._health import (
    DivergedError,
    Divergence,
    check_epoch,
    check_step,
    warn_if_not_converged,
)

__all__ = ["train"]

logger = logging.getLogger("corel_sklearn")
_busy_cpu_reported = False


class _DeferredInterrupt:
    """Turns Ctrl-C into a flag the loop checks after each step (main thread only).

    A second Ctrl-C raises KeyboardInterrupt at once. Elsewhere (other threads, or a custom
    SIGINT handler already installed) nothing is changed and a KeyboardInterrupt raised inside
    a step is handled by the loop as well.
    """

    def __init__(self, run):
        self.run = run
        self.previous = None

    def _handler(self, signum, frame):
        if self.run.interrupt_requested:
            raise KeyboardInterrupt
        self.run.interrupt_requested = True

    def __enter__(self):
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _report_busy_cpu(estimator, run):
    """Once per process: say so when torch has more threads than the machine has idle cores.

    On a busy CPU a training step with torch's default threads waits for the slowest of them
    at every operation: 20 to 50 times slower than with one thread.
    """
    global _busy_cpu_reported
    if _busy_cpu_reported or torch.device(estimator.device_).type != "cpu":
        return
    threads, idle = torch.get_num_threads(), idle_cores()
    if idle < threads:
        _busy_cpu_reported = True
        logger.warning(
            "%s trains with %d torch threads but only %d core(s) are idle (other processes "
            "keep the rest busy): each step waits for the slowest thread, so training can be "
            "many times slower. Set n_jobs=1 on the estimator (or torch.set_num_threads(1)).",
            type(estimator).__name__, threads, idle,
        )


def train(estimator, run):
    """Run the epochs of ``run`` on ``estimator``; returns how the loop ended.

    The engine of :class:`~corel_sklearn.TopoAutoencoder`: it calls the estimator's public step
    methods (``epoch_order``, ``train_step``, ``validation_loss``, ``reduce_epoch_record``) and
    the callbacks' hooks, appends to ``history_``, keeps the last good state of every epoch for
    a rollback, checks the losses, codes and weights for divergence, turns Ctrl-C into a stop
    after the current step and, after a run that used all its epochs, warns when the codes did
    not reach the scale ``eta``. ``run.reason`` says how it ended (see
    :class:`~corel_sklearn.training.TrainingRun`).

    Parameters
    ----------
    estimator : TopoAutoencoder
        The estimator, with its network (``module_``) and fitted attributes initialised.
    run : TrainingRun
        This call's state, built by the estimator.

    Returns
    -------
    reason : {"max_epochs", "stopped", "interrupted"}
        Divergence raises a ValueError (after restoring the last good epoch); other errors
        propagate with ``run.reason == "error"``.
    """
    callbacks = CallbackList(run.callbacks)
    info = {
        "first_epoch": run.epoch + 1,
        "last_epoch": run.last_epoch,
        "steps_per_epoch": run.steps_per_epoch,
        "n_samples": run.n_train,
        "n_validation": run.n_validation,
    }
    _report_busy_cpu(estimator, run)
    reason, error = "error", None
    try:
        callbacks.call("on_train_begin", estimator, info=info, run=run)
        reason = _epochs(estimator, run, callbacks)
    except Divergence as exc:
        reason, error = "diverged", DivergedError(str(exc))
        raise error from None
    except BaseException as exc:
        error = exc
        raise
    finally:
        run.model.eval()
        estimator.module_.eval()
        run.reason = reason
        _end(estimator, run, callbacks, reason, error)
    if reason == "max_epochs" and not run.incremental and run.loss.has_connectivity:
        warn_if_not_converged(estimator)
    return reason


def _end(estimator, run, callbacks, reason, error):
    """``on_train_end`` on every callback; its error is raised unless the loop raised one."""
    try:
        callbacks.call_all("on_train_end", estimator, reason=reason, run=run)
    except BaseException as exc:
        if error is None:
            raise
        error.add_note(f"on_train_end also raised {type(exc).__name__}: {exc}")


def _epochs(estimator, run, callbacks):
    """Run epochs until the last one, a callback's stop, a Ctrl-C or a divergence."""
    last_good = None
    with _DeferredInterrupt(run):
        while run.epoch < run.last_epoch:
            epoch = run.epoch + 1
            last_good = _snapshot(estimator, run, last_good)
            try:
                callbacks.call("on_epoch_begin", estimator, epoch=epoch, run=run)
                record = _epoch(estimator, run, epoch, callbacks)
            except Divergence as exc:
                _restore(estimator, run, last_good)
                kept = f"the end of epoch {epoch - 1}" if epoch > 1 else "the initialisation"
                rate = run.optimizer.param_groups[0]["lr"]
                raise Divergence(
                    f"Training diverged in epoch {epoch}: {exc}. Try a lower "
                    f"learning_rate, e.g. {rate / 10:g} (now {rate:g}), or scale X (e.g. to "
                    f"[0, 1]). module_ keeps the last good weights, from {kept}."
                ) from None
            except KeyboardInterrupt:
                record = None
                run.interrupt_requested = True
            if record is not None:
                _append(estimator, run, record)
            if not run.interrupt_requested:
                try:
                    if callbacks.call("on_epoch_end", estimator, record=record, run=run):
                        return "stopped"
                except KeyboardInterrupt:
                    run.interrupt_requested = True
            if run.interrupt_requested:
                _finish_interrupted(estimator, run, epoch, record, last_good)
                return "interrupted"
    return "max_epochs"


def _append(estimator, run, record):
    run.epoch = record["epoch"]
    estimator.history_.append(record)
    estimator.n_iter_ = len(estimator.history_)
    estimator.n_steps_ += record["n_steps"]


def _finish_interrupted(estimator, run, epoch, record, last_good):
    """Warn that Ctrl-C stopped training; keep the weights after the last whole step."""
    if not all(bool(torch.isfinite(p).all()) for p in estimator.module_.parameters()):
        # Interrupted inside an optimizer step: fall back to the start of the epoch.
        if record is not None:
            estimator.history_.pop()
            estimator.n_iter_ = len(estimator.history_)
        _restore(estimator, run, last_good)
        estimator.n_steps_ = last_good["n_steps"]
        record = None
    steps = 0 if record is None else record["n_steps"]
    warn(
        f"Training interrupted (KeyboardInterrupt) in epoch {epoch} after step {steps} of "
        f"{run.steps_per_epoch}; the estimator keeps the weights after that step and the "
        f"history so far ({estimator.n_iter_} epochs, {estimator.n_steps_} steps). Call fit "
        "with warm_start=True to continue.",
        UserWarning,
    )


def _snapshot_tensors(estimator, run):
    tensors = list(estimator.module_.state_dict().values())
    for state in run.optimizer.state.values():
        tensors.extend(value for value in state.values() if torch.is_tensor(value))
    return tensors


def _snapshot(estimator, run, snapshot=None):
    """Copy the weights and the optimizer's tensors, the last good state of an epoch.

    Taken before every epoch, so it reuses the previous snapshot's buffers (one in-place
    copy per tensor): with one step per epoch a fresh deep copy would cost as much as the
    step itself.
    """
    tensors = _snapshot_tensors(estimator, run)
    buffers = None if snapshot is None else snapshot["buffers"]
    if buffers is None or [b.shape for b in buffers] != [t.shape for t in tensors]:
        buffers = [t.detach().clone() for t in tensors]
    else:
        with torch.no_grad():
            for buffer, tensor in zip(buffers, tensors, strict=True):
                buffer.copy_(tensor)
    return {
        "buffers": buffers,
        "has_optimizer_state": bool(run.optimizer.state),
        "shuffle_generator": run.shuffle_generator.get_state(),
        "n_steps": estimator.n_steps_,
    }


def _restore(estimator, run, snapshot):
    if not snapshot["has_optimizer_state"]:
        run.optimizer.state.clear()  # before the first step: Adam has no moments yet
    with torch.no_grad():
        tensors = _snapshot_tensors(estimator, run)
        for tensor, buffer in zip(tensors, snapshot["buffers"], strict=True):
            tensor.copy_(buffer)
    run.shuffle_generator.set_state(snapshot["shuffle_generator"])


def _epoch(estimator, run, epoch, callbacks):
    """One shuffled pass; the last partial batch is dropped (never all: n_steps >= 1).

    Returns the epoch's ``history_`` record, also when a Ctrl-C stops it after some steps
    (then ``n_steps`` counts those); None when it stopped before the first.
    """
    start = time.perf_counter()
    order = estimator.epoch_order(run)
    batch_size = run.batch_size
    rec_sum = conn_sum = 0.0
    codes = None
    n_done = 0
    per_step = callbacks.has("on_batch_end")
    for step in range(run.steps_per_epoch):
        x = run.data.batch(order[step * batch_size : (step + 1) * batch_size])
        run.model.train()  # every step: a hook may have called transform (eval mode)
        try:
            rec, conn, codes = estimator.train_step(run, x)
            if x.device.type == "cpu":  # the step is synchronous there: checking is free
                check_step(run, rec, conn)
        except Divergence as exc:
            raise Divergence(f"{exc} in step {step + 1} of {run.steps_per_epoch}") from None
        except KeyboardInterrupt:
            run.interrupt_requested = True
            break
        n_done += 1
        rec_sum = rec_sum + rec
        conn_sum = conn_sum + conn
        if per_step:
            try:
                callbacks.call("on_batch_end", estimator, epoch=epoch, step=step + 1, run=run)
            except KeyboardInterrupt:  # the step itself completed
                run.interrupt_requested = True
        if run.interrupt_requested:
            break
    if n_done == 0:
        return None
    # On an accelerator the steps run asynchronously and are checked here, once per epoch.
    losses = rec_sum + conn_sum if run.loss.has_connectivity else rec_sum
    if not bool(torch.isfinite(torch.as_tensor(losses))):
        raise Divergence("the losses became NaN or inf")
    if not all(bool(torch.isfinite(p).all()) for p in estimator.module_.parameters()):
        raise Divergence("the weights became NaN or inf")
    with torch.no_grad():
        death_times = branch_death_times(codes, estimator.n_branches)[0].flatten()
    record = {
        "epoch": epoch,
        "reconstruction_loss": float(rec_sum) / n_done,
        "connectivity_loss": float(conn_sum) / n_done,
        "death_time_min": float(death_times.min()),
        "death_time_median": float(death_times.quantile(0.5)),
        "death_time_mean": float(death_times.mean()),
        "death_time_max": float(death_times.max()),
    }
    check_epoch(run, record, estimator.eta)
    if run.validation_indices is not None and n_done == run.steps_per_epoch:
        record["validation_loss"] = estimator.validation_loss(run)
    record["n_steps"] = n_done
    record["learning_rate"] = float(run.optimizer.param_groups[0]["lr"])
    record["wall_time"] = time.perf_counter() - start
    return estimator.reduce_epoch_record(record)
