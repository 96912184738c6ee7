"""VAE-GAN: three losses, each stepped by its own optimiser through the trainer's
parameter-group rule; feature-space reconstruction; smoke and save/load."""

import math

import pytest
import torch

import aekit
from aekit.errors import ConfigError


def _small(data, **settings):
    return aekit.create("vaegan", data=data, latent_dim=3, hidden_dims=(32,),
                        disc_hidden_dims=(32,), disc_dense=16, **settings)


def test_each_group_changes_only_when_its_own_optimiser_steps(digits_flat):
    model = _small(digits_flat)
    groups = model.parameter_groups()
    assert list(groups) == ["encoder", "decoder", "discriminator"]
    names = {id(p): n for n, p in model.named_parameters()}
    members = {g: {names[id(p)] for p in ps} for g, ps in groups.items()}
    assert sum(len(m) for m in members.values()) == len(names)  # disjoint, cover the model

    calls, changed = [], []
    snapshot = {}
    group_loss = model.group_loss

    def record(group, batch):  # the trainer calls this, then steps that group's optimiser
        params = dict(model.named_parameters())
        if calls:  # what moved since the previous group's loss: only that group's step ran
            changed.append((calls[-1], {n for n, p in params.items()
                                        if not torch.equal(p, snapshot[n])}))
        snapshot.clear()
        snapshot.update({n: p.detach().clone() for n, p in params.items()})
        calls.append(group)
        return group_loss(group, batch)

    model.group_loss = record
    aekit.Trainer(epochs=1, batch_size=64, val_fraction=0, checkpoint_every=0,
                  progress=False).fit(model, digits_flat.x[:128])  # two steps
    final = dict(model.named_parameters())
    changed.append((calls[-1], {n for n, p in final.items() if not torch.equal(p, snapshot[n])}))
    assert calls == ["encoder", "decoder", "discriminator"] * 2
    for group, moved in changed:
        assert moved == members[group], group  # all of its own parameters, nothing else


def test_group_losses_follow_larsen_et_al(digits_flat):
    model = _small(digits_flat, gamma=0.5, beta=2.0)
    assert aekit.create("vaegan", input_shape=(4,), likelihood="gaussian").config.beta == 0.1
    x = digits_flat.x[:16]
    torch.manual_seed(3)
    enc = model.group_loss("encoder", x)
    torch.manual_seed(3)
    q = model.encode(x)
    z = q.rsample()
    x_tilde = torch.sigmoid(model.decode_logits(z))
    f_x, _ = model.discriminator(x)
    f_t, _ = model.discriminator(x_tilde)
    assert f_x.shape == (16, 32)  # Dis_l: the MLP's hidden layer
    feat = 0.5 * (f_x - f_t).square().sum(1) + 0.5 * 32 * math.log(2 * math.pi)
    kl = q.kl_standard_normal().sum(1)
    torch.testing.assert_close(enc.terms["feature_recon"], feat.mean())
    torch.testing.assert_close(enc.terms["kl"], kl.mean())
    torch.testing.assert_close(enc.total, (feat + 2.0 * kl).mean())
    dec = model.group_loss("decoder", x)
    torch.testing.assert_close(dec.total, 0.5 * dec.terms["feature_recon"] + dec.terms["gen"])
    with pytest.raises(ConfigError, match="no parameter group"):
        model.group_loss("generator", x)


def test_gradients_of_each_loss(digits_flat):
    model = _small(digits_flat)
    x = digits_flat.x[:16]

    def grads(group):
        model.zero_grad(set_to_none=True)
        model.group_loss(group, x).total.backward()
        return {part: any(p.grad is not None and p.grad.abs().sum() > 0
                          for p in getattr(model, part).parameters())
                for part in ("encoder", "decoder", "discriminator")}

    # the discriminator's loss reaches only the discriminator (generated data detached)
    assert grads("discriminator") == {"encoder": False, "decoder": False, "discriminator": True}
    # the decoder's loss does not reach the encoder (it is not the decoder's to step)
    assert grads("decoder")["encoder"] is False
    assert grads("encoder")["encoder"] is True


@pytest.mark.parametrize("flat", [False, True])
def test_smoke(digits, digits_flat, flat):
    data = digits_flat if flat else digits
    model = aekit.create("vaegan", data=data, latent_dim=4, base_channels=8,
                         hidden_dims=(32,), disc_hidden_dims=(32,))
    result = aekit.Trainer(epochs=2, batch_size=64, val_fraction=0.2, checkpoint_every=0,
                           progress=False).fit(model, data.x[:256])
    for split in ("train", "val"):
        row = result.last(split)
        for key in ("encoder.loss", "encoder.kl", "decoder.gen", "discriminator.disc"):
            assert torch.isfinite(torch.tensor(row[key])), (split, key)
    x = data.x[:5]
    # Dis_l: the conv stack's 16 x 4 x 4 output map for images, the MLP's hidden layer else
    assert model.discriminator(x)[0].shape == (5, 32 if flat else 16 * 4 * 4)
    assert model.encode(x).mu.shape == (5, 4)
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(3).shape == (3, *data.sample_shape)


def test_sequences_get_a_conv_discriminator():
    model = aekit.create("vaegan", input_shape=(3, 16), likelihood="gaussian", latent_dim=2,
                         base_channels=4)
    x = torch.randn(6, 3, 16)
    feats, logits = model.discriminator(x)
    assert feats.shape[0] == 6 and logits.shape == (6,)
    assert torch.isfinite(model.group_loss("decoder", x).total)
    assert model.sample(2).shape == (2, 3, 16)


def test_save_load_round_trip(digits, tmp_path):
    model = aekit.create("vaegan", data=digits, latent_dim=3, base_channels=8)
    aekit.Trainer(epochs=1, val_fraction=0, checkpoint_every=0, progress=False).fit(
        model, digits.x[:128])
    model.eval().save(tmp_path)
    loaded = aekit.load(tmp_path)
    x = digits.x[:8]
    assert torch.equal(loaded.reconstruct(x), model.reconstruct(x))
    assert torch.equal(loaded.discriminator(x)[1], model.discriminator(x)[1])


@pytest.mark.parametrize("bad", [{"gamma": -1.0}, {"disc_dense": 0},
                                 {"disc_hidden_dims": ()}, {"beta": -1.0}])
def test_bad_settings_name_the_parameter(bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        aekit.create("vaegan", input_shape=(4,), likelihood="gaussian", **bad)
