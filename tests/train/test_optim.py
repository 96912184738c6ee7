"""LeanAdam is Adam/AdamW: same updates as torch's, same state layout, one step counter."""

import copy

import pytest
import torch

from aekit.train.optim import LeanAdam, fused_supported


def _pair(decoupled, wd, n=50):
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(n))
    b = torch.nn.Parameter(a.detach().clone())
    ref_cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    ours = LeanAdam([a], lr=1e-2, weight_decay=wd, decoupled=decoupled)
    ref = ref_cls([b], lr=1e-2, weight_decay=wd, foreach=False)
    return a, b, ours, ref


def _steps(a, b, ours, ref, n):
    """``n`` steps of both optimisers on the same random gradients."""
    for _ in range(n):
        g = torch.randn(a.shape)
        a.grad, b.grad = g.clone(), g.clone()
        ours.step()
        ref.step()


@pytest.mark.parametrize("decoupled,wd", [(False, 0.0), (False, 0.01), (True, 0.01)])
def test_lean_adam_matches_torch(decoupled, wd):
    a, b, ours, ref = _pair(decoupled, wd)
    _steps(a, b, ours, ref, 30)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_state_dict_moves_between_lean_and_torch_adam():
    a, b, ours, ref = _pair(False, 0.0)
    _steps(a, b, ours, ref, 5)
    # torch's state into ours (and on): the next updates still agree
    ours.load_state_dict(copy.deepcopy(ref.state_dict()))  # a copy: not shared buffers
    _steps(a, b, ours, ref, 5)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert ours.state_dict()["state"][0]["step"].item() == 10


def test_one_step_counter_per_group_and_tensors_without_gradient_stay():
    w, unused = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(2))
    opt = LeanAdam([w, unused], lr=0.1)
    for _ in range(3):
        w.grad, unused.grad = torch.ones(3), None
        opt.step()
    assert opt.state[w]["step"] is opt.state[unused]["step"]  # shared, advanced once a step
    assert opt.state[w]["step"].item() == 3
    assert torch.equal(unused.detach(), torch.ones(2))
    assert (w.detach() < 1).all()


def test_fused_kernel_only_where_torch_has_it():
    assert fused_supported([torch.zeros(2)])
    assert not fused_supported([torch.zeros(2, dtype=torch.int64)])
    assert not fused_supported([])
    assert not fused_supported([torch.zeros(2), torch.zeros(2, dtype=torch.float64)])


def test_zero_grad_clears_or_zeroes():
    w = torch.nn.Parameter(torch.ones(3))
    opt = LeanAdam([w])
    w.grad = torch.ones(3)
    opt.zero_grad(set_to_none=False)
    assert torch.equal(w.grad, torch.zeros(3))
    opt.zero_grad()
    assert w.grad is None


def test_trainer_uses_the_fused_path_where_it_can():
    from aekit.train.config import TrainConfig
    from aekit.train.trainer import _make_optimizer

    cfg = TrainConfig(optimizer="adamw", weight_decay=0.01)
    lean = _make_optimizer([torch.nn.Parameter(torch.zeros(3))], cfg)
    assert isinstance(lean, LeanAdam) and lean.defaults["decoupled"]
    mixed = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3).double())]
    assert isinstance(_make_optimizer(mixed, cfg), torch.optim.AdamW)


def test_a_group_added_later_is_updated_too():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = LeanAdam([a], lr=0.1)
    a.grad = torch.ones(2)
    opt.step()
    opt.add_param_group({"params": [b]})
    a.grad, b.grad = torch.ones(2), torch.ones(2)
    opt.step()
    assert (b.detach() < 1).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_loaded_state_steps_on_cuda():
    """torch's load_state_dict keeps step counters on the CPU; the fused kernel needs them
    on the parameters' device (a resumed CUDA run failed at its first step before)."""
    a = torch.nn.Parameter(torch.randn(10, device="cuda"))
    b = torch.nn.Parameter(a.detach().clone())
    ours, ref = LeanAdam([a], lr=1e-2), torch.optim.Adam([b], lr=1e-2)
    for _ in range(3):
        g = torch.randn(10, device="cuda")
        a.grad, b.grad = g.clone(), g.clone()
        ours.step()
        ref.step()
    ours.load_state_dict(copy.deepcopy(ours.state_dict()))
    g = torch.randn(10, device="cuda")
    a.grad, b.grad = g.clone(), g.clone()
    ours.step()
    ref.step()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert ours.state[a]["step"].device == a.device and ours.state[a]["step"].item() == 4
