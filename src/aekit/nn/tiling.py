"""Apply a resolution-changing network to a large map in overlapping, blended tiles.

The map is cut into ``tile x tile`` pieces starting every ``stride`` positions; each piece
goes through ``fn`` (which scales sizes by ``scale``), and each output tile is blended into
the one above and the one to its left over ``blend`` rows / columns with linear weights::

    out[y] = above[-blend + y] * (1 - y / blend) + tile[y] * (y / blend),   y < blend

then cropped to its first ``keep`` rows and columns (``keep = stride * scale``), and the
crops are laid side by side: the scheme of diffusers' ``enable_tiling`` (tiles as there,
blends in the same order), so the results agree with it. Only the previous row of tiles
is held besides the output, so memory grows with the output and one row of tiles, not
with the activations of the whole map.
"""

from __future__ import annotations

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


def tiled_pooled_norm(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                      plan: TilePlan, norms: Sequence[PooledGroupNorm]) -> torch.Tensor:
    """:func:`tiled`, with each GroupNorm in ``norms`` normalising every tile with the
    statistics pooled over all tiles of the image rather than the tile's own.

    A first pass runs ``fn`` over every tile (no blending, no output kept) while the norms
    gather their statistics; the tiled pass proper then normalises with the pooled ones.
    Memory stays that of one tile; time doubles. One pass, not more: a further pass
    (gathering under the pooled normalisation of the one before) only makes a layer's
    statistics exact once those of every layer before it are, so on a deep network the
    statistics of the deep layers swing about those of the whole image for as many passes
    as it has norms (measured on the SD VAE's encoder: worse from the third pass on).
    """
    try:
        for norm in norms:
            norm.gather()
        with torch.no_grad():
            for i, j, _ in tile_starts(x, plan):
                fn(x[:, :, i:i + plan.tile, j:j + plan.tile])
        for norm in norms:
            norm.pool()
        return tiled(fn, x, plan)
    finally:
        for norm in norms:
            norm.release()
