"""Vector quantization: a codebook, nearest-neighbour lookup and its training rules.

van den Oord, Vinyals & Kavukcuoglu, *Neural Discrete Representation Learning*, 2017.
An encoder output ``z_e`` (a set of ``N`` vectors of size ``D`` per example) is replaced
by its nearest codebook vectors ``e_k``, ``k = argmin_j ||z_e - e_j||``. The decoder's
gradient is copied to the encoder unchanged (straight-through estimator):

    z_q = z_e + sg[e_k - z_e]          (value e_k, gradient d/dz_q passed to z_e)

and the codebook is trained with

    codebook   = sum_{n, d} (sg[z_e] - e_k)^2        (moves codes to the encoder outputs)
    commitment = sum_{n, d} (z_e - sg[e_k])^2        (keeps the encoder near its codes)

both SUMMED over the code vectors and their dimensions per example (models average
them over the batch), so the terms keep the scale of the reconstruction NLL instead of
vanishing as a mean over every element would. The quantizer's own objective per example
is ``codebook + beta * commitment``.

Options:

* ``ema=True``: the codebook is not trained by gradients but set to exponential moving
  averages of the encoder outputs assigned to each code (van den Oord et al. 2017, app.
  A.1; Razavi et al. 2019), with Laplace smoothing of the counts; the codebook term then
  leaves the objective.
* ``kmeans_init=True``: on the first training batch the codebook is set to k-means
  centroids of that batch's encoder outputs.
* ``restart_after=N``: a code unused for ``N`` training steps is re-initialised to a
  random encoder output of the current batch (dead-code restart).

Codebook state changes (EMA, k-means, restarts) happen only in training mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Quantized:
    """What the quantizer returns for a batch of ``N`` vectors of size ``D`` per example.

    Attributes
    ----------
    z_q : torch.Tensor
        ``(B, N, D)`` quantized vectors with the straight-through gradient to ``z_e``.
    codes : torch.Tensor
        ``(B, N)`` indices of the nearest codes.
    codebook : torch.Tensor
        ``(B,)`` per-example ``sum ||sg[z_e] - e||^2``.
    commitment : torch.Tensor
        ``(B,)`` per-example ``sum ||z_e - sg[e]||^2``.
    penalty : torch.Tensor
        ``(B,)`` the quantizer's objective: ``codebook + beta * commitment``, or
        ``beta * commitment`` with EMA codebook updates.
    perplexity : torch.Tensor
        Scalar ``exp(H)`` of the batch's code frequencies (1 = one code, K = uniform).
    usage : torch.Tensor
        Scalar fraction of the ``K`` codes used in the batch.
    """

    z_q: torch.Tensor
    codes: torch.Tensor
    codebook: torch.Tensor
    commitment: torch.Tensor
    penalty: torch.Tensor
    perplexity: torch.Tensor
    usage: torch.Tensor


def code_perplexity(codes: torch.Tensor, num_codes: int) -> torch.Tensor:
    """``exp(-sum_k p_k log p_k)`` of the code frequencies ``p`` in ``codes`` (any shape)."""
    counts = torch.bincount(codes.reshape(-1), minlength=num_codes).float()
    p = counts / counts.sum().clamp_min(1.0)
    return torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())


def code_usage(codes: torch.Tensor, num_codes: int) -> torch.Tensor:
    """Fraction of the ``num_codes`` codes that occur in ``codes`` (any shape)."""
    counts = torch.bincount(codes.reshape(-1), minlength=num_codes)
    return (counts > 0).float().mean()


def kmeans(x: torch.Tensor, k: int, iters: int = 10) -> torch.Tensor:
    """``k`` centroids of the rows of ``x``: k-means++ seeding, then Lloyd's iterations.

    k-means++ (Arthur & Vassilvitskii 2007) picks each new starting row with probability
    proportional to its squared distance to the rows already picked; once every distinct
    row is picked (fewer rows than ``k``) the rest are drawn uniformly. A centroid that
    loses all its points keeps its position.
    """
    n = x.shape[0]
    idx = [int(torch.randint(n, (1,)))]
    d2 = (x - x[idx[0]]).square().sum(1)
    for _ in range(1, k):
        total = d2.sum()
        weights = d2 / total if total > 0 else torch.full_like(d2, 1.0 / n)
        idx.append(int(torch.multinomial(weights, 1)))
        d2 = torch.minimum(d2, (x - x[idx[-1]]).square().sum(1))
    centroids = x[idx].clone()
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


class VectorQuantizer(nn.Module):
    """A codebook of ``num_codes`` vectors of size ``code_dim`` and its training rules.

    Parameters
    ----------
    num_codes : int
        Codebook size ``K``.
    code_dim : int
        Size ``D`` of each code vector.
    beta : float
        Weight of the commitment term.
    ema : bool
        Update the codebook by exponential moving averages instead of gradients.
    decay : float
        EMA decay (``ema=True``).
    epsilon : float
        Laplace smoothing of the EMA counts (``ema=True``).
    kmeans_init : bool
        Set the codebook from k-means on the first training batch.
    restart_after : int
        Re-initialise codes unused for this many training steps (0 = never).

    Examples
    --------
    >>> vq = VectorQuantizer(num_codes=8, code_dim=2)
    >>> out = vq(torch.randn(4, 3, 2))
    >>> out.z_q.shape, out.codes.shape, out.penalty.shape
    (torch.Size([4, 3, 2]), torch.Size([4, 3]), torch.Size([4]))
    """

    def __init__(self, num_codes: int, code_dim: int, beta: float = 0.25, ema: bool = False,
                 decay: float = 0.99, epsilon: float = 1e-5, kmeans_init: bool = False,
                 restart_after: int = 0) -> None:
        super().__init__()
        self.num_codes, self.code_dim = num_codes, code_dim
        self.beta, self.ema, self.decay, self.epsilon = beta, ema, decay, epsilon
        self.kmeans_init, self.restart_after = kmeans_init, restart_after
        init = torch.empty(num_codes, code_dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        if ema:
            self.register_buffer("codebook", init)
            self.register_buffer("ema_count", torch.ones(num_codes))
            self.register_buffer("ema_sum", init.clone())
        else:
            self.codebook = nn.Parameter(init)
        # 0 until the k-means initialisation has run (1 from the start without it)
        self.register_buffer("initialized", torch.tensor(0.0 if kmeans_init else 1.0))
        # training steps since each code was last used (for dead-code restarts)
        self.register_buffer("unused_steps", torch.zeros(num_codes, dtype=torch.long))

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for every vector of ``z`` ``(..., D)``, shape ``(...)``."""
        flat = z.reshape(-1, self.code_dim)
        e = self.codebook
        d2 = flat.square().sum(1, keepdim=True) - 2 * flat @ e.t() + e.square().sum(1)
        return d2.argmin(1).reshape(z.shape[:-1])

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """The code vectors of indices ``codes`` ``(...)``, shape ``(..., D)``."""
        return F.embedding(codes, self.codebook)

    def forward(self, z_e: torch.Tensor) -> Quantized:
        """Quantize ``z_e`` of shape ``(B, N, D)``; see :class:`Quantized`."""
        if self.training and not bool(self.initialized):
            self._kmeans_init(z_e.detach())
        codes = self.nearest(z_e.detach())
        e = self.lookup(codes)
        z_q = z_e + (e - z_e).detach()
        codebook = (z_e.detach() - e).square().flatten(1).sum(1)
        commitment = (z_e - e.detach()).square().flatten(1).sum(1)
        penalty = self.beta * commitment if self.ema else codebook + self.beta * commitment
        if self.training:
            self._update(z_e.detach(), codes)
        return Quantized(z_q, codes, codebook, commitment, penalty,
                         code_perplexity(codes, self.num_codes),
                         code_usage(codes, self.num_codes))

    # -- codebook state (training mode only) -----------------------------------------
    @torch.no_grad()
    def _kmeans_init(self, z_e: torch.Tensor) -> None:
        centroids = kmeans(z_e.reshape(-1, self.code_dim), self.num_codes)
        self.codebook.copy_(centroids)  # in place: the trainer may hold views of it
        if self.ema:
            self.ema_sum.copy_(centroids)
            self.ema_count.fill_(1.0)
        self.initialized.fill_(1.0)

    @torch.no_grad()
    def _update(self, z_e: torch.Tensor, codes: torch.Tensor) -> None:
        flat, idx = z_e.reshape(-1, self.code_dim), codes.reshape(-1)
        counts = torch.bincount(idx, minlength=self.num_codes)
        if self.ema:
            sums = torch.zeros_like(self.ema_sum).index_add_(0, idx, flat.to(self.ema_sum.dtype))
            self.ema_count.mul_(self.decay).add_(counts.to(self.ema_count.dtype),
                                                 alpha=1 - self.decay)
            self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
            n = self.ema_count.sum()
            smoothed = (self.ema_count + self.epsilon) / (n + self.num_codes * self.epsilon) * n
            self.codebook.copy_(self.ema_sum / smoothed[:, None])
        if self.restart_after > 0:
            self.unused_steps.add_(1).masked_fill_(counts > 0, 0)
            dead = (self.unused_steps >= self.restart_after).nonzero().squeeze(1)
            if dead.numel():
                fresh = flat[torch.randint(flat.shape[0], (dead.numel(),), device=flat.device)]
                self.codebook[dead] = fresh.to(self.codebook.dtype)
                if self.ema:
                    self.ema_sum[dead] = fresh.to(self.ema_sum.dtype)
                    self.ema_count[dead] = 1.0
                self.unused_steps[dead] = 0


class CodeLayout:
    """How ``N`` code vectors of size ``D`` sit in a network's tensors.

    Images use a grid ``(B, D, h, w)`` with ``N = h * w`` (position-major); vector data
    use a flat ``(B, N * D)``. Both convert to and from the quantizer's ``(B, N, D)``.

    Parameters
    ----------
    code_dim : int
        Size ``D`` of one code vector.
    grid : (int, int) or None
        Grid size for images; None for a flat set of ``num`` vectors.
    num : int
        Number of code vectors when ``grid`` is None.
    """

    def __init__(self, code_dim: int, grid: Sequence[int] | None = None, num: int = 1) -> None:
        self.code_dim = code_dim
        self.grid = None if grid is None else tuple(grid)
        self.num = math.prod(self.grid) if self.grid is not None else num

    def to_vectors(self, t: torch.Tensor) -> torch.Tensor:
        """Network tensor -> ``(B, N, D)``."""
        if self.grid is not None:
            return t.flatten(2).transpose(1, 2)
        return t.reshape(t.shape[0], self.num, self.code_dim)

    def from_vectors(self, v: torch.Tensor) -> torch.Tensor:
        """``(B, N, D)`` (or its flat ``(B, N * D)``) -> network tensor."""
        v = v.reshape(v.shape[0], self.num, self.code_dim)
        if self.grid is not None:
            return v.transpose(1, 2).reshape(v.shape[0], self.code_dim, *self.grid)
        return v.flatten(1)


class EmpiricalCodePrior(nn.Module):
    """A simple prior over code indices: independent per position, empirical frequencies.

    ``p(k_1..k_N) = prod_n f_n(k_n)``, with ``f_n`` the frequency of each code at position
    ``n`` among recent training examples (counts decayed by ``decay`` each training
    step). It ignores the dependence between positions, so samples are plausible
    patchworks rather than coherent data; :class:`CausalCodePrior` models the dependence
    (``code_prior="transformer"`` of the VQ-VAE). Before any training the frequencies are
    uniform.
    """

    def __init__(self, num_positions: int, num_codes: int, decay: float = 0.99) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("counts", torch.zeros(num_positions, num_codes))

    @torch.no_grad()
    def update(self, codes: torch.Tensor) -> None:
        """Add a batch of codes ``(B, N)`` to the decayed per-position counts."""
        onehot = F.one_hot(codes, self.counts.shape[1]).to(self.counts.dtype).sum(0)
        self.counts.mul_(self.decay).add_(onehot)

    def probs(self) -> torch.Tensor:
        """Per-position code probabilities ``(N, K)`` (uniform where nothing was counted)."""
        total = self.counts.sum(1, keepdim=True)
        uniform = torch.full_like(self.counts, 1.0 / self.counts.shape[1])
        return torch.where(total > 0, self.counts / total.clamp_min(1e-12), uniform)

    def sample(self, n: int) -> torch.Tensor:
        """``n`` code configurations ``(n, N)`` drawn position by position."""
        probs = self.probs()
        draws = torch.multinomial(probs, n, replacement=True)  # (N, n)
        return draws.t().contiguous()


class CausalCodePrior(nn.Module):
    """An autoregressive prior over code indices: a small causal Transformer.

    ``p(k_1..k_N) = prod_n p(k_n | k_<n)``, positions in raster order, each conditional a
    softmax over the K codes computed from the earlier codes only (a causal attention
    mask; the input is the code sequence shifted right behind a start token). It plays
    the part of the PixelCNN prior of the VQ-VAE papers: samples are drawn position by
    position, so positions depend on each other.

    Parameters
    ----------
    num_positions, num_codes : int
        Sequence length N and vocabulary size K.
    width, layers, heads : int
        Transformer size (model width, blocks, attention heads).
    """

    def __init__(self, num_positions: int, num_codes: int, width: int = 64, layers: int = 2,
                 heads: int = 4) -> None:
        super().__init__()
        self.num_positions, self.num_codes = num_positions, num_codes
        self.embed = nn.Embedding(num_codes + 1, width)  # + the start token
        self.position = nn.Parameter(torch.zeros(num_positions, width))
        block = nn.TransformerEncoderLayer(width, heads, 2 * width, dropout=0.0,
                                           batch_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.head = nn.Linear(width, num_codes)
        self.register_buffer("mask", torch.triu(torch.full(
            (num_positions, num_positions), float("-inf")), diagonal=1), persistent=False)

    def logits(self, codes: torch.Tensor) -> torch.Tensor:
        """``(B, N, K)`` logits of p(k_n | k_<n) for code sequences ``(B, N)``."""
        start = torch.full((len(codes), 1), self.num_codes, dtype=torch.long,
                           device=codes.device)
        tokens = torch.cat([start, codes[:, :-1]], 1)
        n = tokens.shape[1]
        h = self.embed(tokens) + self.position[:n]
        return self.head(self.blocks(h, mask=self.mask[:n, :n], is_causal=True))

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        """``log p(codes)`` per sequence, shape ``(B,)``, in nats."""
        logp = F.log_softmax(self.logits(codes), -1)
        return logp.gather(-1, codes.unsqueeze(-1)).squeeze(-1).sum(1)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """``n`` code sequences ``(n, N)``, drawn position by position."""
        device = self.head.weight.device
        codes = torch.zeros(n, self.num_positions, dtype=torch.long, device=device)
        for i in range(self.num_positions):
            probs = F.softmax(self.logits(codes)[:, i], -1)
            codes[:, i] = torch.multinomial(probs, 1).squeeze(1)
        return codes
