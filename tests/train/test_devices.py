"""Every model, the trainer, the metrics and the apps on each device torch offers here.

The CPU cases run everywhere; the CUDA cases run where a GPU is visible (they are
skipped otherwise, so the suite never depends on one). What is checked is what breaks
when code assumes one device: tensors made on the CPU inside a loss, outputs left on the
wrong device, weights that do not come back to the CPU, and results that differ between
devices by more than floating-point rounding.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
from aekit.apps.detect import AnomalyDetector
from aekit.apps.reduce import AutoencoderReducer
from aekit.metrics import iwae_nll, negative_elbo

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=CUDA)]


def _config(device: str, **kw) -> aekit.TrainConfig:
    base = dict(epochs=1, batch_size=64, val_fraction=0.0, progress=False,
                checkpoint_every=0, device=device)
    return aekit.TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", aekit.available())
def test_every_model_trains_and_generates_on(device, name, digits):
    data = digits.subset(torch.arange(256))
    size = {} if name == "kl_ae" else {"latent_dim": 4}  # kl_ae: size from its latent map
    if name == "sd_vae":  # size from its latent map; narrow widths keep the test fast
        size = {"block_out_channels": (32, 32), "layers_per_block": 1, "norm_num_groups": 8}
    if name == "seq_vae":  # reads token-id sequences, not images
        data = aekit.Dataset(torch.randint(3, 20, (256, 12)).float(), data.y)
        size["vocab_size"] = 20
    model = aekit.create(name, data=data, **size)
    result = aekit.Trainer(_config(device)).fit(model, data)
    terms = {k: v for k, v in result.last().items() if k not in ("epoch", "step", "split")}
    assert terms and all(np.isfinite(v) for v in terms.values())
    assert {p.device.type for p in model.parameters()} == {device}
    x = data.x[:8].to(device)
    y = data.y[:8].to(device)
    with torch.inference_mode():
        recon = model.reconstruct(x, y) if name == "cvae" else model.reconstruct(x)
        assert recon.shape == x.shape and recon.device.type == device
        if model.generative:
            s = model.sample(3, y[:3]) if name == "cvae" else model.sample(3)
            assert s.shape == (3, *x.shape[1:]) and torch.isfinite(s).all()


@CUDA
def test_cuda_loss_matches_cpu_for_the_same_weights(digits_flat):
    """A deterministic model's loss on one batch agrees across devices to fp32 rounding."""
    model = aekit.create("ae", data=digits_flat, latent_dim=8).eval()
    x = digits_flat.x[:256]
    with torch.inference_mode():
        on_cpu = model.loss(x).total.item()
        on_gpu = model.to("cuda").loss(x.cuda()).total.item()
    assert on_gpu == pytest.approx(on_cpu, rel=1e-4)


@CUDA
def test_cuda_training_saves_weights_that_load_on_the_cpu(digits_flat, tmp_path):
    model = aekit.create("vae", data=digits_flat, latent_dim=8)
    aekit.Trainer(_config("cuda", epochs=3), run_dir=tmp_path / "run").fit(model, digits_flat)
    model.save(tmp_path / "model")
    back = aekit.load(tmp_path / "model")
    assert {p.device.type for p in back.parameters()} == {"cpu"}
    x = digits_flat.x[:64]
    with torch.inference_mode():
        mu_gpu = model.embed(x.cuda()).cpu()
        mu_cpu = back.embed(x)
    torch.testing.assert_close(mu_cpu, mu_gpu, rtol=1e-4, atol=1e-5)


@CUDA
def test_cuda_resume_continues_from_the_checkpoint(digits_flat, tmp_path):
    """Stop after 2 epochs, resume to 4: the optimiser state and step counter come back."""
    run = tmp_path / "run"
    model = aekit.create("vae", data=digits_flat, latent_dim=8)
    aekit.Trainer(_config("cuda", epochs=2, checkpoint_every=1), run_dir=run).fit(
        model, digits_flat)
    again = aekit.create("vae", data=digits_flat, latent_dim=8)
    result = aekit.Trainer(_config("cuda", epochs=4, checkpoint_every=1), run_dir=run).fit(
        again, digits_flat, resume=True)
    assert result.epochs_run == 4
    assert {p.device.type for p in again.parameters()} == {"cuda"}


@CUDA
def test_cuda_likelihood_metrics_match_cpu(digits_flat):
    """Same weights, different random draws: the estimates agree to Monte-Carlo noise."""
    model = aekit.create("vae", data=digits_flat, latent_dim=8)
    aekit.Trainer(_config("cpu", epochs=5)).fit(model, digits_flat)
    x = digits_flat.x[:200]
    cpu_nll = iwae_nll(model, x, k=500)
    cpu_elbo = negative_elbo(model, x, n_samples=20)
    model.to("cuda")
    gpu_nll = iwae_nll(model, x, k=500)
    gpu_elbo = negative_elbo(model, x, n_samples=20)
    assert gpu_nll == pytest.approx(cpu_nll, abs=0.1)
    assert gpu_elbo == pytest.approx(cpu_elbo, abs=0.2)
    assert gpu_nll <= gpu_elbo


@CUDA
def test_cuda_apps_fit_and_answer_on_cpu_arrays(digits_flat):
    x = digits_flat.x.numpy()
    det = AnomalyDetector(epochs=3, device="cuda", random_state=0).fit(x[:1500])
    scores = det.decision_function(x[1500:])
    assert scores.shape == (len(x) - 1500,) and np.isfinite(scores).all()
    red = AutoencoderReducer(n_components=2, epochs=3, device="cuda", random_state=0)
    codes = red.fit_transform(x)
    assert codes.shape == (len(x), 2) and np.isfinite(codes).all()


@CUDA
def test_cuda_compiled_training_replays_graphs_and_learns_as_eager(digits_flat):
    """compile=True on a GPU (CUDA graphs): the same data and seed reach about the eager
    loss (the graphs draw their own random numbers, so not bitwise)."""
    final = {}
    for compiled in (False, True):
        model = aekit.create("vae", data=digits_flat, latent_dim=8)
        result = aekit.Trainer(_config("cuda", epochs=5, compile=compiled)).fit(
            model, digits_flat)
        final[compiled] = result.last()["loss"]
    assert np.isfinite(final[True])
    assert final[True] == pytest.approx(final[False], rel=0.05)
