"""The leaderboard scores an adapted peer model (no aekit config) like an aekit model."""

import torch

from aekit.apps.leaderboard import PythaeAdapter, _evaluate
from aekit.nn.mlp import MLP


def test_an_adapted_peer_model_gets_every_score(digits_flat, tmp_path):
    torch.manual_seed(0)
    train, test = digits_flat.subset(torch.arange(300)), digits_flat.subset(torch.arange(300, 400))
    enc, dec = MLP(64, (32,), 2 * 4), MLP(4, (32,), 64)
    peer = torch.nn.ModuleDict({"encoder": enc, "decoder": dec})  # stands in for pythae's VAE
    model = PythaeAdapter("peer:VAE", peer, enc, dec, probabilistic=True, generative=True,
                          likelihood="bernoulli", input_shape=(64,), latent_dim=4,
                          objective="-ELBO")
    scores, image = _evaluate(model, train, test, k=10, extractor=None, n_samples=16,
                              image_path=tmp_path / "peer.png", seed=0)
    assert {"recon_mse", "nll", "neg_elbo", "active_units", "probe_acc"} <= set(scores)
    assert scores["nll"] <= scores["neg_elbo"] + 0.5  # IWAE (k = 10) at or below the ELBO
    assert image.is_file()
