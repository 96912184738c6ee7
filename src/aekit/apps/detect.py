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
  and a latent density score, the mean distance to the 10 nearest training codes in the
  whitened code space (points in empty regions of the manifold); the ensemble score is
  the mean over models.

Other score types: ``"elbo"`` (the negative ELBO of VAE-family backbones, evaluated
deterministically at the posterior mean with the closed-form KL, so two calls agree)
and ``"latent_gaussian"`` (the Mahalanobis distance of the code to the training codes,
a Gaussian latent density); any ``+``-joined combination is allowed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch import nn

from aekit.apps.pyod_contract import PyODContractMixin
from aekit.apps.retrieval import mean_knn_distance
from aekit.data.validate import as_examples
from aekit.errors import AekitError, ConfigError, DataError
from aekit.latents import DiagonalGaussian
from aekit.models.base import Autoencoder, Batch, Loss, unpack
from aekit.rng import private_rng

SCORE_PARTS = ("reconstruction", "latent", "latent_gaussian", "elbo")
DEFAULT_SCORE = "reconstruction+latent"
LATENT_DIVISORS = (8, 4, 2)  # member i's bottleneck: features // LATENT_DIVISORS[i % 3]
MAX_AUTO_LATENT = 16
TARGET_STEPS = 1000  # epochs="auto" trains each member for about this many steps
MAX_REFERENCE = 2048  # training codes kept for the latent k-NN score (see the docs page)
HUBER_DELTA = 1.0  # reconstruction error: quadratic up to 1 std, linear beyond
SCORE_CHUNK = 8192  # rows scored at once (fixed, so scores never depend on call sizes)
DETECTOR_FILE = "detector.json"
ARRAYS_FILE = "detector.safetensors"


class RobustLoss(nn.Module):
    """Wrap any aekit model so training ignores the highest-loss fraction of each batch.

    The wrapped objective is the model's own loss on the ``1 - fraction`` of the batch
    with the smallest per-example objectives (``Loss.per_example``): a trimmed loss (the
    "least trimmed squares" idea applied to autoencoders), so examples the model cannot
    explain, which in unlabelled data are mostly the anomalies, do not pull the model
    toward them. The
    wrapper follows the training protocol (``parameter_groups``, ``group_loss``,
    ``set_step``), so :class:`aekit.Trainer` trains it unchanged; in eval mode, or for a
    loss without ``per_example``, the model's own loss passes through.

    Parameters
    ----------
    model : Autoencoder
        The model to train.
    fraction : float
        Share of each batch left out, in [0, 1).
    """

    def __init__(self, model: Autoencoder, fraction: float) -> None:
        super().__init__()
        if not 0.0 <= fraction < 1.0:
            raise ConfigError(f"robust_fraction must be in [0, 1), got {fraction}")
        self.model = model
        self.fraction = fraction
        self.config = model.config
        self.name = model.name

    @property
    def device(self) -> torch.device:
        """Device of the wrapped model."""
        return self.model.device

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The wrapped model's optimiser groups."""
        return self.model.parameter_groups()

    def set_step(self, step: int) -> None:
        """Pass the global step on to the wrapped model."""
        self.model.set_step(step)

    def _trim(self, loss_fn: Callable[[Batch], Loss], batch: Batch | torch.Tensor) -> Loss:
        """Rank the batch by per-example objective (no gradient), then the model's own
        loss on the kept examples: batch-level parts of the objective (the free-bits
        floor, the capacity target |KL - C|) stay what the model defines."""
        if not self.training or self.fraction == 0:
            return loss_fn(batch)
        x, y = unpack(batch)
        keep = len(x) - int(len(x) * self.fraction)
        if keep == len(x):
            return loss_fn(batch)
        with torch.no_grad():
            per = loss_fn(batch).per_example
        if per is None:
            return loss_fn(batch)
        rows = torch.topk(per, keep, largest=False, sorted=False).indices
        return loss_fn((x[rows], None if y is None else y[rows]))

    def group_loss(self, group: str, batch: Batch | torch.Tensor) -> Loss:
        """The wrapped model's loss for ``group`` on the kept examples."""
        return self._trim(lambda b: self.model.group_loss(group, b), batch)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The wrapped model's loss on the kept examples."""
        return self._trim(self.model.loss, batch)


def parse_score(score: str) -> tuple[str, ...]:
    """``"reconstruction+latent"`` -> ``("reconstruction", "latent")``, validated."""
    parts = tuple(p.strip() for p in str(score).split("+") if p.strip())
    bad = [p for p in parts if p not in SCORE_PARTS]
    if not parts or bad:
        raise ConfigError(f"score={score!r}: use one of {SCORE_PARTS} or a '+'-joined "
                          "combination such as 'reconstruction+latent'")
    if len(set(parts)) != len(parts):
        raise ConfigError(f"score={score!r} names a part twice")
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


class _Member:
    """One fitted model of the ensemble with what its scores need."""

    def __init__(self, model: Autoencoder) -> None:
        self.model = model
        self.calib: dict[str, tuple[float, float]] = {}  # part -> (median, spread)
        self.code_mean: torch.Tensor | None = None
        self.whiten: torch.Tensor | None = None  # codes -> whitened codes
        self.refs: torch.Tensor | None = None  # whitened reference codes (latent k-NN)


class AnomalyDetector(PyODContractMixin, BaseEstimator):
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
    score : str
        ``reconstruction``, ``latent``, ``latent_gaussian``, ``elbo`` or a ``+``-joined
        combination (each part robustly standardised on the training data, then summed).
    robust_fraction : float
        Share of each batch left out of training as the highest-loss examples, [0, 1).
    n_neighbors : int
        ``k`` of the latent k-NN density score.
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

    def __init__(
        self,
        contamination: float = 0.1,
        threshold: float | None = None,
        model: str | Sequence[str] = "ae",
        n_estimators: int = 3,
        latent_dim: int | None = None,
        hidden_dims: tuple[int, ...] | None = None,
        score: str = DEFAULT_SCORE,
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
        self.score = score
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
    def _check_params(self) -> tuple[str, ...]:
        checks = [
            ("contamination", 0 < self.contamination <= 0.5, "in (0, 0.5]"),
            ("n_estimators", int(self.n_estimators) >= 1, ">= 1"),
            ("latent_dim", self.latent_dim is None or int(self.latent_dim) >= 1,
             ">= 1 or None"),
            ("robust_fraction", 0 <= self.robust_fraction < 1, "in [0, 1)"),
            ("n_neighbors", int(self.n_neighbors) >= 1, ">= 1"),
            ("epochs", self.epochs is None or int(self.epochs) >= 1, ">= 1 or None"),
            ("batch_size", int(self.batch_size) >= 1, ">= 1"),
            ("learning_rate", self.learning_rate > 0, "> 0"),
            ("threshold", self.threshold is None or math.isfinite(self.threshold),
             "a finite number or None"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"{name} must be {rule}, got {getattr(self, name)!r}")
        names = [self.model] if isinstance(self.model, str) else list(self.model)
        if not names:
            raise ConfigError("model must name at least one registered model")
        from aekit.models import get_class

        for name in names:
            cls = get_class(name)
            if cls.conditional:
                raise ConfigError(f"model {name!r} is conditional (needs labels y); "
                                  "anomaly detection uses unconditional models")
        return parse_score(self.score)

    def _check_X(self, X: Any, name: str = "X") -> torch.Tensor:
        """Validated input with the fitted example shape."""
        from aekit.data.validate import check_sample_shape

        x = as_examples(X, name)
        if hasattr(self, "input_shape_"):
            check_sample_shape(self.input_shape_, tuple(x.shape[1:]), where=name)
        return x

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

    def fit(self, X: Any, y: Any = None) -> AnomalyDetector:
        """Train the ensemble on ``X`` (labels ``y`` are ignored) and set the attributes.

        Parameters
        ----------
        X : array-like, shape (N, D) or (N, C, H, W) or (N, C, T)
            Training data; it may contain anomalies.
        y : ignored
            Present for API compatibility.

        Returns
        -------
        self
        """
        from aekit.models import create
        from aekit.train import TrainConfig, Trainer
        from aekit.train.config import resolve_device

        parts = self._check_params()
        for attr in ("input_shape_", "n_features_in_"):
            if hasattr(self, attr):
                delattr(self, attr)
        x = self._check_X(X)
        if len(x) < 2:
            raise DataError(f"X: at least 2 examples are needed to fit, got {len(x)}")
        self.input_shape_ = tuple(int(s) for s in x.shape[1:])
        self.n_features_in_ = int(math.prod(self.input_shape_))
        self.parts_ = parts
        if self.standardize:
            self.mean_ = x.mean(0)
            std = x.std(0, unbiased=False)
            self.scale_ = torch.where(std > 1e-8 * (1 + self.mean_.abs()), std,
                                      torch.ones_like(std))
        else:
            self.mean_ = torch.zeros(self.input_shape_)
            self.scale_ = torch.ones(self.input_shape_)
        z = (x - self.mean_) / self.scale_
        device = resolve_device(self.device)
        self.members_: list[_Member] = []
        with private_rng(device=device):  # leave the caller's RNG untouched
            for i in range(int(self.n_estimators)):
                seed = int(self.random_state) * 1000 + i
                name, settings = self._member_settings(i)
                torch.manual_seed(seed)
                model = create(name, **settings)
                if "elbo" in parts and not self._probabilistic(model):
                    raise ConfigError(f"score 'elbo' needs a VAE-family model; {name!r} has "
                                      "a deterministic encoder")
                cfg = TrainConfig(epochs=self._epochs(len(z)), batch_size=int(self.batch_size),
                                  lr=float(self.learning_rate), val_fraction=0.0, seed=seed,
                                  checkpoint_every=0, device=device, progress=bool(self.verbose))
                Trainer(cfg).fit(RobustLoss(model, float(self.robust_fraction)), z)
                model.eval()
                self.members_.append(self._calibrate(model, z, seed, parts))
        self.decision_scores_ = self._decision(z)
        self._set_threshold()
        return self

    @property
    def models_(self) -> list[Autoencoder]:
        """The fitted models of the ensemble."""
        return [m.model for m in self.members_]

    @staticmethod
    def _probabilistic(model: Autoencoder) -> bool:
        with torch.inference_mode():
            probe = torch.zeros((1, *model.config.input_shape), device=model.device)
            return isinstance(model.encode(probe), DiagonalGaussian)

    def _calibrate(self, model: Autoencoder, z: torch.Tensor, seed: int,
                   parts: tuple[str, ...]) -> _Member:
        member = _Member(model)
        exclude = None
        if "latent" in parts or "latent_gaussian" in parts:
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
        latent = "latent" in parts or "latent_gaussian" in parts
        with torch.inference_mode():
            zd = z.to(model.device)
            code = model.embed(zd) if latent else None
            if code is not None and type(model).reconstruct is Autoencoder.reconstruct:
                recon = model.likelihood.mean(model.decode_logits(code))  # one encoder pass
            else:
                recon = model.reconstruct(zd)
            residuals = huber((recon - zd).abs()).cpu()
            if "reconstruction" in parts:
                out["reconstruction"] = residuals.flatten(1).sum(1).double()
            if latent:
                white = ((code.cpu().double() - member.code_mean) @ member.whiten).float()
                if "latent" in parts:
                    k = min(int(self.n_neighbors), len(member.refs) - (exclude is not None))
                    out["latent"] = mean_knn_distance(white, member.refs, max(k, 1),
                                                       exclude).double()
                if "latent_gaussian" in parts:
                    out["latent_gaussian"] = white.double().square().sum(1)
            if "elbo" in parts:
                q = model.encode(zd)
                nll = model.likelihood.nll(model.decode_logits(q.mean), zd)
                out["elbo"] = (nll + q.kl_standard_normal().sum(1)).cpu().double()
        return out, residuals

    def _score_terms(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-value contributions ``(N, *input_shape)`` and per-example offsets ``(N,)``
        whose sums are the scores of one chunk.

        The contributions are the reconstruction part (``huber(z - x_hat) / spread``, mean
        over the ensemble; zeros when the score has no reconstruction part); the offsets hold
        the other parts and the reconstruction part's centring.
        """
        contrib = torch.zeros(z.shape, dtype=torch.float64)
        offset = torch.zeros(len(z), dtype=torch.float64)
        for member in self.members_:
            parts, residuals = self._raw_parts(member, z)
            for part, values in parts.items():
                med, spread = member.calib[part]
                if part == "reconstruction":
                    contrib += residuals.double() / spread
                    offset -= med / spread
                else:
                    offset += (values - med) / spread
        return contrib / len(self.members_), offset / len(self.members_)

    def _decision(self, z: torch.Tensor) -> np.ndarray:
        out = []
        for i in range(0, len(z), SCORE_CHUNK):
            contrib, offset = self._score_terms(z[i:i + SCORE_CHUNK])
            out.append(contrib.flatten(1).sum(1) + offset)
        return torch.cat(out).numpy()

    def _set_threshold(self) -> None:
        if self.threshold is not None:
            self.threshold_ = float(self.threshold)
        else:
            self.threshold_ = float(np.quantile(self.decision_scores_, 1 - self.contamination))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this AnomalyDetector is not fitted yet; call fit(X) first")

    def _standardised(self, X: Any, name: str = "X") -> torch.Tensor:
        self._check_fitted()
        return (self._check_X(X, name) - self.mean_) / self.scale_

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly scores of ``X``, shape ``(N,)``; higher is more anomalous.

        Deterministic: no sampling is involved, so two calls give the same scores. A row
        whose score overflows (a value like 1e30) is a :class:`DataError` naming it.
        """
        self._check_fitted()
        x = self._check_X(X, "X")
        z = (x - self.mean_) / self.scale_
        scores = self._decision(z)
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
        z = self._standardised(X)
        if "reconstruction" not in self.parts_:
            out = torch.zeros(z.shape, dtype=torch.float64)
            for member in self.members_:
                out += torch.cat([self._raw_parts(member, z[i:i + SCORE_CHUNK])[1]
                                  for i in range(0, len(z), SCORE_CHUNK)]).double()
            return (out / len(self.members_)).numpy()
        return torch.cat([self._score_terms(z[i:i + SCORE_CHUNK])[0]
                          for i in range(0, len(z), SCORE_CHUNK)]).numpy()

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the fitted detector to a folder (JSON + safetensors, nothing pickled).

        ``directory/detector.json`` holds the parameters and fitted numbers,
        ``detector.safetensors`` the arrays and ``member_<i>/`` each model in aekit's
        model folder format. Read it back with :meth:`load`.
        """
        self._check_fitted()
        return save_detector(self, directory, kind="AnomalyDetector")

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> AnomalyDetector:
        """Read a detector written by :meth:`save`."""
        det = load_detector(directory, device=device)
        if not isinstance(det, cls):
            raise AekitError(f"{directory}: holds a {type(det).__name__}, not a {cls.__name__}")
        return det


# -- folder format ------------------------------------------------------------------------

def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in params.items():
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


def _detector_state(det: AnomalyDetector, prefix: str = "") -> tuple[dict, dict]:
    """(JSON record, tensors) of a fitted AnomalyDetector."""
    tensors = {f"{prefix}mean": det.mean_, f"{prefix}scale": det.scale_,
               f"{prefix}decision_scores": torch.from_numpy(det.decision_scores_)}
    members = []
    for i, m in enumerate(det.members_):
        members.append({"folder": f"{prefix}member_{i}",
                        "calib": {p: list(v) for p, v in m.calib.items()}})
        for key in ("code_mean", "whiten", "refs"):
            value = getattr(m, key)
            if value is not None:
                tensors[f"{prefix}member_{i}.{key}"] = value
    record = {"params": _jsonable(det.get_params(deep=False)),
              "input_shape": list(det.input_shape_), "threshold": det.threshold_,
              "members": members}
    return record, tensors


def _restore_detector(record: dict, tensors: dict, directory: Path, prefix: str = "",
                      device: str | None = None) -> AnomalyDetector:
    from aekit.io import load as load_model

    params = dict(record["params"])
    if isinstance(params.get("hidden_dims"), list):
        params["hidden_dims"] = tuple(params["hidden_dims"])
    if isinstance(params.get("model"), list):
        params["model"] = tuple(params["model"])
    det = AnomalyDetector(**params)
    det.input_shape_ = tuple(record["input_shape"])
    det.n_features_in_ = int(math.prod(det.input_shape_))
    det.parts_ = parse_score(det.score)
    det.mean_, det.scale_ = tensors[f"{prefix}mean"], tensors[f"{prefix}scale"]
    det.decision_scores_ = tensors[f"{prefix}decision_scores"].numpy()
    det.members_ = []
    for i, info in enumerate(record["members"]):
        member = _Member(load_model(_member_folder(directory, info["folder"]), device=device))
        member.calib = {p: (float(v[0]), float(v[1])) for p, v in info["calib"].items()}
        if not all(math.isfinite(v) for c in member.calib.values() for v in c):
            raise AekitError(f"{directory / DETECTOR_FILE}: member {i}'s score calibration "
                             "is not finite; the file is damaged")
        for key in ("code_mean", "whiten", "refs"):
            setattr(member, key, tensors.get(f"{prefix}member_{i}.{key}"))
        det.members_.append(member)
    det.threshold_ = float(record["threshold"])
    if not math.isfinite(det.threshold_):
        raise AekitError(f"{directory / DETECTOR_FILE}: the threshold is {det.threshold_}; "
                         "the file is damaged (refit, or pass a --threshold)")
    det.labels_ = (det.decision_scores_ > det.threshold_).astype(np.int64)
    return det


def _member_folder(directory: Path, name: Any) -> Path:
    """``directory / name`` for a member folder named in detector.json: a plain folder
    name inside the detector folder (a path elsewhere would load someone else's files)."""
    if not isinstance(name, str) or not name or name in (".", "..") or \
            Path(name).name != name or "\\" in name:
        raise AekitError(f"{directory / DETECTOR_FILE}: member folder {name!r} is not a "
                         "folder name inside the detector folder; refusing to load it")
    return directory / name


def save_detector(det: Any, directory: str | Path, *, kind: str,
                  extra: dict[str, Any] | None = None,
                  extra_tensors: dict[str, torch.Tensor] | None = None,
                  inner: AnomalyDetector | None = None) -> Path:
    """Write a detector folder; ``inner`` is the AnomalyDetector holding the models."""
    from safetensors.torch import save_file

    from aekit import __version__
    from aekit.io import atomic_write_text, save_model

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    inner = det if inner is None else inner
    record, tensors = _detector_state(inner)
    for member, info in zip(inner.members_, record["members"]):
        save_model(member.model, directory / info["folder"])
    tensors.update(extra_tensors or {})
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    tmp = directory / f".{ARRAYS_FILE}.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(directory / ARRAYS_FILE)
    doc = {"kind": kind, "aekit_version": __version__, "detector": record, **(extra or {})}
    atomic_write_text(directory / DETECTOR_FILE, json.dumps(doc, indent=2))
    return directory


def read_detector_folder(directory: str | Path) -> tuple[dict, dict]:
    """The JSON document and tensors of a detector folder, or a clear error."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    directory = Path(directory)
    path = directory / DETECTOR_FILE
    if not path.is_file():
        raise AekitError(f"{directory}: not an aekit detector folder (no {DETECTOR_FILE}); "
                         "write one with `aekit detect fit` or detector.save(folder)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        tensors = load_file(str(directory / ARRAYS_FILE))
    except (json.JSONDecodeError, SafetensorError, OSError, UnicodeDecodeError) as e:
        raise AekitError(f"{directory}: unreadable detector folder ({e})") from None
    if not isinstance(doc, dict):
        raise AekitError(f"{path}: not a detector record (a JSON object)")
    from aekit.io import check_finite

    check_finite(tensors, str(directory / ARRAYS_FILE))
    return doc, tensors


FOLDER_READERS: dict[str, Callable[[dict, dict, Path, str | None], Any]] = {}
"""Readers of the other detector kinds (``kind`` -> ``reader(doc, tensors, folder,
device)``), registered by the modules that define them (``aekit.apps.timeseries``), so
this module imports none of them."""


def load_detector(directory: str | Path, device: str | None = None) -> Any:
    """Load an :class:`AnomalyDetector` folder, or one of a kind in ``FOLDER_READERS``
    (``TimeSeriesAnomalyDetector``)."""
    directory = Path(directory)
    doc, tensors = read_detector_folder(directory)
    kind = doc.get("kind")
    try:
        if kind == "AnomalyDetector":
            return _restore_detector(doc["detector"], tensors, directory, device=device)
        if kind in FOLDER_READERS:
            return FOLDER_READERS[kind](doc, tensors, directory, device)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
        if isinstance(e, AekitError):
            raise
        raise AekitError(f"{directory / DETECTOR_FILE}: malformed detector record "
                         f"({type(e).__name__}: {e})") from None
    raise AekitError(f"{directory}: unknown detector kind {kind!r}")
