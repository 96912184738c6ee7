"""Sequence nets: 1-D conv and GRU encoders/decoders for (C, T), and arch="auto" by shape."""

import pytest
import torch

import aekit
from aekit.errors import ConfigError
from aekit.nn import build_decoder, build_encoder, resolve_arch
from aekit.nn.conv2d import ConvEncoder
from aekit.nn.mlp import MLP
from aekit.nn.seq import GRUDecoder, GRUEncoder, SeqConvDecoder, SeqConvEncoder


@pytest.mark.parametrize("length", [1, 3, 5, 28, 37, 64, 100])
def test_conv_decoder_mirrors_encoder_to_the_exact_length(length):
    enc = SeqConvEncoder((3, length), 6, base_channels=4)
    dec = SeqConvDecoder(6, (3, length), base_channels=4)
    x = torch.randn(2, 3, length)
    assert enc(x).shape == (2, 6)
    assert dec(enc(x)).shape == (2, 3, length)


@pytest.mark.parametrize("length", [1, 17, 64])
def test_gru_encoder_decoder_shapes(length):
    enc, dec = GRUEncoder((2, length), 5, hidden_size=8), GRUDecoder(5, (2, length), 8)
    x = torch.randn(3, 2, length)
    assert dec(enc(x)).shape == (3, 2, length)


def test_gru_encoder_reads_the_whole_sequence():
    torch.manual_seed(0)
    enc = GRUEncoder((1, 6), 4, hidden_size=8)
    x = torch.randn(1, 1, 6)
    y = x.clone()
    y[0, 0, 0] += 5.0  # change only the first step
    assert (enc(x) - enc(y)).abs().max() > 1e-4


def test_auto_picks_by_shape_and_keeps_old_choices():
    assert resolve_arch("auto", (64,)) == "mlp"
    assert resolve_arch("auto", (1, 8, 8)) == "conv"
    assert resolve_arch("auto", (4, 32)) == "seq"
    assert isinstance(build_encoder((64,), 4), MLP)
    assert isinstance(build_encoder((1, 8, 8), 4), ConvEncoder)
    assert isinstance(build_encoder((4, 32), 4), SeqConvEncoder)
    assert isinstance(build_decoder(4, (4, 32)), SeqConvDecoder)
    assert isinstance(build_encoder((4, 32), 4, arch="gru"), GRUEncoder)
    assert isinstance(build_decoder(4, (4, 32), arch="gru"), GRUDecoder)
    assert isinstance(build_encoder((4, 32), 4, arch="mlp"), MLP)
    for arch in ("seq", "gru"):
        with pytest.raises(ConfigError, match=r"\(C, T\)"):
            resolve_arch(arch, (64,))


@pytest.mark.parametrize("arch", ["auto", "gru"])
def test_models_train_on_sequences(arch):
    torch.manual_seed(0)
    x = torch.sin(torch.linspace(0, 12, 48)).repeat(64, 2, 1) + 0.05 * torch.randn(64, 2, 48)
    model = aekit.create("vae", data=x, latent_dim=3, arch=arch, hidden_dims=(16,),
                         base_channels=8)
    res = aekit.Trainer(epochs=3, batch_size=16, progress=False, val_fraction=0,
                        checkpoint_every=0).fit(model, x)
    assert torch.isfinite(torch.tensor(res.last()["loss"]))
    assert model.reconstruct(x[:4]).shape == (4, 2, 48)
