"""Stacked DAE: greedy layer-wise pretraining on the previous layer's codes, then
fine-tuning from exactly the pretrained weights, all through the ordinary Trainer."""

import numpy as np
import pytest
import torch

import aekit
from aekit.errors import ConfigError, DataError
from aekit.models.sdae import LayerDAE
from aekit.train.pretrain import pretrain_layerwise
from aekit.train.trainer import Trainer

TRAIN = {"progress": False, "checkpoint_every": 0, "batch_size": 64}


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture
def fits(monkeypatch):
    """Record every Trainer.fit call: the model, its data and the weights around it."""
    calls = []
    original = Trainer.fit

    def recording_fit(self, model, train, val=None, **kwargs):
        call = {"model": model, "data": train.clone(), "before": _state(model)}
        result = original(self, model, train, val, **kwargs)
        call["after"] = _state(model)
        calls.append(call)
        return result

    monkeypatch.setattr(Trainer, "fit", recording_fit)
    return calls


def test_each_layer_is_trained_on_the_codes_of_the_previous_one(digits, fits):
    x = digits.x[:600]
    model = aekit.create("sdae", data=digits, hidden_dims=(32, 16), latent_dim=8)
    results = pretrain_layerwise(model, x, epochs_per_layer=2, **TRAIN)
    assert len(results) == len(fits) == 3 and all(r.epochs_run == 2 for r in results)
    enc, dec = model.encoder_layers(), model.decoder_layers()
    for k, call in enumerate(fits):
        layer = call["model"]
        assert isinstance(layer, LayerDAE)
        # the layer model IS layer k of the stack: same parameter objects, nothing else
        own = {id(p) for p in enc[k].parameters()} | {id(p) for p in dec[k].parameters()}
        assert {id(p) for p in layer.parameters()} == own
        # it was trained on c_{k-1}, the clean outputs of the (final) layers below
        expected = x if k == 0 else model.codes(x, k)
        assert torch.equal(call["data"], expected)
        if k > 0:  # == layer k-1's encoder applied to what layer k-1 was trained on
            with torch.no_grad():
                torch.testing.assert_close(call["data"], enc[k - 1](fits[k - 1]["data"]
                                                                    .flatten(1)))
        # training moved its weights
        assert any(not torch.equal(call["before"][n], call["after"][n]) for n in call["after"])
    # and nothing moved layer k after its own phase (the layers below stay frozen)
    final = _state(model)
    for k, call in enumerate(fits):
        for p_name, value in call["after"].items():
            stack_name = _stack_name(model, call["model"], p_name)
            if stack_name is not None:
                assert torch.equal(final[stack_name], value), (k, p_name)


def _stack_name(model, layer, p_name):
    """The stack's state_dict key of ``layer``'s parameter ``p_name`` (None: not a param)."""
    target = dict(layer.named_parameters()).get(p_name)
    if target is None:
        return None
    return next(n for n, p in model.named_parameters() if p is target)


def test_layer_k_sees_corrupted_codes_and_reconstructs_the_clean_ones(digits):
    x = digits.x[:64]
    model = aekit.create("sdae", data=digits, hidden_dims=(16,), latent_dim=4,
                         noise_level=0.5)
    layer = model.layer_model(1).train()
    codes = model.codes(x, 1)
    seen = {}
    nll = layer.likelihood.nll

    def spy(out, target):
        seen["target"] = target
        return nll(out, target)

    layer.likelihood.nll = spy
    handle = layer.encoder.register_forward_pre_hook(
        lambda mod, args: seen.setdefault("input", args[0]))
    layer.loss(codes)
    handle.remove()
    assert seen["target"] is codes
    masked = seen["input"] == 0
    assert 0.3 < masked.float().mean() < 0.8  # about half of the code values masked
    assert torch.equal(seen["input"][~masked], codes[~masked])


def test_fine_tuning_starts_from_the_pretrained_weights(digits):
    x = digits.x[:600]
    model = aekit.create("sdae", data=digits, hidden_dims=(32,), latent_dim=8)
    initial = _state(model)
    pretrain_layerwise(model, x, epochs_per_layer=2, **TRAIN)
    pretrained = _state(model)
    assert all(not torch.equal(initial[k], pretrained[k]) for k in pretrained)  # all layers
    first = {}
    loss = model.loss

    def spy(batch):
        first.setdefault("weights", _state(model))
        return loss(batch)

    model.loss = spy
    aekit.Trainer(epochs=2, **TRAIN).fit(model, x)
    assert first["weights"].keys() == pretrained.keys()
    assert all(torch.equal(first["weights"][k], pretrained[k]) for k in pretrained)
    assert any(not torch.equal(_state(model)[k], pretrained[k]) for k in pretrained)


def test_finetune_corruption_switch(digits):
    x = digits.x[:16]
    noisy = aekit.create("sdae", data=digits, hidden_dims=(16,), latent_dim=4).train()
    clean = aekit.create("sdae", data=digits, hidden_dims=(16,), latent_dim=4,
                         finetune_corruption=False).train()
    clean.load_state_dict(noisy.state_dict())
    plain = clean.likelihood.nll(clean.decode_logits(clean.encode(x)), x)
    torch.testing.assert_close(clean.loss(x).per_example, plain)
    assert not torch.allclose(noisy.loss(x).per_example, plain)


def test_pretraining_helps_the_stack(digits):
    """Pretraining alone already gives a working deep autoencoder (vs random weights)."""
    x, test = digits.x[:1200], digits.x[1200:]
    model = aekit.create("sdae", data=digits, hidden_dims=(32,), latent_dim=8)
    model.eval()
    with torch.no_grad():
        before = model.loss(test).total.item()
    pretrain_layerwise(model, x, epochs_per_layer=5, **TRAIN)
    model.eval()
    with torch.no_grad():
        after = model.loss(test).total.item()
    assert after < 0.8 * before, (before, after)


def test_smoke_pretrain_finetune_save_load(digits, tmp_path):
    model = aekit.create("sdae", data=digits.x, hidden_dims=(32,), latent_dim=6,
                         corruption="gaussian", noise_level=0.1)
    assert model.config.arch == "mlp"  # images go through the fully connected stack
    results = pretrain_layerwise(model, digits, epochs_per_layer=1, **TRAIN)
    assert all(np.isfinite(r.last()["loss"]) for r in results)
    result = aekit.Trainer(epochs=1, **TRAIN).fit(model, digits.x[:512])
    assert np.isfinite(result.last()["loss"]) and np.isfinite(result.last("val")["loss"])
    assert model.embed(digits.x[:3]).shape == (3, 6)
    assert model.reconstruct(digits.x[:3]).shape == (3, 1, 8, 8)
    model.save(tmp_path)
    loaded = aekit.load(tmp_path)
    assert torch.equal(loaded.reconstruct(digits.x[:3]), model.reconstruct(digits.x[:3]))


def test_bad_settings_and_data():
    with pytest.raises(ConfigError, match="arch"):
        aekit.create("sdae", input_shape=(1, 8, 8), arch="conv", likelihood="bernoulli")
    model = aekit.create("sdae", input_shape=(64,), likelihood="bernoulli", hidden_dims=(8,))
    with pytest.raises(DataError, match="shape"):
        pretrain_layerwise(model, torch.rand(10, 32), epochs_per_layer=1, progress=False)
    with pytest.raises(ConfigError, match="epochs"):
        pretrain_layerwise(model, torch.rand(10, 64), epochs_per_layer=0, progress=False)
