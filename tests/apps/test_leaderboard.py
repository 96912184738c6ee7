"""The leaderboard scores an adapted peer model (no aekit config) like an aekit model, and
fills its likelihood columns only with true likelihoods."""

import math

import pytest
import torch

from aekit.apps.leaderboard import PythaeAdapter, _evaluate, binarized
from aekit.data.dataset import Dataset
from aekit.errors import DataError
from aekit.nn.mlp import MLP


def _peer():
    enc, dec = MLP(64, (32,), 2 * 4), MLP(4, (32,), 64)
    peer = torch.nn.ModuleDict({"encoder": enc, "decoder": dec})  # stands in for pythae's VAE
    return PythaeAdapter("peer:VAE", peer, enc, dec, probabilistic=True, generative=True,
                         likelihood="bernoulli", input_shape=(64,), latent_dim=4,
                         objective="-ELBO")


def test_an_adapted_peer_model_gets_every_score(digits_flat, tmp_path):
    torch.manual_seed(0)
    data = binarized(digits_flat, seed=0)
    train, test = data.subset(torch.arange(300)), data.subset(torch.arange(300, 400))
    scores, image = _evaluate(_peer(), train, test, k=10, extractor=None, n_samples=16,
                              image_path=tmp_path / "peer.png", seed=0)
    assert {"recon_mse", "nll", "neg_elbo", "active_units", "probe_acc"} <= set(scores)
    assert scores["nll"] <= scores["neg_elbo"] + 0.5  # IWAE (k = 10) at or below the ELBO
    assert scores["bits_per_dim"] == pytest.approx(scores["nll"] / (64 * math.log(2)))
    assert image.is_file()


def test_no_likelihood_columns_for_a_bernoulli_decoder_on_grey_levels(digits_flat, tmp_path):
    """On grey levels the Bernoulli cross-entropy is not normalised: no nll, no neg_elbo."""
    torch.manual_seed(0)
    train, test = digits_flat.subset(torch.arange(200)), digits_flat.subset(torch.arange(200, 260))
    scores, _ = _evaluate(_peer(), train, test, k=5, extractor=None, n_samples=8,
                          image_path=tmp_path / "p.png", seed=0)
    assert "recon_mse" in scores and "active_units" in scores
    assert not {"nll", "bits_per_dim", "neg_elbo"} & set(scores)


def test_fixed_binarisation_is_seeded_and_keeps_the_mean(digits_flat):
    a, b = binarized(digits_flat, 0), binarized(digits_flat, 0)
    assert torch.equal(a.x, b.x) and set(a.x.unique().tolist()) == {0.0, 1.0}
    assert float(a.x.mean()) == pytest.approx(float(digits_flat.x.mean()), abs=0.01)
    assert torch.equal(a.y, digits_flat.y)
    with pytest.raises(DataError, match="needs values in"):
        binarized(Dataset(digits_flat.x[:3] * 2, name="big"), 0)
