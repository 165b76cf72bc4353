"""TopoAutoencoder: an autoencoder whose codes are trained to be eta-connected (COREL).

This module is the scikit-learn face: the parameters, the network and inference. Planning a run,
the public step methods and the training state are in ``_topo_training.py`` (a base class); the
loop that calls them is :mod:`corel_sklearn.training`.
"""

import math
import threading
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from corel_sklearn._device import loadable_device
from corel_sklearn._sklearn_compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
)
from corel_sklearn._threads import threads_for_n_jobs, torch_threads
from corel_sklearn._weights import load_weights, state_dict_bytes
from corel_sklearn.estimators._base import DocLinkMixin
from corel_sklearn.estimators._codes import encoder_codes
from corel_sklearn.estimators._data import check_input, inference_batches
from corel_sklearn.estimators._topo_training import TopoTraining
from corel_sklearn.networks import (
    Autoencoder,
    ConvAutoencoder,
    MLPAutoencoder,
    initialize_parameters,
)

# max_epochs="auto": the paper's 50 epochs, extended so that a fit makes at least
# AUTO_MIN_STEPS optimizer steps. CIFAR-10 at batch 100 (500 steps per epoch) gets exactly 50;
# 120 samples at batch 100 (one step per epoch) get 1,000, where 50 steps leave the codes far
# from the scale eta. On the digits (120 of one class, benchmarks/bench_digits_auto_epochs.py)
# the codes reach eta after 200 to 400 steps; 1,000 steps give a mean AUROC of 0.969 over the
# ten digits, all fits at eta without a ConvergenceWarning.
AUTO_MIN_EPOCHS = 50
AUTO_MIN_STEPS = 1000
# torch's global generator is one per process: a callable architecture is built under it,
# seeded, by one fit at a time.
_GLOBAL_GENERATOR_LOCK = threading.Lock()


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


class TopoAutoencoder(TopoTraining, DocLinkMixin, TransformerMixin, BaseEstimator):
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
        ``(n_features,)`` when the parameter is None). It runs with torch's global CPU
        generator seeded from ``random_state`` inside ``torch.random.fork_rng`` (one build at a
        time per process; the caller's generator is restored, never read), so what it draws
        (``torch.randn`` for a custom parameter) is seeded too; then its standard layers
        (``Linear``, ``ConvNd``, ``ConvTransposeNd``, ``BranchLinear``) are re-drawn from the
        fit's own generator. Draws on a CUDA generator are not seeded.
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
        Callback instances whose hooks (:class:`corel_sklearn.training.Callback`) are called
        during training, e.g. :class:`~corel_sklearn.training.Checkpoint`.
    inference_batch_size : int, default=1024
        Rows per forward pass in ``transform`` and ``inverse_transform`` (bounds memory).
    device : str or torch.device, default="auto"
        Where to train and infer: ``"auto"`` picks CUDA when available, else the CPU; or any
        torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``). Resolved in ``fit`` only.
    n_jobs : int or None, default=None
        Threads of torch's own operations during ``fit``, ``partial_fit``, ``transform`` and
        ``inverse_transform`` (scikit-learn's convention: ``-1`` all allowed, ``-k`` all but
        ``k - 1``); torch's setting is restored afterwards. None keeps torch's current
        setting. Never more than torch's or ``OMP_NUM_THREADS``' count. On a CPU that other
        processes keep busy, ``n_jobs=1`` trains many times faster than torch's default
        threads; a fit that finds fewer idle cores than threads logs it once per process.
        For a given setting the results are bit-identical.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling and the validation split, through
        generators owned by the fit (torch's global generator is neither used nor changed).
        Fits with the same integer give bit-identical codes on the CPU, also when run in
        parallel threads (also with a callable ``architecture``, see there).
    verbose : int, default=0
        0 is silent; 1 shows a progress bar (:class:`~corel_sklearn.training.ProgressBar`).

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
        stopping); ``n_steps``; ``learning_rate`` (Adam's); ``wall_time`` (seconds).
        ``pandas.DataFrame(history_)`` tabulates it.
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
    corel_sklearn.training : The training loop, its callbacks and the step methods below.

    Notes
    -----
    A fit that ends with the codes away from the scale ``eta`` (the last epoch's median death
    time outside ``[0.75 eta, 1.25 eta]``, or the connectivity loss still falling: its last
    tenth of the epochs brought more than 5 % of its decrease) emits a ``ConvergenceWarning``:
    raise ``max_epochs`` (a caller can name its own knob instead, see
    :func:`corel_sklearn.training.convergence_advice`).

    Training stops with a ValueError naming the epoch and step when the loss, the codes or the
    weights become NaN or inf, or blow up first (a loss 1,000 times its best, death times
    100 times ``eta``); lower ``learning_rate``. ``module_`` then keeps the weights from the end
    of the last good epoch. Ctrl-C (KeyboardInterrupt) stops after the current step with a
    warning and leaves a fitted estimator. Any other exception in a continuation
    (``warm_start=True`` or ``partial_fit`` on a fitted estimator) leaves the previous fitted
    state exactly as it was; in a fresh fit it leaves the estimator unfitted. An exception
    raised by a callback's ``on_train_end`` is raised with the trained model kept.

    Codes depend on the batch they are computed in, in the last bits: matrix products
    (``Linear``, ``BranchLinear``, convolutions) pick kernels by batch size, so
    ``transform(X[:1])`` may differ from ``transform(X)[:1]`` by about 1e-7 (elementwise
    activations are batch-invariant; the order of rows in a batch does not matter). For
    bit-identical codes, encode the same rows in batches of the same sizes.

    The training loop is :func:`corel_sklearn.training.train`; it calls the public step
    methods (:meth:`steps_per_epoch`, :meth:`wrap_module`, :meth:`epoch_order`,
    :meth:`train_step`, :meth:`validation_loss`, :meth:`reduce_epoch_record`) that a subclass
    may override, as ``corel_sklearn.distributed`` does.

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
        "n_jobs": [Integral, None],
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
        n_jobs=None,
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
        self.n_jobs = n_jobs
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
            Ignored (labels, e.g. of a classifier later in a pipeline, are allowed).

        Returns
        -------
        self : TopoAutoencoder
            The fitted estimator.
        """
        return self._fit(X, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one epoch on ``X``; the first call initialises the network.

        Later calls continue from the weights, the optimizer's state and the shuffling
        generator's state, as with ``warm_start``; ``max_epochs`` and ``early_stopping`` are
        not used. A call that fails (e.g. ``X`` of another width) leaves the fitted state as
        it was.

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

    def _seeds(self):
        """Seeds of the initialisation, the shuffling and the validation split."""
        return check_random_state(self.random_state).randint(2**31 - 1, size=3)

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

    def _initialize_module(self, seed=None):
        """Build the network on the CPU, initialise it from ``seed``, move it to the device.

        COREL's own networks are built on the ``meta`` device (no random draws) and then drawn
        from a generator seeded with ``seed`` exactly as torch's default initialisation would
        draw them from the global generator, so weights equal those of
        ``torch.manual_seed(seed)`` + construction. A callable architecture runs with torch's
        global CPU generator seeded (``seed``, or 0 when weights are about to be loaded) inside
        ``fork_rng``, one build at a time. With ``seed=None`` the standard layers are left as
        built (weights about to be loaded).
        """
        module = self._build_on_meta(self.architecture_, self.input_shape_)
        if module is not None:
            module = module.to_empty(device="cpu")
        else:
            with _GLOBAL_GENERATOR_LOCK, torch.random.fork_rng(devices=[]):
                torch.manual_seed(0 if seed is None else seed)
                encoder, decoder = self.architecture(
                    input_shape=self.input_shape_,
                    n_branches=self.n_branches,
                    branch_dim=self.branch_dim,
                )
            module = Autoencoder(encoder, decoder).cpu()
        if seed is not None:
            initialize_parameters(module, torch.Generator().manual_seed(seed))
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
            The codes; branch ``k`` is ``Z[:, k * branch_dim:(k + 1) * branch_dim]``. A row's
            code can differ in the last bits with the batch it is encoded in (see Notes).
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
        with torch_threads(threads_for_n_jobs(self.n_jobs)), torch.inference_mode():
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
        state.pop("_run", None)  # pickled inside a hook: the live run is not part of the model
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
