"""AutoencoderReducer: shapes, the nonlinear advantage over PCA, determinism, errors."""

import pickle

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from aekit.apps.reduce import AutoencoderReducer


def spiral_in_10d(n=600, seed=0):
    """A 1-D open spiral curve (t in [0, 3 pi / 2]) rotated into 10-D, plus small noise."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 1.5 * np.pi, n))
    curve = np.stack([np.cos(t), np.sin(t), t / 3], 1)
    basis, _ = np.linalg.qr(rng.normal(size=(10, 3)))
    return curve @ basis.T + 0.01 * rng.normal(size=(n, 10))


def test_shapes_and_feature_names(digits_flat):
    X = digits_flat.x.numpy()[:300]
    red = AutoencoderReducer(n_components=3, epochs=2, random_state=0).fit(X)
    assert red.transform(X).shape == (300, 3)
    assert red.inverse_transform(red.transform(X)).shape == (300, 64)
    assert list(red.get_feature_names_out()) == ["ae0", "ae1", "ae2"]
    assert red.score(X) < 0


def test_nonlinear_manifold_reconstruction_beats_pca():
    X = spiral_in_10d()
    red = AutoencoderReducer(n_components=1, hidden_dims=(64, 64), epochs=300,
                             learning_rate=3e-3, random_state=0).fit(X)
    ae_err = ((red.inverse_transform(red.transform(X)) - X) ** 2).sum(1).mean()
    pca = PCA(1).fit(X)
    pca_err = ((pca.inverse_transform(pca.transform(X)) - X) ** 2).sum(1).mean()
    assert ae_err < 0.5 * pca_err, (ae_err, pca_err)


def test_seeded_determinism_and_vae_backbone(digits_flat):
    X = digits_flat.x.numpy()[:200]
    a = AutoencoderReducer(epochs=2, random_state=3).fit_transform(X)
    b = AutoencoderReducer(epochs=2, random_state=3).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    vae = AutoencoderReducer(model="vae", epochs=2, random_state=0).fit(X)
    np.testing.assert_array_equal(vae.transform(X), vae.transform(X))  # posterior means


def test_pipeline_gridsearch_clone_pickle_and_save(digits_flat, tmp_path):
    X, y = digits_flat.x.numpy()[:300], digits_flat.y.numpy()[:300]
    pipe = make_pipeline(AutoencoderReducer(epochs=2, random_state=0),
                         LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, {"autoencoderreducer__n_components": [2, 4]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["autoencoderreducer__n_components"] in (2, 4)
    red = clone(pipe.steps[0][1]).fit(X)
    again = pickle.loads(pickle.dumps(red))
    np.testing.assert_array_equal(red.transform(X), again.transform(X))
    red.save(tmp_path / "r")
    loaded = AutoencoderReducer.load(tmp_path / "r")
    np.testing.assert_allclose(red.transform(X), loaded.transform(X), atol=1e-5)


def test_nearest_neighbours_in_code_space(digits_flat):
    X = digits_flat.x.numpy()[:300]
    red = AutoencoderReducer(epochs=2, random_state=0).fit(X)
    idx, dist = red.nearest(X[:5], k=3)
    assert idx.shape == (5, 3) and (idx[:, 0] == np.arange(5)).all()
    assert (np.diff(dist, axis=1) >= 0).all()


def test_clear_errors(digits_flat):
    X = digits_flat.x.numpy()[:100]
    red = AutoencoderReducer(epochs=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="64 features"):
        red.transform(X[:, :10])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AutoencoderReducer(epochs=1).fit(bad)
    with pytest.raises(TypeError, match="[Ss]parse"):
        AutoencoderReducer(epochs=1).fit(sparse.csr_matrix(X))
    with pytest.raises(ValueError, match="n_components"):
        AutoencoderReducer(n_components=0).fit(X)
    with pytest.raises(ValueError, match="'model' parameter"):
        AutoencoderReducer(model="nope").fit(X)


def test_early_stopping_on_held_out_fraction(digits_flat):
    X = digits_flat.x.numpy()[:300]
    red = AutoencoderReducer(epochs=200, early_stopping=True, patience=2,
                             validation_fraction=0.2, learning_rate=0.05,
                             random_state=0).fit(X)
    epochs = [r["epoch"] for r in red.history_ if r["split"] == "val"]
    assert epochs and max(epochs) < 200
