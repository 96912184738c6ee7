"""FlatAdam matches torch's Adam/AdamW; flat groups keep the model's parameters intact."""

import pytest
import torch

from aekit.train.flat import FlatGroup
from aekit.train.optim import FlatAdam


@pytest.mark.parametrize("decoupled,wd", [(False, 0.0), (False, 0.01), (True, 0.01)])
def test_flat_adam_matches_torch(decoupled, wd):
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(50))
    b = torch.nn.Parameter(a.detach().clone())
    ref_cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    ours = FlatAdam([a], lr=1e-2, weight_decay=wd, decoupled=decoupled)
    ref = ref_cls([b], lr=1e-2, weight_decay=wd, foreach=False)
    for _ in range(30):
        g = torch.randn(50)
        a.grad, b.grad = g.clone(), g.clone()
        ours.step()
        ref.step()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_flat_adam_state_round_trips():
    p = torch.nn.Parameter(torch.randn(5))
    opt = FlatAdam([p])
    p.grad = torch.ones(5)
    opt.step()
    opt2 = FlatAdam([p])
    opt2.load_state_dict(opt.state_dict())
    assert opt2.state[p]["step"].item() == 1


def test_flat_group_views_share_one_buffer_and_release():
    lin = torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in lin.parameters()]
    group = FlatGroup(list(lin.parameters()))
    for p, old in zip(lin.parameters(), before):
        assert torch.equal(p, old)
    lin(torch.randn(4, 3)).sum().backward()
    assert group.param.grad.abs().sum() > 0  # autograd wrote into the flat gradient
    with torch.no_grad():
        group.param.add_(1.0)
    assert torch.equal(lin.bias, before[1] + 1.0)
    group.release()
    with torch.no_grad():
        group.param.add_(1.0)
    assert torch.equal(lin.bias, before[1] + 1.0)  # no longer a view


def test_flat_group_applicability():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    assert FlatGroup.applicable({"g": [a, b]})
    assert not FlatGroup.applicable({"g1": [a], "g2": [a, b]})  # overlapping groups
    assert not FlatGroup.applicable({"g": [a, torch.nn.Parameter(torch.zeros(2).double())]})
