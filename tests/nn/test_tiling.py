"""nn.tiling: tiles in context compute what the network computes on the whole map once
the margin covers its receptive field, and the GroupNorms pooled group by group make the
tiles one function."""

import torch
from torch import nn

from aekit.nn.ldm import Downsample, LDMDecoder, PooledGroupNorm, Upsample
from aekit.nn.tiling import context_tiles, tiled_in_context


def test_context_tiles_own_every_position_once_and_see_their_margin():
    tiles = context_tiles(10, 7, core=4, margin=2)
    owned = torch.zeros(10, 7, dtype=torch.int64)
    for t in tiles:
        i0, i1, j0, j1 = t.core
        owned[i0:i1, j0:j1] += 1
        y0, y1, x0, x1 = t.context
        assert (y0, x0) == (max(i0 - 2, 0), max(j0 - 2, 0))
        assert (y1, x1) == (min(i1 + 2, 10), min(j1 + 2, 7))
    assert bool((owned == 1).all())


def test_tiles_in_context_equal_the_whole_map_once_the_margin_covers_the_receptive_field():
    torch.manual_seed(0)
    conv = lambda i, o: nn.Conv2d(i, o, 3, padding=1)  # noqa: E731
    down = nn.Sequential(conv(3, 4), Downsample(4), conv(4, 2))
    up = nn.Sequential(conv(2, 4), Upsample(4), conv(4, 3))
    x, z = torch.randn(1, 3, 24, 40), torch.randn(1, 2, 12, 20)
    with torch.no_grad():
        for fn, inp, scale in ((down, x, 0.5), (up, z, 2.0)):
            whole = fn(inp)
            near = tiled_in_context(fn, inp, core=8, margin=6, scale=scale)
            torch.testing.assert_close(near, whole, atol=1e-6, rtol=1e-6)
            cut = tiled_in_context(fn, inp, core=8, margin=0, scale=scale)
            assert (cut - whole).abs().max() > 1e-2  # no context: the borders differ


def _decoder() -> LDMDecoder:
    torch.manual_seed(0)
    dec = LDMDecoder(4, 3, (16, 32), layers_per_block=1, groups=4, act="silu").eval()
    with torch.no_grad():
        for p in dec.parameters():
            if p.ndim == 1:  # norms away from ones and zeros, as trained ones are
                p.add_(0.2 * torch.randn_like(p))
    return dec


def test_norms_pooled_one_per_pass_give_the_whole_maps_output():
    """One norm per group: each pass gathers a norm's statistics with every norm before it
    already exact, so the tiles reproduce the whole map; all norms in one group gather
    under each tile's own statistics and only approximate it."""
    dec = _decoder()
    norms = [m for m in dec.modules() if isinstance(m, PooledGroupNorm)]
    order = [n for level in reversed(dec.up) for n in level.modules()
             if isinstance(n, PooledGroupNorm)] + [dec.norm_out]  # the order pixels() runs them
    h = torch.randn(1, 32, 24, 24) + torch.linspace(-2, 2, 24)
    with torch.no_grad():
        whole = dec.pixels(h)
        exact = tiled_in_context(dec.pixels, h, 8, 8, 2.0, [[n] for n in order])
        rough = tiled_in_context(dec.pixels, h, 8, 8, 2.0, [order])
    torch.testing.assert_close(exact, whole, atol=1e-4, rtol=1e-4)
    assert (rough - whole).abs().mean() > 10 * (exact - whole).abs().mean()
    for n in norms:  # released: no statistics, windows or hooks left behind
        assert n._pooled is None and n._window is None and not n._forward_hooks
