"""Each disentanglement metric: near its maximum for a perfect code, near its minimum for noise."""

import numpy as np
import pytest

import aekit
from aekit.data.dsprites import DSprites
from aekit.metrics.disentanglement import (
    beta_vae_score,
    dci,
    disentanglement_scores,
    factor_vae_score,
    mig,
    model_representation,
    sample_codes,
    sap,
)


class Factors:
    """Ground truth whose observations are the factor values themselves."""

    factor_sizes = (4, 5, 6, 8)

    def sample_factors(self, n, rng):
        rng = np.random.default_rng(rng)
        return np.stack([rng.integers(0, s, size=n) for s in self.factor_sizes], axis=1)

    def render(self, factors):
        return factors.astype(np.float32)


PERM = [2, 0, 3, 1]


def perfect(obs):
    """One code dimension per factor: permuted, rescaled and shifted (still perfect)."""
    return obs[:, PERM] * np.array([2.0, -1.0, 0.5, 3.0]) + 7.0


def noise(obs):
    return np.random.default_rng(len(obs)).normal(size=(len(obs), 6))


GT = Factors()
SMALL = {"batch_size": 32, "n_train": 200, "n_eval": 100}


def test_beta_vae_score():
    assert beta_vae_score(GT, perfect, **SMALL) == 1.0
    chance = 1 / len(GT.factor_sizes)
    assert beta_vae_score(GT, noise, **SMALL) < chance + 0.12


def test_factor_vae_score():
    assert factor_vae_score(GT, perfect, **SMALL, n_variance=1000) == 1.0
    assert factor_vae_score(GT, noise, **SMALL, n_variance=1000) < 0.25 + 0.12
    assert factor_vae_score(GT, lambda o: np.zeros((len(o), 3)), **SMALL) == 0.0


@pytest.fixture(scope="module")
def samples():
    z_p, v = sample_codes(GT, perfect, 2000, 1)
    zt_p, vt = sample_codes(GT, perfect, 500, 2)
    rng = np.random.default_rng(3)
    return {"perfect": (z_p, v, zt_p, vt),
            "noise": (rng.normal(size=(2000, 6)), v, rng.normal(size=(500, 6)), vt)}


def test_mig(samples):
    z, v, _, _ = samples["perfect"]
    assert mig(z, v) > 0.99  # <= 20 values per factor: exact bins; runner-up MI ~ 0
    z, v, _, _ = samples["noise"]
    assert mig(z, v) < 0.02


def test_dci(samples):
    good = dci(*samples["perfect"])
    assert good["dci_disentanglement"] > 0.99 and good["dci_completeness"] > 0.99
    assert good["dci_informativeness"] == 1.0
    bad = dci(*samples["noise"])
    assert bad["dci_disentanglement"] < 0.05 and bad["dci_completeness"] < 0.05
    assert bad["dci_informativeness"] < 0.35


def test_sap_continuous_and_discrete(samples):
    assert sap(*samples["perfect"]) > 0.99
    assert sap(*samples["noise"]) < 0.02
    # a categorical factor scores balanced accuracy: perfect 1, runner-up ~ chance 1/C
    z, v, zt, vt = samples["perfect"]
    s = sap(z, v, zt, vt, discrete_factors=(0,))
    expected = (1 - 1 / 4 + 1 + 1 + 1) / 4
    assert s == pytest.approx(expected, abs=0.05)


def test_all_scores_on_dsprites_with_a_factor_code():
    """The generator and the metrics together: a code that reads the factors back."""
    sprites = DSprites(resolution=16, factor_sizes={"orientation": 4, "pos_x": 8, "pos_y": 8})

    class Oracle:
        factor_sizes = sprites.factor_sizes
        discrete_factors = sprites.discrete_factors
        sample_factors = staticmethod(sprites.sample_factors)

        @staticmethod
        def render(f):
            return f  # keep the factors; the representation below is the identity

    scores = disentanglement_scores(Oracle(), lambda f: f.astype(float), n_samples=1000,
                                    n_test=300, **SMALL)
    assert scores["beta_vae_score"] == 1.0 and scores["factor_vae_score"] == 1.0
    assert scores["mig"] > 0.95 and scores["dci_disentanglement"] > 0.95
    assert scores["sap"] > 0.7  # shape is categorical: its gap is 1 - 1/3 at best


def test_model_representation_runs_on_rendered_dsprites():
    sprites = DSprites(resolution=16, factor_sizes={"orientation": 4, "pos_x": 8, "pos_y": 8})
    model = aekit.create("vae", input_shape=(1, 16, 16), latent_dim=5, arch="mlp",
                         hidden_dims=(32,), likelihood="bernoulli")
    represent = model_representation(model)
    z, v = sample_codes(sprites, represent, 64, 0)
    assert z.shape == (64, 5) and v.shape == (64, 5)
    scores = disentanglement_scores(sprites, represent, metrics=("mig", "sap"), n_samples=300,
                                    n_test=100)
    assert set(scores) == {"mig", "sap"}
    assert all(0.0 <= s <= 1.0 for s in scores.values())
