"""The oneDNN inference path computes act(linear(x)) exactly as the usual path does."""

import pytest
import torch
from torch import nn

from aekit.nn import cpu_linear
from aekit.nn.cpu_linear import linear_act, post_op
from aekit.nn.mlp import ACTIVATIONS, MLP

needs_onednn = pytest.mark.skipif(not cpu_linear.ONEDNN, reason="torch built without oneDNN")


@needs_onednn
@pytest.mark.parametrize("act", [None, *ACTIVATIONS])
def test_fused_layer_equals_linear_then_activation(act):
    torch.manual_seed(0)
    layer = nn.Linear(37, 53)
    module = None if act is None else ACTIVATIONS[act]()
    x = torch.randn(2000, 37)
    ref = layer(x) if module is None else module(layer(x))
    with torch.inference_mode():
        assert cpu_linear.fast_path(x, layer)
        out = linear_act(x, layer, module)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    if act in ("elu", "relu"):  # applied after the product (ReLU: see the next test)
        assert post_op(module) is None


@needs_onednn
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_nan_propagates_as_in_torch(act):
    """oneDNN's fused ReLU turns NaN into 0; aekit's path keeps torch's NaN for every
    activation, so a broken input cannot come out as a finite, wrong score."""
    torch.manual_seed(0)
    layer, module = nn.Linear(40, 60), ACTIVATIONS[act]()
    x = torch.randn(2000, 40)
    x[5, 3] = float("nan")
    ref = module(layer(x))
    with torch.inference_mode():
        out = linear_act(x, layer, module)
    assert torch.equal(torch.isnan(out), torch.isnan(ref)) and torch.isnan(out[5]).all()


@needs_onednn
def test_mlp_takes_the_oneDNN_op_only_without_autograd(monkeypatch):
    calls = []
    real = torch.ops.mkldnn._linear_pointwise

    def counting(*args):
        calls.append(args[3])
        return real(*args)

    monkeypatch.setattr(cpu_linear, "_op", lambda: counting)
    monkeypatch.setattr(cpu_linear, "MIN_MACS", 1)
    net = MLP(10, (32, 16), 4, out_shape=(2, 2))
    x = torch.randn(7, 10)
    trained = net(x)  # autograd on: the usual path, gradients work
    trained.sum().backward()
    assert calls == [] and net[1].weight.grad is not None
    with torch.no_grad():
        fast = net(x)
    assert calls == ["none", "none", "none"]  # ReLU in place after each product
    assert fast.shape == (7, 2, 2)
    torch.testing.assert_close(fast, trained.detach(), rtol=1e-5, atol=1e-6)


def test_small_products_other_dtypes_and_shapes_take_the_usual_path():
    big = nn.Linear(128, 256)
    with torch.no_grad():
        assert cpu_linear.fast_path(torch.randn(100, 128), big) == cpu_linear.ONEDNN
        assert not cpu_linear.fast_path(torch.randn(10, 128), big)  # too small to gain
        assert not cpu_linear.fast_path(torch.randn(100, 128, dtype=torch.float64),
                                        big.double())
        assert not cpu_linear.fast_path(torch.randn(100, 5, 128), big)
    assert not cpu_linear.fast_path(torch.randn(100, 128), big)  # autograd is on


def test_vmap_over_an_mlp_at_inference_takes_the_usual_path(monkeypatch):
    monkeypatch.setattr(cpu_linear, "MIN_MACS", 1)
    net = MLP(10, (32,), 4)
    x = torch.randn(6, 3, 10)
    with torch.no_grad():
        batched = torch.func.vmap(net)(x)
        looped = torch.stack([net(xi) for xi in x])
    torch.testing.assert_close(batched, looped, rtol=1e-5, atol=1e-6)
