"""TopoAutoencoder: an autoencoder whose codes are trained to be eta-connected (COREL)."""

import copy
import io
import math
import signal
import threading
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from corel_sklearn._device import loadable_device, resolve_device
from corel_sklearn._sklearn_compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
)
from corel_sklearn._weights import load_weights, state_dict_bytes
from corel_sklearn.callbacks import EarlyStopping, ProgressBar
from corel_sklearn.estimators._base import DocLinkMixin, warn_if_outlier_labels
from corel_sklearn.estimators._codes import encoder_codes
from corel_sklearn.estimators._data import check_input, inference_batches, make_training_data
from corel_sklearn.losses import connectivity_loss
from corel_sklearn.networks import (
    Autoencoder,
    ConvAutoencoder,
    MLPAutoencoder,
    initialize_parameters,
)
from corel_sklearn.pershom import branch_death_times

# max_epochs="auto": the paper's 50 epochs, extended so that a fit makes at least
# AUTO_MIN_STEPS optimizer steps. CIFAR-10 at batch 100 (500 steps per epoch) gets exactly 50;
# 120 samples at batch 100 (one step per epoch) get 1,000, where 50 steps leave the codes far
# from the scale eta. On the digits (120 of one class, benchmarks/bench_digits_auto_epochs.py)
# the codes reach eta after 200 to 400 steps; 1,000 steps give a mean AUROC of 0.969 over the
# ten digits, all fits at eta without a ConvergenceWarning.
AUTO_MIN_EPOCHS = 50
AUTO_MIN_STEPS = 1000
# Blow-up: a step's loss this many times its best so far (and above the first step's), or a
# median death time this many times eta (and 10 times the initial one), stops training as a
# divergence before the numbers overflow to inf or NaN.
BLOWUP_LOSS_FACTOR = 1e3
BLOWUP_DEATH_FACTOR = 100.0
# Convergence warning: the last epoch's median death time must lie in [0.75 eta, 1.25 eta], and
# the last tenth of the epochs must have brought at most this share of the connectivity loss's
# whole decrease (a loss still falling at a steady pace gives about 0.11). A share of the
# decrease, not a relative drop: the loss tends to 0 at eta, so its relative drops stay
# large (10 to 15 % per tenth on the digits) long after the codes have reached the scale.
CONVERGED_DEATH_BAND = (0.75, 1.25)
CONVERGED_MAX_SHARE = 0.05
# Parameters that may differ between a checkpoint and the fit resuming from it.
_RESUMABLE_PARAMS = {"max_epochs", "verbose", "callbacks", "device", "inference_batch_size",
                     "warm_start"}
_CHECKPOINT_FORMAT = "corel_sklearn.TopoAutoencoder.checkpoint/1"


class _Divergence(Exception):
    """Raised inside an epoch when the losses, codes or weights blow up or stop being finite."""


class _DivergedError(ValueError):
    """The ValueError a diverged fit raises; the estimator keeps its last good state."""


def _int_tuple(value, name, min_length=0):
    """``value`` as a tuple of positive ints, or a ValueError naming the parameter."""
    try:
        values = np.asarray(value)
        ok = values.ndim == 1 and values.size >= min_length
        ints = tuple(int(v) for v in values) if ok else ()
        ok = ok and np.array_equal(values, ints) and all(v > 0 for v in ints)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"{name} must be a sequence of at least {min_length} positive ints, got {value!r}."
        )
    return ints


def _clone_state(state):
    return {name: tensor.detach().clone() for name, tensor in state.items()}


def _recent_share_of_decrease(values):
    """Share of the total decrease of ``values`` that happened in their last tenth.

    Compares the means of the first, the second-to-last and the last tenth of the values:
    ``(prev - last) / (first - last)``. About 0.11 while a loss still falls at a steady pace,
    near 0 once it has levelled off. Returns ``(share, window)``; the share is 0 when there
    are fewer than three windows, no decrease, or non-finite values.
    """
    window = max(1, math.ceil(len(values) / 10))
    if len(values) < 3 * window:
        return 0.0, window
    first = float(np.mean(values[:window]))
    before = float(np.mean(values[-2 * window : -window]))
    last = float(np.mean(values[-window:]))
    if not all(math.isfinite(v) for v in (first, before, last)) or first <= last:
        return 0.0, window
    return max(0.0, before - last) / (first - last), window


class _TrainingRun:
    """The state of one ``fit``/``partial_fit`` call: what the loop's steps share.

    Attributes are filled by :meth:`TopoAutoencoder._prepare_run`; callbacks reach it only through
    the estimator's private checkpoint methods.
    """

    def __init__(self, **fields):
        self.model = None  # the module as trained (``_wrap_module``), may wrap ``module_``
        self.optimizer = None
        self.shuffle_generator = None
        self.data = None
        self.train_indices = None  # None: all samples
        self.validation_indices = None
        self.steps_per_epoch = 0
        self.epoch = 0  # last completed epoch, counted over the whole history
        self.last_epoch = 0
        self.best_loss = math.inf  # blow-up reference: best step loss so far
        self.first_loss = None
        self.first_death_time = None
        self.interrupt_requested = False
        self.__dict__.update(fields)


def _state_bytes(state):
    """``torch.save`` bytes of plain containers of tensors and numbers."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def _state_from_bytes(payload):
    """Read :func:`_state_bytes` back on the CPU, never unpickling code (weights_only)."""
    return torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)


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


class TopoAutoencoder(DocLinkMixin, TransformerMixin, BaseEstimator):
    """Autoencoder with COREL's connectivity loss: codes organised at the scale ``eta``.

    An autoencoder is trained on ``L_rec + connectivity_weight * L_eta``. ``L_rec`` is the l1
    reconstruction error summed per sample and averaged over the batch; ``L_eta`` is
    :func:`corel_sklearn.losses.connectivity_loss`: in every mini-batch and every latent branch,
    the 0-dim Vietoris-Rips death times (the l1 minimum-spanning-tree edge lengths) are pulled
    towards ``eta``, so each code has a neighbour at distance about ``eta`` and none closer.
    The codes then suit radius counting with ``r = eta`` (see ``BallCountOneClass``).

    The defaults are the paper's: for ``input_shape=(3, 32, 32)`` the network of Hofer et al.
    (ICML 2019) exactly (:class:`~corel_sklearn.networks.ConvAutoencoder`), 16 branches of
    10 dimensions, ``eta=2``, ``connectivity_weight=20``, Adam with learning rate 1e-3,
    shuffled batches of 100 (the last partial batch dropped), 50 epochs on CIFAR-10 (``"auto"``
    trains longer on small data). Vector data gets an MLP with the same branch-diagonal latent
    layer (:class:`~corel_sklearn.networks.MLPAutoencoder`).

    Parameters
    ----------
    architecture : {"auto", "mlp", "conv"} or callable, default="auto"
        ``"conv"``: the paper's convolutional autoencoder, for flattened images of shape
        ``input_shape``. ``"mlp"``: a fully connected autoencoder. ``"auto"``: ``"conv"`` when
        ``input_shape`` is given, else ``"mlp"``. A callable is called as
        ``architecture(input_shape=..., n_branches=..., branch_dim=...)`` and returns
        ``(encoder, decoder)`` torch modules; the encoder maps ``(B, *input_shape)`` to
        ``(B, n_branches * branch_dim)`` and the decoder maps back (``input_shape`` is
        ``(n_features,)`` when the parameter is None). Its torch standard layers (``Linear``,
        ``ConvNd``, ``ConvTransposeNd``, ``BranchLinear``) are re-initialised from
        ``random_state``; other parameters keep the values the callable gave them.
    input_shape : tuple of int, default=None
        Shape of one sample before flattening, e.g. ``(3, 32, 32)``; each row of ``X`` is the
        C-order flattening of such a sample (``images.reshape(n, -1)`` of an ``(n, C, H, W)``
        array). Its product must equal ``n_features``. With ``"auto"``, given means conv.
    hidden_layer_sizes : tuple of int, default=(256,)
        Hidden widths of the MLP encoder (mirrored in the decoder); ignored by the conv net.
    conv_channels : tuple of int, default=(32, 64, 128)
        Output channels of the conv encoder's stride-2 convolutions (the paper's); ignored by
        the MLP.
    n_branches : int, default=16
        Number of latent branches; the connectivity loss is computed on each separately and
        averaged.
    branch_dim : int, default=10
        Dimensions per branch. The codes have ``n_branches * branch_dim`` features.
    eta : float, default=2.0
        Target death time (the scale of the latent organisation); use it as the counting radius.
    connectivity_weight : float, default=20.0
        Weight of the connectivity loss (the paper's lambda). 0 trains a plain autoencoder and
        skips the persistence computation.
    batch_size : int, default=100
        Mini-batch size; also the number of points in each persistence computation. Clamped
        to the number of training samples when larger (see ``batch_size_``).
    max_epochs : int or "auto", default="auto"
        Number of passes over the training data. ``"auto"``: the paper's 50 epochs, or more
        when needed to make at least 1,000 optimizer steps, i.e.
        ``max(50, ceil(1000 / steps_per_epoch))`` with ``steps_per_epoch =
        n_samples // batch_size_`` (exactly 50 on CIFAR-10 at batch 100; 1,000 on 120
        samples). With ``warm_start`` or a resumed checkpoint, the epochs of one call.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the validation loss
        (reconstruction + ``connectivity_weight`` * connectivity, on the held-out samples) has
        not improved by ``tol`` for ``n_iter_no_change`` epochs; the best epoch's weights are
        restored. Off by default, so the number of epochs is fixed.
    validation_fraction : float, default=0.1
        Share of the samples held out for early stopping (rounded up; at least 2 samples).
    n_iter_no_change : int, default=10
        Epochs without improvement before early stopping ends the fit.
    tol : float, default=1e-4
        Minimum decrease of the validation loss that counts as an improvement.
    warm_start : bool, default=False
        When True and the estimator is fitted, ``fit`` continues training for ``max_epochs``
        more epochs from the fitted weights, the optimizer's state and the shuffling
        generator's state: two warm fits of 5 epochs equal one fit of 10.
    callbacks : list of Callback or None, default=None
        Objects whose hooks (:class:`corel_sklearn.callbacks.Callback`) are called during
        training, e.g. :class:`~corel_sklearn.callbacks.Checkpoint`.
    inference_batch_size : int, default=1024
        Rows per forward pass in ``transform`` and ``inverse_transform`` (bounds memory).
    device : str or torch.device, default="auto"
        Where to train and infer: ``"auto"`` picks CUDA when available, else the CPU; or any
        torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``). Resolved in ``fit`` only.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling and the validation split, through
        generators owned by the fit (torch's global generator is neither used nor changed).
        Fits with the same integer give bit-identical codes on the CPU, also when run in
        parallel threads.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar (:class:`~corel_sklearn.callbacks.ProgressBar`).

    Attributes
    ----------
    module_ : corel_sklearn.networks.Autoencoder
        The trained network (``module_.encoder``, ``module_.decoder``), on ``device_``, in
        eval mode.
    device_ : str
        The device the model lives on, e.g. ``"cpu"`` or ``"cuda"``. A model unpickled where
        that device is unavailable is moved to ``"cpu"`` (with a RuntimeWarning).
    architecture_ : {"mlp", "conv", "callable"}
        The architecture that was built.
    input_shape_ : tuple of int
        Shape of one sample as the network sees it: ``input_shape``, or ``(n_features,)`` for
        the MLP.
    batch_size_ : int
        The batch size used: ``min(batch_size, n_training_samples)``.
    n_iter_ : int
        Number of epochs run (over all warm-started calls), ``len(history_)``.
    n_steps_ : int
        Number of optimizer steps made.
    history_ : list of dict
        One dict per epoch with keys ``epoch``; ``reconstruction_loss`` and
        ``connectivity_loss`` (means over the epoch's steps; the latter unweighted and NaN when
        ``connectivity_weight == 0``, where it is not computed); ``death_time_min``,
        ``death_time_median``, ``death_time_mean``, ``death_time_max`` (over all branches of
        the epoch's last batch: is ``eta`` reached?); ``validation_loss`` (with early
        stopping); ``n_steps``; ``wall_time`` (seconds). ``pandas.DataFrame(history_)``
        tabulates it.
    best_validation_loss_ : float
        The lowest validation loss, whose weights ``module_`` holds. Only with
        ``early_stopping=True``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    corel_sklearn.losses.connectivity_loss : The loss on a batch of codes.
    corel_sklearn.networks.ConvAutoencoder : The paper's network.
    corel_sklearn.callbacks : Progress, early stopping, checkpoints, your own hooks.

    Notes
    -----
    A fit that ends with the codes away from the scale ``eta`` (the last epoch's median death
    time outside ``[0.75 eta, 1.25 eta]``, or the connectivity loss still falling: its last
    tenth of the epochs brought more than 5 % of its decrease) emits a ``ConvergenceWarning``:
    raise ``max_epochs``.

    Training stops with a ValueError naming the epoch and step when the loss, the codes or the
    weights become NaN or inf, or blow up first (a loss 1,000 times its best, death times
    100 times ``eta``); lower ``learning_rate``. ``module_`` then keeps the weights from the end
    of the last good epoch. Ctrl-C (KeyboardInterrupt) stops after the current step with a
    warning and leaves a fitted estimator; any other exception leaves it unfitted.

    References
    ----------
    C. D. Hofer, R. Kwitt, M. Dixit, M. Niethammer. "Connectivity-Optimized Representation
    Learning via Persistent Homology". ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from corel_sklearn import TopoAutoencoder
    >>> X = np.random.default_rng(0).random((40, 12), dtype=np.float32)
    >>> ae = TopoAutoencoder(hidden_layer_sizes=(16,), n_branches=2, branch_dim=3,
    ...                      batch_size=20, max_epochs=2, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (40, 6)
    >>> ae.get_feature_names_out()[:2].tolist()
    ['branch0_dim0', 'branch0_dim1']
    >>> ae.inverse_transform(ae.transform(X)).shape
    (40, 12)
    >>> ae.n_iter_, ae.n_steps_, len(ae.history_)
    (2, 4, 2)
    """

    _parameter_constraints: dict = {
        "architecture": [StrOptions({"auto", "mlp", "conv"}), callable],
        "input_shape": ["array-like", None],
        "hidden_layer_sizes": ["array-like"],
        "conv_channels": ["array-like"],
        "n_branches": [Interval(Integral, 1, None, closed="left")],
        "branch_dim": [Interval(Integral, 1, None, closed="left")],
        "eta": [Interval(Real, 0, None, closed="neither")],
        "connectivity_weight": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "callbacks": [list, None],
        "inference_batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        architecture="auto",
        input_shape=None,
        hidden_layer_sizes=(256,),
        conv_channels=(32, 64, 128),
        n_branches=16,
        branch_dim=10,
        eta=2.0,
        connectivity_weight=20.0,
        batch_size=100,
        max_epochs="auto",
        learning_rate=1e-3,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        callbacks=None,
        inference_batch_size=1024,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.architecture = architecture
        self.input_shape = input_shape
        self.hidden_layer_sizes = hidden_layer_sizes
        self.conv_channels = conv_channels
        self.n_branches = n_branches
        self.branch_dim = branch_dim
        self.eta = eta
        self.connectivity_weight = connectivity_weight
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.inference_batch_size = inference_batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : array-like, np.memmap or dataset of shape (n_samples, n_features)
            Training data (flattened images when ``input_shape`` is given), at least 2 rows,
            finite. An array in memory is converted to float32 once and, on an accelerator,
            moved there once when it fits. uint8 arrays are 8-bit pixels: kept as uint8 and
            divided by 255 batch by batch. An ``np.memmap`` is read batch by batch from its
            file, and a map-style dataset (``len`` and ``dataset[i]``, e.g.
            :class:`~corel_sklearn.datasets.ImageFolder`) sample by sample, for data larger
            than memory; the fit equals the one on the same float32 values in memory.
        y : None
            Ignored. Outlier labels in it (+1/-1 with some -1, or 0/1 with some 1) raise a
            UserWarning: those samples are trained on like the others (wrap the pipeline in
            :class:`~corel_sklearn.model_selection.FitOnInliers` to drop them).

        Returns
        -------
        self : TopoAutoencoder
            The fitted estimator.
        """
        warn_if_outlier_labels(self, y)
        return self._fit(X, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one epoch on ``X``; the first call initialises the network.

        Later calls continue from the weights, the optimizer's state and the shuffling
        generator's state, as with ``warm_start``; ``max_epochs`` and ``early_stopping`` are
        not used.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data for this epoch.
        y : None
            Ignored.

        Returns
        -------
        self : TopoAutoencoder
            The estimator, trained one more epoch.
        """
        return self._fit(X, incremental=True)

    def _fit(self, X, incremental):
        continuing = (incremental or self.warm_start) and hasattr(self, "module_")
        try:
            X = check_input(self, X, reset=not continuing, ensure_min_samples=2)
            run = self._prepare_run(X, incremental=incremental, continuing=continuing)
            self._train(run)
        except _DivergedError:
            raise  # module_ keeps the last good weights: the estimator stays usable
        except BaseException:
            self._discard_fit()
            raise
        return self

    def _discard_fit(self):
        """Remove every fitted attribute: a failed fit leaves the estimator unfitted."""
        for name in list(vars(self)):
            if (name.endswith("_") and not name.startswith("__")) or name in (
                "_training_state",
                "_run",
            ):
                delattr(self, name)

    def _seeds(self):
        """Seeds of the initialisation, the shuffling and the validation split."""
        return check_random_state(self.random_state).randint(2**31 - 1, size=3)

    def _prepare_run(self, X, incremental, continuing):
        """Resolve the network, the data, the split and the optimizer of this call."""
        n_samples, n_features = X.shape
        init_seed, shuffle_seed, split_seed = self._seeds()
        architecture, input_shape = self._resolve_architecture(n_features)
        if continuing and not self._is_fitted_network(architecture, input_shape):
            raise ValueError(
                f"Cannot continue training (warm_start=True or partial_fit): the parameters "
                f"now describe another network (a {architecture} network for samples of "
                f"shape {input_shape}, with these widths and branches) than the fitted "
                f"{self.architecture_} network for {self.input_shape_}; set warm_start=False "
                "to fit afresh."
            )
        device = str(resolve_device(self.device))
        data = make_training_data(X, input_shape, device)

        run = _TrainingRun(data=data)
        n_train = n_samples
        if self.early_stopping and not incremental:
            n_validation = math.ceil(self.validation_fraction * n_samples)
            if n_validation < 2 or n_samples - n_validation < 2:
                raise ValueError(
                    f"early_stopping needs at least 2 training and 2 validation samples: "
                    f"validation_fraction={self.validation_fraction} of {n_samples} samples "
                    f"holds out {n_validation}. Use more samples or another "
                    "validation_fraction, or early_stopping=False."
                )
            order = torch.randperm(n_samples, generator=torch.Generator().manual_seed(
                int(split_seed)))
            run.validation_indices, run.train_indices = order[:n_validation], order[n_validation:]
            n_train = n_samples - n_validation
        batch_size = min(self.batch_size, n_train)
        run.steps_per_epoch = n_train // batch_size

        if continuing:
            if self.device_ != device:
                self.module_.to(device)
        else:
            self.architecture_, self.input_shape_ = architecture, input_shape
            self.device_ = device
            self.history_ = []
            self.n_iter_ = self.n_steps_ = 0
            self.module_ = self._initialize_module(torch.Generator().manual_seed(int(init_seed)))
        self.device_ = device
        self.batch_size_ = batch_size
        self._check_module(data.batch(torch.arange(2)))
        run.model = self._wrap_module(self.module_)
        run.optimizer = self._initialize_optimizer(run.model)
        run.shuffle_generator = torch.Generator()
        # A model loaded from a weights-only file has no optimizer state: it continues from its
        # weights with a fresh optimizer and shuffling seeded like a new fit.
        training_state = getattr(self, "_training_state", None) if continuing else None
        if training_state is not None:
            training_state = _state_from_bytes(training_state)
            run.optimizer.load_state_dict(training_state["optimizer"])
            run.shuffle_generator.set_state(training_state["shuffle_generator"])
        else:
            run.shuffle_generator.manual_seed(int(shuffle_seed))
        run.epoch = self.n_iter_
        n_epochs = 1 if incremental else self._resolve_max_epochs(run.steps_per_epoch)
        run.last_epoch = run.epoch + n_epochs
        run.incremental = incremental
        return run

    def _is_fitted_network(self, architecture, input_shape):
        """Whether the parameters still describe ``module_`` (same layers and shapes)."""
        if (architecture, input_shape) != (self.architecture_, self.input_shape_):
            return False
        wanted = self._build_on_meta(architecture, input_shape)
        if wanted is None:  # a callable: only its output shapes are checked, by _check_module
            return True
        have = self.module_.state_dict()
        return [(k, v.shape) for k, v in wanted.state_dict().items()] == [
            (k, v.shape) for k, v in have.items()
        ]

    def _resolve_max_epochs(self, steps_per_epoch):
        if self.max_epochs != "auto":
            return self.max_epochs
        return max(AUTO_MIN_EPOCHS, math.ceil(AUTO_MIN_STEPS / steps_per_epoch))

    def _resolve_architecture(self, n_features):
        shape = None
        if self.input_shape is not None:
            shape = _int_tuple(self.input_shape, "input_shape", min_length=1)
            if math.prod(shape) != n_features:
                raise ValueError(
                    f"input_shape={shape} describes {math.prod(shape)} values per sample but "
                    f"X has {n_features} features; rows of X must be samples of that shape "
                    "flattened in C order."
                )
        if callable(self.architecture):
            return "callable", shape or (n_features,)
        kind = self.architecture
        if kind == "auto":
            kind = "mlp" if shape is None else "conv"
        if kind == "conv" and (shape is None or len(shape) != 3):
            raise ValueError(
                "architecture='conv' needs input_shape=(channels, height, width), e.g. "
                f"(3, 32, 32) for flattened CIFAR images; got input_shape={self.input_shape!r}."
            )
        return kind, (shape if kind == "conv" else (n_features,))

    def _initialize_module(self, generator=None):
        """Build the network on the CPU, initialise it from ``generator``, move it to the device.

        COREL's own networks are built on the ``meta`` device (no random draws) and then drawn
        from ``generator`` exactly as torch's default initialisation would draw them from the
        global generator, so weights equal those of ``torch.manual_seed(seed)`` + construction.
        With ``generator=None`` (weights about to be loaded) they are left uninitialised.
        """
        module = self._build_on_meta(self.architecture_, self.input_shape_)
        if module is not None:
            module = module.to_empty(device="cpu")
        else:
            encoder, decoder = self.architecture(
                input_shape=self.input_shape_,
                n_branches=self.n_branches,
                branch_dim=self.branch_dim,
            )
            module = Autoencoder(encoder, decoder).cpu()
        if generator is not None:
            initialize_parameters(module, generator)
        return module.to(self.device_)

    def _build_on_meta(self, architecture, input_shape):
        """COREL's network for these parameters on the ``meta`` device; None for a callable."""
        if architecture == "conv":
            channels = _int_tuple(self.conv_channels, "conv_channels", min_length=1)
            with torch.device("meta"):
                return ConvAutoencoder(
                    input_shape, self.n_branches, self.branch_dim, channels=channels
                )
        if architecture == "mlp":
            hidden = _int_tuple(self.hidden_layer_sizes, "hidden_layer_sizes")
            with torch.device("meta"):
                return MLPAutoencoder(
                    math.prod(input_shape), hidden, self.n_branches, self.branch_dim
                )
        return None

    def _wrap_module(self, module):
        """The module the training steps run (e.g. a DistributedDataParallel wrapper)."""
        return module

    def _initialize_optimizer(self, model):
        return torch.optim.Adam(model.parameters(), lr=self.learning_rate)

    def _check_module(self, x):
        """Fail early, with shapes, when the network does not map ``x`` as expected."""
        latent_dim = self.n_branches * self.branch_dim
        self.module_.eval()  # no side effects, e.g. on batch-norm statistics
        with torch.no_grad():
            x_hat, z = self.module_(x)
        if tuple(z.shape) != (len(x), latent_dim) or x_hat.shape != x.shape:
            raise ValueError(
                f"The {self.architecture_} network maps a batch of shape {tuple(x.shape)} to "
                f"codes of shape {tuple(z.shape)} and reconstructions of shape "
                f"{tuple(x_hat.shape)}; expected ({len(x)}, {latent_dim}) = (batch, "
                f"n_branches * branch_dim) and {tuple(x.shape)}."
            )

    def _callbacks(self, run):
        """The estimator's early stopping, then the user's callbacks, then the progress bar."""
        callbacks = []
        run.early_stopping = None
        if run.validation_indices is not None:
            run.early_stopping = EarlyStopping(
                "validation_loss", n_iter_no_change=self.n_iter_no_change, tol=self.tol
            )
            callbacks.append(run.early_stopping)
        for callback in self.callbacks or ():
            hooks = ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end",
                     "on_train_end")
            if not any(callable(getattr(callback, hook, None)) for hook in hooks):
                raise TypeError(
                    f"callbacks must hold objects with hooks such as on_epoch_end (subclass "
                    f"corel_sklearn.callbacks.Callback); got {callback!r}."
                )
            callbacks.append(callback)
        if self.verbose:
            callbacks.append(ProgressBar())
        return callbacks

    @staticmethod
    def _call(callbacks, hook, *args):
        """Call ``hook`` on every callback that has it; True when any of them returned True."""
        results = [getattr(cb, hook)(*args) for cb in callbacks if hasattr(cb, hook)]
        return any(result is True for result in results)

    def _train(self, run):
        """The epochs of one call: callbacks, divergence, interruption, convergence."""
        callbacks = self._callbacks(run)
        info = {
            "first_epoch": run.epoch + 1,
            "last_epoch": run.last_epoch,
            "steps_per_epoch": run.steps_per_epoch,
            "n_samples": self._n_train(run),
            "n_validation": 0 if run.validation_indices is None else len(run.validation_indices),
        }
        self._run = run
        self._run_callbacks = callbacks
        reason = "error"
        try:
            self._call(callbacks, "on_train_begin", self, info)
            reason = self._train_epochs(run, callbacks)
        except _Divergence as exc:
            reason = "diverged"
            raise _DivergedError(str(exc)) from None
        finally:
            run.model.eval()
            self.module_.eval()
            if reason != "error":
                # Kept as bytes: pickles and skops files hold no live optimizer objects.
                self._training_state = _state_bytes(self._training_state_of(run))
            try:
                self._call(callbacks, "on_train_end", self, reason)
            finally:
                del self._run, self._run_callbacks
        early = run.early_stopping
        if early is not None and early.best_epoch_ is not None:
            self.best_validation_loss_ = early.best_
        if reason == "max_epochs" and not run.incremental:
            self._warn_if_not_converged()

    def _n_train(self, run):
        return run.data.n_samples if run.train_indices is None else len(run.train_indices)

    def _train_epochs(self, run, callbacks):
        """Run epochs until the last one, a callback's stop, a Ctrl-C or a divergence."""
        last_good = None
        with _DeferredInterrupt(run):
            while run.epoch < run.last_epoch:
                epoch = run.epoch + 1
                last_good = self._snapshot(run, last_good)
                try:
                    self._call(callbacks, "on_epoch_begin", self, epoch)
                    record = self._run_epoch(run, epoch, callbacks)
                except _Divergence as exc:
                    self._restore_snapshot(run, last_good)
                    kept = f"the end of epoch {epoch - 1}" if epoch > 1 else "the initialisation"
                    raise _Divergence(
                        f"Training diverged in epoch {epoch}: {exc}. Try a lower "
                        f"learning_rate, e.g. {self.learning_rate / 10:g} (now "
                        f"{self.learning_rate:g}), or scale X (e.g. to [0, 1]). module_ keeps "
                        f"the last good weights, from {kept}."
                    ) from None
                except KeyboardInterrupt:
                    record = None
                    run.interrupt_requested = True
                if record is not None:
                    self._append_record(run, record)
                if not run.interrupt_requested:
                    try:
                        if self._call(callbacks, "on_epoch_end", self, record):
                            return "stopped"
                    except KeyboardInterrupt:
                        run.interrupt_requested = True
                if run.interrupt_requested:
                    self._finish_interrupted(run, epoch, record, last_good)
                    return "interrupted"
        return "max_epochs"

    def _append_record(self, run, record):
        run.epoch = record["epoch"]
        self.history_.append(record)
        self.n_iter_ = len(self.history_)
        self.n_steps_ += record["n_steps"]

    def _finish_interrupted(self, run, epoch, record, last_good):
        """Warn that Ctrl-C stopped training; keep the weights after the last whole step."""
        if not all(bool(torch.isfinite(p).all()) for p in self.module_.parameters()):
            # Interrupted inside an optimizer step: fall back to the start of the epoch.
            if record is not None:
                self.history_.pop()
                self.n_iter_ = len(self.history_)
            self._restore_snapshot(run, last_good)
            self.n_steps_ = last_good["n_steps"]
            record = None
        steps = 0 if record is None else record["n_steps"]
        warnings.warn(
            f"Training interrupted (KeyboardInterrupt) in epoch {epoch} after step {steps} of "
            f"{run.steps_per_epoch}; the estimator keeps the weights after that step and the "
            f"history so far ({self.n_iter_} epochs, {self.n_steps_} steps). Call fit with "
            "warm_start=True to continue.",
            UserWarning,
            stacklevel=7,  # the user's fit call
        )

    def _training_state_of(self, run):
        """What continuing needs besides the weights: the optimizer's and the shuffling state."""
        return {
            "optimizer": run.optimizer.state_dict(),
            "shuffle_generator": run.shuffle_generator.get_state(),
        }

    def _snapshot_tensors(self, run):
        tensors = list(self.module_.state_dict().values())
        for state in run.optimizer.state.values():
            tensors.extend(value for value in state.values() if torch.is_tensor(value))
        return tensors

    def _snapshot(self, run, snapshot=None):
        """Copy the weights and the optimizer's tensors, the last good state of an epoch.

        Taken before every epoch, so it reuses the previous snapshot's buffers (one in-place
        copy per tensor): with one step per epoch a fresh deep copy would cost as much as the
        step itself.
        """
        tensors = self._snapshot_tensors(run)
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
            "n_steps": self.n_steps_,
        }

    def _restore_snapshot(self, run, snapshot):
        if not snapshot["has_optimizer_state"]:
            run.optimizer.state.clear()  # before the first step: Adam has no moments yet
        with torch.no_grad():
            tensors = self._snapshot_tensors(run)
            for tensor, buffer in zip(tensors, snapshot["buffers"], strict=True):
                tensor.copy_(buffer)
        run.shuffle_generator.set_state(snapshot["shuffle_generator"])

    def _epoch_order(self, run):
        """This epoch's shuffled training indices (the whole permutation, on the CPU)."""
        order = torch.randperm(self._n_train(run), generator=run.shuffle_generator)
        return order if run.train_indices is None else run.train_indices[order]

    def _run_epoch(self, run, epoch, callbacks):
        """One shuffled pass; the last partial batch is dropped (never all: n_steps >= 1).

        Returns the epoch's ``history_`` record, also when a Ctrl-C stops it after some steps
        (then ``n_steps`` counts those); None when it stopped before the first.
        """
        start = time.perf_counter()
        order = self._epoch_order(run)
        batch_size = self.batch_size_
        rec_sum = conn_sum = 0.0
        z = None
        n_done = 0
        run.model.train()
        for step in range(run.steps_per_epoch):
            x = run.data.batch(order[step * batch_size : (step + 1) * batch_size])
            try:
                rec, conn, z = self._train_step(run.model, run.optimizer, x)
                if x.device.type == "cpu":  # the step is synchronous there: checking is free
                    self._check_blowup(run, rec, conn)
            except _Divergence as exc:
                raise _Divergence(f"{exc} in step {step + 1} of {run.steps_per_epoch}") from None
            except KeyboardInterrupt:
                run.interrupt_requested = True
                break
            n_done += 1
            rec_sum = rec_sum + rec
            conn_sum = conn_sum + conn
            if callbacks:
                try:
                    self._call(callbacks, "on_batch_end", self, epoch, step + 1)
                except KeyboardInterrupt:  # the step itself completed
                    run.interrupt_requested = True
            if run.interrupt_requested:
                break
        if n_done == 0:
            return None
        # On an accelerator the steps run asynchronously and are checked here, once per epoch.
        losses = rec_sum + conn_sum if self.connectivity_weight > 0 else rec_sum
        if not bool(torch.isfinite(losses)):
            raise _Divergence("the losses became NaN or inf")
        if not all(bool(torch.isfinite(p).all()) for p in self.module_.parameters()):
            raise _Divergence("the weights became NaN or inf")
        with torch.no_grad():
            death_times = branch_death_times(z, self.n_branches)[0].flatten()
        record = {
            "epoch": epoch,
            "reconstruction_loss": float(rec_sum) / n_done,
            "connectivity_loss": float(conn_sum) / n_done,
            "death_time_min": float(death_times.min()),
            "death_time_median": float(death_times.quantile(0.5)),
            "death_time_mean": float(death_times.mean()),
            "death_time_max": float(death_times.max()),
        }
        self._check_epoch_blowup(run, record)
        if run.validation_indices is not None and n_done == run.steps_per_epoch:
            record["validation_loss"] = self._validation_loss(run)
        record["n_steps"] = n_done
        record["wall_time"] = time.perf_counter() - start
        return record

    def _check_blowup(self, run, rec, conn):
        """Stop a step whose loss or codes are no longer finite, or whose loss exploded."""
        loss = float(rec) + (self.connectivity_weight * float(conn)
                             if self.connectivity_weight > 0 else 0.0)
        if not math.isfinite(loss):
            raise _Divergence("the loss became NaN or inf")
        if run.first_loss is None:
            run.first_loss = loss
        if loss > BLOWUP_LOSS_FACTOR * run.best_loss and loss > run.first_loss:
            raise _Divergence(
                f"the loss blew up to {loss:.4g}, more than {BLOWUP_LOSS_FACTOR:g} times its "
                f"best so far ({run.best_loss:.4g})"
            )
        run.best_loss = min(run.best_loss, loss)

    def _check_epoch_blowup(self, run, record):
        """Death times far beyond eta (and the start) mean the codes are exploding."""
        if self.connectivity_weight == 0:
            return
        median = record["death_time_median"]
        if run.first_death_time is None:
            run.first_death_time = median
        limit = BLOWUP_DEATH_FACTOR * self.eta
        if median > limit and median > 10 * run.first_death_time:
            raise _Divergence(
                f"the codes blew up: the median death time is {median:.4g}, more than "
                f"{BLOWUP_DEATH_FACTOR:g} times eta={self.eta:g}"
            )

    def _train_step(self, model, optimizer, x):
        """One Adam step on a batch; returns the detached losses and codes."""
        x_hat, z = model(x)
        rec = self._reconstruction_loss(x_hat, x)
        # On the CPU this check is free, and it stops the epoch at the first bad step; on an
        # accelerator it would stall the pipeline, so _run_epoch checks once per epoch instead.
        if x.device.type == "cpu" and not bool(torch.isfinite(rec) & torch.isfinite(z).all()):
            raise _Divergence("the reconstruction loss or the codes became NaN or inf")
        if self.connectivity_weight > 0:
            conn = self._connectivity_loss(z)
            loss = rec + self.connectivity_weight * conn
            conn = conn.detach()
        else:
            conn, loss = math.nan, rec
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return rec.detach(), conn, z.detach()

    def _validation_loss(self, run):
        """Mean over the held-out samples of reconstruction + weight * connectivity loss.

        Batches of ``batch_size_`` (at most the split's size, nearly equal so none is tiny);
        each batch's loss is weighted by its size.
        """
        indices = run.validation_indices
        n_batches = math.ceil(len(indices) / min(self.batch_size_, len(indices)))
        total = 0.0
        run.model.eval()
        with torch.no_grad():
            for chunk in indices.tensor_split(n_batches):
                x = run.data.batch(chunk)
                x_hat, z = run.model(x)
                loss = self._reconstruction_loss(x_hat, x)
                if self.connectivity_weight > 0:
                    loss = loss + self.connectivity_weight * self._connectivity_loss(z)
                total += float(loss) * len(chunk)
        run.model.train()
        return total / len(indices)

    def _reconstruction_loss(self, x_hat, x):
        """l1 error summed over each sample's values, averaged over the batch (as the paper)."""
        return (x_hat - x).abs().flatten(1).sum(1).mean()

    def _connectivity_loss(self, z):
        return connectivity_loss(z, eta=self.eta, n_branches=self.n_branches, metric="l1")

    def _warn_if_not_converged(self):
        """ConvergenceWarning when the codes did not reach the scale eta (MLP's convention)."""
        if self.connectivity_weight == 0 or not self.history_:
            return
        problems = []
        low, high = (f * self.eta for f in CONVERGED_DEATH_BAND)
        median = self.history_[-1]["death_time_median"]
        if not low <= median <= high:
            problems.append(
                f"the last epoch's median death time is {median:.3g}, outside "
                f"[{low:g}, {high:g}] = [0.75 eta, 1.25 eta]"
            )
        share, window = _recent_share_of_decrease(
            [h["connectivity_loss"] for h in self.history_]
        )
        if share > CONVERGED_MAX_SHARE:
            problems.append(
                f"the connectivity loss was still falling: its last {window} epochs brought "
                f"{100 * share:.0f} % of its decrease since the first {window}"
            )
        if problems:
            warnings.warn(
                f"TopoAutoencoder stopped after {self.n_iter_} epochs ({self.n_steps_} "
                f"optimizer steps) before its codes were organised at the scale eta: "
                f"{'; '.join(problems)}. Increase max_epochs (now {self.max_epochs!r}), "
                "or warm_start=True and fit again to continue.",
                ConvergenceWarning,
                stacklevel=6,  # the user's fit call (through _train, _fit, fit, _fit_context)
            )

    # ---------------------------------------------------------- checkpoints

    def _checkpoint(self):
        """The training state as plain containers, what a ``Checkpoint`` file holds."""
        run = self._run
        callback_states = {
            str(i): cb.state_dict()
            for i, cb in enumerate(self._run_callbacks)
            if isinstance(cb, EarlyStopping)
        }
        return {
            "format": _CHECKPOINT_FORMAT,
            "params": self._checkpoint_params(),
            "n_samples": run.data.n_samples,
            "n_features_in": self.n_features_in_,
            "epoch": run.epoch,
            "n_steps": self.n_steps_,
            "history": [dict(h) for h in self.history_],
            "module": _clone_state(self.module_.state_dict()),
            **copy.deepcopy(self._training_state_of(run)),
            "callbacks": callback_states,
        }

    def _checkpoint_params(self):
        """The parameters a resumed fit must share, as strings (callables by name)."""
        params = {}
        for name, value in self.get_params(deep=False).items():
            if name in _RESUMABLE_PARAMS:
                continue
            if callable(value) or isinstance(value, np.random.RandomState):
                value = getattr(value, "__qualname__", type(value).__qualname__)
            params[name] = repr(value)
        return params

    def _load_checkpoint(self, state, source="the checkpoint"):
        """Continue from ``state`` (from :meth:`_checkpoint`); called when training begins."""
        if not isinstance(state, dict) or state.get("format") != _CHECKPOINT_FORMAT:
            raise ValueError(f"{source} is not a TopoAutoencoder checkpoint.")
        run = self._run
        params = self._checkpoint_params()
        differ = sorted(
            f"{name}={state['params'].get(name)} in the checkpoint, {value} now"
            for name, value in params.items()
            if state["params"].get(name) != value
        )
        if state["n_samples"] != run.data.n_samples or state["n_features_in"] != (
            self.n_features_in_
        ):
            differ.append(
                f"data of shape ({state['n_samples']}, {state['n_features_in']}) in the "
                f"checkpoint, ({run.data.n_samples}, {self.n_features_in_}) now"
            )
        if differ:
            raise ValueError(
                f"Cannot resume from {source}: it was written by a different fit: "
                f"{'; '.join(differ)}. Use the same parameters and data, or another path."
            )
        self.module_.load_state_dict(state["module"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.shuffle_generator.set_state(state["shuffle_generator"])
        self.history_ = [dict(h) for h in state["history"]]
        self.n_iter_ = len(self.history_)
        self.n_steps_ = int(state["n_steps"])
        run.epoch = int(state["epoch"])
        for i, cb in enumerate(self._run_callbacks):
            if isinstance(cb, EarlyStopping) and str(i) in state["callbacks"]:
                cb.load_state_dict(state["callbacks"][str(i)])

    # ------------------------------------------------------------ inference

    def transform(self, X):
        """Encode ``X`` to its latent codes.

        Parameters
        ----------
        X : array-like, np.memmap or dataset of shape (n_samples, n_features)
            Samples, flattened like the training data; uint8 pixels, memmaps and datasets
            as in :meth:`fit`, read ``inference_batch_size`` rows at a time.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_branches * branch_dim), dtype float32
            The codes; branch ``k`` is ``Z[:, k * branch_dim:(k + 1) * branch_dim]``.
        """
        check_is_fitted(self)
        X = check_input(self, X, reset=False)
        return encoder_codes(self._apply(self.module_.encoder, X, self.input_shape_), self)

    def inverse_transform(self, X):
        """Decode latent codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_branches * branch_dim)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, `n_features_in_`), dtype float32
            The reconstructions, flattened like the training data.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float32, order="C")
        latent_dim = self.n_branches * self.branch_dim
        if Z.shape[1] != latent_dim:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}.inverse_transform "
                f"expects codes with n_branches * branch_dim = {latent_dim} features."
            )
        return self._apply(self.module_.decoder, Z, (latent_dim,)).reshape(len(Z), -1)

    def _apply(self, network, X, sample_shape):
        """Run ``network`` on ``X`` in batches of ``inference_batch_size``; a float32 array."""
        self.module_.eval()
        outputs = []
        with torch.inference_mode():
            for batch in inference_batches(
                X, sample_shape, self.device_, self.inference_batch_size
            ):
                outputs.append(network(batch).cpu().numpy())
        if not outputs:
            return np.empty((0, *sample_shape), dtype=np.float32)
        return np.concatenate(outputs)

    def get_feature_names_out(self, input_features=None):
        """Names of the code features: ``branch{k}_dim{j}``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (n_branches * branch_dim,)
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray(
            [f"branch{k}_dim{j}" for k in range(self.n_branches) for j in range(self.branch_dim)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.allow_nan = False
        return tags

    # ---------------------------------------------------------- persistence

    def __getstate__(self):
        state = dict(super().__getstate__())
        if "module_" in state:
            # Weights only: the network is rebuilt from the fitted parameters when unpickled,
            # so loading never runs code from the file (torch.load(weights_only=True)).
            state["module_"] = state_dict_bytes(state["module_"])
        return state

    def __setstate__(self, state):
        if not isinstance(state.get("module_"), bytes):
            super().__setstate__(state)
            return
        device = loadable_device(state["device_"])
        weights, legacy_module = load_weights(state["module_"], device)
        super().__setstate__({**state, "module_": legacy_module, "device_": str(device)})
        if legacy_module is None:
            # COREL's networks are built on the meta device (no random draws, no global
            # generator touched, safe in any thread); a callable architecture is called again
            # here (pickle stores it by reference), as at fit time.
            self.module_ = self._initialize_module()
            self.module_.load_state_dict(weights)
            self.module_.eval()
