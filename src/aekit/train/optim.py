"""Adam and AdamW as one fused kernel call per step, with little Python around it.

Kingma & Ba's Adam, with Loshchilov & Hutter's decoupled weight decay for AdamW (or an
L2 term added to the gradient for Adam), at step t:

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
    p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

``torch.optim.Adam(fused=True)`` runs the same kernel (``aten::_fused_adam_``), but for
a small model at a small batch its Python bookkeeping costs more than the kernel: it
gathers the state lists again and advances one step counter per tensor (a second
kernel) on every call. :class:`LeanAdam` keeps one step counter per parameter group,
shared by the group's tensors (so a tensor that gets no gradient in a step is left as
it is, while the group's count still advances), and gathers the state lists once. Its
``state_dict`` has torch's layout, so checkpoints move between the two. Where the fused
kernel does not exist (an older torch, another device, mixed dtypes) the trainer uses
torch's own Adam/AdamW instead (:func:`fused_supported` decides).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

FUSED_DEVICES = ("cpu", "cuda")


def fused_supported(params: list[torch.Tensor]) -> bool:
    """True when torch has a fused Adam kernel for ``params``: float32 or float64 tensors
    of one dtype on one CPU or CUDA device (one kernel call takes them all)."""
    kinds = {(p.device, p.dtype) for p in params}
    if not hasattr(torch, "_fused_adam_") or len(kinds) != 1:
        return False
    device, dtype = kinds.pop()
    return device.type in FUSED_DEVICES and dtype in (torch.float32, torch.float64)


class LeanAdam(torch.optim.Optimizer):
    """Adam (``decoupled=False``) or AdamW (``decoupled=True``) through the fused kernel."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled: bool = False) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled=decoupled)
        self._lists: list[tuple[list, list, list, list]] | None = None
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:  # noqa: D102
        super().add_param_group(param_group)
        self._lists = None  # gather the state lists again, new group included

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:  # noqa: D102
        super().load_state_dict(state_dict)
        self._lists = None  # loaded step counters are separate tensors: re-link them

    def zero_grad(self, set_to_none: bool = True) -> None:  # noqa: D102
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def _state_lists(self) -> list[tuple[list, list, list, list]]:
        """Per group: params, exp_avgs, exp_avg_sqs and the shared step counter (as lists)."""
        if self._lists is None:
            self._lists = []
            for group in self.param_groups:
                params = group["params"]
                if not self.state[params[0]]:
                    for p in params:
                        self.state[p].update(exp_avg=torch.zeros_like(p),
                                             exp_avg_sq=torch.zeros_like(p))
                    step = torch.zeros((), dtype=torch.float32, device=params[0].device)
                else:  # torch's load_state_dict leaves step counters on the CPU
                    step = self.state[params[0]]["step"].to(params[0].device, torch.float32)
                for p in params:
                    self.state[p]["step"] = step
                self._lists.append((params, [self.state[p]["exp_avg"] for p in params],
                                    [self.state[p]["exp_avg_sq"] for p in params], [step]))
        return self._lists

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 - torch.optim.Optimizer API
        loss = None if closure is None else closure()
        for group, (params, m, v, counter) in zip(self.param_groups, self._state_lists()):
            if any(p.grad is None for p in params):  # update only tensors with a gradient
                keep = [i for i, p in enumerate(params) if p.grad is not None]
                params, m, v = ([a[i] for i in keep] for a in (params, m, v))
            if not params:
                continue
            counter[0] += 1
            b1, b2 = group["betas"]
            decoupled = group.get("decoupled", self.defaults["decoupled"])
            kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
            kernel(params, [p.grad for p in params], m, v, [], counter * len(params),
                   lr=group["lr"], beta1=b1, beta2=b2, weight_decay=group["weight_decay"],
                   eps=group["eps"], amsgrad=False, maximize=False)
        return loss
