"""Trustworthiness: 1 for an isometric code, lower for a random projection."""

import numpy as np
import pytest

from aekit.errors import ConfigError
from aekit.metrics import trustworthiness


def test_trustworthiness_orders_embeddings():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert trustworthiness(X, X @ rotation) == pytest.approx(1.0)
    assert trustworthiness(X, rng.normal(size=(200, 2))) < 0.6
    with pytest.raises(ConfigError, match="n_neighbors"):
        trustworthiness(X, X, n_neighbors=150)
