"""Export a trained model to ONNX, and check the file against PyTorch with onnxruntime.

Three parts can be exported, each with a dynamic batch axis:

- ``model`` (the default): ``x -> model(x)``, the reconstruction (``model.reconstruct``);
- ``encoder``: ``x -> model.embed(x)``, the deterministic code (posterior mean or
  quantized code vectors);
- ``decoder``: ``z -> E[x | z]``, the reconstruction from a code shaped like ``embed``'s.

Needs the ``export`` extra (onnx, onnxscript; onnxruntime for the check).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.models.base import Autoencoder

PARTS = ("model", "encoder", "decoder")


class _Encoder(nn.Module):
    def __init__(self, model: Autoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.embed(x)


class _Decoder(nn.Module):
    def __init__(self, model: Autoencoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model.likelihood.mean(self.model.decode_logits(z))


def part_module(model: Autoencoder, part: str = "model") -> tuple[nn.Module, torch.Tensor]:
    """The module that computes ``part`` and an example input (batch of 2) for it."""
    if part not in PARTS:
        raise ConfigError(f"part={part!r} is not one of {PARTS}")
    if model.conditional:
        raise ConfigError(f"{model.name} is conditional (it also takes labels y); exporting "
                          "conditional models is not supported")
    model.eval()
    device = model.device
    x = torch.rand(2, *model.config.input_shape, device=device)
    if part == "model":
        return model, x
    if part == "encoder":
        return _Encoder(model), x
    with torch.no_grad():
        z = model.embed(x)
    return _Decoder(model), torch.randn_like(z)


def export_onnx(model: Autoencoder, path: str | Path, part: str = "model") -> Path:
    """Write ``part`` of ``model`` to the ONNX file ``path`` (input ``x`` or ``z``, output
    ``x_hat`` or ``z``, dynamic batch) and return the path."""
    try:
        import onnxscript  # noqa: F401 - torch's exporter needs it
    except ImportError:
        raise ConfigError("ONNX export needs onnx and onnxscript: pip install "
                          "'aekit[export]'") from None
    module, example = part_module(model, part)
    name = "z" if part == "decoder" else "x"
    path = Path(path)
    quiet = logging.getLogger("torch.onnx")  # notes on optional torchvision ops
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, (example,), dynamo=True, input_names=[name],
                output_names=["z" if part == "encoder" else "x_hat"],
                dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    finally:
        quiet.setLevel(level)
    program.save(str(path))
    return path


def onnx_max_error(model: Autoencoder, path: str | Path, part: str = "model",
                   batch: int = 5, seed: int = 0) -> float:
    """Largest absolute difference between the ONNX file run by onnxruntime and PyTorch on
    random inputs of ``batch`` examples."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError("checking an ONNX file needs onnxruntime: pip install "
                          "'aekit[export]'") from None
    module, example = part_module(model, part)
    g = torch.Generator().manual_seed(seed)
    shape = (batch, *example.shape[1:])
    inp = torch.rand(shape, generator=g) if part != "decoder" else torch.randn(shape,
                                                                                 generator=g)
    with torch.no_grad():
        expected = module(inp.to(model.device)).cpu().numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: inp.numpy().astype(np.float32)}
    got = session.run(None, feed)[0]
    if got.shape != expected.shape:
        return float("inf")
    return float(np.abs(got - expected).max())
