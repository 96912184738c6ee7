"""``AutoencoderReducer``: an autoencoder as a scikit-learn transformer.

It goes where PCA, t-SNE and UMAP go: ``fit`` trains any aekit model on the
(internally standardised) rows of X, ``transform`` returns the deterministic code
(``model.embed``: the posterior mean for a VAE) of new rows without re-fitting,
``inverse_transform`` decodes codes (map positions) back to the original units, and
``score`` is the negative mean squared reconstruction error per row. The shared
plumbing (input checks, scaling, training, device, save/load, pickling) is
:class:`aekit.apps.base.AutoencoderEstimator`.

Objective. With ``objective="tsne"`` (the default) or ``objective="umap"`` the encoder
is trained on a neighbour graph of the rows jointly with the model's own reconstruction
objective::

    L = L_graph(encoder) + lambda * L_model(x) / D

Both graph terms read the fuzzy k-NN graph of the rows (UMAP's,
:func:`aekit.apps.parametric_umap.fuzzy_knn_graph`) and draw its edges with
probability proportional to their weights. ``"tsne"``: ``L_graph = L_nce``, the
contrastive (InfoNCE) form of t-SNE with the batch's other codes as negatives (Damrich
et al. 2023, :func:`~aekit.apps.parametric_umap.infonce_tsne`) and the heavy-tailed
kernel ``(1 + d^2 / nu)^(-nu)`` of Kobak et al. (2019), ``nu = dof`` (1.5: lighter tails
than t-SNE's Cauchy kernel, ``nu = 1``, so fewer neighbourhoods are torn apart).
``"umap"``: ``L_graph = L_umap``, parametric UMAP's sampled cross-entropy (Sainburg et
al. 2021, :func:`~aekit.apps.parametric_umap.umap_cross_entropy`). ``L_model`` is the
model's loss per example (for ``ae`` the summed squared error of the standardised
features), divided by the number of features ``D`` and weighted by
``lambda = reconstruction_weight``. The decoder gets its gradient only from the second
term, so (Adam being invariant to the scale of a parameter's gradient) it learns to
invert the map whatever ``lambda`` is, while ``lambda`` sets how much reconstruction
shapes the map. The graph term's attraction is weighted by ``alpha`` against its
repulsion, ``alpha`` falling linearly from ``early_exaggeration`` (4) at the first step
to 1 at half of the steps, as in t-SNE's early exaggeration: clusters gather and take
their places before the local detail is laid out. With a graph objective the encoder is
an MLP of widths ``(512, 256, 128)`` unless ``hidden_dims`` says otherwise.
``objective="reconstruction"`` trains the model's loss alone (a plain autoencoder's
codes). The default was chosen across data sets
(benchmarks/results/reduce*.md, docs/jobs/reduction.md).

With a graph objective the network sees ``(x - mean) / s`` with one scale ``s`` for all
features (:func:`common_scale`), so it works in the geometry the graph was built in, and
each edge's head ``x_i`` enters the encoder as ``x_i + (jitter * rho_i / sqrt(D)) eps``,
``eps ~ N(0, I)``, ``rho_i`` its nearest-neighbour distance: the encoder must map a
neighbourhood of each row, not only the row, to its place, which is what ``transform``
asks of it for new rows. Training makes ``epochs`` passes over the graph's edges (by
default 75, but at most about 5000 optimiser steps), so small data fits in seconds and
large data in bounded time.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array

from aekit.apps.base import TRAINING_CONSTRAINTS, AutoencoderEstimator, seed_from
from aekit.apps.parametric_umap import find_ab, fuzzy_knn_graph, infonce_tsne, umap_cross_entropy
from aekit.apps.retrieval import exact_neighbors
from aekit.apps.streaming import map_file
from aekit.data.chunks import is_chunkable
from aekit.devices import resolve_device
from aekit.errors import ConfigError, TrainingError
from aekit.rng import private_rng
from aekit.train.config import epochs_cap

DEFAULT_EPOCHS = 100  # objective="reconstruction": passes over the rows
DEFAULT_BATCH = {"reconstruction": 64, "umap": 512, "tsne": 512}  # rows / edges per optimiser step
DEFAULT_LR = {"reconstruction": 1e-3, "umap": 1e-2, "tsne": 5e-3}  # Adam's (initial) learning rate
GRAPH_EPOCHS = 75  # graph objectives, epochs=None: passes over the graph's edges,
MAX_STEPS = 5000  # but at most about this many optimiser steps
GRAPH_DEFAULTS = {"n_neighbors": 15, "min_dist": 0.1, "reconstruction_weight": 0.01,
                  "jitter": 0.5, "early_exaggeration": 4.0, "dof": 1.5, "graph_rows": 50_000}
USED_BY = {**{k: ("umap", "tsne") for k in GRAPH_DEFAULTS},  # the objectives using each
           "min_dist": ("umap",), "dof": ("tsne",)}
EXAGGERATED_SHARE = 0.5  # alpha falls from early_exaggeration to 1 over this share of the steps
GRAPH_HIDDEN_DIMS = (512, 256, 128)  # graph objectives, hidden_dims=None: MLP widths


def common_scale(X: np.ndarray) -> float:
    """One scale for every feature: the root mean of the features' variances (1 when all
    are constant), so that ``(X - mean) / scale`` keeps X's Euclidean geometry."""
    rms = float(np.sqrt(X.var(0).mean()))
    return rms if rms > 0 else 1.0


class AutoencoderReducer(TransformerMixin, AutoencoderEstimator):
    """Nonlinear dimensionality reduction with any aekit autoencoder.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the model's ``latent_dim``).
    objective : {"tsne", "umap", "reconstruction"}, default="tsne"
        ``"tsne"``: contrastive t-SNE on the encoder plus the weighted reconstruction loss;
        ``"umap"``: parametric UMAP in its place (see the module docstring); both keep
        the data's neighbourhoods in the map. ``"reconstruction"``: the model's own loss
        alone.
    n_neighbors : int, default=15
        Size of the k-NN neighbourhoods of the graph (the row itself included, as in
        UMAP); cut to the number of rows. Graph objectives (``"tsne"``, ``"umap"``) only.
    min_dist : float, default=0.1
        How tightly the map packs neighbours (UMAP's ``min_dist``). ``objective="umap"``
        only (``"tsne"`` has no such setting: its kernel is ``1 / (1 + d^2)``).
    reconstruction_weight : float, default=0.01
        ``lambda``: weight of the per-feature reconstruction loss on the encoder.
        Graph objectives only.
    jitter : float, default=0.5
        Each edge's head row is fed to the encoder with Gaussian noise added, of
        expected length about ``jitter`` times that row's distance to its nearest
        neighbour (in the network's units). It makes the encoder smooth between the
        training rows, so new rows map among their neighbours; 0 turns it off. Graph
        objectives only.
    early_exaggeration : float, default=4.0
        ``alpha`` at the first optimiser step: the attraction along the graph's edges is
        weighted against the repulsion (module docstring) by a factor that falls linearly
        from ``alpha`` to 1 at half of the steps and stays 1 after, as t-SNE's early
        exaggeration weights its affinities; the clusters find their places before the
        map's local detail is laid out. 1 turns it off. Graph objectives only.
    dof : float, default=1.5
        ``nu``, the degrees of freedom of the map's kernel
        ``q = (1 + d^2 / nu)^(-nu)`` (Kobak et al. 2019): 1 is t-SNE's Cauchy kernel;
        larger values have lighter tails and tear fewer neighbourhoods apart (higher
        continuity), smaller ones separate clusters further. ``objective="tsne"`` only.
    graph_rows : int, default=50000
        The k-NN graph is built (exactly) on at most this many rows, drawn at random
        when X has more; the reconstruction term still sees every row. This bounds the
        graph's time and memory on large data. Graph objectives only.
    model : str, default="ae"
        Registry name of the backbone (one of ``aekit.available()``): ``"ae"`` (a plain
        MLP autoencoder), ``"vae"`` (codes are posterior means), ``"sparse_ae"``,
        ``"dae"``, ``"cae"``, ... Its code must be a vector of ``n_components`` values;
        conditional models and code grids are refused with a clear error before training.
    hidden_dims : tuple of int or None, default=None
        MLP widths of the encoder (the decoder mirrors them). None: ``(512, 256, 128)``
        with a graph objective, else the model's own default (``(256, 128)`` for the
        MLP models); ``linear_ae`` always keeps ``()``.
    epochs : int or None, default=None
        ``objective="reconstruction"``: passes over the rows (None: 100).
        Graph objectives: passes over the graph's edges, each pass drawing as many
        edges as the graph has, with probability proportional to their weights (None:
        75 passes, but no more than about 5000 optimiser steps, so the fitting time
        grows with the graph up to that bound and not beyond).
    batch_size : int or None, default=None
        Rows (reconstruction) or edges (graph objectives) per optimiser step; None: 64
        rows or 512 edges (for ``"tsne"`` each edge's negatives are the batch's other
        heads and tails).
    learning_rate : float or None, default=None
        Adam's learning rate; None: 1e-3 (reconstruction), 5e-3 (``"tsne"``) or 1e-2
        (``"umap"``, UMAP's); with a graph objective it falls linearly to 0 over the
        steps, as UMAP's does.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (with at least 10 rows) and stop after
        ``patience`` epochs without a lower held-out loss, keeping the best weights.
        ``objective="reconstruction"`` only.
    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping`` is on, in (0, 1).
    patience : int, default=10
        Epochs without improvement before stopping.
    scale : bool, default=True
        ``objective="reconstruction"``: standardise each feature with its training mean
        and (population) standard deviation; constant features get scale 1. Graph
        objectives: centre each feature and divide all by one scale, the root mean
        feature variance, which keeps the Euclidean geometry the neighbour graph is built
        in (standardise the columns beforehand for per-feature scaling). The network
        works in those units; ``transform`` takes raw rows and ``inverse_transform``
        returns raw units.
    model_params : dict or None, default=None
        Further settings of the model's config, e.g. ``{"beta": 4.0}`` for ``beta_vae``.
        The reducer sets ``likelihood="gaussian"`` (squared error) unless given here.
    device : str, default="cpu"
        Where to train: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``. The
        fitted network is then kept on the CPU in float64 for transforms, so a row's code
        does not depend on the other rows of the call.
    verbose : bool, default=False
        Show a training progress bar.
    random_state : int, RandomState or None, default=None
        Seeds the weights, the shuffling, the held-out split and any sampling noise of
        the model; with an int, two fits on the same CPU give identical codes.

    Attributes
    ----------
    model_ : aekit.Autoencoder
        The fitted network (CPU, float64, eval mode).
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Standardisation statistics (zeros and ones when ``scale=False``).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame with string column names.
    train_codes_ : ndarray of shape (n_samples, n_components)
        Codes of the training rows, searched by :meth:`nearest`.
    history_ : list of dict
        Per-epoch training (and held-out) losses; with a graph objective each entry has
        the epoch's mean ``graph`` (``L_nce`` or ``L_umap``), ``recon`` and total
        ``loss``.
    n_graph_edges_ : int
        Directed edges of the fuzzy k-NN graph (graph objectives).

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AutoencoderReducer
    >>> X = np.random.default_rng(0).normal(size=(100, 6))
    >>> reducer = AutoencoderReducer(n_components=2, epochs=2, batch_size=256,
    ...                              random_state=0)
    >>> reducer.fit_transform(X).shape
    (100, 2)
    >>> reducer.get_feature_names_out().tolist()
    ['ae0', 'ae1']
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "objective": [StrOptions({"umap", "tsne", "reconstruction"})],
        "n_neighbors": [Interval(Integral, 2, None, closed="left")],
        "min_dist": [Interval(Real, 0, None, closed="left")],
        "reconstruction_weight": [Interval(Real, 0, None, closed="neither")],
        "jitter": [Interval(Real, 0, None, closed="left")],
        "early_exaggeration": [Interval(Real, 0, None, closed="neither")],
        "dof": [Interval(Real, 0, None, closed="neither")],
        "graph_rows": [Interval(Integral, 2, None, closed="left")],
        **TRAINING_CONSTRAINTS,
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 2, None, closed="left"), None],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
    }
    _saved_values: ClassVar[tuple[str, ...]] = (
        *AutoencoderEstimator._saved_values, "n_graph_edges_")
    _saved_arrays: ClassVar[tuple[str, ...]] = ("train_codes_",)

    def __init__(self, n_components: int = 2, *, objective: str = "tsne",
                 n_neighbors: int = 15, min_dist: float = 0.1,
                 reconstruction_weight: float = 0.01, jitter: float = 0.5,
                 early_exaggeration: float = 4.0, dof: float = 1.5,
                 graph_rows: int = 50_000,
                 model: str = "ae", hidden_dims: tuple[int, ...] | None = None,
                 epochs: int | None = None, batch_size: int | None = None,
                 learning_rate: float | None = None,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 patience: int = 10, scale: bool = True, model_params: dict | None = None,
                 device: str = "cpu", verbose: bool = False, random_state: Any = None) -> None:
        self.n_components = n_components
        self.objective = objective
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.reconstruction_weight = reconstruction_weight
        self.jitter = jitter
        self.early_exaggeration = early_exaggeration
        self.dof = dof
        self.graph_rows = graph_rows
        self.model = model
        self.hidden_dims = hidden_dims
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.scale = scale
        self.model_params = model_params
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> AutoencoderReducer:
        """Train the autoencoder on the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Dense, finite, numeric training rows.
        y : ignored
            Present for API consistency.

        Returns
        -------
        self
        """
        X = self._check_X(X, reset=True)
        self._check_settings(len(X))
        self._fit_scaler(X, self.scale)
        if self.scale and self.objective != "reconstruction":
            self.scale_ = np.full_like(self.scale_, common_scale(X))
        Xs = self._scale(X)
        seed = seed_from(self.random_state)
        settings: dict[str, Any] = {"likelihood": "gaussian", "arch": "mlp"}
        if self.hidden_dims is not None:
            settings["hidden_dims"] = tuple(self.hidden_dims)
        elif self.objective != "reconstruction" and self._default_widths():
            settings["hidden_dims"] = GRAPH_HIDDEN_DIMS
        settings.update(self.model_params or {})
        model = self._build_model(self.model, X.shape[1], self.n_components, settings, seed)
        batch_size = self.batch_size or DEFAULT_BATCH[self.objective]
        if self.objective != "reconstruction":
            self.history_ = self._train_graph(model, Xs, batch_size, seed)
        else:
            self.history_ = self._train_model(
                model, Xs, epochs=self.epochs or DEFAULT_EPOCHS, batch_size=batch_size,
                learning_rate=self.learning_rate or DEFAULT_LR["reconstruction"], seed=seed,
                validation_fraction=self.validation_fraction if self.early_stopping else None,
                patience=self.patience, device=self.device, verbose=self.verbose)
        self.model_ = model
        self.train_codes_ = self._run(model.embed, Xs)
        return self

    def _default_widths(self) -> bool:
        """Whether ``model``'s own default has hidden layers (``linear_ae`` has none)."""
        from aekit.models import get_class

        self._check_model_name(self.model)
        return bool(get_class(self.model).Config.hidden_dims)

    def _check_settings(self, n_rows: int) -> None:
        """Refuse settings the chosen objective does not use, and too few rows."""
        if self.objective != "reconstruction":
            if n_rows < 2:
                raise ValueError(f"n_samples={n_rows}: objective={self.objective!r} needs "
                                 "at least 2 "
                                 "rows to build a neighbour graph")
            if self.early_stopping:
                raise ConfigError("early_stopping=True is only used with "
                                  "objective='reconstruction' (the graph objectives have no "
                                  "held-out loss); set objective='reconstruction' or drop it")
        for name, default in GRAPH_DEFAULTS.items():
            if getattr(self, name) != default and self.objective not in USED_BY[name]:
                uses = " or ".join(f"'{o}'" for o in USED_BY[name])
                raise ConfigError(f"{name} only applies to objective={uses}; "
                                  f"objective={self.objective!r} does not use it")

    def _train_graph(self, model: Any, Xs: np.ndarray, batch_size: int,
                     seed: int) -> list[dict[str, Any]]:
        """Train ``model`` in place on the graph (t-SNE or UMAP) + reconstruction objective
        (module docstring); returns the per-epoch history. ``Xs`` are the scaled rows, whose
        Euclidean neighbours are those of the rows as given (one scale for all features,
        as UMAP and t-SNE see them). The model ends on the CPU in float64 and in eval
        mode, as after ``_train_model``."""
        from tqdm.auto import tqdm

        groups = model.parameter_groups()
        if len(groups) > 1:
            raise ConfigError(f"model {self.model!r} trains {len(groups)} parameter groups "
                              f"({', '.join(groups)}); objective={self.objective!r} takes "
                              "single-optimiser models, or use objective='reconstruction'")
        device = resolve_device(self.device)
        n, n_features = Xs.shape
        pick = np.random.default_rng(seed)
        graph_rows = (np.sort(pick.choice(n, self.graph_rows, replace=False))
                      if n > self.graph_rows else np.arange(n))
        heads, tails, weights, rho = fuzzy_knn_graph(Xs[graph_rows], self.n_neighbors, device)
        self.n_graph_edges_ = len(weights)
        a, b = find_ab(float(self.min_dist))
        x_all = torch.as_tensor(Xs, dtype=torch.float32, device=device)
        x_graph = x_all[torch.as_tensor(graph_rows, device=device)]
        heads_t = torch.as_tensor(heads, device=device)
        tails_t = torch.as_tensor(tails, device=device)
        weights_t = torch.as_tensor(weights, device=device)
        # noise on each head row: per feature sd jitter * rho_i / sqrt(D), so its expected
        # length is about jitter times the row's nearest-neighbour distance rho_i
        jitter = torch.as_tensor(self.jitter * rho / math.sqrt(n_features),
                                 dtype=torch.float32, device=device)
        n_edges = len(weights)
        per_epoch = max(1, math.ceil(n_edges / batch_size))
        epochs = self.epochs or min(GRAPH_EPOCHS, max(1, round(MAX_STEPS / per_epoch)))
        epochs = min(epochs, epochs_cap() or epochs)  # AEKIT_EPOCHS_CAP, as for the Trainer
        model.to(device).float().train()
        lr = float(self.learning_rate or DEFAULT_LR[self.objective])
        optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        total_steps = epochs * per_epoch  # the learning rate falls linearly to 0, as in UMAP
        decay = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1 - s / total_steps)
        lam = float(self.reconstruction_weight)
        exaggeration = float(self.early_exaggeration)
        dof = float(self.dof)
        history: list[dict[str, Any]] = []
        step = 0
        with private_rng(seed, device), tqdm(total=total_steps, disable=not self.verbose,
                                             desc=self.objective, unit="step") as bar:
            gen = torch.Generator(device=device).manual_seed(seed)
            for epoch in range(epochs):
                order = torch.multinomial(weights_t, n_edges, replacement=True, generator=gen)
                sums = np.zeros(3)
                for start in range(0, n_edges, batch_size):
                    edges = order[start:start + batch_size]
                    head = heads_t[edges]
                    x_head = x_graph[head] + jitter[head, None] * torch.randn(
                        len(edges), n_features, generator=gen, device=device)
                    codes = model.embed(torch.cat([x_head, x_graph[tails_t[edges]]]))
                    z_head, z_tail = codes.chunk(2)
                    alpha = 1 + (exaggeration - 1) * max(
                        0.0, 1 - step / (EXAGGERATED_SHARE * total_steps))
                    graph = (umap_cross_entropy(z_head, z_tail, a, b, gen, exaggeration=alpha)
                             if self.objective == "umap"
                             else infonce_tsne(z_head, z_tail, exaggeration=alpha, dof=dof))
                    rows = torch.randint(n, (len(edges),), generator=gen, device=device)
                    model.set_step(step)
                    recon = model.loss(x_all[rows]).total / n_features
                    loss = graph + lam * recon
                    if not torch.isfinite(loss):
                        raise TrainingError(f"objective={self.objective!r}: non-finite loss "
                                            f"at epoch {epoch}, step {step}; lower "
                                            "learning_rate")
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    decay.step()
                    sums += [graph.item(), recon.item(), loss.item()]
                    step += 1
                    bar.update()
                history.append({"epoch": epoch, "split": "train",
                                **dict(zip(("graph", "recon", "loss"), sums / per_epoch))})
        self._finish_model(model)
        return history

    # -- transforming -----------------------------------------------------------------
    def transform(self, X: Any) -> np.ndarray:
        """Codes of the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_), or a path
            A CSV/TSV, Parquet or ``.npy`` file of any size is transformed chunk by
            chunk, never held in memory whole (:func:`aekit.apps.streaming.map_file`).

        Returns
        -------
        ndarray of shape (n_samples, n_components), float64
        """
        self._check_fitted()
        if is_chunkable(X):
            return map_file(self, self.transform, X)
        return self._run(self.model_.embed, self._scale(self._check_X(X, reset=False)))

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes back to rows in the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_), float64
            ``E[x | z]`` of the decoder, unstandardised.
        """
        self._check_fitted()
        Z = check_array(X, dtype=np.float64, input_name="X")
        if Z.shape[1] != self.n_components:
            raise ValueError(f"inverse_transform: X has {Z.shape[1]} features (code values), "
                             f"but {type(self).__name__} is expecting {self.n_components} "
                             "(n_components)")
        model = self.model_

        def decode(z: torch.Tensor) -> torch.Tensor:
            return model.likelihood.mean(model.decode_logits(z))

        return self._unscale(self._run(decode, Z))

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean (over rows) of the summed squared reconstruction error.

        The error is measured in the original units, so scores of reducers with
        different settings on the same data are comparable (higher is better, as
        :class:`~sklearn.model_selection.GridSearchCV` expects).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
        y : ignored

        Returns
        -------
        float
        """
        self._check_fitted()
        X = self._check_X(X, reset=False)
        rec = self.inverse_transform(self.transform(X))
        return -float(((X - rec) ** 2).sum(1).mean())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names ``ae0, ae1, ...``, one per code value.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency (the codes do not map to input features).

        Returns
        -------
        ndarray of str objects, shape (n_components,)
        """
        self._check_fitted()
        return np.asarray([f"ae{i}" for i in range(self.n_components)], dtype=object)

    # -- retrieval --------------------------------------------------------------------
    def nearest(self, query: Any, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``k`` nearest training rows of each query row, in code space.

        Parameters
        ----------
        query : array-like of shape (n_queries, n_features_in_)
            Raw rows (they are encoded first).
        k : int, default=5
            Neighbours per query, in ``[1, n_training_rows]``.

        Returns
        -------
        indices : ndarray of int64, shape (n_queries, k)
            Row numbers in the training data, nearest first.
        distances : ndarray of float64, shape (n_queries, k)
            Euclidean distances between the codes.
        """
        self._check_fitted()
        return exact_neighbors(self.transform(query), self.train_codes_, k)
