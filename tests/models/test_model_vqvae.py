"""VQ-VAE: straight-through gradient, nearest codes, no dead codes with restarts, smoke."""

import math

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.quantize import CausalCodePrior, code_perplexity, code_usage


def _fit(model, data, epochs, **settings):
    cfg = dict(epochs=epochs, batch_size=64, lr=2e-3, val_fraction=0, checkpoint_every=0,
               progress=False)
    return aekit.Trainer(**{**cfg, **settings}).fit(model, data)


def test_encoder_receives_the_decoders_gradient_through_the_quantizer(digits):
    model = aekit.create("vqvae", data=digits, latent_dim=4, num_codes=16, downsample=1,
                         base_channels=8)
    x = digits.x[:32]
    z_e = model.layout.to_vectors(model.encoder(x))
    z_e.retain_grad()
    q = model.quantizer(z_e)
    q.z_q.retain_grad()
    model.likelihood.nll(model.decode_logits(q.z_q), x).sum().backward()
    assert z_e.grad.abs().sum() > 0
    torch.testing.assert_close(z_e.grad, q.z_q.grad, rtol=0, atol=0)
    # and the encoder's weights get it
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.encoder.parameters())


def test_codes_are_nearest_neighbours_of_the_encoder_output(digits_flat):
    model = aekit.create("vqvae", data=digits_flat, latent_dim=4, num_codes=32,
                         num_latents=3, hidden_dims=(32,))
    _fit(model, digits_flat.x[:256], epochs=1)
    x = digits_flat.x[:200]
    with torch.no_grad():
        z_e = model.encode(x).reshape(200, 3, 4)
        expected = torch.cdist(z_e.reshape(-1, 4), model.quantizer.codebook).argmin(1)
        assert torch.equal(model.codes(x), expected.reshape(200, 3))
        torch.testing.assert_close(model.embed(x),
                                   model.quantizer.codebook[expected].reshape(200, 12))


@pytest.mark.parametrize("ema", [False, True])
def test_with_restarts_no_code_stays_dead(digits_flat, ema):
    settings = dict(latent_dim=4, num_codes=32, num_latents=4, hidden_dims=(64,), ema=ema)
    usage = {}
    for restart_after in (0, 10):
        torch.manual_seed(0)
        model = aekit.create("vqvae", data=digits_flat, restart_after=restart_after, **settings)
        _fit(model, digits_flat, epochs=5)
        with torch.no_grad():
            codes = model.codes(digits_flat.x)
        usage[restart_after] = code_usage(codes, 32).item()
    print(f"codebook usage on all digits (ema={ema}): without restarts {usage[0]:.3f}, "
          f"with restart_after=10 {usage[10]:.3f}")
    # measured (seed 0): without restarts 0.81 (gradient) / 0.25 (EMA) of the codes are used
    assert usage[10] == 1.0
    assert usage[0] < 1.0


def test_kmeans_init_uses_more_codes_at_the_start(digits_flat):
    perplexity = {}
    for init in (False, True):
        torch.manual_seed(0)
        model = aekit.create("vqvae", data=digits_flat, latent_dim=4, num_codes=32,
                             num_latents=4, hidden_dims=(64,), kmeans_init=init)
        model.train()
        model.loss(digits_flat.x[:256])
        with torch.no_grad():
            perplexity[init] = code_perplexity(model.codes(digits_flat.x[:256]), 32).item()
    assert perplexity[True] > 2 * perplexity[False]


def test_smoke_images(digits):
    model = aekit.create("vqvae", data=digits, latent_dim=4, num_codes=16, downsample=1,
                         base_channels=8, kmeans_init=True, restart_after=5)
    result = _fit(model, digits.x[:256], epochs=2)
    row = result.last()
    for term in ("loss", "recon", "codebook", "commitment", "perplexity", "usage"):
        assert torch.isfinite(torch.tensor(row[term])), term
    assert 1.0 <= row["perplexity"] <= 16 and 0 < row["usage"] <= 1
    x = digits.x[:5]
    assert model.layout.grid == (4, 4)
    assert model.encode(x).shape == (5, 16 * 4) and model.embed(x).shape == (5, 16 * 4)
    assert model.codes(x).shape == (5, 16)
    assert model.reconstruct(x).shape == x.shape
    samples = model.sample(6)
    assert samples.shape == (6, 1, 8, 8) and ((samples >= 0) & (samples <= 1)).all()
    loss = model.loss(x)
    torch.testing.assert_close(loss.total, loss.terms["recon"] + loss.terms["codebook"]
                               + 0.25 * loss.terms["commitment"])
    torch.testing.assert_close(loss.per_example.mean(), loss.total)


def test_ema_objective_has_no_codebook_term(digits_flat):
    model = aekit.create("vqvae", data=digits_flat, latent_dim=4, num_codes=16,
                         hidden_dims=(32,), ema=True, beta=0.5)
    loss = model.loss(digits_flat.x[:16])
    assert "codebook" not in loss.terms
    torch.testing.assert_close(loss.total, loss.terms["recon"] + 0.5 * loss.terms["commitment"])
    assert "quantizer.codebook" not in dict(model.named_parameters())  # a buffer under EMA
    assert "quantizer.codebook" in dict(model.named_buffers())


def test_samples_use_only_codes_seen_at_each_position(digits_flat):
    model = aekit.create("vqvae", data=digits_flat, latent_dim=4, num_codes=32,
                         num_latents=4, hidden_dims=(32,))
    _fit(model, digits_flat.x[:512], epochs=2)
    seen = model.prior.counts > 0  # (N, K)
    codes = model.prior.sample(500)
    assert seen.gather(1, codes.t()).all()


@pytest.mark.parametrize("settings", [dict(downsample=1, base_channels=8),
                                      dict(arch="mlp", hidden_dims=(32,), ema=True),
                                      dict(downsample=1, code_prior="transformer")])
def test_save_load_round_trip(digits, tmp_path, settings):
    model = aekit.create("vqvae", data=digits, latent_dim=4, num_codes=16, **settings)
    _fit(model, digits.x[:128], epochs=1)
    model.eval().save(tmp_path)
    loaded = aekit.load(tmp_path)
    x = digits.x[:8]
    assert torch.equal(loaded.codes(x), model.codes(x))
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


@pytest.mark.parametrize("bad", [{"num_codes": 1}, {"beta": -1.0}, {"decay": 1.0},
                                 {"restart_after": -1}, {"downsample": -1}, {"epsilon": 0.0},
                                 {"code_prior": "pixelcnn"}, {"prior_width": 30}])
def test_bad_settings_name_the_parameter(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        aekit.create("vqvae", input_shape=(1, 8, 8), likelihood="bernoulli", **bad)


def test_sequences_need_an_explicit_arch():
    with pytest.raises(ConfigError, match="arch='mlp'"):
        aekit.create("vqvae", input_shape=(3, 20), likelihood="gaussian")
    model = aekit.create("vqvae", input_shape=(3, 20), likelihood="gaussian", arch="mlp")
    assert model.reconstruct(torch.randn(2, 3, 20)).shape == (2, 3, 20)


def test_resume_restores_codebook_state_exactly(digits_flat, tmp_path):
    data = digits_flat.subset(torch.arange(384))
    settings = dict(latent_dim=4, num_codes=16, num_latents=2, hidden_dims=(32,), ema=True,
                    kmeans_init=True, restart_after=3)

    def model(seed):
        torch.manual_seed(seed)
        return aekit.create("vqvae", data=data, **settings)

    def cfg(epochs):
        return aekit.TrainConfig(epochs=epochs, batch_size=64, progress=False, seed=7)

    full = model(0)
    aekit.Trainer(cfg(4), run_dir=tmp_path / "full").fit(full, data)
    aekit.Trainer(cfg(2), run_dir=tmp_path / "part").fit(model(0), data)
    resumed = model(123)  # a fresh object, as in a new process
    aekit.Trainer(cfg(4), run_dir=tmp_path / "part").fit(resumed, data, resume=True)
    for k, v in full.state_dict().items():  # codebook, EMA statistics, counters, prior
        assert torch.equal(resumed.state_dict()[k], v), k


def test_the_transformer_code_prior_is_causal_and_normalised():
    """p(k_n | k_<n) ignores later codes; the probabilities of all sequences sum to 1."""
    torch.manual_seed(0)
    prior = CausalCodePrior(num_positions=3, num_codes=4, width=16, layers=1)
    codes = torch.randint(4, (5, 3))
    changed = codes.clone()
    changed[:, 2] = (changed[:, 2] + 1) % 4
    torch.testing.assert_close(prior.logits(codes)[:, :3], prior.logits(changed)[:, :3])
    changed[:, 1] = (changed[:, 1] + 1) % 4  # the last position's conditional sees it
    assert not torch.allclose(prior.logits(codes)[:, 2], prior.logits(changed)[:, 2])
    every = torch.cartesian_prod(*[torch.arange(4)] * 3)
    total = prior.log_prob(every).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-5)


def test_the_transformer_prior_learns_dependence_between_positions():
    """Codes where position 2 repeats position 1 (uniform over 16): an independent
    per-position prior needs 2 log 16 nats, the causal prior learns about log 16."""
    torch.manual_seed(0)
    prior = CausalCodePrior(num_positions=2, num_codes=16, width=32, layers=1)
    opt = torch.optim.Adam(prior.parameters(), lr=3e-3)
    for _ in range(300):
        first = torch.randint(16, (128,))
        codes = torch.stack([first, first], 1)
        loss = -prior.log_prob(codes).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1.15 * math.log(16) < 2 * math.log(16)
    samples = prior.sample(200)
    assert (samples[:, 0] == samples[:, 1]).float().mean() > 0.9


def test_the_code_prior_term_leaves_the_autoencoder_alone(digits):
    """The prior is fitted on detached codes: its term sends no gradient to the encoder,
    decoder or codebook, and sampling uses it."""
    model = aekit.create("vqvae", data=digits, num_codes=16, downsample=1,
                         code_prior="transformer")
    loss = model.loss(digits.x[:32])
    autoencoder = [p for n, p in model.named_parameters() if not n.startswith("prior.")]
    grads = torch.autograd.grad(loss.terms["prior_nll"], autoencoder, allow_unused=True)
    assert all(g is None or float(g.abs().sum()) == 0 for g in grads)
    prior_grads = torch.autograd.grad(loss.terms["prior_nll"], list(model.prior.parameters()))
    assert sum(float(g.abs().sum()) for g in prior_grads) > 0
    assert model.sample(3).shape == (3, 1, 8, 8)
    with pytest.raises(ConfigError, match="vqvae2 samples from its empirical"):
        aekit.create("vqvae2", input_shape=(1, 8, 8), code_prior="transformer")
