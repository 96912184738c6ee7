"""One contiguous buffer per optimiser group, so the optimiser update is a few big ops.

On CPU, ``torch.optim.Adam`` runs about ten element-wise ops per parameter tensor per
step (its multi-tensor path falls back to a loop there); for a small model at batch 64
that update costs more than the forward and backward passes together. Making every
parameter of a group a view into one flat tensor, with its gradient a view into one
flat gradient, turns the update into ten ops on one tensor. Autograd accumulates into
the existing ``.grad`` views in place, so nothing else changes: the model keeps its own
``nn.Parameter`` objects and the update is mathematically the same as per-parameter
Adam, except that a parameter which received no gradient in a step is still updated
with a zero gradient (momentum keeps moving it).
"""

from __future__ import annotations

import torch
from torch import nn


class FlatGroup:
    """Parameters of one optimiser group re-homed into a single flat buffer."""

    def __init__(self, params: list[nn.Parameter]) -> None:
        self.params = params
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1) for p in params])
        self.param = nn.Parameter(flat)
        self.param.grad = torch.zeros_like(flat)
        offset = 0
        for p in params:
            n = p.numel()
            p.data = self.param.data[offset:offset + n].view_as(p)
            p.grad = self.param.grad[offset:offset + n].view_as(p)
            offset += n

    @staticmethod
    def applicable(groups: dict[str, list[nn.Parameter]]) -> bool:
        """True when every group is non-empty, the groups are disjoint and of one dtype/device."""
        seen: set[int] = set()
        kinds = set()
        for params in groups.values():
            if not params:
                return False
            for p in params:
                if id(p) in seen or not p.requires_grad:
                    return False
                seen.add(id(p))
                kinds.add((p.dtype, p.device))
        return len(kinds) == 1

    def zero_grad(self) -> None:
        """Zero the shared gradient buffer (keeping the per-parameter views alive)."""
        self.param.grad.zero_()

    def release(self) -> None:
        """Give every parameter (and gradient) its own storage again."""
        for p in self.params:
            p.data = p.data.clone()
            p.grad = None
