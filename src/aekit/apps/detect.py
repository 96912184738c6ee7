"""Anomaly detection with autoencoders: a PyOD-compatible, scikit-learn-style estimator.

:class:`AnomalyDetector` fits an ensemble of aekit models on unlabelled (possibly
contaminated) data and scores new data; higher scores are more anomalous. Its default
is one configuration for every dataset, chosen to be good without tuning on labels:

* inputs are standardised with the training mean and std (constant features get std 1,
  so they cannot produce infinite scores);
* three small autoencoders with different bottlenecks (the number of features divided
  by 8, 4 and 2, rounded down and clipped to [2, 16]) and different seeds;
* robust training: in every batch the 25 % examples with the highest loss are left out
  of the gradient (a trimmed loss), so outliers in the training data are not learned;
* the score of each model is the sum of two robustly standardised parts (median and MAD
  of the training scores): the reconstruction error ``sum_d huber(x_d - x_hat_d)``
  (Huber's function with delta = 1 std: squared for small residuals, linear beyond, so
  one heavy-tailed feature cannot dominate; it catches points off the learned manifold)
  and a latent density score ``latent_kth``: ``d_m(c)``, the distance from the code
  ``c`` to its ``m``-th nearest training code in the whitened code space (Ramaswamy,
  Rastogi & Shim 2000), ``m = max(n_neighbors, ceil(0.05 n_ref))`` for ``n_ref``
  reference codes: a seeded random subset of at most ``KTH_REFERENCE`` (512) of the
  references, so ``m`` = 26 and a search over 512 codes estimates the 103rd neighbour
  among 2048 (the subset's ``m``-th neighbour is never nearer than the full set's
  ``m``-th, and its rank among all references is a negative hypergeometric draw around
  103), because that search sets the scoring speed (the docs page). It finds points in
  empty regions of the manifold, and small tight groups of anomalies: their ``m``-th
  neighbour lies outside the group, where their nearest 10 are each other. The ensemble
  score is the mean over models. The default was chosen by leave-one-dataset-out over 17
  real tables (``benchmarks/bench_tables.py``, the docs page); it replaced
  ``reconstruction+latent``.

Other score types: ``"latent"`` (the mean distance to the ``n_neighbors`` nearest
whitened training codes, the default's part before), ``"elbo"`` (the negative ELBO of
VAE-family backbones, evaluated deterministically at the posterior mean with the
closed-form KL, so two calls agree), ``"latent_gaussian"`` (the Mahalanobis distance of
the code to the training codes, a Gaussian latent density) and ``"isolation"`` (an
isolation forest on the whitened codes, Liu, Ting & Zhou 2008: with ``h_t(c)`` the
number of random axis-aligned splits tree ``t`` needs to isolate code ``c`` plus the
expected remaining depth ``c(n)`` of its leaf's ``n`` training codes, the part is
``s(c) = 2^(-mean_t h_t(c) / c(psi))`` for ``psi`` training codes per tree; it ranks by
how few random cuts separate a point, not by distances, so it does not lose contrast
when distances concentrate); any ``+``-joined combination is allowed.
:meth:`AnomalyDetector.score_parts` gives each part apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval

from aekit.apps.base import ESTIMATOR_FILE, AutoencoderEstimator, scaler_stats
from aekit.apps.pyod_contract import PyODContractMixin
from aekit.apps.retrieval import knn_search, mean_knn_distance
from aekit.apps.streaming import map_file
from aekit.data.chunks import is_chunkable
from aekit.errors import AekitError, ConfigError, DataError
from aekit.models.base import Autoencoder
from aekit.rng import private_rng
from aekit.train.robust import RobustLoss

SCORE_PARTS = ("reconstruction", "latent", "latent_kth", "latent_gaussian", "isolation", "elbo")
DEFAULT_SCORE = "reconstruction+latent_kth"
LATENT_DIVISORS = (8, 4, 2)  # member i's bottleneck: features // LATENT_DIVISORS[i % 3]
MAX_AUTO_LATENT = 16
TARGET_STEPS = 1000  # epochs="auto" trains each member for about this many steps
MAX_REFERENCE = 2048  # training codes kept for the latent k-NN score (see the docs page)
ISOLATION_TREES = 100  # trees of the isolation score on the codes (Liu et al.'s default)
ISOLATION_SAMPLES = 256  # training codes per isolation tree (Liu et al.'s default)
LATENT_PARTS = ("latent", "latent_kth", "latent_gaussian", "isolation")  # need the codes
KTH_SHARE = 0.05  # latent_kth: distance to the neighbour ranked this share of the refs
KTH_REFERENCE = 512  # latent_kth: a random subset of this many reference codes (speed)
HUBER_DELTA = 1.0  # reconstruction error: quadratic up to 1 std, linear beyond
SCORE_CHUNK = 8192  # rows scored at once (fixed, so scores never depend on call sizes)
DETECTOR_FILE = "detector.json"  # the folder format of aekit <= 0.1.0, no longer read


def parse_score(score: str) -> tuple[str, ...]:
    """``"reconstruction+latent"`` -> ``("reconstruction", "latent")``, validated."""
    parts = tuple(p.strip() for p in str(score).split("+") if p.strip())
    bad = [p for p in parts if p not in SCORE_PARTS]
    if not parts or bad:
        raise ConfigError(f"score_type={score!r}: use one of {SCORE_PARTS} or a '+'-joined "
                          "combination such as 'reconstruction+latent'")
    if len(set(parts)) != len(parts):
        raise ConfigError(f"score_type={score!r} names a part twice")
    return parts


def huber(r: torch.Tensor, delta: float = HUBER_DELTA) -> torch.Tensor:
    """Huber's function of residuals: ``r^2 / 2`` up to ``delta``, then linear."""
    r = r.abs()
    return torch.where(r <= delta, 0.5 * r.square(), delta * (r - 0.5 * delta))


def _robust_scale(values: np.ndarray) -> tuple[float, float]:
    """Median and a positive spread (MAD, else mean absolute deviation, else 1)."""
    med = float(np.median(values))
    dev = np.abs(values - med)
    spread = float(np.median(dev))
    if not spread > 1e-12:
        spread = float(dev.mean())
    if not spread > 1e-12:
        spread = 1.0
    return med, spread


def expected_depth(n: np.ndarray) -> np.ndarray:
    """``c(n)``: the mean depth of an unsuccessful search in a binary search tree of ``n``
    keys, ``2 H(n - 1) - 2 (n - 1) / n`` (``c(1) = 0``, ``c(2) = 1``), the depth an
    isolation tree's leaf of ``n`` training points still owes."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    big = n > 2
    out[n == 2] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def fit_isolation_forest(codes: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """An isolation forest on ``codes`` ``(N, K)`` as padded node arrays ``(T, M)``:
    ``feature`` (-1 at leaves), ``threshold`` (go left when ``value <= threshold``),
    ``left``/``right`` children and ``depth`` (``c(n)`` of each node's ``n`` training
    codes; :func:`isolation_score` adds the splits taken). Grown by scikit-learn's
    :class:`~sklearn.ensemble.IsolationForest` (``ISOLATION_TREES`` trees of
    ``min(ISOLATION_SAMPLES, N)`` codes each), kept as plain arrays so it is saved with
    the detector's other arrays."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=ISOLATION_TREES, random_state=seed,
                             max_samples=min(ISOLATION_SAMPLES, len(codes)))
    forest.fit(codes.double().numpy())
    trees = [t.tree_ for t in forest.estimators_]
    m = max(t.node_count for t in trees)
    out = {"feature": np.full((len(trees), m), -1, dtype=np.int64),
           "threshold": np.zeros((len(trees), m)),
           "left": np.full((len(trees), m), -1, dtype=np.int64),
           "right": np.full((len(trees), m), -1, dtype=np.int64),
           "depth": np.zeros((len(trees), m))}
    for i, (tree, cols) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
        n, split = tree.node_count, tree.children_left >= 0
        out["feature"][i, :n] = np.where(split, np.asarray(cols)[tree.feature.clip(0)], -1)
        out["threshold"][i, :n] = tree.threshold
        out["left"][i, :n] = tree.children_left
        out["right"][i, :n] = tree.children_right
        out["depth"][i, :n] = expected_depth(tree.n_node_samples)
    return {k: torch.from_numpy(v) for k, v in out.items()}


def isolation_score(codes: torch.Tensor, forest: dict[str, torch.Tensor]) -> torch.Tensor:
    """Isolation score ``2^(-mean_t h_t(c) / c(psi))`` of each code ``(N,)`` float64,
    where ``h_t`` counts the splits of tree ``t`` down to the code's leaf plus that leaf's
    ``c(n)``, and ``c(psi)`` is the root's (``psi`` codes per tree). Equals scikit-learn's
    ``-IsolationForest.score_samples`` on float32 codes."""
    x = codes.float().double()  # the trees compare float32 values, as scikit-learn's do
    feature, threshold = forest["feature"], forest["threshold"]
    n_trees = feature.shape[0]
    rows = torch.arange(n_trees).expand(len(x), n_trees)
    node = torch.zeros(len(x), n_trees, dtype=torch.long)
    steps = torch.zeros(len(x), n_trees, dtype=torch.float64)
    for _ in range(feature.shape[1]):  # a path never has more splits than its tree nodes
        f = feature[rows, node]
        split = f >= 0
        if not bool(split.any()):
            break
        value = torch.gather(x, 1, f.clamp_min(0))
        nxt = torch.where(value <= threshold[rows, node], forest["left"][rows, node],
                          forest["right"][rows, node])
        node = torch.where(split, nxt, node)
        steps += split.double()
    h = (steps + forest["depth"][rows, node]).mean(1)
    return torch.pow(2.0, -h / forest["depth"][:, 0].mean())


class _Member:
    """One fitted model of the ensemble with what its scores need."""

    def __init__(self, model: Autoencoder) -> None:
        self.model = model
        self.calib: dict[str, tuple[float, float]] = {}  # part -> (median, spread)
        self.code_mean: torch.Tensor | None = None
        self.whiten: torch.Tensor | None = None  # codes -> whitened codes
        self.refs: torch.Tensor | None = None  # whitened reference codes (latent k-NN)
        self.kth_refs: torch.Tensor | None = None  # latent_kth's subset of refs
        self.kth_pos: torch.Tensor | None = None  # (fit only) ref index -> kth_refs index
        self.forest: dict[str, torch.Tensor] | None = None  # isolation trees on the codes


class AnomalyDetector(PyODContractMixin, AutoencoderEstimator):
    """Autoencoder anomaly detector with the PyOD interface.

    PyOD's conventions, not scikit-learn's outlier ones: labels are 0 (inlier) / 1
    (outlier) and higher scores are more anomalous. ``fit(X)`` trains on unlabelled
    data that may contain anomalies; ``decision_function(X)`` gives scores where higher
    is more anomalous; ``predict`` labels the ``contamination`` share of training points above
    ``threshold_`` as 1.
    Works on vectors ``(N, D)``, images ``(N, C, H, W)`` and windows of series
    ``(N, C, T)`` (the network follows the shape: MLP, conv or 1-D conv).

    Parameters
    ----------
    contamination : float
        Expected share of anomalies in the training data, in (0, 0.5]; sets
        ``threshold_`` to that upper quantile of the training scores.
    threshold : float, optional
        An explicit score threshold; overrides ``contamination`` for labels.
    model : str or sequence of str
        Registry name(s) of the backbone (``aekit models``); several names make an
        ensemble over architectures, member ``i`` using ``model[i % len(model)]``.
    n_estimators : int
        Number of models in the ensemble (seeds ``random_state * 1000 + i``).
    latent_dim : int, optional
        Code size of every member; default: the number of features divided by 8, 4, 2
        (cycling over the members), rounded down and clipped to [2, 16].
    hidden_dims : tuple of int, optional
        MLP widths; default one layer as wide as the input (at least 16, at most 256).
    score_type : str
        ``reconstruction``, ``latent``, ``latent_kth``, ``latent_gaussian``, ``isolation``,
        ``elbo`` or a ``+``-joined combination (each part robustly standardised on the
        training data, then summed). Called ``score`` in earlier versions; saved folders
        with that name still load.
    robust_fraction : float
        Share of each batch left out of training as the highest-loss examples, [0, 1).
    n_neighbors : int
        ``k`` of the latent k-NN density score (and the least ``m`` of ``latent_kth``).
    standardize : bool
        Standardise features with the training mean and std before everything else.
    epochs : int, optional
        Training epochs; default: about 1000 optimiser steps per member.
    batch_size, learning_rate : int, float
        Training settings of every member.
    model_params : dict, optional
        Extra settings for the models' configs (e.g. ``{"beta": 2.0}``).
    random_state : int
        Seed of weights, shuffling and the reference-code subsample.
    device : str
        ``cpu``, ``cuda`` ... (``auto`` picks the accelerator if there is one).
    verbose : bool
        Show training progress bars.

    Attributes
    ----------
    decision_scores_ : np.ndarray
        Scores of the training data.
    threshold_ : float
        Scores above it are labelled anomalous.
    labels_ : np.ndarray
        0/1 labels of the training data, ``decision_scores_ > threshold_``.
    input_shape_ : tuple of int
        Shape of one example.
    n_features_in_ : int
        Number of values per example.
    feature_names_in_ : np.ndarray
        Column names, when ``fit`` got a DataFrame with string column names; later
        calls must give the same columns in the same order (scikit-learn's check).
    models_ : list of Autoencoder
        The fitted ensemble.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit.apps.detect import AnomalyDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5)); X[:5] += 6
    >>> det = AnomalyDetector(n_estimators=1, epochs=5).fit(X)
    >>> bool(det.decision_scores_[:5].mean() > det.decision_scores_[5:].mean())
    True
    """

    _accepts_nd: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict] = {
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "threshold": [Interval(Real, -math.inf, math.inf, closed="neither"), None],
        "model": [str, list, tuple],  # registered, unconditional names (checked in fit)
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_dims": [tuple, list, None],
        "score_type": [str],  # parts of SCORE_PARTS joined by '+' (checked in fit)
        "robust_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "standardize": ["boolean"],
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "model_params": [dict, None],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "device": [str],
        "verbose": ["verbose"],
    }
    _saved_values: ClassVar[tuple[str, ...]] = (
        "n_features_in_", "feature_names_in_", "input_shape_", "threshold_")
    _saved_arrays: ClassVar[tuple[str, ...]] = ("mean_", "scale_", "decision_scores_")
    _renamed_params: ClassVar[dict[str, str]] = {"score": "score_type"}

    def __init__(
        self,
        contamination: float = 0.1,
        threshold: float | None = None,
        model: str | Sequence[str] = "ae",
        n_estimators: int = 3,
        latent_dim: int | None = None,
        hidden_dims: tuple[int, ...] | None = None,
        score_type: str = DEFAULT_SCORE,
        robust_fraction: float = 0.25,
        n_neighbors: int = 10,
        standardize: bool = True,
        epochs: int | None = None,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        model_params: dict[str, Any] | None = None,
        random_state: int = 0,
        device: str = "cpu",
        verbose: bool = False,
    ) -> None:
        self.contamination = contamination
        self.threshold = threshold
        self.model = model
        self.n_estimators = n_estimators
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.score_type = score_type
        self.robust_fraction = robust_fraction
        self.n_neighbors = n_neighbors
        self.standardize = standardize
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.model_params = model_params
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    # -- checks ---------------------------------------------------------------------------
    def _check_choices(self) -> tuple[str, ...]:
        """The score parts, after checking what the declarative constraints cannot: the
        model names (registered, unconditional) and the score's parts."""
        from aekit.models import get_class

        names = [self.model] if isinstance(self.model, str) else list(self.model)
        if not names:
            raise ConfigError("model must name at least one registered model")
        for name in names:
            if get_class(name).conditional:
                raise ConfigError(f"model {name!r} is conditional (needs labels y); "
                                  "anomaly detection uses unconditional models")
        return parse_score(self.score_type)

    # -- fitting --------------------------------------------------------------------------
    def _member_settings(self, i: int) -> tuple[str, dict[str, Any]]:
        names = [self.model] if isinstance(self.model, str) else list(self.model)
        d = math.prod(self.input_shape_)
        latent = self.latent_dim or int(np.clip(d // LATENT_DIVISORS[i % 3], 2,
                                                MAX_AUTO_LATENT))
        hidden = tuple(self.hidden_dims) if self.hidden_dims else (int(np.clip(d, 16, 256)),)
        settings = {"input_shape": self.input_shape_, "latent_dim": int(latent),
                    "hidden_dims": hidden, "likelihood": "gaussian",
                    **(self.model_params or {})}
        return names[i % len(names)], settings

    def _epochs(self, n: int) -> int:
        if self.epochs is not None:
            return int(self.epochs)
        batches = math.ceil(n / int(self.batch_size))
        return int(np.clip(math.ceil(TARGET_STEPS / batches), 1, 500))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> AnomalyDetector:
        """Train the ensemble on ``X`` (labels ``y`` are ignored) and set the attributes.

        Parameters
        ----------
        X : array-like or DataFrame, shape (N, D) or (N, C, H, W) or (N, C, T)
            Training data; it may contain anomalies.
        y : ignored
            Present for API compatibility.

        Returns
        -------
        self
        """
        from aekit.models import create

        parts = self._check_choices()
        x = torch.from_numpy(self._check_X(X, reset=True, dtype=np.float32))
        if len(x) < 2:
            raise DataError(f"X: at least 2 examples are needed to fit, got {len(x)} sample")
        self.parts_ = parts
        if self.standardize:
            self.mean_, self.scale_ = scaler_stats(x)
        else:
            self.mean_ = torch.zeros(self.input_shape_)
            self.scale_ = torch.ones(self.input_shape_)
        z = (x - self.mean_) / self.scale_
        self.members_: list[_Member] = []
        for i in range(int(self.n_estimators)):
            seed = int(self.random_state) * 1000 + i
            name, settings = self._member_settings(i)
            with private_rng(seed):
                model = create(name, **settings)
            if "elbo" in parts and not model.probabilistic:
                raise ConfigError(f"score 'elbo' needs a VAE-family model; {name!r} has "
                                  "a deterministic encoder")
            self._train_model(RobustLoss(model, float(self.robust_fraction)), z,
                              epochs=self._epochs(len(z)), batch_size=self.batch_size,
                              learning_rate=self.learning_rate, seed=seed,
                              device=self.device, verbose=self.verbose, finish=False)
            model.eval()
            self.members_.append(self._calibrate(model, z, seed, parts))
        self.decision_scores_ = self._decision(z)
        self._set_threshold()
        return self

    @property
    def models_(self) -> list[Autoencoder]:
        """The fitted models of the ensemble."""
        return [m.model for m in self.members_]

    def _calibrate(self, model: Autoencoder, z: torch.Tensor, seed: int,
                   parts: tuple[str, ...]) -> _Member:
        member = _Member(model)
        exclude = None
        if any(p in LATENT_PARTS for p in parts):
            codes = self._codes(model, z)
            member.code_mean = codes.mean(0)
            cov = torch.atleast_2d(torch.cov(codes.T))
            evals, evecs = torch.linalg.eigh(cov)
            floor = 1e-3 * float(evals.max().clamp_min(1e-12))  # collapsed code dimensions
            member.whiten = evecs / evals.clamp_min(floor).sqrt()
            white = ((codes - member.code_mean) @ member.whiten).float()
            n_ref = min(len(z), MAX_REFERENCE)
            ref_idx = np.sort(np.random.default_rng(seed).choice(len(z), n_ref, replace=False))
            member.refs = white[torch.from_numpy(ref_idx)]
            if "latent_kth" in parts:
                n_kth = min(n_ref, KTH_REFERENCE)
                kth_idx = np.sort(np.random.default_rng(seed + 1).choice(n_ref, n_kth,
                                                                         replace=False))
                member.kth_refs = member.refs[torch.from_numpy(kth_idx)]
                member.kth_pos = torch.full((n_ref,), -1, dtype=torch.long)
                member.kth_pos[torch.from_numpy(kth_idx)] = torch.arange(n_kth)
            if "isolation" in parts:
                member.forest = fit_isolation_forest(white, seed)
            exclude = torch.full((len(z),), -1, dtype=torch.long)  # each reference's own row
            exclude[torch.from_numpy(ref_idx)] = torch.arange(n_ref)
        raw: dict[str, list[torch.Tensor]] = {}
        for i in range(0, len(z), SCORE_CHUNK):
            ex = None if exclude is None else exclude[i:i + SCORE_CHUNK]
            for part, values in self._raw_parts(member, z[i:i + SCORE_CHUNK], ex)[0].items():
                raw.setdefault(part, []).append(values)
        member.calib = {p: _robust_scale(torch.cat(v).numpy()) for p, v in raw.items()}
        return member

    # -- scoring --------------------------------------------------------------------------
    def _codes(self, model: Autoencoder, z: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.cat([model.embed(z[i:i + SCORE_CHUNK].to(model.device)).cpu()
                              for i in range(0, len(z), SCORE_CHUNK)]).double()

    def _raw_parts(self, member: _Member, z: torch.Tensor, exclude: torch.Tensor | None = None
                   ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One member's score parts before standardisation (each ``(N,)`` float64), and
        the Huber residuals ``huber(z - x_hat)`` ``(N, *input_shape)``, for one chunk.

        ``exclude`` (training data only) marks each row's own reference code, which the
        latent k-NN score skips.
        """
        model, out = member.model, {}
        parts = self.parts_
        latent = any(p in LATENT_PARTS for p in parts)
        with torch.inference_mode():
            zd = z.to(model.device)
            code = model.embed(zd) if latent else None
            if code is not None and model.reconstructs_from_code:
                recon = model.likelihood.mean(model.decode_logits(code))  # one encoder pass
            else:
                recon = model.reconstruct(zd)
            residuals = huber((recon - zd).abs()).cpu()
            if "reconstruction" in parts:
                out["reconstruction"] = residuals.double().flatten(1).sum(1)
            if latent:
                white = ((code.cpu().double() - member.code_mean) @ member.whiten).float()
                n_ref = len(member.refs) - (exclude is not None)  # references a row can meet
                k = max(min(int(self.n_neighbors), n_ref), 1)
                shared = member.kth_refs is None or len(member.kth_refs) == len(member.refs)
                if "latent_kth" in parts:
                    kth_refs, kth_ex = member.refs, exclude
                    if not shared:
                        kth_refs = member.kth_refs
                        if exclude is not None:  # each row's own reference, if in the subset
                            kth_ex = torch.where(exclude >= 0,
                                                 member.kth_pos[exclude.clamp_min(0)], -1)
                    n_kth = len(kth_refs) - (exclude is not None)
                    m = max(min(max(int(self.n_neighbors), math.ceil(KTH_SHARE * n_kth)),
                                n_kth), 1)
                    dist = knn_search(white, kth_refs, m, kth_ex)[0].double()
                    out["latent_kth"] = dist[:, m - 1]
                    if "latent" in parts and shared:  # one search serves both: m >= k
                        out["latent"] = dist[:, :k].mean(1)
                if "latent" in parts and "latent" not in out:
                    out["latent"] = mean_knn_distance(white, member.refs, k, exclude).double()
                if "latent_gaussian" in parts:
                    out["latent_gaussian"] = white.double().square().sum(1)
                if "isolation" in parts:
                    out["isolation"] = isolation_score(white, member.forest)
            if "elbo" in parts:
                q = model.encode(zd)
                nll = model.likelihood.nll(model.decode_logits(q.mean), zd)
                out["elbo"] = (nll + q.kl_standard_normal().sum(1)).cpu().double()
        return out, residuals

    def _score_pass(self, z: torch.Tensor, contributions: bool = False
                    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """One pass over the ensemble for standardised inputs: each score part, robustly
        standardised with the member's training median and spread and averaged over the
        ensemble, and (``contributions``) each value's Huber residual over the member's
        reconstruction spread, averaged too (what :meth:`explain` returns)."""
        n = len(self.members_)
        parts: dict[str, list[torch.Tensor]] = {p: [] for p in self.parts_}
        contribs = []
        for i in range(0, len(z), SCORE_CHUNK):
            zc = z[i:i + SCORE_CHUNK]
            total = {p: torch.zeros(len(zc), dtype=torch.float64) for p in self.parts_}
            contrib = torch.zeros(zc.shape if contributions else 0, dtype=torch.float64)
            for member in self.members_:
                raw, residuals = self._raw_parts(member, zc)
                for part, values in raw.items():
                    med, spread = member.calib[part]
                    total[part] += (values - med) / spread
                if contributions:
                    contrib += (residuals.double() / member.calib["reconstruction"][1]
                                if "reconstruction" in self.parts_ else residuals.double())
            for part, values in total.items():
                parts[part].append(values / n)
            if contributions:
                contribs.append(contrib / n)
        return ({p: torch.cat(v).numpy() for p, v in parts.items()},
                torch.cat(contribs).numpy() if contributions else None)

    def _parts(self, z: torch.Tensor) -> dict[str, np.ndarray]:
        """Each score part of standardised inputs (see :meth:`_score_pass`)."""
        return self._score_pass(z)[0]

    def _decision(self, z: torch.Tensor) -> np.ndarray:
        return np.sum(list(self._parts(z).values()), axis=0)

    def score_parts(self, X: Any) -> dict[str, np.ndarray]:
        """Each part of the score of ``X`` apart, ``{part: (N,)}``, in the order of
        ``score``: the part robustly standardised on the training data (``(value -
        median) / spread``) and averaged over the ensemble. They sum to
        :meth:`decision_function`; they show which part flags a point, and let one fit
        compare every combination of the fitted parts."""
        return self._parts(self._standardised(X))

    def _set_threshold(self) -> None:
        if self.threshold is not None:
            self.threshold_ = float(self.threshold)
        else:
            self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def _standardised(self, X: Any) -> torch.Tensor:
        self._check_fitted()
        x = torch.from_numpy(self._check_X(X, reset=False, dtype=np.float32))
        return (x - self.mean_) / self.scale_

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores of ``X``, shape ``(N,)``; higher is more anomalous.

        Deterministic: no sampling is involved, so two calls give the same scores. A row
        whose score overflows (a value like 1e30) is a :class:`DataError` naming it.
        ``X`` may be a CSV/TSV, Parquet or ``.npy`` file of any size: it is scored chunk
        by chunk, never held in memory whole (:func:`aekit.apps.streaming.map_file`).
        """
        if is_chunkable(X):
            return map_file(self, self.decision_function, X)
        self._check_fitted()
        x = torch.from_numpy(self._check_X(X, reset=False, dtype=np.float32))
        z = (x - self.mean_) / self.scale_
        return self._finite_scores(self._decision(z), x, z)

    @staticmethod
    def _finite_scores(scores: np.ndarray, x: torch.Tensor, z: torch.Tensor) -> np.ndarray:
        """``scores``, or a DataError naming the rows whose score overflows."""
        bad = np.flatnonzero(~np.isfinite(scores))
        if len(bad):
            row = int(bad[0])
            cells = torch.nan_to_num(z[row].flatten().abs(), posinf=math.inf)
            j = int(cells.argmax())
            raise DataError(
                f"row(s) {', '.join(str(int(r) + 1) for r in bad[:5])} cannot be scored: the "
                f"anomaly score overflows (row {row + 1} holds {float(x[row].flatten()[j]):.3g}"
                f" in column {j + 1}, far outside the training data's range); fix or drop them")
        return scores

    def score_and_explain(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(decision_function(X), explain(X))`` from one pass over the ensemble (each
        model's reconstruction and latent k-NN search run once, not twice); equal to the
        two calls."""
        self._check_fitted()
        x = torch.from_numpy(self._check_X(X, reset=False, dtype=np.float32))
        z = (x - self.mean_) / self.scale_
        parts, contributions = self._score_pass(z, contributions=True)
        return self._finite_scores(np.sum(list(parts.values()), axis=0), x, z), contributions

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit on ``X`` and return ``labels_``."""
        return self.fit(X).labels_

    def explain(self, X: Any) -> np.ndarray:
        """Each value's contribution to the score: which features are off.

        Returns ``huber(x_d - x_hat_d) / spread`` (standardised units), averaged over the
        ensemble (``spread`` is each model's training MAD of the reconstruction score),
        shaped like ``X``. Sorting a row's contributions names the features that are off.
        Summed over features it is the reconstruction part of the score up to a constant;
        the latent parts of a score are properties of the whole example and are not
        attributed to features. Without a reconstruction part in ``score``, the Huber
        residuals are returned without the division by a spread.
        """
        return self._score_pass(self._standardised(X), contributions=True)[1]

    # -- persistence ----------------------------------------------------------------------
    _model_dtype: ClassVar[torch.dtype] = torch.float32

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray],
                                     dict[str, Autoencoder]]:
        """The base's saved state, plus each member's calibration (JSON), whitening and
        reference codes (arrays) and model (``members/<i>/``)."""
        values, arrays, _ = super()._fitted_state()
        values["member_calib"] = [{p: list(v) for p, v in m.calib.items()}
                                  for m in self.members_]
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        for i, m in enumerate(self.members_):
            for key in ("code_mean", "whiten", "refs", "kth_refs"):
                value = getattr(m, key)
                if value is not None:
                    arrays[f"members.{i}.{key}"] = value.numpy()
            for key, value in (m.forest or {}).items():
                arrays[f"members.{i}.forest.{key}"] = value.numpy()
        return values, arrays, self._saved_models()

    def _saved_models(self) -> dict[str, Autoencoder]:
        return {f"members/{i}": m.model for i, m in enumerate(self.members_)}

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, np.ndarray],
                       models: dict[str, Autoencoder], device: str | None) -> None:
        calib = values.pop("member_calib")
        for key in ("n_features_in_", "feature_names_in_", "threshold_"):
            if key in values:
                setattr(self, key, values[key])
        self.input_shape_ = tuple(values["input_shape_"])
        self.parts_ = parse_score(self.score_type)
        self.mean_ = torch.from_numpy(arrays["mean_"])
        self.scale_ = torch.from_numpy(arrays["scale_"])
        self.decision_scores_ = arrays["decision_scores_"]
        self.members_ = []
        for i, info in enumerate(calib):
            member = _Member(models[f"members/{i}"])
            member.calib = {p: (float(v[0]), float(v[1])) for p, v in info.items()}
            if not all(math.isfinite(v) for c in member.calib.values() for v in c):
                raise AekitError(f"member {i}'s score calibration is not finite; the file "
                                 "is damaged")
            # no kth_refs in a folder written before them: latent_kth then searches all
            # the references, as it did when that folder's calibration was made
            for key in ("code_mean", "whiten", "refs", "kth_refs"):
                value = arrays.get(f"members.{i}.{key}")
                setattr(member, key, None if value is None else torch.from_numpy(value))
            if "isolation" in self.parts_:
                member.forest = _checked_forest(
                    {k: torch.from_numpy(arrays[f"members.{i}.forest.{k}"])
                     for k in ("feature", "threshold", "left", "right", "depth")},
                    len(member.code_mean), i)
            self.members_.append(member)
        if not math.isfinite(float(self.threshold_)):
            raise AekitError(f"the threshold is {self.threshold_}; the file is damaged "
                             "(refit, or pass a --threshold)")
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)


def _checked_forest(forest: dict[str, torch.Tensor], n_codes: int, member: int
                    ) -> dict[str, torch.Tensor]:
    """A loaded isolation forest, refused unless every node index stays inside its tree
    and every split names a code dimension (a damaged file could otherwise index out of
    range)."""
    shape = forest["feature"].shape
    nodes = shape[1] if len(shape) == 2 else 0
    ok = (nodes > 0 and all(v.shape == shape for v in forest.values())
          and bool(((forest["feature"] >= -1) & (forest["feature"] < n_codes)).all()))
    for key in ("left", "right"):
        ok = ok and bool(((forest[key] >= -1) & (forest[key] < nodes)).all())
    if not ok:
        raise AekitError(f"member {member}'s isolation forest is malformed; the file is "
                         "damaged")
    return forest


def load_detector(directory: str | Path, device: str | None = None) -> Any:
    """Load the detector saved in ``directory`` (the estimators' folder format,
    ``estimator.json``): an :class:`AnomalyDetector` or a detector that wraps one (e.g.
    ``TimeSeriesAnomalyDetector``), as ``estimator.json`` names it."""
    directory = Path(directory)
    if not (directory / ESTIMATOR_FILE).is_file():
        if (directory / DETECTOR_FILE).is_file():
            raise AekitError(f"{directory}: a detector folder written by an earlier aekit "
                             f"({DETECTOR_FILE}), in a format this one does not read; fit "
                             "the detector again and save it")
        raise AekitError(f"{directory}: not an aekit detector folder (no {ESTIMATOR_FILE}"
                         "); write one with `aekit detect fit` or detector.save(folder)")
    try:
        kind = json.loads((directory / ESTIMATOR_FILE).read_text(encoding="utf-8"))
        kind = kind.get("estimator") if isinstance(kind, dict) else None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AekitError(f"{directory / ESTIMATOR_FILE}: cannot read it as JSON ({e})"
                         ) from None
    readers = {"AnomalyDetector": AnomalyDetector.load, **FOLDER_READERS}
    if kind not in readers:
        raise AekitError(f"{directory}: holds a {kind}, not an anomaly detector")
    return readers[kind](directory, device=device)


FOLDER_READERS: dict[str, Callable[..., Any]] = {}
"""Loaders of the detector kinds that wrap an AnomalyDetector (estimator class name ->
``load(folder, device=...)``), registered by the modules that define them
(``aekit.apps.timeseries``), so this module imports none of them."""


def choose_by_leave_one_out(scores: Mapping[str, Mapping[str, float]]
                            ) -> tuple[list[tuple[str, str, float]], str]:
    """Leave-one-dataset-out choice of one default among candidate configurations.

    Parameters
    ----------
    scores : mapping
        ``{candidate: {dataset: score}}``, higher is better; every candidate scored on the
        same datasets (at least two).

    Returns
    -------
    held_out : list of (dataset, candidate, score)
        For each dataset, the candidate with the best mean score on the *other* datasets
        and that candidate's score on the held-out one: an estimate of how a default chosen
        this way does on a dataset it was not chosen on.
    default : str
        The candidate with the best mean score over all datasets. Ties go to the
        candidate listed first.
    """
    names = list(scores)
    if not names:
        raise ConfigError("no candidates to choose from")
    datasets = list(scores[names[0]])
    if len(datasets) < 2 or any(set(scores[c]) != set(datasets) for c in names):
        raise ConfigError("every candidate needs a score on the same two or more datasets")
    table = np.array([[float(scores[c][d]) for d in datasets] for c in names])
    held_out = []
    for j, dataset in enumerate(datasets):
        best = int(np.argmax(np.delete(table, j, axis=1).mean(1)))  # first of ties
        held_out.append((dataset, names[best], float(table[best, j])))
    return held_out, names[int(np.argmax(table.mean(1)))]
