"""AAE: after adversarial training a two-sample test cannot easily tell codes from prior
samples; parameter groups; smoke and save/load."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.metrics.mmd import mmd_permutation_test


def _codes_vs_prior(model, x, n=200, seed=1):
    """(MMD^2_u, permutation p-value) between n codes and n prior samples."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(x), generator=g)[:n]
    with torch.no_grad():
        codes = model.embed(x[idx])
    prior = torch.randn(n, codes.shape[1], generator=g)
    return mmd_permutation_test(codes, prior, permutations=500, generator=g)


def test_codes_become_hard_to_tell_from_prior_samples(digits_flat):
    model = aekit.create("aae", data=digits_flat, latent_dim=2, hidden_dims=(128,),
                         disc_hidden_dims=(64,))
    mmd_before, p_before = _codes_vs_prior(model, digits_flat.x)
    aekit.Trainer(epochs=25, batch_size=64, lr=2e-3, lr_schedule="cosine", val_fraction=0,
                  checkpoint_every=0, progress=False).fit(model, digits_flat)
    mmd_after, p_after = _codes_vs_prior(model, digits_flat.x)
    # measured (seed 0): MMD^2 0.161 -> 0.0065, p-value 0.002 -> 0.034 (200 codes vs 200
    # prior samples, IMQ kernel, 500 permutations); other seeds gave p = 0.16 to 0.27
    print(f"MMD^2 codes vs prior: before {mmd_before:.4f} (p = {p_before:.3f}), after "
          f"{mmd_after:.4f} (p = {p_after:.3f})")
    assert p_before < 0.01  # the test has power: it rejects the untrained codes
    assert mmd_after < 0.1 * mmd_before
    assert p_after > 0.01  # and cannot reject after training at the 1% level


def test_parameter_groups_and_their_losses(digits_flat):
    model = aekit.create("aae", data=digits_flat, latent_dim=3, hidden_dims=(32,),
                         disc_hidden_dims=(16,), adv_weight=0.5)
    groups = model.parameter_groups()
    assert list(groups) == ["autoencoder", "discriminator", "generator"]
    ids = {name: {id(p) for p in params} for name, params in groups.items()}
    assert ids["generator"] == {id(p) for p in model.encoder.parameters()}
    assert ids["discriminator"] == {id(p) for p in model.discriminator.parameters()}
    assert ids["generator"] < ids["autoencoder"]
    assert not ids["discriminator"] & ids["autoencoder"]
    x = digits_flat.x[:16]
    model.group_loss("discriminator", x).total.backward()
    assert all(p.grad is None for p in model.encoder.parameters())  # codes detached
    model.zero_grad(set_to_none=True)
    gen = model.group_loss("generator", x)
    gen.total.backward()
    assert all(p.grad is None for p in model.decoder.parameters())
    assert all(p.grad is not None for p in model.encoder.parameters())
    logits = model.discriminator(model.encode(x))
    torch.testing.assert_close(gen.total, 0.5 * torch.nn.functional.softplus(-logits).mean())
    with pytest.raises(ConfigError, match="no parameter group"):
        model.group_loss("decoder", x)


def test_smoke(digits):
    model = aekit.create("aae", data=digits, latent_dim=4, base_channels=8)
    result = aekit.Trainer(epochs=2, batch_size=64, val_fraction=0.2, checkpoint_every=0,
                           progress=False).fit(model, digits.x[:256])
    for split in ("train", "val"):
        row = result.last(split)
        for key in ("autoencoder.recon", "discriminator.disc", "generator.gen"):
            assert torch.isfinite(torch.tensor(row[key])), (split, key)
    x = digits.x[:5]
    assert model.encode(x).shape == (5, 4)
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(3).shape == (3, 1, 8, 8)


def test_save_load_round_trip(digits_flat, tmp_path):
    model = aekit.create("aae", data=digits_flat, latent_dim=3, hidden_dims=(32,))
    aekit.Trainer(epochs=1, val_fraction=0, checkpoint_every=0, progress=False).fit(
        model, digits_flat.x[:128])
    model.eval().save(tmp_path)
    loaded = aekit.load(tmp_path)
    x = digits_flat.x[:8]
    assert torch.equal(loaded.embed(x), model.embed(x))
    assert torch.equal(loaded.discriminator(loaded.embed(x)),
                       model.discriminator(model.embed(x)))


@pytest.mark.parametrize("bad", [{"adv_weight": -1.0}, {"disc_hidden_dims": (0,)}])
def test_bad_settings_name_the_parameter(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        aekit.create("aae", input_shape=(4,), likelihood="gaussian", **bad)
