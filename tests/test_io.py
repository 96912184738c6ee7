"""aekit.io: model folders load only when config and weights are sound, files honour the
umask."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch
from safetensors.torch import load_file, save_file

import aekit
from aekit.errors import AekitError
from aekit.io import atomic_write_text, weight_shapes


@pytest.fixture
def folder(tmp_path):
    model = aekit.create("vae", input_shape=(6,), latent_dim=2, hidden_dims=(8,),
                         likelihood="gaussian")
    return model.save(tmp_path / "m")


def test_header_shapes_are_read_without_loading(folder):
    shapes = weight_shapes(folder / "model.safetensors")
    assert shapes == {k: tuple(v.shape) for k, v in aekit.load(folder).state_dict().items()}


def test_a_config_that_does_not_match_the_weights_fails_before_allocating(folder):
    record = json.loads((folder / "config.json").read_text())
    record["config"]["hidden_dims"] = [10 ** 6, 10 ** 6]  # 4 TB of float32 if built
    (folder / "config.json").write_text(json.dumps(record))
    with pytest.raises(AekitError, match="wrong shapes"):
        aekit.load(folder)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(folder, value):
    weights = load_file(folder / "model.safetensors")
    key = sorted(weights)[-1]
    weights[key] = torch.full_like(weights[key], value)
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(AekitError, match=f"{key!r} holds .* non-finite"):
        aekit.load(folder)


def test_a_file_that_is_not_safetensors_is_one_error(folder):
    (folder / "model.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(AekitError, match="not a safetensors file"):
        aekit.load(folder)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_written_files_honour_the_umask(tmp_path, mask):
    from aekit.train.checkpoint import save_checkpoint

    old = os.umask(mask)
    try:
        model = aekit.create("ae", input_shape=(4,), latent_dim=2, hidden_dims=(4,),
                             likelihood="gaussian")
        model.save(tmp_path / "m")
        atomic_write_text(tmp_path / "t.json", "{}")
        save_checkpoint(tmp_path / "c.safetensors", model, {}, {"epoch": 0})
    finally:
        os.umask(old)
    want = 0o666 & ~mask  # what a plain open() gives under this umask
    for p in (tmp_path / "m" / "config.json", tmp_path / "m" / "model.safetensors",
              tmp_path / "t.json", tmp_path / "c.safetensors"):
        assert stat.S_IMODE(p.stat().st_mode) == want, p


def test_weights_that_are_views_of_one_flat_buffer_save_and_load(tmp_path):
    """cuDNN keeps a GRU's weights on CUDA as views of one flat buffer; saving such a
    model must work (safetensors refuses partial views) and load back the same values."""
    import torch

    import aekit

    data = aekit.Dataset(torch.rand(32, 6))
    model = aekit.create("ae", data=data, latent_dim=2)
    params = [p for p in model.parameters()]
    flat = torch.cat([p.detach().flatten() for p in params])
    offset = 0
    with torch.no_grad():
        for p in params:  # make every parameter a view into `flat`, as cuDNN does
            n = p.numel()
            p.set_(flat[offset:offset + n].view_as(p))
            offset += n
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    model.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, expected[k]), k
