"""TrainConfig: the AEKIT_EPOCHS_CAP environment variable."""

from __future__ import annotations

import pytest

from aekit.errors import ConfigError
from aekit.train import TrainConfig


def test_epochs_cap_from_the_environment(monkeypatch):
    monkeypatch.delenv("AEKIT_EPOCHS_CAP", raising=False)
    assert TrainConfig(epochs=30).epochs == 30
    monkeypatch.setenv("AEKIT_EPOCHS_CAP", "2")
    assert TrainConfig(epochs=30).epochs == 2
    assert TrainConfig(epochs=1).epochs == 1
    for bad in ("0", "x"):
        monkeypatch.setenv("AEKIT_EPOCHS_CAP", bad)
        with pytest.raises(ConfigError, match="AEKIT_EPOCHS_CAP"):
            TrainConfig()
