"""Denoiser passes scikit-learn's own estimator checks (every expected failure explained).

SignalDenoiser is not run through them: it takes series ``(T,)`` / ``(T, C)`` (or lists
of them) and returns each series denoised, not tables of independent rows, so the checks'
(N, D) inputs do not describe it; its contract (parameters, NotFittedError, save/load)
is tested in test_denoise.py.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.apps.denoise import Denoiser

FAST = Denoiser(epochs=2, hidden_dims=(8,))

EXPECTED_FAILURES = {
    # Denoiser.score(X, X_noisy) scores denoising X_noisy against the clean X (PSNR); the
    # checks call score(X, y) with class labels as the second argument.
    "check_fit_score_takes_y": "score(X, X_noisy) takes noisy examples, not labels",
    "check_n_features_in_after_fitting": "score(X, X_noisy) takes noisy examples, not labels",
    "check_pipeline_consistency": "score(X, X_noisy) takes noisy examples, not labels",
}


@parametrize_with_checks([FAST], expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_contract(estimator, check):
    check(estimator)
