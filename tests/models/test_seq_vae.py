"""seq_vae: the decoder is autoregressive (position t sees tokens before t only; teacher
forcing equals step-by-step generation) and the loss is the documented formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import aekit
from aekit.errors import ConfigError
from aekit.models.seq_vae import BOS_ID, EOS_ID, PAD_ID

V, L = 9, 12


def _tokens(n: int = 16, seed: int = 0) -> torch.Tensor:
    """Random token rows <bos> t... <eos> <pad>... of varying length, as float ids."""
    g = torch.Generator().manual_seed(seed)
    x = torch.full((n, L), PAD_ID)
    for i in range(n):
        k = int(torch.randint(1, L - 1, (1,), generator=g))
        x[i, 0] = BOS_ID
        x[i, 1:k + 1] = torch.randint(3, V, (k,), generator=g)
        x[i, k + 1] = EOS_ID if k + 1 < L else x[i, k + 1]
    return x.float()


def _model(**kw) -> aekit.Autoencoder:
    return aekit.create("seq_vae", input_shape=(L,), vocab_size=V, latent_dim=4,
                        hidden_size=16, embed_dim=8, **kw).eval()


def test_logits_at_t_depend_only_on_earlier_tokens():
    model, x = _model(decoder_layers=2), _tokens()
    z = torch.randn(len(x), 4)
    base = model.teacher_forced_logits(z, x)  # (B, V, L-1): position t predicts x_{t+1}
    for t in (2, 5, 9):
        changed = x.clone()
        changed[:, t:] = torch.randint(3, V, changed[:, t:].shape).float()
        out = model.teacher_forced_logits(z, changed)
        torch.testing.assert_close(out[:, :, :t], base[:, :, :t])  # inputs x_0..x_{t-1}
        assert not torch.allclose(out[:, :, t:], base[:, :, t:])


def test_teacher_forcing_equals_step_by_step_generation():
    model = _model()
    z = torch.randn(6, 4)
    ids, logits = model.generate(z, greedy=True)
    forced = model.teacher_forced_logits(z, ids.float())
    for i in range(len(ids)):  # compare up to and including the step that drew <eos>
        ends = (ids[i, 1:] == EOS_ID).nonzero()
        n = int(ends[0]) + 1 if len(ends) else L - 1
        torch.testing.assert_close(forced[i, :, :n], logits[i, :, :n], atol=1e-5, rtol=1e-5)
    assert (ids[:, 0] == BOS_ID).all()


def test_loss_is_token_nll_plus_annealed_free_bits_kl():
    model = _model(kl_warmup_steps=10, free_bits=0.3, word_dropout=0.0, beta=2.0)
    model.set_step(4)  # KL weight 2.0 * 4 / 10
    x = _tokens(32)
    torch.manual_seed(3)
    loss = model.loss(x)
    torch.manual_seed(3)  # the same reparameterisation noise, by hand
    q = model.encode(x)
    z = q.rsample()
    logits = model.teacher_forced_logits(z, x)
    targets = x.long()[:, 1:]
    nll = F.cross_entropy(logits, targets, ignore_index=PAD_ID, reduction="none").sum(1)
    kl_dims = 0.5 * (q.mu**2 + q.logvar.exp() - 1 - q.logvar)
    kl_train = kl_dims.mean(0).clamp(min=0.3).sum()
    torch.testing.assert_close(loss.total, nll.mean() + 0.8 * kl_train)
    torch.testing.assert_close(loss.terms["recon"], nll.mean())
    torch.testing.assert_close(loss.terms["kl"], kl_dims.sum(1).mean())


def test_padding_columns_are_cut_without_changing_the_loss():
    model = _model(kl_warmup_steps=10, free_bits=0.3, word_dropout=0.0)
    x = _tokens(32)
    x[:, 6:] = PAD_ID  # every row ends by column 5: columns 6.. are padding only
    x[:, 5] = EOS_ID
    torch.manual_seed(3)
    loss = model.loss(x)
    torch.manual_seed(3)  # by hand on all L columns
    q = model.encode(x)
    logits = model.teacher_forced_logits(q.rsample(), x)
    nll = F.cross_entropy(logits, x.long()[:, 1:], ignore_index=PAD_ID, reduction="none")
    torch.testing.assert_close(loss.terms["recon"], nll.sum(1).mean())


def test_word_dropout_blanks_inputs_only_in_training():
    model = _model(word_dropout=0.5)
    x = _tokens(64)
    model.eval()
    torch.manual_seed(0)
    a = model.loss(x).terms["recon"]
    torch.manual_seed(0)
    assert model.loss(x).terms["recon"] == a
    model.train()
    torch.manual_seed(0)
    assert model.loss(x).terms["recon"] != a


def test_sample_and_reconstruct_are_token_rows():
    model, x = _model(), _tokens(5)
    s = model.sample(200)
    assert s.shape == (200, L) and (s[:, 0] == BOS_ID).all() and s.max() < V
    assert (s[:, 1] >= 3).all()  # a first token that is a symbol: never an empty molecule
    assert not (s[:, 1:] == BOS_ID).any()
    for row in s.long().tolist():  # <pad> only after <eos>
        if PAD_ID in row:
            assert EOS_ID in row[:row.index(PAD_ID)]
    assert model.reconstruct(x).shape == x.shape


def test_the_decoder_reads_z_instead_of_collapsing():
    """Word dropout hides most prefixes, so the sequences can only be told apart through
    z: after training, greedy decoding of each code gives back its own sequence (a
    collapsed model would decode every code to the same string)."""
    torch.manual_seed(0)
    x = _tokens(8, seed=1)
    model = aekit.create("seq_vae", data=x, vocab_size=V, latent_dim=8, hidden_size=48,
                         embed_dim=8, decoder_layers=1, word_dropout=0.8,
                         kl_warmup_steps=100, free_bits=1.0)
    aekit.Trainer(epochs=150, batch_size=8, lr=5e-3, val_fraction=0.0, progress=False,
                  checkpoint_every=0).fit(model, x)
    model.eval()
    exact = (model.reconstruct(x) == x).all(1).float().mean()
    assert exact >= 0.75
    assert model.loss(x).terms["kl"] > 4.0  # nats of information about x in z


@pytest.mark.parametrize("bad, match", [
    ({"arch": "mlp"}, "does not use arch"),
    ({"hidden_dims": (8,)}, "does not use hidden_dims"),
    ({"likelihood": "bernoulli"}, "likelihood is categorical"),
    ({"prior": "vamp"}, "prior='normal' or 'mog'"),
    ({"word_dropout": 1.0}, r"word_dropout must be in \[0, 1\)"),
])
def test_settings_it_does_not_use_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        _model(**bad)
    with pytest.raises(ConfigError, match=r"shape \(L,\)"):
        aekit.create("seq_vae", input_shape=(3, 4), vocab_size=V)
