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

from aekit.apps.parametric_umap import infonce_tsne
from aekit.apps.reduce import AutoencoderReducer
from aekit.errors import ConfigError


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
    red = AutoencoderReducer(n_components=1, objective="reconstruction", hidden_dims=(64, 64),
                             epochs=300, learning_rate=3e-3, random_state=0).fit(X)
    ae_err = ((red.inverse_transform(red.transform(X)) - X) ** 2).sum(1).mean()
    pca = PCA(1).fit(X)
    pca_err = ((pca.inverse_transform(pca.transform(X)) - X) ** 2).sum(1).mean()
    assert ae_err < 0.5 * pca_err, (ae_err, pca_err)


def test_seeded_determinism_and_vae_backbone(digits_flat):
    X = digits_flat.x.numpy()[:200]
    a = AutoencoderReducer(epochs=2, random_state=3).fit_transform(X)
    b = AutoencoderReducer(epochs=2, random_state=3).fit_transform(X)
    np.testing.assert_array_equal(a, b)  # the same seed gives the same map
    c = AutoencoderReducer(epochs=2, random_state=4).fit_transform(X)
    assert not np.allclose(a, c)
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
    red = AutoencoderReducer(objective="reconstruction", epochs=200, early_stopping=True,
                             patience=2, validation_fraction=0.2, learning_rate=0.05,
                             random_state=0).fit(X)
    epochs = [r["epoch"] for r in red.history_ if r["split"] == "val"]
    assert epochs and max(epochs) < 200


def knn_accuracy(Z_ref, y_ref, Z, y, k=5):
    """Share of rows of Z whose k nearest rows of Z_ref (itself excluded when the same
    array) hold their label by majority."""
    same = Z is Z_ref
    d = ((Z[:, None, :] - Z_ref[None, :, :]) ** 2).sum(-1)
    if same:
        np.fill_diagonal(d, np.inf)
    nn = np.argsort(d, 1)[:, :k]
    votes = np.array([np.bincount(y_ref[row], minlength=10).argmax() for row in nn])
    return (votes == y).mean()


@pytest.fixture(scope="module")
def digits_maps(digits_flat):
    """Maps of 600 digits (500 fitted, 100 held out) by the tsne, umap and reconstruction
    objectives, same network, same seed, the same number of optimiser steps."""
    X, y = digits_flat.x.numpy()[:600].astype(np.float64), digits_flat.y.numpy()[:600]
    common = dict(hidden_dims=(64,), random_state=0)
    graph = {o: AutoencoderReducer(objective=o, epochs=25, batch_size=256, **common).fit(X[:500])
             for o in ("tsne", "umap")}
    steps = 25 * int(np.ceil(graph["umap"].n_graph_edges_ / 256))
    recon = AutoencoderReducer(objective="reconstruction", batch_size=64, learning_rate=3e-3,
                               epochs=max(1, steps * 64 // 500), **common).fit(X[:500])
    return X, y, graph, recon


@pytest.mark.parametrize("objective", ["tsne", "umap"])
def test_graph_objectives_keep_neighbourhoods_better_than_reconstruction(digits_maps,
                                                                         objective):
    X, y, graph, recon = digits_maps
    fit_g, fit_r = graph[objective].transform(X[:500]), recon.transform(X[:500])
    acc_g = knn_accuracy(fit_g, y[:500], fit_g, y[:500])
    acc_r = knn_accuracy(fit_r, y[:500], fit_r, y[:500])
    assert acc_g > 0.85 and acc_g > acc_r + 0.05, (acc_g, acc_r)
    # new rows mapped by the encoder alone land mostly among fitted rows of their class
    # (0.62 for umap when written; chance is 0.1)
    held_g = knn_accuracy(fit_g, y[:500], graph[objective].transform(X[500:]), y[500:])
    assert held_g > 0.5, held_g


def test_inverse_transform_of_a_map_point_decodes_near_its_neighbours(digits_maps):
    X, y, graph, _ = digits_maps
    Z = graph["tsne"].transform(X[:500])
    decoded = graph["tsne"].inverse_transform(Z[:100])
    # the 10 fitted rows nearest each map point, in the map (itself excluded)
    d_map = ((Z[:100, None] - Z[None]) ** 2).sum(-1)
    d_map[np.arange(100), np.arange(100)] = np.inf
    neighbours = np.argsort(d_map, 1)[:, :10]
    to_neighbours = np.array([np.linalg.norm(X[nb] - dec, axis=1).mean()
                              for nb, dec in zip(neighbours, decoded)])
    rng = np.random.default_rng(0)
    to_random = np.array([np.linalg.norm(X[rng.choice(500, 10)] - dec, axis=1).mean()
                          for dec in decoded])
    assert np.median(to_neighbours / to_random) < 0.75, np.median(to_neighbours / to_random)


def test_graph_on_a_subsample_and_settings_the_objective_does_not_use(digits_flat):
    X = digits_flat.x.numpy()[:300]
    red = AutoencoderReducer(graph_rows=100, n_neighbors=5, epochs=1, random_state=0).fit(X)
    assert red.n_graph_edges_ <= 100 * 4 * 2 and red.transform(X).shape == (300, 2)
    with pytest.raises(ConfigError, match="n_neighbors only applies to objective='umap' or"):
        AutoencoderReducer(objective="reconstruction", n_neighbors=5).fit(X)
    with pytest.raises(ConfigError, match="min_dist only applies to objective='umap'"):
        AutoencoderReducer(objective="tsne", min_dist=0.5).fit(X)
    with pytest.raises(ConfigError, match="early_stopping=True is only used"):
        AutoencoderReducer(early_stopping=True).fit(X)
    with pytest.raises(ConfigError, match="parameter groups"):
        AutoencoderReducer(model="aae", epochs=1).fit(X)
    with pytest.raises(ConfigError, match="jitter only applies to objective='umap' or"):
        AutoencoderReducer(objective="reconstruction", jitter=0.0).fit(X)
    with pytest.raises(ConfigError, match="early_exaggeration only applies to objective="):
        AutoencoderReducer(objective="reconstruction", early_exaggeration=1.0).fit(X)
    with pytest.raises(ConfigError, match="dof only applies to objective='tsne'; "
                                          "objective='umap' does not use it"):
        AutoencoderReducer(objective="umap", dof=2.0).fit(X)
    with pytest.raises(ConfigError, match="dof only applies to objective='tsne'"):
        AutoencoderReducer(objective="reconstruction", dof=2.0).fit(X)


def test_early_exaggeration_falls_linearly_to_one_over_the_first_half_of_the_steps(
        monkeypatch):
    """The graph term gets alpha = early_exaggeration at the first step, falling linearly
    to 1 at half of the steps and 1 after, and the kernel's dof at every step; the
    encoder's default widths are wider with a graph objective."""
    import aekit.apps.reduce as reduce_module

    seen, dofs = [], set()

    def recording(z_head, z_tail, exaggeration=1.0, dof=1.0):
        seen.append(exaggeration)
        dofs.add(dof)
        return infonce_tsne(z_head, z_tail, exaggeration, dof)

    monkeypatch.setattr(reduce_module, "infonce_tsne", recording)
    X = np.random.default_rng(0).normal(size=(60, 4))
    red = AutoencoderReducer(n_neighbors=5, epochs=8, batch_size=64, dof=1.7,
                             random_state=0).fit(X)
    assert dofs == {1.7}
    total = len(red.history_) * int(np.ceil(red.n_graph_edges_ / 64))
    assert len(seen) == total
    np.testing.assert_allclose(seen, np.maximum(1.0, 4.0 - 3.0 * np.arange(total) / (total / 2)))
    assert seen[0] == 4.0 and seen[total // 2:] == [1.0] * (total - total // 2)
    assert red.model_.config.hidden_dims == reduce_module.GRAPH_HIDDEN_DIMS
    plain = AutoencoderReducer(objective="reconstruction", epochs=1).fit(X)
    assert plain.model_.config.hidden_dims == (256, 128)
    linear = AutoencoderReducer(model="linear_ae", epochs=1, random_state=0).fit(X)
    assert linear.model_.config.hidden_dims == ()


def test_graph_objectives_keep_the_input_geometry_and_train_epochs_over_the_edges(
        monkeypatch):
    """One common scale, so the network's rows have the neighbours of the rows as given;
    epochs=None is 50 passes over the graph's edges, capped at about MAX_STEPS steps."""
    import aekit.apps.reduce as reduce_module

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)) * [1.0, 10.0, 0.1, 3.0]
    red = AutoencoderReducer(n_neighbors=5, hidden_dims=(8,), random_state=0).fit(X)
    assert np.ptp(red.scale_) == 0 and np.allclose(red.mean_, X.mean(0))
    assert len(red.history_) == reduce_module.GRAPH_EPOCHS  # one step per pass here
    monkeypatch.setattr(reduce_module, "MAX_STEPS", 20)
    red = AutoencoderReducer(n_neighbors=5, hidden_dims=(8,), batch_size=64,
                             random_state=0).fit(X)
    per_epoch = int(np.ceil(red.n_graph_edges_ / 64))
    assert per_epoch > 1 and len(red.history_) == round(20 / per_epoch)
