"""Conditional VAE: samples for a fixed label look like that class."""

import pytest
import torch
from sklearn.linear_model import LogisticRegression

import aekit
from aekit.errors import ConfigError, DataError


def test_samples_follow_the_requested_class(digits_flat, tmp_path):
    torch.manual_seed(0)
    model = aekit.create("cvae", data=digits_flat, latent_dim=4, hidden_dims=(128,),
                         n_classes=10)
    aekit.Trainer(epochs=25, lr=2e-3, progress=False, val_fraction=0).fit(model, digits_flat)
    clf = LogisticRegression(max_iter=2000).fit(digits_flat.x.numpy(), digits_flat.y.numpy())
    assert clf.score(digits_flat.x.numpy(), digits_flat.y.numpy()) > 0.95
    labels = torch.arange(10).repeat_interleave(30)
    with torch.no_grad():
        samples = model.sample(len(labels), labels)
    accuracy = (clf.predict(samples.numpy()) == labels.numpy()).mean()
    assert accuracy > 0.6, accuracy  # chance is 0.1
    # save / load keeps the conditional model exactly
    model.save(tmp_path / "m")
    loaded = aekit.load(tmp_path / "m")
    x, y = digits_flat.x[:8], digits_flat.y[:8]
    assert torch.equal(model.reconstruct(x, y), loaded.reconstruct(x, y))


def test_conv_cvae_and_vector_conditions(digits):
    model = aekit.create("cvae", data=digits, latent_dim=3, base_channels=8, n_classes=10)
    loss = model.loss((digits.x[:16], digits.y[:16]))
    assert torch.isfinite(loss.total)
    assert model.sample(4, 7).shape == (4, 1, 8, 8)
    vec = aekit.create("cvae", input_shape=(5,), likelihood="gaussian", n_classes=None,
                       cond_dim=2, hidden_dims=(16,))
    assert vec.sample(3, torch.randn(3, 2)).shape == (3, 5)


def test_bad_conditions(digits_flat):
    model = aekit.create("cvae", data=digits_flat, n_classes=10, hidden_dims=(16,))
    with pytest.raises(DataError, match="conditional"):
        model.loss(digits_flat.x[:4])
    with pytest.raises(DataError, match=r"labels must be in \[0, 10\)"):
        model.sample(2, torch.tensor([3, 12]))
    with pytest.raises(ConfigError, match="exactly one"):
        aekit.create("cvae", data=digits_flat, n_classes=None)
