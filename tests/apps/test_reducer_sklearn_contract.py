"""AutoencoderReducer passes scikit-learn's own estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.apps.reduce import AutoencoderReducer

# Every check runs; none is skipped or expected to fail. (A fast configuration: the
# checks fit dozens of times on tiny data.)
FAST = AutoencoderReducer(n_components=2, hidden_dims=(8,), epochs=3, random_state=0)


@parametrize_with_checks([FAST])
def test_sklearn_contract(estimator, check):
    check(estimator)
