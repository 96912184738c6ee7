import pytest

from aekit.errors import ConfigError
from aekit.schedules import learning_rate, linear_ramp


def test_linear_ramp():
    assert linear_ramp(0, 10) == 0.0
    assert linear_ramp(5, 10, 0.0, 2.0) == pytest.approx(1.0)
    assert linear_ramp(50, 10, 0.0, 2.0) == 2.0
    assert linear_ramp(3, 0, 0.0, 2.0) == 2.0


def test_learning_rate_schedules():
    assert learning_rate(0, 100, 1.0, "constant", warmup_steps=4) == pytest.approx(0.25)
    assert learning_rate(50, 100, 1.0) == 1.0
    assert learning_rate(100, 100, 1.0, "cosine") == pytest.approx(0.0)
    assert learning_rate(50, 100, 1.0, "linear") == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="lr_schedule"):
        learning_rate(0, 10, 1.0, "exp")
