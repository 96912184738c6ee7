"""Stacked denoising autoencoder (Vincent, Larochelle, Lajoie, Bengio & Manzagol 2010).

The model is a deep MLP autoencoder with layer widths ``D -> h_1 -> ... -> h_{L-1} -> K``
(``hidden_dims`` then ``latent_dim``) and a mirrored decoder. Encoder layer k is
``f_k(c) = act(W_k c + b_k)`` (the top layer, the code, is linear) and decoder layer k
is ``g_k(c) = act(V_k c + d_k)`` (the bottom one outputs the likelihood's parameters).
It is trained in two stages:

1. Greedy layer-wise pretraining (:func:`aekit.train.pretrain.pretrain_layerwise`). With
   ``c_0 = x`` and ``c_k = f_k(c_{k-1})`` computed once from clean data with the layers
   below frozen, layer k is trained alone as a one-hidden-layer denoising autoencoder
   on ``c_{k-1}``:

       L_k = -log p(c_{k-1} | g_k(f_k(c_tilde_{k-1}))),   c_tilde_{k-1} ~ C(. | c_{k-1})

   with the model's likelihood for k = 1 and a unit Gaussian (squared error / 2) for
   k > 1. Each layer is a small model (:meth:`SDAE.layer_model`) fitted by the ordinary
   :class:`aekit.Trainer` that shares its weights with the stack, so training it updates
   the stack in place. The model declares ``layerwise = True``; the training loop lives
   in :mod:`aekit.train`, not here.

2. End-to-end fine-tuning with ``aekit.Trainer.fit(model, data)``, starting from the
   pretrained weights, on the denoising loss of the whole stack,
   ``L(x) = -log p(x | g_1(...g_L(f_L(...f_1(x_tilde)))))`` (the plain reconstruction
   loss with ``finetune_corruption=False``).

All terms are summed over data dimensions per example and averaged over the batch.
``aekit train sdae`` on the command line runs stage 2 only (end-to-end training of the
same network from a random start); ``--pretrain-epochs N`` runs stage 1 first.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aekit.data.corruptions import Corruption
from aekit.errors import ConfigError
from aekit.likelihoods import Likelihood
from aekit.models.base import Autoencoder, Batch, Loss, ModelConfig, unpack
from aekit.models.dae import DAE, DAEConfig, denoising_loss
from aekit.models.registry import register


@dataclass
class SDAEConfig(DAEConfig):
    """Settings of the stacked DAE: the DAE's (noise model included) plus fine-tuning."""

    arch: str = "mlp"  # fully connected stack; "mlp" (or "auto") is the only choice
    finetune_corruption: bool = True  # corrupt the input during end-to-end fine-tuning too

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.arch not in ("auto", "mlp"):
            raise ConfigError(f"arch must be 'mlp' for sdae (a fully connected stack), "
                              f"got {self.arch!r}")
        self.arch = "mlp"


@torch.no_grad()
def _apply(layers: list[nn.Sequential], x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Run ``x`` through ``layers`` in order, flattened, in chunks, without gradients."""
    if not layers:
        return x
    device = next(layers[0].parameters()).device
    out = []
    for i in range(0, len(x), batch_size):
        c = x[i:i + batch_size].to(device).flatten(1)
        for layer in layers:
            c = layer(c)
        out.append(c.to(x.device))
    return torch.cat(out)


def _stages(net: nn.Sequential) -> list[nn.Sequential]:
    """Split an MLP into its layers: each Linear with the activation after it, if any."""
    stages: list[list[nn.Module]] = []
    for module in net:
        if isinstance(module, nn.Linear):
            stages.append([module])
        elif not isinstance(module, (nn.Flatten, nn.Unflatten)):
            stages[-1].append(module)
    return [nn.Sequential(*s) for s in stages]


class LayerDAE(Autoencoder):
    """Layer k of a stack as a one-hidden-layer DAE, for greedy pretraining.

    Its encoder and decoder ARE the stack's layer-k modules (shared, not copied), so
    fitting it with the trainer updates the stack's weights in place.

    Parameters
    ----------
    config : ModelConfig
        ``input_shape`` is the shape of ``c_{k-1}`` (the data's for k = 1), ``latent_dim``
        the width of layer k, ``likelihood`` the reconstruction density of ``c_{k-1}``.
    encoder, decoder : nn.Module
        ``f_k`` (flattened ``c_{k-1}`` -> ``c_k``) and ``g_k`` (``c_k`` -> ``c_{k-1}``).
    corruption : callable or None
        The noise model applied to ``c_{k-1}`` in training mode.
    likelihood : Likelihood, optional
        A likelihood module to share (the stack's own, for k = 1) instead of a new one.
    """

    name = "sdae_layer"

    def __init__(self, config: ModelConfig, encoder: nn.Module, decoder: nn.Module,
                 corruption: Corruption | None,
                 likelihood: Likelihood | None = None) -> None:
        super().__init__(config)
        if likelihood is not None:
            self.likelihood = likelihood
        self.encoder, self.decoder = encoder, decoder
        self.corruption = corruption

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The layer's code ``f_k(c)``, shape ``(B, h_k)``."""
        return self.encoder(x.flatten(1))

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z).reshape(-1, *self.config.input_shape)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """``-log p(c | g_k(f_k(c_tilde)))``; corruption in training mode only."""
        x, _ = unpack(batch)
        return denoising_loss(self, x, self.corruption)


@register
class SDAE(DAE):
    """Deep denoising autoencoder with greedy layer-wise pretraining
    (:func:`aekit.train.pretrain.pretrain_layerwise`)."""

    name = "sdae"
    Config = SDAEConfig
    layerwise = True

    def encoder_layers(self) -> list[nn.Sequential]:
        """``[f_1, ..., f_L]``: each encoder Linear with its activation (shared modules)."""
        return _stages(self.encoder)

    def decoder_layers(self) -> list[nn.Sequential]:
        """``[g_1, ..., g_L]``: ``g_k`` maps layer k's code back to ``c_{k-1}``."""
        return _stages(self.decoder)[::-1]

    def layer_model(self, k: int) -> LayerDAE:
        """Layer ``k`` (0-based) as a :class:`LayerDAE` sharing this model's weights."""
        enc, dec = self.encoder_layers()[k], self.decoder_layers()[k]
        in_shape = self.config.input_shape if k == 0 else (enc[0].in_features,)
        config = ModelConfig(input_shape=in_shape, latent_dim=enc[0].out_features,
                             arch="mlp", hidden_dims=(),
                             likelihood=self.config.likelihood if k == 0 else "gaussian")
        return LayerDAE(config, enc, dec, self.corruption,
                        likelihood=self.likelihood if k == 0 else None)

    def codes(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """``c_k = f_k(...f_1(x))`` for ``k`` in ``0..L`` (``c_0 = x``), computed without
        gradients on the model's device and returned on ``x``'s device."""
        return _apply(self.encoder_layers()[:k], x)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """Fine-tuning loss of the whole stack: ``-log p(x | g(f(x_tilde)))``, with
        ``x_tilde = x`` when ``finetune_corruption`` is off (or in eval mode)."""
        x, _ = unpack(batch)
        noise = self.corruption if self.config.finetune_corruption else None
        return denoising_loss(self, x, noise)

    def layer_codes(self, codes: torch.Tensor, k: int) -> torch.Tensor:
        """``c_{k+1} = f_{k+1}(c_k)`` through encoder layer ``k`` (0-based) alone, without
        gradients, on ``codes``' device (the step between two pretraining stages)."""
        return _apply([self.encoder_layers()[k]], codes)
