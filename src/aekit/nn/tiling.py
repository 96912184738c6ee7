"""Apply a resolution-changing network to a large map tile by tile, in two ways.

Blended tiles (:func:`tiled`): the map is cut into ``tile x tile`` pieces starting every
``stride`` positions; each piece goes through ``fn`` (which scales sizes by ``scale``), and
each output tile is blended into the one above and the one to its left over ``blend`` rows
/ columns with linear weights::

    out[y] = above[-blend + y] * (1 - y / blend) + tile[y] * (y / blend),   y < blend

then cropped to its first ``keep`` rows and columns (``keep = stride * scale``), and the
crops are laid side by side: the scheme of diffusers' ``enable_tiling`` (tiles as there,
blends in the same order), so the results agree with it. Only the previous row of tiles
is held besides the output, so memory grows with the output and one row of tiles, not
with the activations of the whole map.

Tiles in context (:func:`tiled_in_context`): each tile owns a core and sees a margin of
context around it; only the cores are kept, and the GroupNorms use one set of statistics
for all tiles, so the tiles compute one function and meet without seams.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from aekit.nn.ldm import PooledGroupNorm


@dataclass(frozen=True)
class TilePlan:
    """How to tile: sizes in input units (``tile``, ``stride``) and output units
    (``blend``, ``keep``), and the size ratio ``scale`` of output to input."""

    tile: int  # side of an input tile
    stride: int  # input positions between tile starts
    blend: int  # output rows / columns blended with the neighbouring tile
    keep: int  # output rows / columns kept from each tile (stride * scale)
    scale: float  # output size / input size of fn


def _ramp(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor([y / n for y in range(n)], dtype=torch.float64).to(like)


def blend_rows(above: torch.Tensor, tile: torch.Tensor, extent: int) -> torch.Tensor:
    """Blend the last ``extent`` rows of ``above`` into the first rows of ``tile``
    (in place on ``tile``, which is returned)."""
    e = min(above.shape[2], tile.shape[2], extent)
    if e > 0:
        w = _ramp(e, tile)[:, None]
        tile[:, :, :e] = above[:, :, -e:] * (1 - w) + tile[:, :, :e] * w
    return tile


def blend_cols(left: torch.Tensor, tile: torch.Tensor, extent: int) -> torch.Tensor:
    """Blend the last ``extent`` columns of ``left`` into the first columns of ``tile``
    (in place on ``tile``, which is returned)."""
    e = min(left.shape[3], tile.shape[3], extent)
    if e > 0:
        w = _ramp(e, tile)
        tile[:, :, :, :e] = left[:, :, :, -e:] * (1 - w) + tile[:, :, :, :e] * w
    return tile


def tile_starts(x: torch.Tensor, plan: TilePlan) -> Iterator[tuple[int, int, int]]:
    """``(i, j, jj)`` for every tile of ``x``, row by row: its top-left corner and its
    index within the row of tiles."""
    h, w = x.shape[-2:]
    for i in range(0, h, plan.stride):
        for jj, j in enumerate(range(0, w, plan.stride)):
            yield i, j, jj


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
          plan: TilePlan) -> torch.Tensor:
    """``fn(x)`` computed tile by tile with blended overlaps; ``x`` is ``(B, C, H, W)``."""
    h, w = x.shape[-2:]
    out: torch.Tensor | None = None
    above: list[torch.Tensor] = []
    row: list[torch.Tensor] = []
    for i, j, jj in tile_starts(x, plan):
        if jj == 0 and row:  # a new row of tiles: the finished one is now above
            above, row = row, []
        t = fn(x[:, :, i:i + plan.tile, j:j + plan.tile])
        if above:
            t = blend_rows(above[jj], t, plan.blend)
        if row:
            t = blend_cols(row[-1], t, plan.blend)
        row.append(t)
        if out is None:
            out = t.new_empty((t.shape[0], t.shape[1], round(h * plan.scale),
                               round(w * plan.scale)))
        oi, oj = round(i * plan.scale), round(j * plan.scale)
        part = t[:, :, :plan.keep, :plan.keep]
        out[:, :, oi:oi + part.shape[2], oj:oj + part.shape[3]] = part
    assert out is not None
    return out


@dataclass(frozen=True)
class ContextTile:
    """One tile of :func:`tiled_in_context`, in input units: the rows ``i0:i1`` and
    columns ``j0:j1`` it owns (its core), and the rows ``y0:y1`` and columns ``x0:x1`` it
    sees (the core and up to ``margin`` positions of context on every side)."""

    core: tuple[int, int, int, int]  # i0, i1, j0, j1
    context: tuple[int, int, int, int]  # y0, y1, x0, x1


def context_tiles(h: int, w: int, core: int, margin: int) -> list[ContextTile]:
    """The tiles that cover an ``h x w`` map with ``core x core`` cores, row by row."""
    tiles = []
    for i0 in range(0, h, core):
        for j0 in range(0, w, core):
            i1, j1 = min(i0 + core, h), min(j0 + core, w)
            tiles.append(ContextTile((i0, i1, j0, j1), (max(i0 - margin, 0), min(i1 + margin, h),
                                                        max(j0 - margin, 0), min(j1 + margin, w))))
    return tiles


class _GroupGathered(Exception):
    """Raised by the last norm of a group to end a gathering pass early."""


def _stop(module: torch.nn.Module, args: object, output: object) -> None:
    raise _GroupGathered


def tiled_in_context(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, core: int,
                     margin: int, scale: float,
                     norm_groups: Sequence[Sequence[PooledGroupNorm]] = ()) -> torch.Tensor:
    """``fn(x)`` for a network ``fn`` whose every output position sees a bounded patch of
    its input (convolutions, resampling, GroupNorms; no attention), tile by tile.

    Each tile is a ``core x core`` piece of ``x`` ``(B, C, H, W)`` with ``margin``
    positions of context on every side (clipped at the map's edges, where the whole map
    is zero-padded too); ``fn`` scales sizes by ``scale``, and only each output's core is
    kept: no blending. Where the margin covers ``fn``'s receptive field, the cores equal
    ``fn`` of the whole map, so the tiles meet without seams.

    The GroupNorms of ``norm_groups`` (groups in the order ``fn`` runs them) normalise
    every tile with one set of statistics, pooled over the cores of all tiles (each
    position of the map counted once). Group by group, a pass over the tiles runs ``fn``
    up to the group's last norm, with the groups before it already pooled and the group's
    own norms normalising each tile with its own statistics meanwhile. With one norm per
    group the statistics are the whole map's (within the margin's reach) at the cost of
    a pass per norm, each shorter than the last; larger groups cost fewer passes and
    approximate the deeper norms of a group. Memory is that of one tile besides the output.
    """
    h, w = x.shape[-2:]
    tiles = context_tiles(h, w, core, margin)

    def piece(t: ContextTile) -> torch.Tensor:
        y0, y1, x0, x1 = t.context
        return x[:, :, y0:y1, x0:x1]

    norms = [n for group in norm_groups for n in group]
    try:
        for group in norm_groups:
            for norm in group:
                norm.gather()
            hook = group[-1].register_forward_hook(_stop)
            try:
                with torch.no_grad():
                    for t in tiles:
                        (i0, i1, j0, j1), (y0, y1, x0, x1) = t.core, t.context
                        for norm in group:
                            norm.window((i0 - y0, i1 - y0, y1 - y0), (j0 - x0, j1 - x0, x1 - x0))
                        with contextlib.suppress(_GroupGathered):
                            fn(piece(t))
            finally:
                hook.remove()
            for norm in group:
                norm.pool()
        out: torch.Tensor | None = None
        for t in tiles:
            o = fn(piece(t))
            if out is None:
                out = o.new_empty((o.shape[0], o.shape[1], round(h * scale), round(w * scale)))
            (i0, i1, j0, j1), (y0, _, x0, _) = t.core, t.context
            rows = slice(round((i0 - y0) * scale), round((i1 - y0) * scale))
            cols = slice(round((j0 - x0) * scale), round((j1 - x0) * scale))
            out[:, :, round(i0 * scale):round(i1 * scale),
                round(j0 * scale):round(j1 * scale)] = o[:, :, rows, cols]
        assert out is not None
        return out
    finally:
        for norm in norms:
            norm.release()
