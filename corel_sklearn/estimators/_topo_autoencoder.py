"""TopoAutoencoder: an autoencoder whose codes are trained to be eta-connected (COREL)."""

import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from corel_sklearn._device import loadable_device, resolve_device
from corel_sklearn._sklearn_compat import (
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
    validate_data,
)
from corel_sklearn._weights import load_weights, state_dict_bytes
from corel_sklearn.estimators._base import DocLinkMixin
from corel_sklearn.losses import connectivity_loss
from corel_sklearn.networks import Autoencoder, ConvAutoencoder, MLPAutoencoder
from corel_sklearn.pershom import branch_death_times

# Rows per forward pass in transform / inverse_transform: bounds memory, amortises dispatch.
_INFERENCE_BATCH_SIZE = 1024
# The training set moves to an accelerator once when it takes at most this share of its free
# memory; otherwise it stays on the host and each batch is copied over.
_DEVICE_MEMORY_SHARE = 0.5


class _Divergence(Exception):
    """Raised inside an epoch when the losses, codes or weights stop being finite."""


def _as_tensor(array):
    """A float32 tensor sharing ``array``'s memory when it can (torch needs it writable)."""
    return torch.from_numpy(array) if array.flags.writeable else torch.tensor(array)


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
    shuffled batches of 100 (the last partial batch dropped), 50 epochs. Vector data gets an
    MLP with the same branch-diagonal latent layer
    (:class:`~corel_sklearn.networks.MLPAutoencoder`).

    Parameters
    ----------
    architecture : {"auto", "mlp", "conv"} or callable, default="auto"
        ``"conv"``: the paper's convolutional autoencoder, for flattened images of shape
        ``input_shape``. ``"mlp"``: a fully connected autoencoder. ``"auto"``: ``"conv"`` when
        ``input_shape`` is given, else ``"mlp"``. A callable is called as
        ``architecture(input_shape=..., n_branches=..., branch_dim=...)`` and returns
        ``(encoder, decoder)`` torch modules; the encoder maps ``(B, *input_shape)`` to
        ``(B, n_branches * branch_dim)`` and the decoder maps back (``input_shape`` is
        ``(n_features,)`` when the parameter is None). It is built on the CPU under the
        estimator's seed, then moved to ``device_``.
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
        to ``n_samples`` when larger (see ``batch_size_``).
    max_epochs : int, default=50
        Number of passes over the training data.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    device : str or torch.device, default="auto"
        Where to train and infer: ``"auto"`` picks CUDA when available, else the CPU; or any
        torch device (``"cpu"``, ``"cuda"``, ``"cuda:1"``). Resolved in ``fit`` only.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation and the shuffling. Fits with the same integer give
        bit-identical codes on the CPU.
    verbose : int, default=0
        0 is silent; 1 shows a tqdm progress bar with the losses of the last epoch.

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
        The batch size used: ``min(batch_size, n_samples)``.
    history_ : list of dict
        One dict per completed epoch with keys ``epoch``; ``reconstruction_loss`` and
        ``connectivity_loss`` (means over the epoch's steps; the latter unweighted and NaN when
        ``connectivity_weight == 0``, where it is not computed); ``death_time_min``,
        ``death_time_mean``, ``death_time_max`` (over all branches of the epoch's last batch,
        whose codes are re-used, so this costs one extra MST per epoch: is ``eta`` reached?);
        ``n_steps``; ``wall_time`` (seconds). ``pandas.DataFrame(history_)`` tabulates it.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    corel_sklearn.losses.connectivity_loss : The loss on a batch of codes.
    corel_sklearn.networks.ConvAutoencoder : The paper's network.

    Notes
    -----
    Training stops with a ValueError naming the epoch when the loss, the codes or the weights
    become NaN or inf (lower ``learning_rate``); ``module_`` then keeps the finite weights from
    the end of the last completed epoch. Pickles store the network as CPU-loadable bytes
    (``torch.save``), so a model fitted on CUDA unpickles on a machine without it.

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
    >>> len(ae.history_), sorted(ae.history_[0])[:3]
    (2, ['connectivity_loss', 'death_time_max', 'death_time_mean'])
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
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
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
        max_epochs=50,
        learning_rate=1e-3,
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
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (flattened images when ``input_shape`` is given), at least 2 rows,
            finite. Converted to float32 once and, on an accelerator, moved there once when
            it fits.
        y : None
            Ignored.

        Returns
        -------
        self : TopoAutoencoder
            The fitted estimator.
        """
        X = validate_data(self, X, dtype=np.float32, order="C", ensure_min_samples=2)
        n_samples, n_features = X.shape
        self.architecture_, self.input_shape_ = self._resolve_architecture(n_features)
        self.device_ = str(resolve_device(self.device))
        self.batch_size_ = min(self.batch_size, n_samples)
        self.history_ = []
        seed, shuffle_seed = check_random_state(self.random_state).randint(2**31 - 1, size=2)
        data = self._training_tensor(X)
        # The global CPU generator is seeded (and restored afterwards) for the initialisation
        # and for any randomness inside a custom module; shuffling has its own generator.
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(int(seed))
            self.module_ = self._initialize_module()
            self._check_module(data[:2])
            self._fit_epochs(data, torch.Generator().manual_seed(int(shuffle_seed)))
        return self

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

    def _initialize_module(self):
        """Build the network on the CPU (under the estimator's seed) and move it to the device."""
        if self.architecture_ == "conv":
            module = ConvAutoencoder(
                self.input_shape_,
                self.n_branches,
                self.branch_dim,
                channels=_int_tuple(self.conv_channels, "conv_channels", min_length=1),
            )
        elif self.architecture_ == "mlp":
            module = MLPAutoencoder(
                self.n_features_in_,
                _int_tuple(self.hidden_layer_sizes, "hidden_layer_sizes"),
                self.n_branches,
                self.branch_dim,
            )
        else:
            encoder, decoder = self.architecture(
                input_shape=self.input_shape_,
                n_branches=self.n_branches,
                branch_dim=self.branch_dim,
            )
            module = Autoencoder(encoder, decoder)
        return module.to(self.device_)

    def _check_module(self, x):
        """Fail early, with shapes, when the network does not map ``x`` as expected."""
        latent_dim = self.n_branches * self.branch_dim
        self.module_.eval()  # no side effects, e.g. on batch-norm statistics
        with torch.no_grad():
            x_hat, z = self.module_(x.to(self.device_))
        if tuple(z.shape) != (len(x), latent_dim) or x_hat.shape != x.shape:
            raise ValueError(
                f"The {self.architecture_} network maps a batch of shape {tuple(x.shape)} to "
                f"codes of shape {tuple(z.shape)} and reconstructions of shape "
                f"{tuple(x_hat.shape)}; expected ({len(x)}, {latent_dim}) = (batch, "
                f"n_branches * branch_dim) and {tuple(x.shape)}."
            )

    def _training_tensor(self, X):
        """The training set as one float32 tensor, on the device when it fits there."""
        data = _as_tensor(X).view(len(X), *self.input_shape_)
        device = torch.device(self.device_)
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if data.nbytes > _DEVICE_MEMORY_SHARE * free:
                return data  # stays on the host; batches are copied over one by one
        return data.to(device)

    def _initialize_optimizer(self):
        return torch.optim.Adam(self.module_.parameters(), lr=self.learning_rate)

    def _fit_epochs(self, data, generator):
        n_steps = len(data) // self.batch_size_
        optimizer = self._initialize_optimizer()
        progress = self._progress_bar(self.max_epochs * n_steps)
        self.module_.train()
        try:
            for epoch in range(1, self.max_epochs + 1):
                last_good = {k: v.detach().clone() for k, v in self.module_.state_dict().items()}
                start = time.perf_counter()
                try:
                    record = self._run_epoch(data, optimizer, generator, n_steps, progress)
                except _Divergence as exc:
                    self.module_.load_state_dict(last_good)
                    kept = f"epoch {epoch - 1}" if epoch > 1 else "initialisation"
                    raise ValueError(
                        f"Training diverged in epoch {epoch}: {exc}. Try a lower "
                        f"learning_rate (now {self.learning_rate:g}) or scale X (e.g. to "
                        f"[0, 1]). module_ keeps the finite weights from the {kept}."
                    ) from None
                record = {"epoch": epoch, **record, "wall_time": time.perf_counter() - start}
                self.history_.append(record)
                if progress is not None:
                    progress.set_postfix(
                        epoch=epoch,
                        rec=f"{record['reconstruction_loss']:.4g}",
                        conn=f"{record['connectivity_loss']:.4g}",
                        death=f"{record['death_time_mean']:.3g}",
                    )
        finally:
            self.module_.eval()
            if progress is not None:
                progress.close()

    def _progress_bar(self, total):
        if not self.verbose:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=type(self).__name__, unit="step")

    def _run_epoch(self, data, optimizer, generator, n_steps, progress):
        """One shuffled pass; the last partial batch is dropped (never all: n_steps >= 1)."""
        order = torch.randperm(len(data), generator=generator).to(data.device)
        device = torch.device(self.device_)
        rec_sum = conn_sum = 0.0
        for step in range(n_steps):
            index = order[step * self.batch_size_ : (step + 1) * self.batch_size_]
            x = data[index].to(device, non_blocking=True)
            try:
                rec, conn, z = self._train_step(x, optimizer)
            except _Divergence as exc:
                raise _Divergence(f"{exc} in step {step + 1} of {n_steps}") from None
            rec_sum = rec_sum + rec
            conn_sum = conn_sum + conn
            if progress is not None:
                progress.update()
        # On an accelerator the steps run asynchronously and are checked here, once per epoch.
        losses = rec_sum + conn_sum if self.connectivity_weight > 0 else rec_sum
        if not bool(torch.isfinite(losses)):
            raise _Divergence("the losses became NaN or inf")
        if not all(bool(torch.isfinite(p).all()) for p in self.module_.parameters()):
            raise _Divergence("the weights became NaN or inf")
        with torch.no_grad():
            death_times, _ = branch_death_times(z, self.n_branches)
        return {
            "reconstruction_loss": float(rec_sum) / n_steps,
            "connectivity_loss": float(conn_sum) / n_steps,
            "death_time_min": float(death_times.min()),
            "death_time_mean": float(death_times.mean()),
            "death_time_max": float(death_times.max()),
            "n_steps": n_steps,
        }

    def _train_step(self, x, optimizer):
        """One Adam step on a batch; returns the detached losses and codes."""
        x_hat, z = self.module_(x)
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

    def _reconstruction_loss(self, x_hat, x):
        """l1 error summed over each sample's values, averaged over the batch (as the paper)."""
        return (x_hat - x).abs().flatten(1).sum(1).mean()

    def _connectivity_loss(self, z):
        return connectivity_loss(z, eta=self.eta, n_branches=self.n_branches, metric="l1")

    # ------------------------------------------------------------ inference

    def transform(self, X):
        """Encode ``X`` to its latent codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples, flattened like the training data.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_branches * branch_dim), dtype float32
            The codes; branch ``k`` is ``Z[:, k * branch_dim:(k + 1) * branch_dim]``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        return self._apply(self.module_.encoder, X, self.input_shape_)

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
        """Run ``network`` on ``X`` in bounded-size batches; returns a float32 array."""
        self.module_.eval()
        device = torch.device(self.device_)
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(X), _INFERENCE_BATCH_SIZE):
                batch = _as_tensor(X[start : start + _INFERENCE_BATCH_SIZE])
                batch = batch.view(len(batch), *sample_shape).to(device)
                outputs.append(network(batch).cpu().numpy())
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
            # Building draws initial weights: the user's global generator is left as it was.
            # A callable architecture is called again here (pickle stores it by reference).
            with torch.random.fork_rng(devices=[]):
                self.module_ = self._initialize_module()
            self.module_.load_state_dict(weights)
            self.module_.eval()
