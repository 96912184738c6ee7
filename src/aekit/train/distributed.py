"""Several processes, one model: torch.distributed for the unchanged Trainer.

A run launched by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR`` and ``MASTER_PORT``), or one whose caller already initialised a process
group, trains data-parallel: every process holds the whole model, takes its share of
each global batch, and :class:`torch.nn.parallel.DistributedDataParallel` averages the
gradients of each parameter group before the group's optimiser steps. Nothing here
moves a tensor between processes by hand except the logging means, the non-finite flag,
the model's buffers and the RNG states a checkpoint records.

Each parameter group gets its own DDP over a :class:`GroupStep`, a module whose
``forward(x, y)`` is ``model.group_loss(group, (x, y))`` and whose parameters are exactly
the group's: DDP sees the loss computed through its forward (so it knows when backward
starts) and reduces exactly the gradients that group's optimiser steps on. Groups that
share parameters (the AAE's encoder is in ``autoencoder`` and ``generator``) are fine:
a DDP only acts on the backward pass that follows its own forward.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from aekit.errors import ConfigError
from aekit.models.base import Autoencoder, Loss


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (``rank`` of ``size``)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.size > 1

    @property
    def main(self) -> bool:
        """True in the process that logs and writes the run folder (rank 0)."""
        return self.rank == 0


def _launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ


def init_world(device: str) -> World:
    """The process group of this run: an initialised one, one that torchrun's environment
    describes (initialised here: ``nccl`` for CUDA, ``gloo`` otherwise), or a single process.
    """
    if not dist.is_available() or not (dist.is_initialized() or _launched_by_torchrun()):
        return World()
    if not dist.is_initialized():
        backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
        dist.init_process_group(backend)
        atexit.register(_destroy)
    local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    return World(dist.get_rank(), dist.get_world_size(), local)


def _destroy() -> None:
    """Tear the group down at exit, all ranks together: a rank that destroys it while a
    peer still uses it can abort the peer's gloo threads."""
    if dist.is_initialized():
        with contextlib.suppress(RuntimeError):  # a peer already gone (it failed)
            dist.barrier()
        dist.destroy_process_group()


def main_process() -> bool:
    """True unless this is a training process other than rank 0 (of an initialised group,
    or as torchrun's ``RANK`` says before the group exists): only rank 0 writes files."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return os.environ.get("RANK", "0") == "0"


def process_device(device: str, world: World) -> str:
    """One GPU per process: ``cuda`` becomes ``cuda:LOCAL_RANK`` under several processes."""
    d = torch.device(device)
    if not world.distributed or d.type != "cuda":
        return device
    if d.index is not None:
        raise ConfigError(f"device={device!r} names one GPU, but {world.size} processes "
                          "train: pass device='cuda' (each process takes cuda:LOCAL_RANK)")
    if world.local_rank >= torch.cuda.device_count():
        raise ConfigError(f"process {world.rank} has LOCAL_RANK {world.local_rank} but this "
                          f"machine has {torch.cuda.device_count()} GPU(s): start at most "
                          "that many processes per node")
    torch.cuda.set_device(world.local_rank)
    return f"cuda:{world.local_rank}"


class GroupStep(nn.Module):
    """``forward(x, y) = model.group_loss(group, (x, y))``, owning only the group's
    parameters (the model itself is held outside the module tree)."""

    def __init__(self, model: Autoencoder, group: str, params: list[nn.Parameter]) -> None:
        super().__init__()
        self.group = group
        self.group_params = nn.ParameterList(params)
        self.__dict__["model"] = model  # not a submodule: DDP must not see its parameters

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> Loss:
        """The group's loss on the batch ``(x, y)``."""
        return self.model.group_loss(self.group, (x, y))


class GroupsDDP:
    """``loss_fn(group, batch)`` through one DistributedDataParallel per parameter group.

    Each DDP is built at its group's first batch (rank 0's weights are broadcast then):
    one probe of the loss, in eval mode and with the RNG state put back, tells whether
    some of the group's parameters get no gradient, the one case where DDP must search
    the autograd graph every step (``find_unused_parameters``)."""

    def __init__(self, model: Autoencoder, groups: dict[str, list[nn.Parameter]],
                 device: str) -> None:
        self.model, self.groups = model, groups
        self.device = torch.device(device)
        self.ddp: dict[str, nn.Module] = {}

    def __call__(self, group: str, batch: tuple[torch.Tensor, torch.Tensor | None]) -> Loss:
        if group not in self.ddp:
            self.ddp[group] = self._wrap(group, batch)
        return self.ddp[group](*batch)

    def _wrap(self, group: str, batch: tuple[torch.Tensor, torch.Tensor | None]
              ) -> nn.Module:
        params = self.groups[group]
        was_training = self.model.training
        cuda = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            self.model.eval()
            loss = self.model.group_loss(group, batch)
            grads = torch.autograd.grad(loss.total, params, allow_unused=True)
            self.model.train(was_training)
        unused = any(g is None for g in grads)
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(
            GroupStep(self.model, group, params), device_ids=ids,
            find_unused_parameters=unused)


def all_finite(total: torch.Tensor) -> bool:
    """True when the loss is finite in every process (one small all-reduce), so that all
    processes stop together and none waits forever on the others."""
    flag = torch.isfinite(total.detach()).all().to(torch.int32).reshape(1)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def sync_buffers(model: Autoencoder) -> None:
    """Keep the model's buffers (e.g. a codebook's moving averages) equal in every process:
    rank 0's are broadcast, as DistributedDataParallel does with a module's own buffers
    (so they follow rank 0's share of each batch)."""
    for buf in model.buffers():
        dist.broadcast(buf, src=0)


def sum_over_processes(values: torch.Tensor) -> torch.Tensor:
    """Element-wise sum of ``values`` over every process."""
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def gather_rng_states(world: World) -> list[torch.Tensor]:
    """Every process's CPU RNG state, in rank order (a collective: all processes call it)."""
    state = torch.get_rng_state()
    if not world.distributed:
        return [state]
    out = [torch.empty_like(state) for _ in range(world.size)]
    if dist.get_backend() == "nccl":  # nccl gathers device tensors only
        dev = torch.device("cuda", torch.cuda.current_device())
        gathered = [t.to(dev) for t in out]
        dist.all_gather(gathered, state.to(dev))
        return [t.cpu() for t in gathered]
    dist.all_gather(out, state)
    return out


def broadcast_object(obj: object) -> object:
    """Rank 0's ``obj`` in every process."""
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every process gets here."""
    dist.barrier()
