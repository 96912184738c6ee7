"""private_rng: seeded blocks that leave the caller's generators as they were."""

from __future__ import annotations

import pytest
import torch

from aekit.rng import private_rng


def test_the_block_is_seeded_and_the_callers_stream_resumes():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with private_rng(7):
        first = torch.rand(3)
    with private_rng(7):
        second = torch.rand(3)
    torch.testing.assert_close(first, second)
    torch.testing.assert_close(torch.rand(3), expected_next)


def test_without_a_seed_the_state_is_still_restored():
    torch.manual_seed(5)
    expected_next = torch.rand(2)
    torch.manual_seed(5)
    with private_rng():
        torch.rand(100)
    torch.testing.assert_close(torch.rand(2), expected_next)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_generators_are_restored_too():
    torch.cuda.manual_seed_all(11)
    expected_next = torch.rand(4, device="cuda")
    torch.cuda.manual_seed_all(11)
    with private_rng(3, device="cuda"):
        torch.rand(1000, device="cuda")
    torch.testing.assert_close(torch.rand(4, device="cuda"), expected_next)
