"""nn.ldm: the faster forms of the latent-diffusion networks compute what the literal
ones do (nearest x2 upsampling + 3x3 conv as four 2x2 convs; in-place activations and
residual sums without autograd), and GroupNorm statistics pooled over pieces of a map
are the whole map's."""

import pytest
import torch
import torch.nn.functional as F

from aekit.nn.ldm import PooledGroupNorm, ResnetBlock, Upsample


def test_upsample_equals_nearest_x2_then_conv_with_its_gradients():
    torch.manual_seed(0)
    up = Upsample(6)
    x = torch.randn(2, 6, 5, 7, requires_grad=True)
    out = up(x)
    ref = F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), up.conv.weight,
                   up.conv.bias, padding=1)
    assert out.shape == (2, 6, 10, 14)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(ref)
    got = torch.autograd.grad(out, (x, up.conv.weight, up.conv.bias), g)
    want = torch.autograd.grad(ref, (x, up.conv.weight, up.conv.bias), g)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)


def test_resnet_block_in_place_path_equals_the_autograd_path():
    torch.manual_seed(0)
    block = ResnetBlock(8, 16, groups=4, act="silu")
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        fast = block(x)  # activations and the residual sum overwrite fresh tensors
    x_keep = x.clone()
    slow = block(x.requires_grad_())
    torch.testing.assert_close(fast, slow, atol=0, rtol=0)
    assert torch.equal(x.detach(), x_keep)  # the input is never overwritten
    slow.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_pooled_group_norm_over_parts_equals_group_norm_of_the_whole():
    """Gathered over the pieces of a map, the pooled statistics are the whole map's (law of
    total variance), so each piece is normalised as it is inside the whole."""
    torch.manual_seed(0)
    norm = PooledGroupNorm(4, 8, eps=1e-6)
    with torch.no_grad():
        norm.weight.add_(torch.randn(8))
        norm.bias.add_(torch.randn(8))
    x = torch.randn(2, 8, 6, 10) * 3 + torch.linspace(-2, 5, 10)  # pieces differ in mean
    parts = (x[..., :4], x[..., 4:])
    whole = norm(x)
    norm.gather()
    own = [norm(p) for p in parts]  # gathering normalises as before
    norm.pool()
    pooled = [norm(p) for p in parts]
    torch.testing.assert_close(torch.cat(pooled, dim=-1), whole, atol=1e-5, rtol=1e-5)
    assert (torch.cat(own, dim=-1) - whole).abs().max() > 0.1  # own statistics differ
    norm.release()
    torch.testing.assert_close(norm(parts[0]), own[0])
    with pytest.raises(RuntimeError, match="before any input"):
        norm.pool()


def test_pooled_group_norm_counts_only_the_window_of_overlapping_pieces():
    """Pieces that overlap (a core plus context) add only their window, named in fractions
    of their extent, so every position is counted once and the pooled statistics are the
    whole map's at whatever resolution the norm sees the pieces (here halved)."""
    torch.manual_seed(0)
    norm = PooledGroupNorm(2, 4, eps=1e-6)
    x = torch.randn(1, 4, 8, 12) + torch.linspace(0, 6, 12)
    half = lambda t: F.avg_pool2d(t, 2)  # noqa: E731
    whole = norm(half(x))
    norm.gather()
    for c0, c1 in ((0, 6), (6, 12)):  # cores 0:6 and 6:12 seen with 2 columns of context
        y0, y1 = max(c0 - 2, 0), min(c1 + 2, 12)
        norm.window((0, 8, 8), (c0 - y0, c1 - y0, y1 - y0))
        norm(half(x[..., y0:y1]))
    norm.pool()
    torch.testing.assert_close(norm(half(x)), whole, atol=1e-5, rtol=1e-5)
    norm.gather()
    norm.window((0, 8, 8), (1, 7, 8))
    with pytest.raises(RuntimeError, match="whole rows and columns"):
        norm(x[..., :6])  # 6 columns cannot hold a window of eighths
