"""AnomalyDetector and Denoiser pass scikit-learn's own estimator checks (the reducer's
run in test_reducer_sklearn_contract.py); every expected failure is explained here.

SignalDenoiser is not run through them: it takes series ``(T,)`` / ``(T, C)`` (or lists
of them) and returns each series denoised, not tables of independent rows, so the checks'
(N, D) inputs do not describe it; its contract (parameters, NotFittedError, save/load)
is tested in test_denoise.py.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.apps.denoise import Denoiser, SignalDenoiser
from aekit.apps.detect import AnomalyDetector
from aekit.apps.timeseries import TimeSeriesAnomalyDetector

# Not here: AutoencoderReducer (tests/apps/test_reducer_sklearn_contract.py runs
# check_estimator on it); MoleculeVAE, whose X is a list of SMILES strings, not numbers
# (its base-class behaviour - parameter checks, NotFittedError, folder, pickling, clone -
# is tested in tests/apps/test_molecules.py). The SD VAE is a model, not an estimator
# (docs/models/sd_vae.md says why).
FAST = [AnomalyDetector(n_estimators=1, epochs=2, hidden_dims=(8,)),
        Denoiser(epochs=2, hidden_dims=(8,)),
        TimeSeriesAnomalyDetector(detector=AnomalyDetector(n_estimators=1, epochs=2,
                                                           hidden_dims=(8,)), window=4),
        SignalDenoiser(window=4, epochs=2, hidden_dims=(8,))]

# The series estimators read X as ONE series: rows are time steps in order, columns are
# channels. Kept for both, by that design (docs/jobs/anomaly_detection.md, denoising.md):
SERIES = {
    # a step's output depends on the steps before it (its window), so reordering the
    # rows or taking a subset of them changes it
    "check_methods_sample_order_invariance": "rows are time steps: order matters",
    "check_methods_subset_invariance": "rows are time steps: a window spans rows",
    # a 1-D array is a one-channel series, not a mistake
    "check_fit1d": "a 1-D array is a one-channel series",
    "check_fit2d_predict1d": "a 1-D array is a one-channel series",
}

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
    "TimeSeriesAnomalyDetector": SERIES,
    "SignalDenoiser": {
        **SERIES,
        # series are windowed in float32 (as the denoising benchmarks were measured)
        "check_transformer_preserve_dtypes": "float32 windows: float32 output",
        # it also passes X as a Python list of rows, which these estimators read as a
        # list of series (one per row) and answer with a list
        "check_transformer_data_not_an_array": "a list is a list of series",
    },
}


@parametrize_with_checks(FAST, expected_failed_checks=lambda est: EXPECTED_FAILURES[
    type(est).__name__])
def test_sklearn_contract(estimator, check):
    check(estimator)
