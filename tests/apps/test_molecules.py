"""MoleculeVAE: fit on a few hundred molecules, sample valid SELFIES molecules, save and
load without pickle, reconstruction measured (not assumed), interpolation, and property
optimisation that counts its evaluations."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

pytest.importorskip("rdkit")
pytest.importorskip("selfies")

from aekit.apps.base import NotFittedError, ParameterError  # noqa: E402
from aekit.apps.molecules import MoleculeVAE  # noqa: E402
from aekit.data.molecules import canonical, read_smiles  # noqa: E402
from aekit.errors import AekitError, ConfigError, DataError  # noqa: E402
from aekit.metrics.moses import molecule_property  # noqa: E402

FIXTURE = Path(__file__).parents[1] / "data" / "moses_300.csv"


@pytest.fixture(scope="module")
def mols() -> list[str]:
    return read_smiles(FIXTURE).smiles


@pytest.fixture(scope="module")
def fitted(mols, tmp_path_factory) -> tuple[MoleculeVAE, Path]:
    run = tmp_path_factory.mktemp("run")
    est = MoleculeVAE(latent_dim=8, hidden_size=32, embed_dim=16, epochs=2, batch_size=64,
                      kl_warmup_steps=4).fit(mols[:200], run_dir=run)
    return est, run


def test_selfies_samples_are_valid_molecules(fitted):
    est, _ = fitted
    gen = est.sample(40, seed=3)
    assert len(gen) == 40
    # SELFIES decodes every token string to a molecule; only an empty one is invalid
    assert all(canonical(s) is not None for s in gen if s)
    assert est.sample(40, seed=3) == gen  # seeded


def test_saved_folder_loads_to_the_same_sampler(fitted):
    est, run = fitted
    record = json.loads((run / "estimator.json").read_text())
    assert record["estimator"] == "MoleculeVAE" and record["models"] == ["model"]
    assert record["fitted"]["tokenizer_"]["kind"] == "selfies"
    assert record["params"]["hidden_size"] == 32
    assert (run / "model" / "model.safetensors").is_file()
    again = MoleculeVAE.load(run)
    assert again.get_params() == est.get_params()
    assert again.sample(20, seed=5) == est.sample(20, seed=5)
    assert again.tokenizer_.tokens == est.tokenizer_.tokens
    assert again.history_ == est.history_


def test_pickle_and_clone_follow_the_estimator_base(fitted):
    est, _ = fitted
    copy = pickle.loads(pickle.dumps(est))
    assert copy.sample(10, seed=2) == est.sample(10, seed=2)
    fresh = clone(est)
    assert fresh.get_params() == est.get_params() and not hasattr(fresh, "model_")


def test_an_older_folder_gets_a_train_again_error(tmp_path):
    (tmp_path / "molecules.json").write_text("{}")
    with pytest.raises(AekitError, match="older aekit .*train it again"):
        MoleculeVAE.load(tmp_path)
    with pytest.raises(AekitError, match="no estimator.json"):
        MoleculeVAE.load(tmp_path / "nothing")


def test_input_checks(fitted, mols):
    est, _ = fitted
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"SMILES": mols[:3], "id": [1, 2, 3]})
    assert est.encode(frame).shape == (3, 8)
    with pytest.raises(DataError, match="needs a 'smiles' column"):
        est.encode(pd.DataFrame({"mol": mols[:3]}))
    with pytest.raises(DataError, match="item 1 is a float"):
        est.encode([mols[0], float("nan")])
    with pytest.raises(DataError, match="one string"):
        est.encode(mols[0])
    with pytest.raises(DataError, match=r"codes: expected shape \(N, 8\)"):
        est.decode(np.zeros((2, 5)))


def test_reconstruction_is_measured_and_unencodable_molecules_count_as_misses(fitted, mols):
    est, _ = fitted
    acc = est.reconstruction_accuracy(mols[200:220])
    assert 0.0 <= acc <= 1.0
    decoded = est.decode(est.encode(mols[:5]))
    by_hand = sum(canonical(a) == b for a, b in zip(mols[:5], decoded)) / 5
    assert est.reconstruction_accuracy(mols[:5]) == by_hand
    with_unknown = mols[:5] + ["[Se]1C=CC=C1"]  # Se is not in the vocabulary
    assert est.reconstruction_accuracy(with_unknown) == pytest.approx(by_hand * 5 / 6)


def test_interpolation_path(fitted, mols):
    est, _ = fitted
    path = est.interpolate(mols[0], mols[1], steps=5)
    assert len(path) == 5
    assert path[0] == est.decode(est.encode([mols[0]]))[0]
    with pytest.raises(ConfigError, match="steps must be >= 2"):
        est.interpolate(mols[0], mols[1], steps=1)


def test_optimisation_counts_every_evaluation_and_respects_the_budget(fitted, mols,
                                                                      monkeypatch):
    import aekit.apps.molecules as molecules

    est, _ = fitted
    calls: list[str] = []

    def counted(smiles, name):
        calls.append(smiles)
        return molecule_property(smiles, name)

    monkeypatch.setattr(molecules, "molecule_property", counted)
    monkeypatch.setattr(molecules, "OPT_ROUND", 20)  # rounds of 20, 20 and 10
    res = est.optimize(mols[:60], "qed", budget=50)
    assert res.train_evaluations == 60 and res.budget == 50
    # every RDKit call is counted: the sample's 60, then one per new molecule
    assert len(calls) == 60 + res.evaluations and res.evaluations == 50
    scored = calls[60:]
    assert len(set(scored)) == len(scored)  # no molecule scored twice
    assert not set(scored) & {canonical(s) for s in mols[:60]}  # nor one of the sample
    assert [n for n, _ in res.curve] == list(range(1, 51))
    values = [molecule_property(s, "qed") for s in scored]
    assert [b for _, b in res.curve] == pytest.approx(
        np.maximum.accumulate(values).tolist())  # the best so far never decreases
    assert res.best == pytest.approx(max(values))
    assert res.evaluations_to_best == 1 + values.index(max(values))
    assert res.train_best == pytest.approx(max(molecule_property(s, "qed")
                                               for s in mols[:60]))
    beat = next((i + 1 for i, v in enumerate(values) if v > res.train_best), None)
    assert res.evaluations_to_beat == beat
    assert [v for _, v in res.top] == pytest.approx(sorted(values, reverse=True)[:10])
    assert json.loads(json.dumps(res.to_dict()))["evaluations"] == 50
    # rounds are the same up to the budget: a smaller one is the start of a larger one
    calls.clear()
    shorter = est.optimize(mols[:60], "qed", budget=40)
    assert calls[60:] == scored[:40] and shorter.curve == res.curve[:40]


def test_optimisation_minimises_sa_and_stops_when_nothing_new_comes(fitted, mols,
                                                                     monkeypatch):
    est, _ = fitted
    res = est.optimize(mols[:30], "sa", budget=15)
    values = [v for _, v in res.top]
    assert values == sorted(values) and res.best == min(values)  # lower is better
    assert res.train_best == pytest.approx(min(molecule_property(s, "sa")
                                               for s in mols[:30]))
    assert [b for _, b in res.curve] == sorted((b for _, b in res.curve), reverse=True)
    # a decoder that only ever gives one molecule: one evaluation, then rounds with
    # nothing new until the search gives up, short of its budget
    import aekit.apps.molecules as molecules

    monkeypatch.setattr(molecules, "OPT_STALL", 2)
    monkeypatch.setattr(est, "decode", lambda z, **kw: [mols[100]] * len(z))
    res = est.optimize(mols[:30], "qed", budget=40)
    assert res.evaluations == 1 and res.top == [(mols[100], pytest.approx(
        molecule_property(mols[100], "qed")))]


def test_optimisation_refuses_bad_settings(fitted, mols):
    est, _ = fitted
    with pytest.raises(ConfigError, match="property='mass' is not one of"):
        est.optimize(mols[:60], "mass")
    for budget in (0, 2.5, True):
        with pytest.raises(ConfigError, match="budget must be an integer >= 1"):
            est.optimize(mols[:60], budget=budget)
    with pytest.raises(TypeError, match="steps"):  # the old knobs are gone, not ignored
        est.optimize(mols[:60], steps=3)
    with pytest.raises(DataError, match="at least 10 molecules"):
        est.optimize(mols[:9])


def test_errors_before_fit_and_on_bad_input(mols):
    with pytest.raises(NotFittedError, match="not fitted"):
        MoleculeVAE().sample(3)
    with pytest.raises(DataError, match="at least 2 molecules"):
        MoleculeVAE().fit(mols[:1])
    for params, name in (({"tokenizer": "deepsmiles"}, "tokenizer"),
                         ({"hidden_size": 0}, "hidden_size"),
                         ({"word_dropout": 1.0}, "word_dropout"),
                         ({"max_minutes": 0}, "max_minutes")):
        with pytest.raises(ParameterError, match=f"The '{name}' parameter of MoleculeVAE"):
            MoleculeVAE(**params).fit(mols[:5])
    assert issubclass(ParameterError, ConfigError)


def test_time_budget_stops_between_epochs(mols):
    est = MoleculeVAE(latent_dim=4, hidden_size=8, embed_dim=4, epochs=50, batch_size=64,
                      max_minutes=1e-4).fit(mols[:64])
    assert est.history_[-1]["epoch"] == 1


def test_ring_guard_limit_is_learned_saved_and_kept_in_samples(fitted, mols):
    from aekit.data.selfies_rings import largest_ring

    est, run = fitted
    assert est.max_ring_size_ == largest_ring(mols[:200])
    assert MoleculeVAE.load(run).max_ring_size_ == est.max_ring_size_
    tight = pickle.loads(pickle.dumps(est)).set_params(ring_guard=5)  # below the data's
    assert tight.ring_limit() == 5 and est.ring_limit() == est.max_ring_size_
    gen = tight.sample(60, seed=4)
    assert all(largest_ring([s]) <= 5 for s in gen)
    free = tight.set_params(ring_guard=False).sample(60, seed=4)
    assert sum(largest_ring([s]) > 5 for s in free) > 0  # without it, 6-rings and up


def test_ring_guard_is_refused_with_smiles_and_needs_a_limit(fitted, mols):
    with pytest.raises(ConfigError, match="ring_guard=True: the ring guard reads SELFIES"):
        MoleculeVAE("smiles", ring_guard=True, epochs=1).fit(mols[:20])
    with pytest.raises(ParameterError, match="ring_guard"):
        MoleculeVAE(ring_guard=2).fit(mols[:20])
    est = pickle.loads(pickle.dumps(fitted[0]))
    est.max_ring_size_ = None  # a folder saved before the guard
    with pytest.raises(AekitError, match="set ring_guard=False or train it again"):
        est.sample(2)
    assert len(est.set_params(ring_guard=False).sample(2)) == 2


def test_close_benzenes_is_a_guard_rule_refused_without_the_guard(fitted, mols):
    est = pickle.loads(pickle.dumps(fitted[0]))
    assert est.close_benzenes is None and est._guard().close_benzenes  # on with the guard
    assert est.closes_benzenes()
    assert not est.set_params(close_benzenes=False)._guard().close_benzenes
    assert not est.closes_benzenes()
    assert len(est.set_params(ring_guard=False, close_benzenes=None).sample(2)) == 2
    assert not est.closes_benzenes()  # no guard, no rule
    est.set_params(ring_guard=None, close_benzenes=True)
    gen = est.sample(30, seed=2)
    assert len(gen) == 30 and all(canonical(s) is not None for s in gen if s)
    with pytest.raises(ConfigError, match="close_benzenes=True is a rule of the ring guard"):
        est.set_params(ring_guard=False).sample(2)
    with pytest.raises(ConfigError, match="close_benzenes=True is a rule of the ring guard"):
        MoleculeVAE("smiles", close_benzenes=True, epochs=1).fit(mols[:20])
