"""VectorQuantizer: straight-through gradient, nearest codes, losses and codebook state."""

import math

import pytest
import torch

from aekit.quantize import (
    CodeLayout,
    EmpiricalCodePrior,
    VectorQuantizer,
    code_perplexity,
    code_usage,
    kmeans,
)


def _random_codebook(vq: VectorQuantizer) -> None:
    with torch.no_grad():
        vq.codebook.copy_(torch.randn_like(vq.codebook))


def test_straight_through_gives_the_encoder_the_decoders_gradient_unchanged():
    vq = VectorQuantizer(16, 4)
    _random_codebook(vq)
    decoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(20, 7), torch.nn.Tanh())
    z_e = torch.randn(8, 5, 4, requires_grad=True)
    out = vq(z_e)
    (grad_e,) = torch.autograd.grad(decoder(out.z_q).square().sum(), z_e)
    # forward value: the nearest codes (z_e + (e - z_e) equals e up to rounding)
    torch.testing.assert_close(out.z_q.detach(), vq.lookup(out.codes).detach())
    # the same decoder loss as a function of a free z_q at the quantized value
    z_q = out.z_q.detach().requires_grad_()
    (grad_q,) = torch.autograd.grad(decoder(z_q).square().sum(), z_q)
    torch.testing.assert_close(grad_e, grad_q, rtol=0, atol=0)  # backward: unchanged
    assert grad_e.abs().sum() > 0


def test_codebook_and_commitment_terms_and_their_gradients():
    vq = VectorQuantizer(16, 4, beta=0.3)
    _random_codebook(vq)
    z_e = torch.randn(6, 5, 4, requires_grad=True)
    out = vq(z_e)
    e = vq.lookup(out.codes).detach()
    per_example = (z_e.detach() - e).square().sum((1, 2))
    torch.testing.assert_close(out.codebook, per_example)  # summed per example, not a mean
    torch.testing.assert_close(out.commitment, per_example)
    torch.testing.assert_close(out.penalty, 1.3 * per_example)
    grad_e, grad_book = torch.autograd.grad(out.penalty.sum(), [z_e, vq.codebook])
    torch.testing.assert_close(grad_e, 2 * 0.3 * (z_e.detach() - e))  # commitment only
    expected = torch.zeros_like(vq.codebook).index_add_(
        0, out.codes.reshape(-1), (2 * (e - z_e.detach())).reshape(-1, 4))
    torch.testing.assert_close(grad_book, expected)  # codebook term only


def test_codes_are_nearest_neighbours():
    vq = VectorQuantizer(32, 8)
    _random_codebook(vq)
    z = torch.randn(50, 6, 8)
    expected = torch.cdist(z.reshape(-1, 8), vq.codebook.detach()).argmin(1).reshape(50, 6)
    assert torch.equal(vq.nearest(z), expected)
    assert torch.equal(vq(z).codes, expected)


def test_perplexity_and_usage_by_hand():
    codes = torch.tensor([[0, 0, 1, 1]])
    assert code_perplexity(codes, 4).item() == pytest.approx(2.0)
    assert code_usage(codes, 4).item() == 0.5
    codes = torch.tensor([0, 1, 2, 3, 3, 3])
    p = torch.tensor([1, 1, 1, 3]) / 6
    assert code_perplexity(codes, 5).item() == pytest.approx(
        math.exp(-(p * p.log()).sum().item()), rel=1e-6)
    assert code_usage(codes, 5).item() == pytest.approx(0.8)


def test_ema_update_follows_the_formula():
    vq = VectorQuantizer(3, 2, ema=True, decay=0.9, epsilon=1e-3)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]))
        vq.ema_sum.copy_(vq.codebook)
    z = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [9.0, 1.0]]])  # codes 0, 0, 1
    old_sum = vq.ema_sum.clone()
    vq.train()
    out = vq(z)
    assert out.codes.tolist() == [[0, 0, 1]]
    count = 0.9 * torch.ones(3) + 0.1 * torch.tensor([2.0, 1.0, 0.0])
    sums = 0.9 * old_sum + 0.1 * torch.tensor([[1.0, 1.0], [9.0, 1.0], [0.0, 0.0]])
    n = count.sum()
    smoothed = (count + 1e-3) / (n + 3 * 1e-3) * n
    torch.testing.assert_close(vq.codebook, sums / smoothed[:, None])
    assert not vq.codebook.requires_grad  # EMA: no gradient to the codebook
    torch.testing.assert_close(out.penalty, 0.25 * out.commitment)


def test_codebook_state_changes_only_in_training_mode():
    vq = VectorQuantizer(8, 2, ema=True, kmeans_init=True, restart_after=1)
    before = {k: v.clone() for k, v in vq.state_dict().items()}
    vq.eval()
    vq(torch.randn(4, 3, 2) + 5.0)
    for k, v in vq.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_kmeans_init_from_the_first_training_batch():
    centers = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    z = (centers[torch.arange(400) % 4] + 0.1 * torch.randn(400, 2)).reshape(8, 50, 2)
    vq = VectorQuantizer(4, 2, kmeans_init=True)
    assert vq.initialized.item() == 0.0
    vq.train()
    vq(z)
    assert vq.initialized.item() == 1.0
    # every centre has a code within the noise level
    assert torch.cdist(centers, vq.codebook.detach()).min(1).values.max() < 0.1
    first = vq.codebook.detach().clone()
    vq(z + 1.0)  # later batches do not re-run it
    assert torch.equal(vq.codebook.detach(), first)


def test_kmeans_with_fewer_points_than_codes():
    x = torch.randn(3, 2)
    c = kmeans(x, 5)
    assert c.shape == (5, 2)
    assert torch.cdist(c, x).min(1).values.max() < 1e-6  # every centroid sits on a point


@pytest.mark.parametrize("ema", [False, True])
def test_dead_codes_restart_from_encoder_outputs(ema):
    vq = VectorQuantizer(4, 2, ema=ema, restart_after=3)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0], [100.0, 100.0],
                                        [-100.0, 50.0]]))
        if ema:
            vq.ema_sum.copy_(vq.codebook)
    vq.train()
    z = torch.rand(2, 8, 2)  # near codes 0 and 1 only
    for step in range(3):
        vq(z)
        if step < 2:
            assert vq.codebook[2:].abs().max() > 40  # not yet dead
    # codes 2 and 3 went unused for 3 steps: they now sit on encoder outputs
    dist = torch.cdist(vq.codebook[2:].detach(), z.reshape(-1, 2)).min(1).values
    assert dist.max() < 1e-5
    assert vq.unused_steps[2:].tolist() == [0, 0]


def test_code_layout_round_trips():
    grid = CodeLayout(3, grid=(2, 4))
    t = torch.randn(5, 3, 2, 4)
    v = grid.to_vectors(t)
    assert v.shape == (5, 8, 3) and torch.equal(v[:, 1], t[:, :, 0, 1])
    assert torch.equal(grid.from_vectors(v), t)
    assert torch.equal(grid.from_vectors(v.flatten(1)), t)
    flat = CodeLayout(3, num=4)
    f = torch.randn(5, 12)
    assert torch.equal(flat.from_vectors(flat.to_vectors(f)), f)


def test_empirical_prior_samples_each_position_by_its_frequency():
    prior = EmpiricalCodePrior(num_positions=2, num_codes=4, decay=0.5)
    assert torch.allclose(prior.probs(), torch.full((2, 4), 0.25))  # uniform before training
    codes = torch.tensor([[0, 3]] * 3 + [[1, 3]])  # position 0: 3/4 code 0, 1/4 code 1
    prior.update(codes)
    torch.testing.assert_close(prior.probs(), torch.tensor([[0.75, 0.25, 0, 0], [0, 0, 0, 1.0]]))
    s = prior.sample(4000)
    assert s.shape == (4000, 2)
    assert set(s[:, 0].tolist()) == {0, 1} and set(s[:, 1].tolist()) == {3}
    assert (s[:, 0] == 0).float().mean().item() == pytest.approx(0.75, abs=0.03)
    prior.update(torch.tensor([[2, 2]]))  # counts decay: older batches weigh less
    torch.testing.assert_close(prior.counts[0], torch.tensor([1.5, 0.5, 1.0, 0.0]))
