"""AnomalyDetector and Denoiser pass scikit-learn's own estimator checks (the reducer's
run in test_reducer_sklearn_contract.py); every expected failure is explained here.

SignalDenoiser is not run through them: it takes series ``(T,)`` / ``(T, C)`` (or lists
of them) and returns each series denoised, not tables of independent rows, so the checks'
(N, D) inputs do not describe it; its contract (parameters, NotFittedError, save/load)
is tested in test_denoise.py.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.apps.denoise import Denoiser
from aekit.apps.detect import AnomalyDetector

FAST = [AnomalyDetector(n_estimators=1, epochs=2, hidden_dims=(8,)),
        Denoiser(epochs=2, hidden_dims=(8,))]

SCORE_PARAMETER = "the `score` parameter shadows the score method"
EXPECTED_FAILURES = {
    # Kept: each contradicts a documented design choice of the detector.
    "AnomalyDetector": {
        # The `score` parameter (which parts make up the anomaly score, documented in
        # docs/jobs/anomaly_detection.md and as `aekit detect fit --score`) is stored as
        # an attribute, as scikit-learn requires of every parameter, so `det.score` is
        # that string and these three checks, which call `score(X, y)`, fail on it; the
        # detector has no score method. What they test besides (n_features_in_ after
        # fit, the same result in a Pipeline) is covered by test_detect.py's
        # feature-name test and by check_estimators_pickle / check_fit_idempotent.
        "check_fit_score_takes_y": SCORE_PARAMETER,
        "check_n_features_in_after_fitting": SCORE_PARAMETER,
        "check_pipeline_consistency": SCORE_PARAMETER,
        # The networks run in float32 (as the benchmark numbers were measured): a row's
        # score depends on the rows scored with it at the 1e-6 level through BLAS
        # blocking, above this check's 1e-7 tolerance (the reducer's float64 passes it).
        "check_methods_subset_invariance": "float32 networks: 1e-6 batch-size dependence",
    },
    # Denoiser: none. Its score follows scikit-learn's score(X, y) (y ignored; noisy
    # copies go in X_noisy=), which fixed its three former expected failures.
    "Denoiser": {},
}


@parametrize_with_checks(FAST, expected_failed_checks=lambda est: EXPECTED_FAILURES[
    type(est).__name__])
def test_sklearn_contract(estimator, check):
    check(estimator)
