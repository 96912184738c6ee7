"""The model protocol that the trainer, the apps and the CLI rely on.

    model.encode(x, y=None)   -> latent (a DiagonalGaussian for probabilistic models, else a tensor)
    model.decode(z, y=None)   -> p(x | z) as a distribution (its .mean is the reconstruction)
    model.loss(batch)         -> Loss(total, terms, per_example)
    model.embed(x)            -> deterministic code (posterior mean / quantized code)
    model.reconstruct(x)      -> x_hat
    model(x) = model.forward(x) -> x_hat as well (so the model is an ordinary nn.Module to
                                 wrap, trace or export, e.g. ``aekit export --onnx``)
    model.sample(n, y=None)   -> new data (generative models only)

Training with several optimisers follows one rule: ``parameter_groups()`` names the
groups and ``group_loss(group, batch)`` gives the loss each group's optimiser steps on,
in order. A plain model is the one-group case (``{"model": all parameters}``, whose
loss is ``loss(batch)``), so the trainer never asks what kind of model it holds.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from aekit.errors import ConfigError
from aekit.likelihoods import LIKELIHOODS, Likelihood, make_likelihood
from aekit.nn import ARCHS, build_decoder, build_encoder
from aekit.nn.mlp import ACTIVATIONS

Batch = tuple[torch.Tensor, torch.Tensor | None]


@dataclass
class Loss:
    """A training objective and its parts.

    Attributes
    ----------
    total : torch.Tensor
        Scalar to minimise: the batch mean of the per-example objective.
    terms : dict of str to torch.Tensor
        Named scalar parts (batch means), e.g. ``{"recon": ..., "kl": ...}``, for logging.
    per_example : torch.Tensor or None
        The objective for each example, shape ``(B,)``, when it decomposes that way.
    """

    total: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    per_example: torch.Tensor | None = None


def unpack(batch: Batch | torch.Tensor) -> Batch:
    """``(x, y)`` from a batch given as a tensor or a pair."""
    if isinstance(batch, torch.Tensor):
        return batch, None
    x, y = batch
    return x, y


@dataclass
class ModelConfig:
    """Settings shared by every model; each field is validated on construction."""

    input_shape: tuple[int, ...] = (64,)  # one example's shape: (D,) or (C, H, W)
    latent_dim: int = 16  # size of the code z
    arch: str = "auto"  # encoder/decoder family: auto (from shape) | mlp | conv
    hidden_dims: tuple[int, ...] = (256, 128)  # MLP widths, encoder order (decoder mirrors)
    base_channels: int = 32  # conv width at full resolution (doubles per downsampling)
    activation: str = "relu"  # hidden activation
    # p(x|z): bernoulli | gaussian | gaussian_learned | categorical | auto |
    # discretized_logistic (8-bit data k/255)
    likelihood: str = "auto"
    sigma: float = 1.0  # Gaussian scale (fixed) or the initial (learned) Gaussian / logistic scale

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        self.hidden_dims = tuple(int(h) for h in self.hidden_dims)
        if not self.input_shape or any(s <= 0 for s in self.input_shape):
            raise ConfigError(f"input_shape must be positive sizes, got {self.input_shape}")
        if self.latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if self.arch not in ARCHS:
            raise ConfigError(f"arch={self.arch!r} is not one of {ARCHS}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation={self.activation!r} is not one of "
                              f"{tuple(sorted(ACTIVATIONS))}")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood={self.likelihood!r} is not one of {LIKELIHOODS}")
        if any(h < 1 for h in self.hidden_dims):
            raise ConfigError(f"hidden_dims must be positive, got {self.hidden_dims}")
        if self.base_channels < 1:
            raise ConfigError(f"base_channels must be >= 1, got {self.base_channels}")
        if self.sigma <= 0:
            raise ConfigError(f"sigma must be > 0, got {self.sigma}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        return asdict(self)


class Autoencoder(nn.Module):
    """Base class of every aekit model; subclasses set ``name`` and ``Config``.

    Subclasses implement ``encode``, ``decode_logits`` (the decoder's raw output) and
    ``loss``; the rest of the protocol is derived here.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    # What the model is, declared by its class (nothing runs the model to find out):
    generative: ClassVar[bool] = False  # can sample new data from a prior
    conditional: ClassVar[bool] = False  # encode/decode take a condition y
    probabilistic: ClassVar[bool] = False  # encode gives a DiagonalGaussian q(z|x); has .prior
    hierarchical: ClassVar[bool] = False  # several stochastic layers; encode gives the top one
    quantised: ClassVar[bool] = False  # codes are codebook vectors (vector quantisation)
    kl_weighted: ClassVar[bool] = False  # the loss weights its KL term by config.beta
    layerwise: ClassVar[bool] = False  # has greedy layer-wise pretraining (encoder_layers,
    # layer_model, layer_codes; see aekit.train.pretrain)
    reconstructs_from_code: ClassVar[bool] = True  # reconstruct(x) = E[x | z = embed(x)];
    # set to False automatically for a class that overrides reconstruct

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "reconstruct" in cls.__dict__ and "reconstructs_from_code" not in cls.__dict__:
            cls.reconstructs_from_code = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.step = 0  # global training step, set by the trainer before each loss
        self.likelihood: Likelihood = make_likelihood(
            config.likelihood, config.input_shape, config.sigma
        )

    # -- construction helpers ------------------------------------------------------
    def _encoder(self, out_dim: int, in_shape: tuple[int, ...] | None = None) -> nn.Module:
        c = self.config
        return build_encoder(in_shape or c.input_shape, out_dim, arch=c.arch,
                             hidden_dims=c.hidden_dims, base_channels=c.base_channels,
                             act=c.activation)

    def _decoder(self, in_dim: int | None = None) -> nn.Module:
        c = self.config
        return build_decoder(in_dim or c.latent_dim, c.input_shape, arch=c.arch,
                             hidden_dims=c.hidden_dims, base_channels=c.base_channels,
                             act=c.activation)

    # -- the protocol --------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Any:
        """q(z | x) for probabilistic models, else the code tensor ``(B, latent_dim)``."""
        raise NotImplementedError

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's raw output shaped like the data (logits or Gaussian means)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None):
        """p(x | z) as a ``torch.distributions`` object; ``.mean`` is the reconstruction."""
        return self.likelihood.distribution(self.decode_logits(z, y))

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """The training objective on one batch."""
        raise NotImplementedError

    def embed(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Deterministic code of ``x``: the posterior mean, or the code itself."""
        code = self.encode(x, y)
        return code if isinstance(code, torch.Tensor) else code.mean

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """E[x | z = embed(x)], the reconstruction of ``x``."""
        return self.likelihood.mean(self.decode_logits(self.embed(x, y), y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The reconstruction of ``x``, :meth:`reconstruct` (deterministic: the code is the
        posterior mean or the nearest codes, and x_hat = E[x | z])."""
        return self.reconstruct(x, y)

    def sample(self, n: int, y: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` new examples: E[x | z] for z drawn from the prior (generative models)."""
        raise NotImplementedError(f"{self.name} is not a generative model: it has no prior")

    # -- training rule -------------------------------------------------------------
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by optimiser, stepped in this order; one group for plain models."""
        return {"model": list(self.parameters())}

    def group_loss(self, group: str, batch: Batch | torch.Tensor) -> Loss:
        """The loss the optimiser of ``group`` minimises on ``batch``."""
        return self.loss(batch)

    def set_step(self, step: int) -> None:
        """Tell the model the global training step (for annealed weights)."""
        self.step = step

    # -- persistence ---------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` to ``directory``."""
        from aekit.io import save_model

        return save_model(self, directory)

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return next(self.parameters()).device


def config_from_kwargs(cls: type[ModelConfig], kwargs: dict[str, Any], model: str) -> ModelConfig:
    """Build ``cls(**kwargs)``, naming any unknown parameter and the known ones."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ConfigError(
            f"model {model!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters are: {', '.join(sorted(known))}"
        )
    hints = typing.get_type_hints(cls)
    checked = {k: _typed(f"model {model!r}: {k}", v, hints[k]) for k, v in kwargs.items()}
    return cls(**checked)


def _typed(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` (int, float, str, bool, ``X | None``, tuples of
    those), or a ConfigError naming the setting; floats must be finite."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _typed(name, value, option)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if len(options) == 1 else
                          f"{name} must be one of {_describe(hint)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name} must be a sequence ({_describe(hint)}), got {value!r}")
        inner = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        if inner is None and len(args) != len(value):
            raise ConfigError(f"{name} must have {len(args)} entries, got {value!r}")
        return tuple(_typed(f"{name}[{i}]", v, inner or args[i]) for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a name (text), got {value!r}")
        return value
    return value  # a type this check does not know: the config's own checks apply


def _describe(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
