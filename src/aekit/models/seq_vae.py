"""Sequence VAE with an autoregressive GRU decoder (Bowman et al. 2016; Gomez-Bombarelli
et al. 2018 for molecules).

Data are token sequences x = (x_0 = <bos>, x_1, ..., x_T) (``(L,)`` token ids, padded
with id 0 after <eos>). The encoder reads x with a bidirectional GRU; the decoder is a
GRU language model conditioned on z (its initial state and, at every step, its input):

    q(z|x) = N(mu(x), diag sigma^2(x)),   p(z) = N(0, I)
    p(x|z) = prod_{t=1..T} Cat(x_t | softmax(W h_t)),   h_t = GRU(h_{t-1}, [e(x~_{t-1}), z])

    loss(x) = -sum_{t<=T} log p(x_t | x_<t, z) + w(step) * sum_j max(lambda, KL_j)

where the sum over t stops at <eos> (padding is not scored), KL_j is dimension j's
batch-mean KL(q || p) (free bits lambda, Kingma et al. 2016) and w ramps from 0 to
``beta`` over ``kl_warmup_steps`` (KL annealing, Bowman et al. 2016). Teacher forcing
feeds the true previous token x_{t-1}; *word dropout* replaces it by the empty (padding)
embedding with probability ``word_dropout`` (x~), so the decoder must read z instead of
predicting from the prefix alone, the remedy for posterior collapse named in Bowman et
al. The logged ``kl`` is always the true KL (no floor, no weight). The per-position
categorical NLL is :class:`aekit.likelihoods.CategoricalLikelihood` on the one-hot
targets (padding rows zero).

Defining property (tests/models/test_seq_vae.py): the decoder is autoregressive (the
logits at position t depend on tokens before t only, and teacher-forced logits equal
those of step-by-step generation), and the loss equals the formula above computed by
hand.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from aekit.errors import ConfigError
from aekit.latents import DiagonalGaussian
from aekit.likelihoods import make_likelihood
from aekit.models.base import Batch, Loss, ModelConfig, unpack
from aekit.models.registry import register
from aekit.models.vae import VAE, VAEConfig
from aekit.priors import make_prior

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # as in aekit.data.molecules.SPECIALS
_UNUSED = ("arch", "hidden_dims", "base_channels", "activation", "sigma")


@dataclass
class SeqVAEConfig(VAEConfig):
    """Settings of the sequence VAE; ``input_shape`` is ``(L,)`` token ids."""

    likelihood: str = "categorical"  # p(x_t | x_<t, z): categorical over the vocabulary
    vocab_size: int = 32  # token ids 0..vocab_size-1 (0 <pad>, 1 <bos>, 2 <eos>)
    embed_dim: int = 64  # token embedding size
    hidden_size: int = 256  # GRU width (encoder per direction, decoder)
    decoder_layers: int = 2  # stacked GRU layers in the decoder
    word_dropout: float = 0.1  # chance a teacher-forced input token is blanked in training
    kl_warmup_steps: int = 2000  # KL annealing: weight ramps 0 -> beta over these steps
    free_bits: float = 0.05  # per-dimension KL floor (nats) in the objective

    def __post_init__(self) -> None:
        super().__post_init__()
        defaults = ModelConfig()
        changed = [f.name for f in fields(ModelConfig) if f.name in _UNUSED
                   and getattr(self, f.name) != getattr(defaults, f.name)]
        if changed:
            raise ConfigError(f"seq_vae does not use {', '.join(changed)} (its encoder and "
                              "decoder are GRUs: set hidden_size, embed_dim, decoder_layers)")
        if len(self.input_shape) != 1 or self.input_shape[0] < 2:
            raise ConfigError(f"seq_vae reads token-id sequences of shape (L,) with L >= 2, "
                              f"got input_shape {self.input_shape}")
        if self.likelihood != "categorical":
            raise ConfigError(f"seq_vae's likelihood is categorical, got {self.likelihood!r}")
        if self.prior == "vamp":
            raise ConfigError("seq_vae supports prior='normal' or 'mog' (a VampPrior needs "
                              "continuous pseudo-inputs)")
        for name, low in (("vocab_size", 4), ("embed_dim", 1), ("hidden_size", 1),
                          ("decoder_layers", 1)):
            if getattr(self, name) < low:
                raise ConfigError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if not 0 <= self.word_dropout < 1:
            raise ConfigError(f"word_dropout must be in [0, 1), got {self.word_dropout}")


@register
class SequenceVAE(VAE):
    """Sequence VAE: bidirectional GRU encoder, autoregressive GRU decoder.

    See the module docstring for the objective."""

    name = "seq_vae"
    Config = SeqVAEConfig
    generative = True

    def __init__(self, config: SeqVAEConfig) -> None:
        # Not VAE.__init__: the data are ids (L,), the likelihood is over (vocab, L - 1).
        nn.Module.__init__(self)
        self.config = config
        self.step = 0
        length, k, h = config.input_shape[0], config.latent_dim, config.hidden_size
        self.length = length
        self.likelihood = make_likelihood("categorical", (config.vocab_size, length - 1))
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.encoder = nn.GRU(config.embed_dim, h, batch_first=True, bidirectional=True)
        self.to_params = nn.Linear(2 * h, 2 * k)
        self.init_state = nn.Linear(k, h * config.decoder_layers)
        self.decoder = nn.GRU(config.embed_dim + k, h, num_layers=config.decoder_layers,
                              batch_first=True)
        self.out = nn.Linear(h, config.vocab_size)
        self.prior = make_prior(config.prior, k, n_components=config.prior_components)

    # -- encoder -------------------------------------------------------------------
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """q(z | x) from the last states of both GRU directions over the unpadded tokens."""
        ids = x.long()
        lengths = (ids != PAD_ID).sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, h = self.encoder(packed)  # (2, B, H): forward and backward last states
        return DiagonalGaussian.from_params(self.to_params(torch.cat([h[0], h[1]], -1)))

    # -- decoder -------------------------------------------------------------------
    def _h0(self, z: torch.Tensor) -> torch.Tensor:
        layers = self.config.decoder_layers
        h = torch.tanh(self.init_state(z))  # (B, layers * H)
        return h.view(len(z), layers, -1).transpose(0, 1).contiguous()  # (layers, B, H)

    def teacher_forced_logits(self, z: torch.Tensor, x: torch.Tensor,
                              word_dropout: float = 0.0) -> torch.Tensor:
        """Logits ``(B, V, L - 1)`` of x_1..x_{L-1} given the true prefixes (and z)."""
        inputs = x.long()[:, :-1]  # (B, L-1): <bos>, x_1, ..., x_{L-2}
        if word_dropout > 0:
            drop = torch.rand(inputs.shape, device=inputs.device) < word_dropout
            drop[:, 0] = False  # <bos> always stays
            inputs = inputs.masked_fill(drop, PAD_ID)
        zs = z.unsqueeze(1).expand(-1, inputs.shape[1], -1)
        h, _ = self.decoder(torch.cat([self.embedding(inputs), zs], -1), self._h0(z))
        return self.out(h).transpose(1, 2)  # (B, V, L-1)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, greedy: bool = False, temperature: float = 1.0,
                 constraint: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode codes step by step: token ids ``(B, L)`` (``<bos>`` first, padding after
        ``<eos>``) and the decoder's logits ``(B, V, L - 1)`` at each step. Tokens are
        drawn from the logits with ``<pad>`` and ``<bos>`` excluded, and ``<eos>`` too at
        the first step (no empty molecule).

        ``constraint`` (e.g. :class:`aekit.data.selfies_rings.RingGuard`) bans tokens by
        the state of each string: ``constraint.start(B)`` first, then before each step
        ``constraint.banned()`` (bool ``(B, V)``, True = never drawn) and after it
        ``constraint.advance(tokens)``. A row it would leave without any token keeps
        only the fixed bans. The logits returned are the decoder's, unmasked."""
        b = len(z)
        ids = torch.full((b, self.length), PAD_ID, dtype=torch.long, device=z.device)
        ids[:, 0] = BOS_ID
        logits = torch.zeros(b, self.config.vocab_size, self.length - 1, device=z.device)
        h, done = self._h0(z), torch.zeros(b, dtype=torch.bool, device=z.device)
        # never drawn: <pad> and <bos> (they do not occur inside a sequence), and <eos> as
        # the first token (an empty molecule)
        banned = torch.zeros(2, self.config.vocab_size, dtype=torch.bool, device=z.device)
        banned[:, [PAD_ID, BOS_ID]] = True
        banned[0, EOS_ID] = True
        token = ids[:, 0]
        if constraint is not None:
            constraint.start(b)
        for t in range(1, self.length):
            step_in = torch.cat([self.embedding(token), z], -1).unsqueeze(1)
            out, h = self.decoder(step_in, h)
            step_logits = self.out(out[:, 0])
            logits[:, :, t - 1] = step_logits
            ban = banned[min(t, 2) - 1].expand(b, -1)
            if constraint is not None:
                state_ban = ban | constraint.banned().to(z.device)
                ban = torch.where(state_ban.all(-1, keepdim=True), ban, state_ban)
            allowed = step_logits.masked_fill(ban, float("-inf"))
            if greedy:
                token = allowed.argmax(-1)
            else:
                token = torch.multinomial(F.softmax(allowed / temperature, -1), 1)[:, 0]
            token = token.masked_fill(done, PAD_ID)
            ids[:, t] = token
            if constraint is not None:
                constraint.advance(token.cpu())
            done |= token == EOS_ID
            if bool(done.all()):
                break
        return ids, logits

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, V, L - 1)`` along the greedy decoding of z."""
        return self.generate(z, greedy=True)[1]

    # -- objective -----------------------------------------------------------------
    def elbo_terms(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """Per-example ``recon`` (token NLL summed up to <eos>) and per-dimension KL.

        Columns after the batch's longest sequence hold only padding, which is neither
        read by the encoder nor scored: they are cut off, so a batch of short molecules
        costs less (the result is the same).
        """
        longest = int((x != PAD_ID).sum(1).max())  # <bos> ... <eos> of the longest row
        x = x[:, :max(longest, 2)]
        q = self.encode(x)
        z = q.rsample()
        dropout = self.config.word_dropout if self.training else 0.0
        logits = self.teacher_forced_logits(z, x, dropout)
        targets = x.long()[:, 1:]
        onehot = F.one_hot(targets, self.config.vocab_size).transpose(1, 2).float()
        onehot = onehot * (targets != PAD_ID).unsqueeze(1)  # padding is not scored
        return self.likelihood.nll(logits, onehot), self.kl_dims(q, z)

    def loss(self, batch: Batch | torch.Tensor) -> Loss:
        """Token NLL + annealed, free-bits KL (terms: batch means; ``kl`` the true KL)."""
        x, _ = unpack(batch)
        return self.objective(*self.elbo_terms(x))

    # -- protocol ------------------------------------------------------------------
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Greedy decoding of the posterior mean: token ids shaped like ``x`` (float)."""
        return self.generate(self.embed(x), greedy=True)[0].to(x.dtype)

    def sample(self, n: int, y: torch.Tensor | None = None,
               temperature: float = 1.0) -> torch.Tensor:
        """Token ids ``(n, L)`` (float, like the data) drawn token by token for z ~ p(z)."""
        return self.generate(self.prior.sample(n), temperature=temperature)[0].float()
