"""Decoder output distributions p(x | z).

Each likelihood turns the decoder's raw output ``out`` (same shape as the data) into a
distribution over one example, and computes its negative log-likelihood directly:

    nll(out, x) = -log p(x | z),  summed over every data dimension, one value per example

so every reconstruction term in aekit is a true NLL in nats, with all constants, of
shape ``(B,)``; models average it over the batch. ``distribution(out)`` returns the same
density as a ``torch.distributions`` object (``.mean`` is the reconstruction), and the
tests check that both agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import (
    Bernoulli,
    Distribution,
    Independent,
    Normal,
    OneHotCategorical,
    constraints,
)
from torch.nn import functional as F

from aekit.errors import ConfigError

LOG_2PI = math.log(2 * math.pi)


class Likelihood(nn.Module):
    """Base class: ``out`` (decoder output, shaped like the data) -> p(x | z)."""

    name: str = ""

    def distribution(self, out: torch.Tensor) -> Distribution:
        """p(x | z) as a distribution whose event is one whole example."""
        raise NotImplementedError

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``-log p(x | z)`` summed over data dimensions, shape ``(B,)``, in nats."""
        raise NotImplementedError

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x | z], the reconstruction."""
        raise NotImplementedError

    def variables(self, shape: Sequence[int]) -> int:
        """How many random variables one example of ``shape`` holds (the D of bits/dim):
        one per value here."""
        return math.prod(int(s) for s in shape)

    def normalised_on(self, x: torch.Tensor) -> bool:
        """Whether ``nll(out, x)`` is a true ``-log p(x|z)`` for data ``x``: a normalised
        probability (discrete data) or density (continuous data). True here."""
        return True


class BernoulliLikelihood(Likelihood):
    """Independent Bernoulli per value with ``out`` as logits.

    ``-log p(x|z) = sum_d BCE(sigmoid(out_d), x_d)``; for grey values in [0, 1] this is
    the usual cross-entropy objective (the density is then unnormalised in x, as in
    Kingma & Welling's MNIST experiments).
    """

    name = "bernoulli"

    def distribution(self, out: torch.Tensor) -> Distribution:
        return Independent(Bernoulli(logits=out, validate_args=False), out.ndim - 1,
                           validate_args=False)

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        per_value = F.binary_cross_entropy_with_logits(out, x, reduction="none")
        return per_value.flatten(1).sum(1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out)

    def normalised_on(self, x: torch.Tensor) -> bool:
        """Only binary data: on grey values the cross-entropy is not a likelihood (its
        sum over the values x can take is not 1)."""
        return bool(((x == 0) | (x == 1)).all())


class GaussianLikelihood(Likelihood):
    """Independent Normal per value with mean ``out`` and a fixed or learned scale.

    ``-log p(x|z) = sum_d [ (x_d - out_d)^2 / (2 sigma_d^2) + log sigma_d + log(2 pi)/2 ]``.

    With ``learn_scale=True`` each data dimension has its own learned log sigma, clamped
    to ``[min_log_scale, max_log_scale]`` so the density cannot run off to infinity on
    constant dimensions (a common source of NaN losses).
    """

    def __init__(
        self,
        shape: Sequence[int],
        sigma: float = 1.0,
        learn_scale: bool = False,
        min_log_scale: float = -4.0,
        max_log_scale: float = 2.0,
    ) -> None:
        super().__init__()
        if sigma <= 0:
            raise ConfigError(f"sigma must be > 0, got {sigma}")
        self.name = "gaussian_learned" if learn_scale else "gaussian"
        self.min_log_scale, self.max_log_scale = min_log_scale, max_log_scale
        log_scale = torch.full(tuple(shape), math.log(sigma))
        if learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def _log_scale(self) -> torch.Tensor:
        return self.log_scale.clamp(self.min_log_scale, self.max_log_scale)

    def distribution(self, out: torch.Tensor) -> Distribution:
        scale = self._log_scale().exp().expand_as(out)
        return Independent(Normal(out, scale, validate_args=False), out.ndim - 1,
                           validate_args=False)

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_scale = self._log_scale()
        per_value = 0.5 * (x - out).square() * torch.exp(-2 * log_scale) + log_scale
        return per_value.flatten(1).sum(1) + 0.5 * LOG_2PI * per_value[0].numel()

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return out


class CategoricalLikelihood(Likelihood):
    """One categorical variable per position, its classes along axis 1 (``(B, V, ...)``).

    For one-hot data (tokens of a sequence as ``(B, V, L)``, say) with ``out`` as logits:
    ``-log p(x|z) = -sum_positions sum_v x_v log softmax(out)_v``, the cross-entropy of
    every position summed. ``mean`` gives the class probabilities.
    """

    name = "categorical"

    def distribution(self, out: torch.Tensor) -> Distribution:
        return Independent(OneHotCategorical(logits=out.movedim(1, -1), validate_args=False),
                           out.ndim - 2, validate_args=False)

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        per_position = -(x * F.log_softmax(out, dim=1)).sum(1)
        return per_position.flatten(1).sum(1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return torch.softmax(out, dim=1)

    def variables(self, shape: Sequence[int]) -> int:
        """One variable per position: the class axis (axis 0 of ``shape``) is not data."""
        return math.prod(int(s) for s in shape[1:])


LEVELS = 256  # values an 8-bit pixel takes
MEAN_CHUNK = 1 << 24  # values x edges held at once by DiscretizedLogistic.mean


def _log_sigmoid_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``log(sigmoid(a) - sigmoid(b))`` for ``a > b``, without cancellation.

    Where ``a + b > 0`` both sigmoids are near 1, so the difference is taken as
    ``sigmoid(-b) - sigmoid(-a)``; then ``log sigmoid(hi) + log(1 - exp(log sigmoid(lo) -
    log sigmoid(hi)))`` keeps full precision for narrow and wide bins alike.
    """
    flip = (a + b) > 0
    hi, lo = torch.where(flip, -b, a), torch.where(flip, -a, b)
    log_hi, log_lo = F.logsigmoid(hi), F.logsigmoid(lo)
    return log_hi + torch.log(-torch.expm1((log_lo - log_hi).clamp(max=-1e-30)))


class DiscretizedLogistic(Distribution):
    """A logistic with location ``loc`` and scale ``scale``, discretised to the 256
    values ``k / 255`` of 8-bit data (Salimans et al. 2017, PixelCNN++).

    ``P(x = k/255) = F(k/255 + h) - F(k/255 - h)`` with ``h = 1/510`` and F the logistic
    CDF, except that the first bin reaches down to -inf and the last up to +inf, so the
    256 probabilities sum to 1. Elementwise (batch shape = ``loc``'s shape).
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.unit_interval
    has_rsample = False

    def __init__(self, loc: torch.Tensor, scale: torch.Tensor) -> None:
        self.loc, self.scale = torch.broadcast_tensors(loc, scale)
        super().__init__(self.loc.shape, validate_args=False)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """``log P(x)`` of values on the 8-bit grid (``value`` is rounded to its bin)."""
        k = torch.round(value * (LEVELS - 1)).clamp(0, LEVELS - 1)
        half = 0.5 / (LEVELS - 1)
        centre = k / (LEVELS - 1) - self.loc
        upper = (centre + half) / self.scale
        lower = (centre - half) / self.scale
        first = F.logsigmoid(upper)  # (-inf, h]
        last = F.logsigmoid(-lower)  # [1 - h, inf)
        inner = _log_sigmoid_difference(upper, lower)
        return torch.where(k == 0, first, torch.where(k == LEVELS - 1, last, inner))

    @property
    def mean(self) -> torch.Tensor:
        """``E[x] = (1/255) sum_{j=0}^{254} (1 - F(edge_j))``, ``edge_j = (j + 1/2)/255``
        (the expected bin index as a sum of tail probabilities)."""
        edges = (torch.arange(LEVELS - 1, device=self.loc.device, dtype=self.loc.dtype)
                 + 0.5) / (LEVELS - 1)
        loc, scale = self.loc.unsqueeze(-1), self.scale.unsqueeze(-1)
        step = max(1, MEAN_CHUNK // max(1, self.loc.numel()))  # edges per pass
        total = torch.zeros_like(self.loc)
        for i in range(0, LEVELS - 1, step):
            total = total + torch.sigmoid((loc - edges[i:i + step]) / scale).sum(-1)
        return total / (LEVELS - 1)

    def sample(self, sample_shape: Sequence[int] = ()) -> torch.Tensor:
        """Draws on the 8-bit grid: a logistic draw, rounded to its bin."""
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            u = torch.rand(shape, device=self.loc.device, dtype=self.loc.dtype)
            u = u.clamp(torch.finfo(u.dtype).tiny, 1 - torch.finfo(u.dtype).eps)
            x = self.loc + self.scale * (torch.log(u) - torch.log1p(-u))
            return torch.round(x.clamp(0, 1) * (LEVELS - 1)) / (LEVELS - 1)


class DiscretizedLogisticLikelihood(GaussianLikelihood):
    """8-bit data (values ``k/255`` in [0, 1]): a discretised logistic per value with
    location ``out`` and a learned scale per data dimension.

    ``-log p(x|z) = -sum_d log [F((x_d + h - out_d)/s_d) - F((x_d - h - out_d)/s_d)]``,
    ``h = 1/510``, F the logistic CDF, the end bins open to -inf / +inf
    (:class:`DiscretizedLogistic`). It is the probability of the 8-bit values
    themselves, so ``nll / (D ln 2)`` is bits/dim in the convention of the image-modelling
    literature (the same number as a density on [0, 256)-valued data plus ``D ln 256``):
    a uniform model scores exactly 8. ``log s_d`` is learned and clamped to
    ``[min_log_scale, max_log_scale]`` as the learned Gaussian's is; ``sigma`` is the
    initial scale.
    """

    def __init__(self, shape: Sequence[int], sigma: float = 1.0, min_log_scale: float = -7.0,
                 max_log_scale: float = 2.0) -> None:
        super().__init__(shape, sigma=sigma, learn_scale=True, min_log_scale=min_log_scale,
                         max_log_scale=max_log_scale)
        self.name = "discretized_logistic"

    def distribution(self, out: torch.Tensor) -> Distribution:
        scale = self._log_scale().exp().expand_as(out)
        return Independent(DiscretizedLogistic(out, scale), out.ndim - 1,
                           validate_args=False)

    def nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_p = DiscretizedLogistic(out, self._log_scale().exp().expand_as(out)).log_prob(x)
        return -log_p.flatten(1).sum(1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        return DiscretizedLogistic(out, self._log_scale().exp().expand_as(out)).mean

    def normalised_on(self, x: torch.Tensor) -> bool:
        """Only data on the 8-bit grid ``k/255`` (else values are rounded to a bin)."""
        k = x * (LEVELS - 1)
        return bool(((x >= 0) & (x <= 1) & ((k - k.round()).abs() < 1e-3)).all())


LIKELIHOODS = ("auto", "bernoulli", "gaussian", "gaussian_learned", "categorical",
               "discretized_logistic")


def choose_likelihood(x: torch.Tensor) -> str:
    """Pick a likelihood from the data: Bernoulli for values in [0, 1], else learned Gaussian."""
    if x.numel() and float(x.min()) >= 0.0 and float(x.max()) <= 1.0:
        return "bernoulli"
    return "gaussian_learned"


def make_likelihood(name: str, shape: Sequence[int], sigma: float = 1.0) -> Likelihood:
    """Build a likelihood by name for data of one example's ``shape``."""
    if name == "bernoulli":
        return BernoulliLikelihood()
    if name == "gaussian":
        return GaussianLikelihood(shape, sigma=sigma)
    if name == "gaussian_learned":
        return GaussianLikelihood(shape, sigma=sigma, learn_scale=True)
    if name == "categorical":
        if len(shape) < 2:
            raise ConfigError(f"likelihood='categorical' needs examples of shape (classes, "
                              f"positions...), got {tuple(shape)}")
        return CategoricalLikelihood()
    if name == "discretized_logistic":
        return DiscretizedLogisticLikelihood(shape, sigma=sigma)
    if name == "auto":
        raise ConfigError(
            "likelihood='auto' must be resolved from data first: pass data= to "
            "aekit.create (or train through the CLI), or name a likelihood "
            f"({', '.join(LIKELIHOODS[1:])})"
        )
    raise ConfigError(f"likelihood={name!r} is not one of {LIKELIHOODS}")
