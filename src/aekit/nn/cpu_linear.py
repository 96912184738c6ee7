"""Inference-time linear layers on the CPU through oneDNN, with the activation fused.

torch's CPU ``F.linear`` (``addmm``) calls MKL's sgemm, and MKL runs its AVX2 code on
AMD processors: on the 2-core AMD EPYC of our benchmarks a 2048^3 float32 product ran at
about 210 GFLOP/s through ``torch.mm`` and 450 GFLOP/s through oneDNN's AVX-512 kernel
(``torch.ops.mkldnn._linear_pointwise``, the op ``torch.compile`` uses for frozen CPU
models; both in float32). The oneDNN op also adds the bias, and applies the activation
(except ReLU, whose oneDNN version maps NaN to 0 where torch's keeps it), in the
product's epilogue, which saves passes over each layer's output.

It has no backward, so :func:`linear_act` takes it only when no gradient is being
recorded (``torch.no_grad`` / ``torch.inference_mode``: scoring, embedding, likelihood
estimates), for float32 tensors on the CPU of a torch built with oneDNN (not inside
``torch.func`` transforms, for which the op has no batching rule), and only for
products of at least :data:`MIN_MACS` multiply-adds: each call costs about 18 us more
than ``addmm`` (measured: 100 x 64 -> 256 with ReLU 28 us either way, 1000 x 256 -> 128
326 us through ``addmm`` and 174 us through oneDNN, 1 x 64 -> 256 3 us and 20 us).
Anywhere else it computes ``act(F.linear(x, W, b))`` the usual way; the results agree to
float32 rounding either way. (A oneDNN backward for training was tried and dropped: at
batch 1024 on the digits VAE it measured no faster per step, since the copies the op makes
of transposed operands cost what the faster products save.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# activation module -> oneDNN post-op (name, algorithm). Not ReLU: oneDNN's maps NaN to 0
# where torch's keeps NaN, so ReLU runs in place after the fused product and bias.
_POST_OPS: dict[type[nn.Module], tuple[str, str]] = {
    nn.Tanh: ("tanh", ""),
    nn.Sigmoid: ("sigmoid", ""),
    nn.SiLU: ("swish", ""),
}


def _onednn_available() -> bool:
    ops = getattr(torch.ops, "mkldnn", None)
    return (torch.backends.mkldnn.is_available() and ops is not None
            and hasattr(ops, "_linear_pointwise"))


ONEDNN = _onednn_available()
MIN_MACS = 1 << 21  # rows x inputs x outputs below which addmm's lower overhead wins
# tensors inside torch.func transforms (vmap, grad): the op has no batching rule
_is_wrapped = getattr(getattr(torch._C, "_functorch", None), "is_functorch_wrapped_tensor",
                      lambda t: False)


def post_op(act: nn.Module | None) -> tuple[str, list[float], str] | None:
    """oneDNN's name, scalars and algorithm for ``act`` (None: not fusable)."""
    if act is None:
        return "none", [], ""
    if type(act) in _POST_OPS:
        name, algorithm = _POST_OPS[type(act)]
        return name, [], algorithm
    if isinstance(act, nn.LeakyReLU) and act.negative_slope != 0:  # slope 0: NaN -> 0
        return "leaky_relu", [float(act.negative_slope)], ""
    if isinstance(act, nn.GELU):
        return "gelu", [], act.approximate
    return None


def fast_path(x: torch.Tensor, layer: nn.Linear) -> bool:
    """True when :func:`linear_act` may use the oneDNN op for ``layer`` on ``x``."""
    return (ONEDNN and not torch.is_grad_enabled() and x.device.type == "cpu"
            and x.dtype == torch.float32 and x.ndim == 2
            and x.shape[0] * layer.in_features * layer.out_features >= MIN_MACS
            and layer.weight.device.type == "cpu" and layer.weight.dtype == torch.float32
            and not _is_wrapped(x))


def linear_act(x: torch.Tensor, layer: nn.Linear, act: nn.Module | None = None
               ) -> torch.Tensor:
    """``act(layer(x))`` (``act=None``: no activation), fused on the CPU at inference."""
    if not fast_path(x, layer):
        out = F.linear(x, layer.weight, layer.bias)
        return out if act is None else act(out)
    spec = post_op(act)
    if spec is None:  # the product and bias fused, the activation after (in place: the
        return act(_op()(x, layer.weight, layer.bias, "none", [], ""))  # output is fresh)
    name, scalars, algorithm = spec
    return _op()(x, layer.weight, layer.bias, name, scalars, algorithm)


def _op():
    """oneDNN's fused linear (looked up per call, so tests can watch it)."""
    return torch.ops.mkldnn._linear_pointwise
