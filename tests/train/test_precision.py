"""Mixed precision: bf16 autocast on the CPU, fp16 refused there, the NaN guard kept."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError, TrainingError
from aekit.models.base import Loss
from aekit.train.config import autocast_dtype


def _model(data):
    torch.manual_seed(0)
    return aekit.create("vae", data=data, latent_dim=4, arch="mlp", hidden_dims=(32,))


def _cfg(**kw):
    return aekit.TrainConfig(**{"epochs": 3, "batch_size": 64, "progress": False,
                                "val_fraction": 0.0, **kw})


def test_bf16_autocasts_the_loss_and_trains(digits_flat):
    data = digits_flat.subset(torch.arange(384))
    model = _model(data)
    dtypes = []
    model.encoder.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    result = aekit.Trainer(_cfg(precision="bf16")).fit(model, data)
    assert set(dtypes) == {torch.bfloat16}  # the layers ran in bf16
    assert all(p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
    losses = [r["loss"] for r in result.history]
    assert losses[-1] < losses[0]
    fp32 = _model(data)
    aekit.Trainer(_cfg()).fit(fp32, data)
    assert abs(losses[-1] - fp32.loss(data.x).total.item()) < 0.05 * losses[0]


def test_fp16_is_refused_where_the_device_cannot_run_it():
    with pytest.raises(ConfigError, match="precision='fp16' is not supported on device 'cpu'"):
        autocast_dtype("fp16", "cpu")
    with pytest.raises(ConfigError, match="precision='fp8' is not one of"):
        aekit.TrainConfig(precision="fp8")
    model = aekit.create("ae", input_shape=(4,), latent_dim=2)
    with pytest.raises(ConfigError, match="fp16"):
        aekit.Trainer(_cfg(precision="fp16", device="cpu")).fit(model, torch.rand(20, 4))


def test_nan_guard_under_bf16_names_the_step(digits_flat):
    data = digits_flat.subset(torch.arange(256))
    model = _model(data)
    original = model.loss

    def poisoned(batch):
        loss = original(batch)
        if model.step < 5:
            return loss
        kl = loss.terms["kl"] * float("nan")
        return Loss(loss.terms["recon"] + kl, {"recon": loss.terms["recon"], "kl": kl})

    model.loss = poisoned
    with pytest.raises(TrainingError, match=r"step 5 .*'kl'"):
        aekit.Trainer(_cfg(precision="bf16")).fit(model, data)
