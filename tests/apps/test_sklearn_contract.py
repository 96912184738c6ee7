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

EXPECTED_FAILURES = {
    # Kept: it contradicts a documented design choice of the detector.
    "AnomalyDetector": {
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
