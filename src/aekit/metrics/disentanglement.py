"""Disentanglement metrics on data with known generative factors.

A *ground truth* is any object with ``factor_sizes`` (values per factor),
``sample_factors(n, rng)`` (int array ``(n, F)``) and ``render(factors)`` (the
observations), such as :class:`aekit.data.dsprites.DSprites`; ``discrete_factors``
(indices of categorical factors, e.g. dSprites' shape) is optional. A *representation*
is a function from observations to codes ``(n, K)``; :func:`model_representation`
makes one from a model's ``embed``.

Definitions (F factors v_j, K code dimensions z_i):

* **BetaVAE score** (Higgins et al. 2017): repeat ``n_train + n_eval`` times: pick a
  factor k, draw ``batch_size`` pairs of factor vectors that share v_k, and record
  ``mean |z(x1) - z(x2)|`` over the pairs with label k. The score is the held-out
  accuracy of a logistic-regression classifier predicting k. Chance is 1/F, maximum 1.
* **FactorVAE score** (Kim & Mnih 2018): codes are divided by their standard deviation
  over the data (dimensions with zero variance are dropped). Each vote fixes one factor
  k in a batch of ``batch_size`` and records ``(argmin_i Var(z_i / s_i), k)``. A
  majority-vote classifier from dimension to factor is built on ``n_train`` votes and
  its accuracy on ``n_eval`` others is the score (about 1/F by chance, maximum 1).
* **MIG** (Chen et al. 2018): each code dimension is discretised into ``n_bins``
  equal-width bins; with I(z_i; v_j) the discrete mutual information and H(v_j) the
  factor entropy, ``MIG = mean_j (I_(1)j - I_(2)j) / H(v_j)``, the gap between the two
  most informative dimensions. 0 for codes independent of the factors, 1 at best.
* **DCI** (Eastwood & Williams 2018): for each factor a random forest (``max_features``
  all dimensions) predicts v_j from z; its impurity-based feature importances give R
  ``(K, F)``. Disentanglement = ``sum_i rho_i (1 - H_F(P_i.))`` with ``P_ij = R_ij /
  sum_j R_ij``, ``rho_i = sum_j R_ij / sum R`` and entropy in base F; completeness =
  ``sum_j rho_j (1 - H_K(P~_.j))`` with ``P~_ij = R_ij / sum_i R_ij`` and ``rho_j =
  sum_i R_ij / sum R``; informativeness = mean test accuracy of the forests.
* **SAP** (Kumar et al. 2018): a score matrix S ``(K, F)`` - for a continuous factor the
  R^2 of a linear regression of v_j on z_i alone (squared correlation), for a discrete
  factor the balanced test accuracy of a 1-D threshold classifier (a decision tree on
  z_i with at most one leaf per class) - and ``SAP = mean_j (S_(1)j - S_(2)j)``. 0 for
  codes independent of the factors; for a perfect code, 1 with continuous factors and
  ``1 - 1/C_j`` per discrete factor with C_j classes (chance accuracy of the runner-up).

MIG, DCI and SAP share one sample of ``n_samples`` (code, factor) pairs (plus
``n_test`` held-out pairs for DCI and SAP).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from aekit.errors import ConfigError
from aekit.metrics._util import check_positive

__all__ = [
    "METRICS",
    "GroundTruth",
    "beta_vae_score",
    "dci",
    "disentanglement_scores",
    "factor_vae_score",
    "mig",
    "model_representation",
    "sample_codes",
    "sap",
]

METRICS = ("beta_vae", "factor_vae", "mig", "dci", "sap")
_CHUNK = 8192  # observations rendered and encoded per call

Representation = Callable[[Any], Any]


class GroundTruth(Protocol):
    """Data with known factors: sizes, a sampler and a renderer."""

    factor_sizes: Sequence[int]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def render(self, factors: np.ndarray) -> Any: ...


def model_representation(model: Any, batch_size: int = 512) -> Representation:
    """A representation function ``observations -> model.embed codes`` (numpy ``(n, K)``)."""
    check_positive("batch_size", batch_size)

    def represent(obs: Any) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        outs = []
        with torch.inference_mode():
            for i in range(0, len(x), batch_size):
                outs.append(model.embed(x[i:i + batch_size].to(model.device)).flatten(1).cpu())
        return torch.cat(outs).double().numpy()

    return represent


def _codes(ground_truth: GroundTruth, represent: Representation,
           factors: np.ndarray) -> np.ndarray:
    """Codes of the observations of ``factors``, rendered and encoded in chunks."""
    out = []
    for i in range(0, len(factors), _CHUNK):
        z = represent(ground_truth.render(factors[i:i + _CHUNK]))
        z = z.detach().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z)
        out.append(z.reshape(len(z), -1).astype(np.float64))
    return np.concatenate(out)


def sample_codes(ground_truth: GroundTruth, represent: Representation, n: int,
                 rng: np.random.Generator | int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random (codes ``(n, K)``, factors ``(n, F)``) pairs."""
    check_positive("n", n)
    rng = np.random.default_rng(rng)
    factors = np.asarray(ground_truth.sample_factors(n, rng), dtype=np.int64)
    return _codes(ground_truth, represent, factors), factors


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        check_positive(name, value)


# --------------------------------------------------------------------------- BetaVAE


def _beta_vae_points(gt: GroundTruth, represent: Representation, n_points: int,
                     batch_size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_factors = len(gt.factor_sizes)
    labels = rng.integers(0, n_factors, size=n_points)
    first = gt.sample_factors(n_points * batch_size, rng)
    second = gt.sample_factors(n_points * batch_size, rng)
    shared = np.repeat(labels, batch_size)
    rows = np.arange(len(first))
    second[rows, shared] = first[rows, shared]
    z1, z2 = _codes(gt, represent, first), _codes(gt, represent, second)
    diff = np.abs(z1 - z2).reshape(n_points, batch_size, -1).mean(1)
    return diff, labels


def beta_vae_score(ground_truth: GroundTruth, represent: Representation, *, batch_size: int = 64,
                   n_train: int = 500, n_eval: int = 250, seed: int = 0) -> float:
    """BetaVAE score (Higgins et al. 2017): held-out accuracy in [1/F, 1] (see module doc).

    Renders and encodes ``2 * batch_size * (n_train + n_eval)`` observations.
    """
    from sklearn.linear_model import LogisticRegression

    _check_counts(batch_size=batch_size, n_train=n_train, n_eval=n_eval)
    rng = np.random.default_rng(seed)
    x_train, y_train = _beta_vae_points(ground_truth, represent, n_train, batch_size, rng)
    x_eval, y_eval = _beta_vae_points(ground_truth, represent, n_eval, batch_size, rng)
    if len(np.unique(y_train)) < 2:
        raise ConfigError("the BetaVAE score needs at least two factors")
    clf = LogisticRegression(max_iter=5000)
    clf.fit(x_train, y_train)
    return float((clf.predict(x_eval) == y_eval).mean())


# --------------------------------------------------------------------------- FactorVAE


def _factor_vae_votes(gt: GroundTruth, represent: Representation, n_votes: int, batch_size: int,
                      scale: np.ndarray, active: np.ndarray,
                      rng: np.random.Generator) -> np.ndarray:
    """Vote counts ``(K_active, F)``."""
    n_factors = len(gt.factor_sizes)
    labels = rng.integers(0, n_factors, size=n_votes)
    factors = gt.sample_factors(n_votes * batch_size, rng).reshape(n_votes, batch_size, -1)
    factors[np.arange(n_votes), :, labels] = factors[np.arange(n_votes), 0, labels][:, None]
    z = _codes(gt, represent, factors.reshape(n_votes * batch_size, -1))
    z = (z[:, active] / scale[active]).reshape(n_votes, batch_size, -1)
    dims = np.argmin(z.var(axis=1, ddof=1), axis=1)
    votes = np.zeros((int(active.sum()), n_factors), dtype=np.int64)
    np.add.at(votes, (dims, labels), 1)
    return votes


def factor_vae_score(ground_truth: GroundTruth, represent: Representation, *,
                     batch_size: int = 64, n_train: int = 500, n_eval: int = 250,
                     n_variance: int = 5000, seed: int = 0) -> float:
    """FactorVAE score (Kim & Mnih 2018): majority-vote accuracy in [0, 1] (see module doc).

    ``n_variance`` observations estimate each dimension's scale; a representation with no
    varying dimension scores 0.
    """
    _check_counts(batch_size=batch_size, n_train=n_train, n_eval=n_eval, n_variance=n_variance)
    if batch_size < 2:
        raise ConfigError("the FactorVAE score needs batch_size >= 2 (a variance per batch)")
    rng = np.random.default_rng(seed)
    z, _ = sample_codes(ground_truth, represent, n_variance, rng)
    scale = z.std(0, ddof=1)
    active = scale > 0
    if not active.any():
        return 0.0
    train = _factor_vae_votes(ground_truth, represent, n_train, batch_size, scale, active, rng)
    evaluation = _factor_vae_votes(ground_truth, represent, n_eval, batch_size, scale, active,
                                   rng)
    predicted = np.argmax(train, axis=1)  # the factor each dimension votes for most
    return float(evaluation[np.arange(len(predicted)), predicted].sum() / evaluation.sum())


# --------------------------------------------------------------------------- MIG


def _discretize(codes: np.ndarray, n_bins: int) -> np.ndarray:
    out = np.zeros(codes.shape, dtype=np.int64)
    for i in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, i], bins=n_bins)
        out[:, i] = np.digitize(codes[:, i], edges[1:-1])
    return out


def mig(codes: Any, factors: Any, n_bins: int = 20) -> float:
    """Mutual Information Gap (Chen et al. 2018) in [0, 1] (see module doc).

    Parameters
    ----------
    codes : array ``(N, K)``
        Codes, K >= 2.
    factors : int array ``(N, F)``
        The factors the codes came from.
    n_bins : int
        Equal-width bins per code dimension.
    """
    from sklearn.metrics import mutual_info_score

    z, v = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    if z.ndim != 2 or v.ndim != 2 or len(z) != len(v):
        raise ConfigError(f"codes (N, K) and factors (N, F) must have the same N; got {z.shape} "
                          f"and {v.shape}")
    if z.shape[1] < 2:
        raise ConfigError("MIG needs at least 2 code dimensions")
    check_positive("n_bins", n_bins)
    disc = _discretize(z, n_bins)
    mi = np.array([[mutual_info_score(v[:, j], disc[:, i]) for j in range(v.shape[1])]
                   for i in range(z.shape[1])])
    entropy = np.array([mutual_info_score(v[:, j], v[:, j]) for j in range(v.shape[1])])
    top = np.sort(mi, axis=0)[::-1]
    keep = entropy > 0  # constant factors carry no information to recover
    if not keep.any():
        raise ConfigError("MIG: every factor is constant in this sample")
    return float(np.mean((top[0, keep] - top[1, keep]) / entropy[keep]))


# --------------------------------------------------------------------------- DCI


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    p = np.clip(p, 1e-12, 1.0)
    return -(p * np.log(p)).sum(1) / np.log(base)


def dci(codes: Any, factors: Any, test_codes: Any, test_factors: Any, *, n_estimators: int = 50,
        seed: int = 0) -> dict[str, float]:
    """DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    Returns
    -------
    dict
        ``dci_disentanglement``, ``dci_completeness`` (each in [0, 1]),
        ``dci_informativeness`` (mean test accuracy of the per-factor forests).
    """
    from sklearn.ensemble import RandomForestClassifier

    z, v = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    zt, vt = np.asarray(test_codes, dtype=np.float64), np.asarray(test_factors)
    if z.ndim != 2 or len(z) != len(v) or zt.shape[1:] != z.shape[1:]:
        raise ConfigError("dci: codes (N, K), factors (N, F) and their test parts must match")
    n_codes, n_factors = z.shape[1], v.shape[1]
    if n_codes < 2 or n_factors < 2:
        raise ConfigError("DCI needs at least 2 code dimensions and 2 factors")
    importance = np.zeros((n_codes, n_factors))
    accuracy = []
    for j in range(n_factors):
        if len(np.unique(v[:, j])) < 2:
            accuracy.append(1.0)
            continue
        forest = RandomForestClassifier(n_estimators=n_estimators, max_features=None,
                                        random_state=seed, n_jobs=1)
        forest.fit(z, v[:, j])
        importance[:, j] = forest.feature_importances_
        accuracy.append(float((forest.predict(zt) == vt[:, j]).mean()))
    total = importance.sum()
    if total <= 0:
        return {"dci_disentanglement": 0.0, "dci_completeness": 0.0,
                "dci_informativeness": float(np.mean(accuracy))}
    code_weight = importance.sum(1) / total
    code_share = importance / np.clip(importance.sum(1, keepdims=True), 1e-12, None)
    disentanglement = float(np.sum(code_weight * (1 - _entropy_rows(code_share, n_factors))))
    factor_weight = importance.sum(0) / total
    factor_share = (importance / np.clip(importance.sum(0, keepdims=True), 1e-12, None)).T
    completeness = float(np.sum(factor_weight * (1 - _entropy_rows(factor_share, n_codes))))
    return {"dci_disentanglement": disentanglement, "dci_completeness": completeness,
            "dci_informativeness": float(np.mean(accuracy))}


# --------------------------------------------------------------------------- SAP


def sap(codes: Any, factors: Any, test_codes: Any, test_factors: Any, *,
        discrete_factors: Sequence[int] = ()) -> float:
    """Separated Attribute Predictability (Kumar et al. 2018), see module doc.

    Parameters
    ----------
    codes, factors : arrays ``(N, K)``, ``(N, F)``
        Training pairs (R^2 uses these; the threshold classifiers are fitted on them).
    test_codes, test_factors : arrays
        Held-out pairs for the classifiers' balanced accuracy.
    discrete_factors : sequence of int
        Indices of categorical factors; the others are treated as continuous.
    """
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.tree import DecisionTreeClassifier

    z, v = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    zt, vt = np.asarray(test_codes, dtype=np.float64), np.asarray(test_factors)
    n_codes, n_factors = z.shape[1], v.shape[1]
    if n_codes < 2:
        raise ConfigError("SAP needs at least 2 code dimensions")
    bad = [j for j in discrete_factors if not 0 <= j < n_factors]
    if bad:
        raise ConfigError(f"discrete_factors {bad} out of range for {n_factors} factors")
    score = np.zeros((n_codes, n_factors))
    for j in range(n_factors):
        for i in range(n_codes):
            if j in discrete_factors:
                classes = len(np.unique(v[:, j]))
                if classes < 2:
                    continue
                tree = DecisionTreeClassifier(max_leaf_nodes=max(2, classes), random_state=0)
                tree.fit(z[:, i:i + 1], v[:, j])
                score[i, j] = balanced_accuracy_score(vt[:, j], tree.predict(zt[:, i:i + 1]))
            else:
                var_z, var_v = z[:, i].var(), v[:, j].var()
                if var_z > 1e-12 and var_v > 1e-12:
                    cov = np.mean((z[:, i] - z[:, i].mean()) * (v[:, j] - v[:, j].mean()))
                    score[i, j] = cov**2 / (var_z * var_v)
    top = np.sort(score, axis=0)[::-1]
    return float(np.mean(top[0] - top[1]))


# --------------------------------------------------------------------------- all


def disentanglement_scores(ground_truth: GroundTruth, represent: Representation, *,
                           metrics: Sequence[str] = METRICS, n_samples: int = 4000,
                           n_test: int = 1000, batch_size: int = 64, n_train: int = 500,
                           n_eval: int = 250, seed: int = 0,
                           progress: bool = False) -> dict[str, float]:
    """Every requested disentanglement metric of ``represent`` on ``ground_truth``.

    Parameters
    ----------
    ground_truth : GroundTruth
        E.g. ``aekit.data.dsprites.DSprites(resolution=64)``.
    represent : callable
        Observations -> codes ``(n, K)``; see :func:`model_representation`.
    metrics : sequence of str
        Any of ``beta_vae``, ``factor_vae``, ``mig``, ``dci``, ``sap``.
    n_samples, n_test : int
        Sample sizes shared by MIG, DCI and SAP.
    batch_size, n_train, n_eval : int
        Settings of the BetaVAE and FactorVAE scores.
    seed : int
        Seeds every sample.
    progress : bool
        A progress bar over the stages (the whole takes minutes on 64x64 images).

    Returns
    -------
    dict
        ``beta_vae_score``, ``factor_vae_score``, ``mig``, ``dci_disentanglement``,
        ``dci_completeness``, ``dci_informativeness``, ``sap`` (those requested).
    """
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ConfigError(f"unknown disentanglement metric(s) {unknown}; choose from {METRICS}")
    _check_counts(n_samples=n_samples, n_test=n_test)
    from tqdm.auto import tqdm

    shared = {"mig", "dci", "sap"} & set(metrics)
    stages = [m for m in ("beta_vae", "factor_vae") if m in metrics] + \
        (["codes"] if shared else []) + [m for m in ("mig", "dci", "sap") if m in metrics]
    bar = tqdm(total=len(stages), disable=not progress, desc="disentanglement", unit="stage")
    out: dict[str, float] = {}

    def step(stage: str) -> None:
        bar.set_postfix_str(stage)
        bar.update(1)

    with bar:
        if "beta_vae" in metrics:
            out["beta_vae_score"] = beta_vae_score(ground_truth, represent,
                                                   batch_size=batch_size, n_train=n_train,
                                                   n_eval=n_eval, seed=seed)
            step("beta_vae")
        if "factor_vae" in metrics:
            out["factor_vae_score"] = factor_vae_score(ground_truth, represent,
                                                       batch_size=batch_size, n_train=n_train,
                                                       n_eval=n_eval, seed=seed)
            step("factor_vae")
        if shared:
            rng = np.random.default_rng(seed + 1)
            z, v = sample_codes(ground_truth, represent, n_samples, rng)
            zt, vt = sample_codes(ground_truth, represent, n_test, rng)
            step("codes")
            if "mig" in metrics:
                out["mig"] = mig(z, v)
                step("mig")
            if "dci" in metrics:
                out.update(dci(z, v, zt, vt, seed=seed))
                step("dci")
            if "sap" in metrics:
                out["sap"] = sap(z, v, zt, vt, discrete_factors=tuple(
                    getattr(ground_truth, "discrete_factors", ())))
                step("sap")
    return out
