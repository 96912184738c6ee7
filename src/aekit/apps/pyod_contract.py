"""PyOD's detector contract, computed from the training scores: a mixin for detectors.

PyOD's ``BaseDetector`` gives every detector, on top of ``decision_function``, outlier
probabilities, the confidence of each label, labels with a reject option and a scoring
shortcut. :class:`PyODContractMixin` adds them to any detector that has, after ``fit``:

* ``decision_scores_`` -- the scores of the ``n`` training examples (higher = more
  anomalous);
* ``threshold_`` -- scores above it are labelled 1 (anomalous);
* ``contamination`` -- the expected share ``gamma`` of anomalies in the training data;
* ``decision_function(X)`` -- scores of new data: an array, or a list of arrays (one per
  series) for detectors that score lists of series;
* optionally ``threshold`` -- a parameter that, when not ``None``, set ``threshold_``
  explicitly; ``gamma`` is then the share of training scores above ``threshold_`` (what
  PyOD uses for a threshold it did not derive from ``contamination``);
* and ``fit(X)`` for :meth:`~PyODContractMixin.fit_predict_score`.

With ``s`` a score, ``s_1..s_n`` the training scores, ``mu`` and ``sigma`` their mean and
(population) standard deviation and ``gamma`` the contamination:

Outlier probability (``predict_proba``)::

    linear:  P(s) = clip((s - min_i s_i) / (max_i s_i - min_i s_i), 0, 1)   (range 0 -> 1)
    unify:   P(s) = max(0, erf((s - mu) / (sigma * sqrt(2))))              (Kriegel et al. 2011)

ExCeeD confidence (``predict_confidence``; Perini, Vercruyssen and Davis, "Quantifying
the confidence of anomaly detectors in their example-wise predictions", ECML PKDD 2020):
the probability that the label would stay the same if the training set were drawn
again. With ``m(s) = #{i : s_i <= s}`` and a uniform prior on the chance ``p`` that a
training score falls at or below ``s``, its posterior mean is ``p(s) = (1 + m(s)) / (2 +
n)``; the example is labelled anomalous when fewer than ``n * gamma`` training scores lie
above it, so::

    P_out(s) = P(Binomial(n, p(s)) > n - floor(n * gamma))
    confidence(s) = P_out(s) if the label is 1, else 1 - P_out(s)

Reject option (``predict_with_rejection``; Perini, Buncak and Davis, "Unsupervised
anomaly detection with rejection", NeurIPS 2023): a label is replaced by ``-2`` when
``2 * |P_out(s) - 1/2| <= 1 - 2 exp(-T)``. With ``k = floor(n * gamma) - 1`` and
``q1 < q2`` the solutions of ``P(Binomial(n, q) <= k) = 1 - exp(-T)`` and ``= exp(-T)``
(the ``exp(-T)`` lower and upper quantiles of ``Beta(k + 1, n - k)``)::

    expected rejection rate  = q2 - q1
    upper bound of the rate  = min(1, (n + 1 - gamma (n + 2)) / n + T (n + 2) / sqrt(2 n^3 T))
                               - max(0, (2 + n (1 - gamma)(n + 1)) / n^2
                                        - sqrt(n^5 / 2 * (2n (-3 gamma^2 - 2n (1 - gamma)^2
                                                              + 4 gamma - 3)
                                                          + T (n + 2)^2 - 8)) / n^4)
                               + 2 sqrt(log(2 / delta) / (2 n))     (holds w.p. 1 - delta)
    upper bound of the cost  = min(gamma, q1) c_fp + min(1 - q2, gamma) c_fn + (q2 - q1) c_r

(a negative square root argument gives the ``max(0, .)`` term 0, as in PyOD).

Differences from PyOD, on purpose: PyOD warns and replaces an out-of-range ``delta`` by
0.1; aekit refuses it (``ConfigError``), as it refuses ``T <= log 2`` (where the
threshold ``1 - 2 exp(-T)`` is not positive and PyOD's expected rejection rate comes out
negative) and negative ``c_fp``, ``c_fn``. A negative ``c_r`` (the default ``-1``) means
"the contamination", as in PyOD, without a warning. ``q1`` and ``q2`` are beta quantiles
(``scipy.stats.beta``) where PyOD finds them by a root search on the binomial CDF; near 1
that CDF is flat to ``1e-16``, so PyOD's ``q1`` is off by up to about ``1e-7`` at
``T = 32`` (``benchmarks/pyod_contract.py`` measures it). ``fit_predict_score`` returns
the score without printing it, and refuses a bad ``scoring`` or non-0/1 labels before
training. PyOD's errors for a bad ``method`` (``ValueError``) and a bad ``scoring``
(``NotImplementedError``) are raised with the same types.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import erf
from scipy.stats import beta, binom
from sklearn.exceptions import NotFittedError

from aekit.errors import ConfigError, DataError

PROBA_METHODS = ("linear", "unify")
SCORINGS = ("roc_auc_score", "prc_n_score")
REJECTED = -2  # the label predict_with_rejection gives a rejected example (as PyOD)


def precision_at_n(y: np.ndarray, scores: np.ndarray) -> float:
    """Precision @ rank n (PyOD's ``prc_n_score``): ``n`` is the number of anomalies in
    ``y``; the examples scoring above the ``1 - n / N`` percentile of ``scores`` are
    labelled 1 and the precision of those labels is returned (0 when none is)."""
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=np.float64)
    cut = np.percentile(scores, 100 * (1 - np.count_nonzero(y) / len(y)))
    flagged = scores > cut
    return float((y[flagged] == 1).mean()) if flagged.any() else 0.0


def rejection_quantiles(n: int, gamma: float, T: float) -> tuple[float, float]:
    """``(q1, q2)``: the ``exp(-T)`` lower and upper quantiles of ``Beta(k + 1, n - k)``,
    ``k = floor(n * gamma) - 1``, i.e. the ``q`` where ``P(Binomial(n, q) <= k)`` equals
    ``1 - exp(-T)`` and ``exp(-T)``."""
    n_out = int(n * gamma)
    if n_out < 1:
        raise ConfigError(f"rejection statistics need at least one training example "
                          f"labelled anomalous: n * contamination = {n} * {gamma} < 1")
    tail = math.exp(-T)
    return (float(beta.ppf(tail, n_out, n - n_out + 1)),
            float(beta.isf(tail, n_out, n - n_out + 1)))


def _check_rejection_settings(T: float, delta: float, c_fp: float, c_fn: float) -> None:
    if not math.log(2) < T:
        raise ConfigError(f"T must be > log(2) = 0.693 (below it the rejection threshold "
                          f"1 - 2 exp(-T) is not positive and nothing is rejected), got {T!r}")
    if not 0 < delta < 1:
        raise ConfigError(f"delta must be in (0, 1), got {delta!r}")
    for name, value in (("c_fp", c_fp), ("c_fn", c_fn)):
        if not value >= 0:
            raise ConfigError(f"{name} must be >= 0, got {value!r}")


class PyODContractMixin:
    """PyOD's ``predict_proba``, ``predict_confidence``, ``predict_with_rejection``,
    ``compute_rejection_stats`` and ``fit_predict_score``, and ``predict(X,
    return_confidence=True)``, from the training scores.

    See the module docstring for what a detector must have and the formulas. Scores of a
    list of series (a list of arrays from ``decision_function``) give lists of results,
    one per series; the statistics are computed once from ``decision_scores_``.
    """

    # -- what the formulas read -----------------------------------------------------------
    def _train_scores(self) -> np.ndarray:
        if not (hasattr(self, "decision_scores_") and hasattr(self, "threshold_")):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call "
                                 "fit(X) first")
        return np.asarray(self.decision_scores_, dtype=np.float64).ravel()

    def _gamma(self) -> float:
        """The share of training examples taken as anomalous (``gamma``)."""
        if getattr(self, "threshold", None) is None:
            return float(self.contamination)
        return float(np.mean(self._train_scores() > self.threshold_))

    def _per_series(self, X: Any, fn: Callable[[np.ndarray], Any], pair: bool = False
                    ) -> Any:
        """``fn`` of the scores of ``X``, or a list of them when ``X`` is scored as a list
        (for an ``fn`` returning a ``pair``, a pair of lists)."""
        scores = self.decision_function(X)
        if not isinstance(scores, list):
            return fn(np.asarray(scores, dtype=np.float64))
        out = [fn(np.asarray(s, dtype=np.float64)) for s in scores]
        return ([o[0] for o in out], [o[1] for o in out]) if pair else out

    def _labels(self, scores: np.ndarray) -> np.ndarray:
        return (scores > self.threshold_).astype(np.int64)

    def outlier_confidence(self, scores: np.ndarray) -> np.ndarray:
        """``P_out(s)`` of ExCeeD for given scores: the probability that each score would
        be labelled anomalous under a redrawn training set (see the module docstring)."""
        train = np.sort(self._train_scores())
        n = len(train)
        p = (1.0 + np.searchsorted(train, scores, side="right")) / (2.0 + n)
        return binom.sf(n - int(n * self._gamma()), n, p)

    def _confidence(self, scores: np.ndarray) -> np.ndarray:
        p_out = self.outlier_confidence(scores)
        return np.where(self._labels(scores) == 1, p_out, 1.0 - p_out)

    def _proba(self, scores: np.ndarray, method: str) -> np.ndarray:
        train = self._train_scores()
        if method == "linear":
            lo, hi = float(train.min()), float(train.max())
            p = np.clip((scores - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)
        else:
            mu, sigma = float(train.mean()), float(train.std())
            if sigma > 0:
                p = np.clip(erf((scores - mu) / (sigma * math.sqrt(2.0))), 0.0, 1.0)
            else:  # the limit sigma -> 0: 1 above the (constant) training score, else 0
                p = (scores > mu).astype(np.float64)
        return np.stack([1.0 - p, p], axis=-1)

    # -- the contract ---------------------------------------------------------------------
    def predict(self, X: Any, return_confidence: bool = False) -> Any:
        """0/1 labels of ``X``: 1 where the score is above ``threshold_``.

        With ``return_confidence=True`` also returns the ExCeeD confidence of each label
        (as :meth:`predict_confidence`), as ``(labels, confidence)``.
        """
        def one(s: np.ndarray) -> Any:
            return (self._labels(s), self._confidence(s)) if return_confidence \
                else self._labels(s)

        return self._per_series(X, one, pair=return_confidence)

    def predict_confidence(self, X: Any) -> Any:
        """ExCeeD confidence of each label of ``X``, in [0, 1]: the probability that the
        label stays the same if the training set were drawn again (module docstring)."""
        return self._per_series(X, self._confidence)

    def predict_proba(self, X: Any, method: str = "linear",
                      return_confidence: bool = False) -> Any:
        """Outlier probability, shape ``(N, 2)``: columns ``[inlier, outlier]`` (PyOD's).

        Parameters
        ----------
        X : array-like
            Data to score.
        method : {"linear", "unify"}
            ``"linear"`` scales scores by the training minimum and maximum (clipped to
            [0, 1]); ``"unify"`` is Kriegel et al.'s Gaussian scaling ``erf((s - mu) /
            (sigma sqrt 2))`` clipped at 0, with the training mean and std.
        return_confidence : bool
            Also return the ExCeeD confidence of each label, as ``(proba, confidence)``.
        """
        if method not in PROBA_METHODS:
            raise ConfigError(f"method must be one of {PROBA_METHODS}, got {method!r}")

        def one(s: np.ndarray) -> Any:
            proba = self._proba(s, method)
            return (proba, self._confidence(s)) if return_confidence else proba

        return self._per_series(X, one, pair=return_confidence)

    def predict_with_rejection(self, X: Any, T: float = 32, return_stats: bool = False,
                               delta: float = 0.1, c_fp: float = 1, c_fn: float = 1,
                               c_r: float = -1) -> Any:
        """Labels of ``X`` with a reject option: 0, 1, or -2 for a rejected example.

        An example is rejected when its ExCeeD outlier probability ``P_out`` has
        ``2 |P_out - 1/2| <= 1 - 2 exp(-T)`` (a larger ``T`` rejects more).

        Parameters
        ----------
        X : array-like
            Data to label.
        T : float
            Sets the rejection threshold ``1 - 2 exp(-T)``; > log 2.
        return_stats : bool
            Also return ``[expected rejection rate, upper bound of the rejection rate,
            upper bound of the cost]`` (:meth:`compute_rejection_stats`).
        delta : float
            The rate bound holds with probability ``1 - delta``; in (0, 1).
        c_fp, c_fn, c_r : float
            Costs of a false positive, a false negative and a rejection (>= 0; a negative
            ``c_r``, the default, means the contamination).

        Returns
        -------
        labels, or ``(labels, [expected_rate, rate_bound, cost_bound])``
        """
        _check_rejection_settings(T, delta, c_fp, c_fn)
        stats = self.compute_rejection_stats(T, delta, c_fp, c_fn, c_r) if return_stats \
            else None
        cut = 1.0 - 2.0 * math.exp(-T)

        def one(s: np.ndarray) -> np.ndarray:
            labels = self._labels(s)
            labels[2.0 * np.abs(self.outlier_confidence(s) - 0.5) <= cut] = REJECTED
            return labels

        labels = self._per_series(X, one)
        return (labels, list(stats)) if return_stats else labels

    def compute_rejection_stats(self, T: float = 32, delta: float = 0.1, c_fp: float = 1,
                                c_fn: float = 1, c_r: float = -1
                                ) -> tuple[float, float, float]:
        """``(expected rejection rate, upper bound of the rejection rate, upper bound of
        the cost)`` of :meth:`predict_with_rejection` with these settings, from the
        number of training scores and the contamination (formulas in the module
        docstring; the rate bound holds with probability ``1 - delta``)."""
        _check_rejection_settings(T, delta, c_fp, c_fn)
        n, g = len(self._train_scores()), self._gamma()
        c_r = g if c_r < 0 else float(c_r)
        q1, q2 = rejection_quantiles(n, g, T)
        right = min(1.0, (n + 1 - g * (n + 2)) / n + T * (n + 2) / math.sqrt(2 * n**3 * T))
        radicand = 0.5 * n**5 * (2 * n * (-3 * g**2 - 2 * n * (1 - g) ** 2 + 4 * g - 3)
                                 + T * (n + 2) ** 2 - 8)
        left = 0.0 if radicand < 0 else max(
            0.0, (2 + n * (1 - g) * (n + 1)) / n**2 - math.sqrt(radicand) / n**4)
        rate_bound = right - left + 2 * math.sqrt(math.log(2 / delta) / (2 * n))
        cost_bound = min(g, q1) * c_fp + min(1 - q2, g) * c_fn + (q2 - q1) * c_r
        return q2 - q1, rate_bound, cost_bound

    def fit_predict_score(self, X: Any, y: Any, scoring: str = "roc_auc_score") -> float:
        """Fit on ``X``, then score the training scores against labels ``y``.

        Kept for PyOD compatibility (PyOD deprecates it; this warns with a
        ``FutureWarning``): prefer ``fit(X)`` then a metric of ``decision_scores_``.

        Parameters
        ----------
        X : array-like
            Training data (``y`` is not used to fit).
        y : array-like of 0/1
            One label per training score (a list of arrays for a list of series).
        scoring : {"roc_auc_score", "prc_n_score"}
            AUROC, or precision @ rank n (:func:`precision_at_n`); another value raises
            ``NotImplementedError`` (PyOD's type), before any training.
        """
        from sklearn.metrics import roc_auc_score

        warnings.warn("fit_predict_score is deprecated in PyOD; use fit(X) and a metric of "
                      "decision_scores_", FutureWarning, stacklevel=2)
        if scoring not in SCORINGS:
            raise NotImplementedError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
        y = np.concatenate([np.asarray(v).ravel() for v in y]) if isinstance(y, list) \
            else np.asarray(y).ravel()
        if not np.isin(y, (0, 1)).all() or len(np.unique(y)) < 2:
            raise DataError("y: labels must be 0 (inlier) and 1 (anomaly), with both present")
        self.fit(X)
        scores = self._train_scores()
        if len(y) != len(scores):
            raise DataError(f"y: {len(y)} labels for {len(scores)} training scores")
        if scoring == "roc_auc_score":
            return float(roc_auc_score(y, scores))
        return precision_at_n(y, scores)
