"""VQ-VAE-2: both code levels are used, and the decoder needs both; smoke and save/load."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.quantize import code_perplexity


def _fit(model, data, epochs):
    return aekit.Trainer(epochs=epochs, batch_size=64, lr=2e-3, val_fraction=0,
                         checkpoint_every=0, progress=False).fit(model, data)


def test_both_levels_are_used_and_the_decoder_needs_both(digits_flat):
    model = aekit.create("vqvae2", data=digits_flat, latent_dim=4, num_codes=16,
                         num_latents=4, num_top_latents=2, hidden_dims=(64,), restart_after=10)
    _fit(model, digits_flat, epochs=20)
    x = digits_flat.x
    with torch.no_grad():
        top, bottom = model.codes(x)
        assert code_perplexity(top, 16) > 1.0 and code_perplexity(bottom, 16) > 1.0

        def nll(t, b):
            return model.likelihood.nll(model.decode_codes(t, b), x).mean().item()

        def constant(codes):  # every position set to the level's most frequent code
            return torch.full_like(codes, int(torch.bincount(codes.reshape(-1)).argmax()))

        full, no_top, no_bottom = nll(top, bottom), nll(constant(top), bottom), \
            nll(top, constant(bottom))
    # measured (seed 0): perplexity top 15.2, bottom 14.1; NLL 18.8 nats with both levels,
    # 30.5 with the top codes held constant, 26.7 with the bottom codes held constant
    print(f"perplexity top {code_perplexity(top, 16):.2f}, bottom "
          f"{code_perplexity(bottom, 16):.2f}; NLL both levels {full:.2f}, top constant "
          f"{no_top:.2f}, bottom constant {no_bottom:.2f}")
    assert no_top > full + 2.0
    assert no_bottom > full + 2.0


def test_smoke_images(digits):
    model = aekit.create("vqvae2", data=digits, latent_dim=4, num_codes=16, downsample=1,
                         top_downsample=1, base_channels=8, ema=True, restart_after=5)
    row = _fit(model, digits.x[:256], epochs=2).last()
    for level in ("top", "bottom"):
        assert f"codebook_{level}" not in row  # EMA
        for term in ("commitment", "perplexity", "usage"):
            assert torch.isfinite(torch.tensor(row[f"{term}_{level}"]))
    assert torch.isfinite(torch.tensor(row["loss"]))
    x = digits.x[:5]
    assert model.bottom_layout.grid == (4, 4) and model.top_layout.grid == (2, 2)
    top, bottom = model.codes(x)
    assert top.shape == (5, 4) and bottom.shape == (5, 16)
    z = model.embed(x)
    assert z.shape == (5, (4 + 16) * 4)
    torch.testing.assert_close(model.decode_logits(z), model.decode_codes(top, bottom))
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(3).shape == (3, 1, 8, 8)
    loss = model.loss(x)
    torch.testing.assert_close(
        loss.total, loss.terms["recon"] + 0.25 * (loss.terms["commitment_top"]
                                                  + loss.terms["commitment_bottom"]))


def test_codes_do_not_change_codebook_state_in_training_mode(digits):
    model = aekit.create("vqvae2", data=digits, latent_dim=4, num_codes=16, downsample=1,
                         base_channels=8, ema=True, kmeans_init=True, restart_after=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    model.codes(digits.x[:16])
    model.embed(digits.x[:16])
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_save_load_round_trip(digits_flat, tmp_path):
    model = aekit.create("vqvae2", data=digits_flat, latent_dim=4, num_codes=16,
                         hidden_dims=(32,), kmeans_init=True)
    _fit(model, digits_flat.x[:128], epochs=1)
    model.eval().save(tmp_path)
    loaded = aekit.load(tmp_path)
    x = digits_flat.x[:8]
    for a, b in zip(loaded.codes(x), model.codes(x)):
        assert torch.equal(a, b)
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    torch.manual_seed(1)
    a = loaded.sample(4)
    torch.manual_seed(1)
    assert torch.equal(a, model.sample(4))


@pytest.mark.parametrize("bad", [{"top_downsample": 0}, {"num_top_latents": 0},
                                 {"num_codes": 0}])
def test_bad_settings_name_the_parameter(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        aekit.create("vqvae2", input_shape=(1, 8, 8), likelihood="bernoulli", **bad)
