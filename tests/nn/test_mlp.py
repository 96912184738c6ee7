"""MLP: in-place ReLU-type activations give the same outputs and gradients as out-of-place."""

import pytest
import torch

from aekit.nn.mlp import IN_PLACE, MLP, activation


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "gelu", "tanh"])
def test_in_place_activations_change_nothing_but_memory(act):
    torch.manual_seed(0)
    net = MLP(6, (16, 8), 3, act=act)
    ref = MLP(6, (16, 8), 3, act=act)
    ref.load_state_dict(net.state_dict())
    for m in ref.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    assert any(getattr(m, "inplace", False) for m in net.modules()) == (act in IN_PLACE)
    x = torch.randn(5, 6)
    out, out_ref = net(x), ref(x)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=0)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    for p, q in zip(net.parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=0)


def test_activation_by_name_and_bad_name():
    assert isinstance(activation("relu", inplace=True), torch.nn.ReLU)
    assert activation("relu", inplace=True).inplace
    assert not activation("relu").inplace
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        activation("nope")
