"""AnomalyDetector: PyOD API, ranking of planted outliers, explanations, robustness, I/O."""

import json
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

import aekit
from aekit.apps.detect import AnomalyDetector, huber, load_detector
from aekit.errors import ConfigError, DataError
from aekit.train.robust import RobustLoss

FAST = dict(n_estimators=1, epochs=15, random_state=0)


def planted(n=400, d=6, n_out=20, seed=0):
    """Correlated inliers on a 2-D subspace + noise; outliers break the correlation."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(2, d))
    X = rng.normal(size=(n, 2)) @ basis + 0.1 * rng.normal(size=(n, d))
    y = np.zeros(n, dtype=int)
    X[:n_out] += rng.choice([-1, 1], size=(n_out, d)) * 3.0
    y[:n_out] = 1
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = planted()
    return AnomalyDetector(contamination=0.05, **FAST).fit(X), X, y


def test_pyod_attributes_and_contamination_semantics(fitted):
    det, X, _ = fitted
    assert det.decision_scores_.shape == (len(X),)
    assert det.labels_.shape == (len(X),) and set(np.unique(det.labels_)) <= {0, 1}
    # threshold_ is the (1 - contamination) quantile and consistent with labels_
    assert det.labels_.mean() == pytest.approx(0.05, abs=1 / len(X))
    np.testing.assert_array_equal(det.labels_, (det.decision_scores_ > det.threshold_))
    np.testing.assert_array_equal(det.predict(X), det.labels_)
    np.testing.assert_allclose(det.decision_function(X), det.decision_scores_, atol=1e-6)
    proba = det.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert det.predict_proba(X, method="unify").shape == (len(X), 2)
    labels, conf = det.predict(X[:5], return_confidence=True)
    assert labels.shape == conf.shape == (5,) and ((conf >= 0) & (conf <= 1)).all()


def test_explicit_threshold_overrides_contamination():
    X, _ = planted(n=200)
    det = AnomalyDetector(threshold=0.0, **FAST).fit(X)
    assert det.threshold_ == 0.0
    np.testing.assert_array_equal(det.labels_, det.decision_scores_ > 0.0)


def test_ranks_planted_outliers_above_inliers(fitted):
    det, X, y = fitted
    assert roc_auc_score(y, det.decision_scores_) > 0.95
    X_new, y_new = planted(seed=1)
    assert roc_auc_score(y_new, det.decision_function(X_new)) > 0.9


def test_explain_puts_the_corrupted_column_first(fitted):
    det, X, _ = fitted
    rng = np.random.default_rng(5)
    rows = X[100:130].copy()
    cols = rng.integers(0, X.shape[1], size=len(rows))
    rows[np.arange(len(rows)), cols] += 4 * X.std(0)[cols]
    contrib = det.explain(rows)
    assert contrib.shape == rows.shape and (contrib >= 0).all()
    assert (contrib.argmax(1) == cols).mean() >= 0.9


def test_sklearn_conventions_get_params_clone_pickle(fitted):
    det, X, _ = fitted
    params = det.get_params()
    assert params["contamination"] == 0.05 and params["score_type"] == "reconstruction+latent_kth"
    twin = clone(det)
    assert not hasattr(twin, "decision_scores_") and twin.get_params() == params
    again = pickle.loads(pickle.dumps(det))
    np.testing.assert_array_equal(again.decision_function(X[:50]), det.decision_function(X[:50]))
    with pytest.raises(NotFittedError):
        AnomalyDetector().decision_function(X)


def test_save_load_round_trip_without_pickle(fitted, tmp_path):
    det, X, _ = fitted
    det.save(tmp_path / "det")
    files = {p.name for p in (tmp_path / "det").rglob("*") if p.is_file()}
    assert not any(f.endswith((".pkl", ".pickle", ".pt")) for f in files)
    back = AnomalyDetector.load(tmp_path / "det")
    np.testing.assert_array_equal(back.decision_function(X), det.decision_function(X))
    assert back.threshold_ == det.threshold_ and back.get_params() == det.get_params()
    assert isinstance(load_detector(tmp_path / "det"), AnomalyDetector)
    with pytest.raises(aekit.errors.AekitError, match="estimator.json"):
        AnomalyDetector.load(tmp_path)
    # a folder saved before the `score` parameter became `score_type` still loads
    record = json.loads((tmp_path / "det" / "estimator.json").read_text())
    record["params"]["score"] = record["params"].pop("score_type")
    (tmp_path / "det" / "estimator.json").write_text(json.dumps(record))
    assert AnomalyDetector.load(tmp_path / "det").score_type == det.score_type


def test_constant_columns_give_finite_scores(digits_flat):
    X = digits_flat.x.numpy()[:300]
    constant = np.flatnonzero(X.std(0) == 0)
    assert len(constant) >= 3  # the digits pixels that break PyOD's PCA
    det = AnomalyDetector(**FAST).fit(X)
    Z = digits_flat.x.numpy()[300:400].copy()
    Z[:, constant] = 1.0  # a value never seen in training in the constant pixels
    assert np.isfinite(det.decision_function(Z)).all()
    assert np.isfinite(det.explain(Z)).all()


def test_scoring_is_deterministic_with_a_vae_backbone(digits_flat):
    X = digits_flat.x.numpy()[:300]
    det = AnomalyDetector(model="vae", score_type="elbo", **FAST).fit(X)
    a, b = det.decision_function(X), det.decision_function(X)
    np.testing.assert_array_equal(a, b)
    # the score is -ELBO at the posterior mean with the closed-form KL: KL is kept
    model = det.models_[0]
    z = (torch.tensor(X[:5]) - det.mean_) / det.scale_
    q = model.encode(z)
    kl = q.kl_standard_normal().sum(1)
    assert (kl > 0).all()
    nll = model.likelihood.nll(model.decode_logits(q.mean), z)
    med, spread = det.members_[0].calib["elbo"]
    expected = ((nll + kl).double() - med) / spread
    np.testing.assert_allclose(a[:5], expected.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert model.config.beta == 1.0


def test_images_and_architecture_ensemble(digits):
    X = digits.x[:200]
    det = AnomalyDetector(model=("ae", "vae"), n_estimators=2, epochs=3).fit(X)
    assert [m.name for m in det.models_] == ["ae", "vae"]
    assert det.input_shape_ == (1, 8, 8)
    assert det.explain(X[:4]).shape == (4, 1, 8, 8)


@pytest.mark.parametrize("score", ["reconstruction", "latent", "latent_kth", "latent_gaussian",
                                   "reconstruction+latent_gaussian"])
def test_every_score_type_ranks_outliers(score):
    X, y = planted(n=300, n_out=15)
    det = AnomalyDetector(score_type=score, **FAST).fit(X)
    assert roc_auc_score(y, det.decision_scores_) > 0.8, score


def test_robust_loss_drops_the_highest_loss_fraction():
    torch.manual_seed(0)
    model = aekit.create("ae", input_shape=(4,), latent_dim=2, hidden_dims=(8,),
                         likelihood="gaussian")
    x = torch.randn(10, 4)
    x[0] += 50  # one example with a huge loss
    wrapped = RobustLoss(model, 0.2).train()
    per = model.loss(x).per_example
    kept = torch.sort(per).values[:8].mean()
    assert wrapped.loss(x).total.item() == pytest.approx(kept.item())
    assert wrapped.group_loss("model", x).total.item() == pytest.approx(kept.item())
    assert wrapped.eval().loss(x).total.item() == pytest.approx(per.mean().item())
    assert wrapped.parameter_groups().keys() == model.parameter_groups().keys()
    with pytest.raises(ConfigError, match="robust_fraction"):
        RobustLoss(model, 1.0)


def test_robust_training_resists_contamination():
    """Outliers sharing one direction: a plain AE learns them, the trimmed one does not."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    X[:20, 2] += 6
    y = (np.arange(400) < 20).astype(int)
    fast = {**FAST, "epochs": 100}
    plain = AnomalyDetector(score_type="reconstruction", robust_fraction=0.0, **fast).fit(X)
    robust = AnomalyDetector(score_type="reconstruction", **fast).fit(X)
    auc_plain = roc_auc_score(y, plain.decision_scores_)
    auc_robust = roc_auc_score(y, robust.decision_scores_)
    assert auc_robust > 0.95 and auc_robust > auc_plain + 0.1, (auc_plain, auc_robust)


def test_huber_is_quadratic_then_linear():
    r = torch.tensor([0.0, 0.5, 1.0, 3.0, -3.0])
    np.testing.assert_allclose(huber(r).numpy(), [0.0, 0.125, 0.5, 2.5, 2.5])


def test_bad_inputs_give_clear_errors(fitted):
    det, X, _ = fitted
    with pytest.raises(DataError, match="NaN|nan|finite"):
        AnomalyDetector(**FAST).fit(np.where(np.eye(10, 6) == 1, np.nan, 1.0))
    bad = X[:5].astype(object)
    bad[2, 1] = "abc"
    with pytest.raises(DataError, match="could not convert string to float"):
        det.decision_function(bad)
    with pytest.raises(DataError, match="X has 4 features, but AnomalyDetector is expecting 6"):
        det.decision_function(X[:, :4])
    with pytest.raises(DataError, match="shape"):
        det.decision_function(np.ones(6))
    with pytest.raises(DataError, match="at least 2"):
        AnomalyDetector(**FAST).fit(X[:1])
    for kwargs, name in [({"contamination": 0.7}, "contamination"),
                         ({"score_type": "magic"}, "score"), ({"n_estimators": 0}, "n_estimators"),
                         ({"robust_fraction": 1.5}, "robust_fraction"),
                         ({"model": "nope"}, "nope"),
                         ({"score_type": "elbo"}, "VAE-family")]:
        with pytest.raises(ConfigError, match=name):
            AnomalyDetector(**{**FAST, **kwargs}).fit(X[:50])
    with pytest.raises(ConfigError, match="method"):
        det.predict_proba(X[:3], method="magic")


def test_knn_mean_distance_equals_brute_force_and_skips_self():
    from aekit.apps.retrieval import KNN_CHUNK, mean_knn_distance

    g = torch.Generator().manual_seed(0)
    refs = torch.randn(300, 5, generator=g)
    queries = torch.cat([torch.randn(KNN_CHUNK + 7, 5, generator=g), refs[:10]])
    d = torch.cdist(queries.double(), refs.double())
    expected = d.topk(4, dim=1, largest=False).values.mean(1)
    got = mean_knn_distance(queries, refs, 4)
    # float32 |q|^2 - 2qr + |r|^2: a distance of 0 comes out as up to ~1e-3
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-3)
    exclude = torch.full((len(queries),), -1)
    exclude[-10:] = torch.arange(10)  # the last 10 queries are references 0..9
    d[torch.arange(len(queries) - 10, len(queries)), torch.arange(10)] = float("inf")
    expected = d.topk(4, dim=1, largest=False).values.mean(1)
    got = mean_knn_distance(queries, refs, 4, exclude)
    torch.testing.assert_close(got.double(), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, settings", [
    ("vae", {"free_bits": 2.0}),
    ("beta_vae", {"capacity_max": 5.0, "capacity_steps": 10, "gamma": 10.0}),
])
def test_robust_loss_keeps_free_bits_and_the_capacity_objective(name, settings):
    """The trimmed objective is the model's own loss on the kept rows: the free-bits floor
    and |E KL - C| stay batch-level terms (not a mean of per-example |KL_i - C|)."""
    torch.manual_seed(0)
    model = aekit.create(name, input_shape=(4,), latent_dim=3, hidden_dims=(8,),
                         likelihood="gaussian", **settings).train()
    model.set_step(5)
    x = torch.randn(12, 4)
    x[0] += 50
    wrapped = RobustLoss(model, 0.25)
    torch.manual_seed(1)
    got = wrapped.loss(x).total
    torch.manual_seed(1)
    with torch.no_grad():
        per = model.loss(x).per_example
    rows = torch.topk(per, 9, largest=False, sorted=False).indices
    want = model.loss(x[rows]).total
    assert 0 not in rows.tolist()
    assert got.item() == pytest.approx(want.item(), rel=1e-6)
    trimmed_mean = torch.sort(per).values[:9].mean()  # what the wrapper used to return
    assert got.item() != pytest.approx(trimmed_mean.item(), rel=1e-3)


def test_feature_count_and_names_are_checked():
    """fit(df) records the columns; reordered columns are scikit-learn's ValueError."""
    pd = pytest.importorskip("pandas")  # in the dev extra; skipped only outside it
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    df = pd.DataFrame(X, columns=["amount", "age", "hour", "items"])
    det = AnomalyDetector(n_estimators=1, epochs=2).fit(df)
    assert list(det.feature_names_in_) == list(df.columns) and det.n_features_in_ == 4
    np.testing.assert_array_equal(det.decision_function(df), det.decision_function(X))
    with pytest.raises(ValueError, match="same order as they were in fit"):
        det.decision_function(df[["age", "amount", "hour", "items"]])
    with pytest.raises(ValueError, match="X has 3 features, but AnomalyDetector is expecting 4"):
        det.decision_function(X[:, :3])


def test_one_not_fitted_error():
    from aekit.apps.base import NotFittedError as AekitNotFittedError

    with pytest.raises(AekitNotFittedError) as info:
        AnomalyDetector().decision_function(np.ones((3, 2)))
    assert isinstance(info.value, NotFittedError)  # scikit-learn's, and
    assert isinstance(info.value, aekit.errors.AekitError)  # one line on the command line


def test_scores_do_not_depend_on_the_memory_order_of_X():
    """Row-major or column-major input: the same float32 reductions, the same scores."""
    X = np.random.default_rng(1).normal(size=(80, 5))
    a = AnomalyDetector(n_estimators=1, epochs=2).fit(X)
    b = AnomalyDetector(n_estimators=1, epochs=2).fit(np.asfortranarray(X))
    np.testing.assert_array_equal(a.decision_scores_, b.decision_scores_)


# -- the isolation score part and the leave-one-dataset-out choice of the default --------
def test_isolation_part_is_an_isolation_forest_on_the_codes():
    """Its defining property: the part is Liu et al.'s isolation score of the whitened
    codes, equal to scikit-learn's IsolationForest on the same codes and seed; it needs
    no distances (a point far out on one code axis is isolated in few random cuts)."""
    from sklearn.ensemble import IsolationForest

    from aekit.apps.detect import fit_isolation_forest, isolation_score

    rng = np.random.default_rng(0)
    codes = torch.from_numpy(rng.normal(size=(600, 3)).astype(np.float32)).double()
    queries = torch.from_numpy(np.vstack([rng.normal(size=(200, 3)), [[0, 0, 9.0]]]))
    ours = isolation_score(queries, fit_isolation_forest(codes, seed=7)).numpy()
    ref = -IsolationForest(n_estimators=100, max_samples=256, random_state=7).fit(
        codes.numpy()).score_samples(queries.numpy())
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert ours[-1] > np.quantile(ours[:-1], 0.99)

    X, y = planted()
    det = AnomalyDetector(score_type="reconstruction+isolation", **FAST).fit(X)
    member = det.members_[0]
    white = ((det._codes(member.model, det._standardised(X)) - member.code_mean)
             @ member.whiten).float()
    med, spread = member.calib["isolation"]
    np.testing.assert_allclose(det.score_parts(X)["isolation"],
                               (isolation_score(white, member.forest).numpy() - med) / spread)
    assert roc_auc_score(y, det.score_parts(X)["isolation"]) > 0.8


def test_score_parts_sum_to_the_score_and_survive_save_load(tmp_path):
    X, _ = planted(n=300)
    det = AnomalyDetector(score_type="reconstruction+latent+isolation", n_estimators=2,
                          epochs=5).fit(X)
    parts = det.score_parts(X[:50])
    assert list(parts) == ["reconstruction", "latent", "isolation"]
    np.testing.assert_allclose(sum(parts.values()), det.decision_function(X[:50]),
                               rtol=1e-12)
    # one fit gives every combination: the parts do not depend on each other
    alone = AnomalyDetector(score_type="isolation", n_estimators=2, epochs=5).fit(X)
    np.testing.assert_allclose(alone.decision_function(X[:50]), parts["isolation"],
                               rtol=1e-6)
    det.save(tmp_path / "d")
    back = AnomalyDetector.load(tmp_path / "d")
    np.testing.assert_array_equal(back.decision_function(X[:50]), det.decision_function(X[:50]))
    from safetensors.numpy import load_file, save_file

    arrays = load_file(str(tmp_path / "d" / "estimator.safetensors"))
    arrays["members.0.forest.left"][0, 0] = 10**9  # a node index outside its tree
    save_file(arrays, str(tmp_path / "d" / "estimator.safetensors"))
    with pytest.raises(aekit.errors.AekitError, match="isolation forest is malformed"):
        AnomalyDetector.load(tmp_path / "d")


def test_leave_one_dataset_out_choice_on_fake_results():
    from aekit.apps.detect import choose_by_leave_one_out

    # "steady" is best on average; "spiky" looks best on a and b, so it is picked when c
    # is held out, and scores badly there: the held-out score shows the risk
    scores = {"steady": {"a": 0.80, "b": 0.80, "c": 0.80},
              "spiky": {"a": 0.99, "b": 0.99, "c": 0.40},
              "weak": {"a": 0.60, "b": 0.60, "c": 0.95}}
    held, default = choose_by_leave_one_out(scores)
    assert default == "steady"  # means 0.80, 0.793, 0.717
    # held out a: on b, c spiky 0.695 < steady 0.80 -> steady; held out c: spiky 0.99 wins
    assert held == [("a", "steady", 0.80), ("b", "steady", 0.80), ("c", "spiky", 0.40)]
    tie = {"first": {"a": 0.5, "b": 0.7}, "second": {"a": 0.7, "b": 0.5}}
    assert choose_by_leave_one_out(tie)[1] == "first"  # ties go to the first listed
    with pytest.raises(ConfigError, match="same two or more datasets"):
        choose_by_leave_one_out({"x": {"a": 1.0}, "y": {"a": 0.5}})
    with pytest.raises(ConfigError, match="same two or more datasets"):
        choose_by_leave_one_out({"x": {"a": 1.0, "b": 1.0}, "y": {"a": 0.5, "c": 1.0}})


def test_latent_kth_part_is_the_mth_neighbour_distance_and_unmasks_a_tight_group():
    """Its defining property: the part is the distance from the whitened code to its m-th
    nearest code of a random subset of at most 512 reference codes, m = max(n_neighbors,
    ceil(0.05 n_ref)). A tight group of
    anomalies in the training data larger than n_neighbors but smaller than m is hidden
    from the 10-neighbour latent part by its own members, not from this one."""
    import math

    rng = np.random.default_rng(0)
    X, _ = planted(n=600, n_out=0)
    group = X[0] + np.array([6.0, -6, 6, -6, 6, -6]) + 0.01 * rng.normal(size=(30, 6))
    X_train = np.vstack([X, group[:20]])  # 20 group members: n_neighbors 10 < 20 < m 32
    X_test = np.vstack([planted(n=200, n_out=0, seed=1)[0], group[20:]])
    y_test = np.r_[np.zeros(200), np.ones(10)]
    det = AnomalyDetector(score_type="latent+latent_kth", **FAST).fit(X_train)
    parts = det.score_parts(X_test)
    assert roc_auc_score(y_test, parts["latent_kth"]) > 0.95
    assert roc_auc_score(y_test, parts["latent"]) < 0.6  # masked by the group's members
    member = det.members_[0]
    white = ((det._codes(member.model, det._standardised(X_test)) - member.code_mean)
             @ member.whiten).float()
    assert len(member.kth_refs) == 512 < len(member.refs)  # a subset of the references
    m = max(10, math.ceil(0.05 * len(member.kth_refs)))
    brute = torch.cdist(white.double(), member.kth_refs.double()).sort(1).values[:, m - 1]
    med, spread = member.calib["latent_kth"]
    np.testing.assert_allclose(parts["latent_kth"], (brute.numpy() - med) / spread,
                               rtol=1e-4, atol=1e-4)
    # sharing one neighbour search leaves the latent part as it is alone
    alone = AnomalyDetector(score_type="latent", **FAST).fit(X_train)
    np.testing.assert_allclose(alone.score_parts(X_test)["latent"], parts["latent"],
                               rtol=0, atol=1e-5)  # a float32 mean there, float64 here


def test_latent_kth_subset_bounds_the_search_over_all_references():
    """The subset's m'-th neighbour (m' = ceil(0.05 * 512) = 26) estimates the m-th one of
    all 2048 references (m = 103): never nearer than the full set's m'-th, and its rank
    among all references lies in the 99.9 % interval of that rank for a uniform subset
    (a negative hypergeometric draw) for nearly every query."""
    from scipy.stats import hypergeom

    X, _ = planted(n=3000, n_out=0)
    det = AnomalyDetector(score_type="latent_kth", n_estimators=1, epochs=2,
                          random_state=0).fit(X)
    member = det.members_[0]
    n, n_sub = len(member.refs), len(member.kth_refs)
    assert (n, n_sub) == (2048, 512)
    white = ((det._codes(member.model, det._standardised(planted(n=500, seed=3)[0]))
              - member.code_mean) @ member.whiten).float()
    m_sub = 26
    full = torch.cdist(white.double(), member.refs.double()).sort(1).values
    sub = torch.cdist(white.double(), member.kth_refs.double()).sort(1).values[:, m_sub - 1]
    med, spread = member.calib["latent_kth"]
    np.testing.assert_allclose(det.score_parts(planted(n=500, seed=3)[0])["latent_kth"],
                               (sub.numpy() - med) / spread, rtol=1e-4, atol=1e-4)
    assert bool((sub >= full[:, m_sub - 1] - 1e-6).all())  # a subset is never nearer
    rank = (full < sub[:, None] - 1e-9).sum(1) + 1  # its rank among all references
    # P(rank <= r) = P(at least m_sub subset members among the r nearest of all)
    cdf = hypergeom(n, n_sub, np.arange(1, n + 1)).sf(m_sub - 1)
    lo, hi = np.searchsorted(cdf, 0.0005) + 1, np.searchsorted(cdf, 0.9995) + 1
    assert lo < 103 < hi and hi - lo < 130
    inside = ((rank >= lo) & (rank <= hi)).double().mean()
    assert inside >= 0.99


def test_a_folder_saved_before_the_kth_subset_searches_all_references(tmp_path):
    """Folders written before ``kth_refs`` existed were calibrated on all the references:
    loading one keeps ``latent_kth`` searching all of them."""
    import math

    from safetensors.numpy import load_file, save_file

    X, _ = planted(n=700, n_out=0)
    det = AnomalyDetector(score_type="latent_kth", n_estimators=1, epochs=2,
                          random_state=0).fit(X)
    det.save(tmp_path / "d")
    weights = tmp_path / "d" / "estimator.safetensors"
    arrays = load_file(str(weights))
    assert arrays["members.0.kth_refs"].shape[0] == 512 < arrays["members.0.refs"].shape[0]
    save_file({k: v for k, v in arrays.items() if "kth_refs" not in k}, str(weights))
    old = AnomalyDetector.load(tmp_path / "d")
    member = old.members_[0]
    assert member.kth_refs is None
    X_new = planted(n=50, seed=4)[0]
    white = ((old._codes(member.model, old._standardised(X_new)) - member.code_mean)
             @ member.whiten).float()
    m = max(10, math.ceil(0.05 * len(member.refs)))
    brute = torch.cdist(white.double(), member.refs.double()).sort(1).values[:, m - 1]
    med, spread = member.calib["latent_kth"]
    np.testing.assert_allclose(old.score_parts(X_new)["latent_kth"],
                               (brute.numpy() - med) / spread, rtol=1e-4, atol=1e-4)
