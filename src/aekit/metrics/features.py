"""Feature extractors for sample-quality metrics (FID, precision/recall, Inception Score).

A :class:`FeatureExtractor` maps a batch of examples to feature vectors and, when it is
a classifier, to class probabilities. Three kinds exist:

* :func:`aekit.metrics.inception.inception_v3_features` - the Inception-v3 of the
  standard FID, from local weights; results are named ``FID``;
* :class:`DatasetClassifier` - a small classifier trained on the labelled data itself
  (the default when no Inception weights are given); its penultimate layer is the
  feature space and results are named ``FID-<dataset>`` (e.g. ``FID-digits``), never
  ``FID``, because the numbers are not comparable with published FIDs;
* :class:`ModuleFeatures` - any ``torch.nn.Module`` or function you supply.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from aekit.errors import ConfigError, DataError
from aekit.metrics._util import as_tensor, check_positive
from aekit.nn import build_encoder
from aekit.rng import private_rng

__all__ = ["DatasetClassifier", "FeatureExtractor", "ModuleFeatures", "as_extractor"]

MLP_MAX_VALUES = 1024  # examples this small (e.g. 8x8 digits) get an MLP classifier


class FeatureExtractor:
    """Base class: ``features(x)`` -> ``(N, F)``; ``probs(x)`` -> ``(N, C)`` for classifiers.

    Attributes
    ----------
    name : str
        What the features come from (``"inception"``, a dataset name, ...).
    standard : bool
        True only for the standard FID Inception network.
    batch_size : int
        Examples per forward pass.
    device : str
        Where the network runs.
    """

    name: str = "custom"
    standard: bool = False
    batch_size: int = 256
    device: str = "cpu"

    @property
    def metric_name(self) -> str:
        """``"FID"`` for the standard Inception features, else ``"FID-<name>"``."""
        return "FID" if self.standard else f"FID-{self.name}"

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _logits(self, x: torch.Tensor) -> torch.Tensor | None:
        return None

    def _run(self, fn: Callable[[torch.Tensor], Any], x: Any) -> torch.Tensor:
        x = as_tensor(x, "features")
        outs = []
        with torch.inference_mode():
            for i in range(0, len(x), self.batch_size):
                out = fn(x[i:i + self.batch_size].to(self.device))
                if out is None:
                    raise ConfigError(f"the {self.name!r} feature extractor is not a classifier "
                                      "(no logits); the Inception Score needs one")
                outs.append(out.float().flatten(1).cpu())
        return torch.cat(outs)

    def features(self, x: Any) -> torch.Tensor:
        """Feature vectors ``(N, F)`` (float32, CPU) of examples ``x``."""
        return self._run(self._features, x)

    def probs(self, x: Any) -> torch.Tensor:
        """Class probabilities ``(N, C)`` of examples ``x`` (classifiers only)."""
        return torch.softmax(self._run(self._logits, x), dim=1)


class ModuleFeatures(FeatureExtractor):
    """A user-supplied network (or function) as a feature extractor.

    Parameters
    ----------
    features : nn.Module or callable
        Maps a batch ``(B, ...)`` to features ``(B, F)`` (more dimensions are flattened).
    logits : callable, optional
        Maps a batch to class logits, for the Inception Score.
    name : str
        Used in metric names: ``FID-<name>``.
    standard : bool
        Set only for the standard FID Inception network (names results ``FID``).
    batch_size : int
        Examples per call.
    device : str
        Device the inputs are moved to.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16))
    >>> fx = ModuleFeatures(net, name="mynet")
    >>> fx.features(torch.rand(10, 1, 8, 8)).shape, fx.metric_name
    (torch.Size([10, 16]), 'FID-mynet')
    """

    def __init__(self, features: Callable[[torch.Tensor], torch.Tensor], *,
                 logits: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 name: str = "custom", standard: bool = False, batch_size: int = 256,
                 device: str = "cpu") -> None:
        if not callable(features):
            raise ConfigError(f"features must be a torch.nn.Module or a function, got "
                              f"{type(features).__name__}")
        check_positive("batch_size", batch_size)
        if isinstance(features, nn.Module):
            features.eval()
        self._feature_fn, self._logit_fn = features, logits
        self.name, self.standard, self.batch_size, self.device = name, standard, batch_size, \
            device

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self._feature_fn(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor | None:
        return None if self._logit_fn is None else self._logit_fn(x)


class _ClassifierNet(nn.Module):
    """aekit's encoder -> ReLU features -> linear class head.

    An MLP (one hidden layer of 256) for examples of at most ``MLP_MAX_VALUES`` values,
    else aekit's encoder for the shape (a conv net for images).
    """

    def __init__(self, shape: tuple[int, ...], n_classes: int, feature_dim: int) -> None:
        super().__init__()
        arch = "mlp" if math.prod(shape) <= MLP_MAX_VALUES else "auto"
        self.body = build_encoder(shape, feature_dim, arch=arch, hidden_dims=(256,),
                                  base_channels=16)
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DatasetClassifier(FeatureExtractor):
    """A small classifier trained on the data's labels; its ReLU penultimate layer are the features.

    Build it with :meth:`fit`. The network is an MLP (examples of at most 1024 values) or
    aekit's encoder for the data's shape (a conv net for larger images) with
    ``feature_dim`` outputs, a ReLU, and a linear layer to the classes. Metrics computed
    with it are named ``FID-<name>``.

    Attributes
    ----------
    net : nn.Module
        The trained classifier (eval mode).
    accuracy : float
        Accuracy on the held-out part of the data it was trained on.
    n_classes : int
        Number of classes.
    """

    def __init__(self, net: _ClassifierNet, name: str, accuracy: float, n_classes: int,
                 batch_size: int = 256, device: str = "cpu") -> None:
        self.net = net.to(device).eval()
        self.name, self.accuracy, self.n_classes = name, accuracy, n_classes
        self.batch_size, self.device = batch_size, device

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @classmethod
    def fit(cls, data: Any, *, labels: torch.Tensor | None = None, name: str | None = None,
            epochs: int = 20, batch_size: int = 128, lr: float = 2e-3, feature_dim: int = 128,
            held_out: float = 0.2, seed: int = 0, device: str = "cpu") -> DatasetClassifier:
        """Train a classifier on labelled data.

        Parameters
        ----------
        data : Dataset or tensor
            The examples (and, for a Dataset, its labels ``y``).
        labels : tensor, optional
            Integer labels ``(N,)`` when ``data`` is a tensor.
        name : str, optional
            Name used in ``FID-<name>``; default: the dataset's name.
        epochs, batch_size, lr : int, int, float
            Adam training settings.
        feature_dim : int
            Width of the feature layer.
        held_out : float
            Fraction kept out of training to measure :attr:`accuracy`.
        seed : int
            Seeds the initialisation, the split and the shuffling.
        device : str
            Where to train.

        Raises
        ------
        DataError
            If the data has no integer class labels or fewer than two classes.
        """
        x = as_tensor(data, "classifier data")
        y = labels if labels is not None else getattr(data, "y", None)
        if y is None or y.ndim != 1 or y.is_floating_point():
            raise DataError("FID-<dataset> trains a classifier on the data's labels, and this "
                            "data has no integer class labels; give labels (e.g. "
                            "--label-column) or a feature extractor (Inception weights)")
        y = y.long()
        n_classes = int(y.max()) + 1
        if len(torch.unique(y)) < 2:
            raise DataError("the feature classifier needs at least two classes in the labels")
        for param, value in (("epochs", epochs), ("batch_size", batch_size),
                             ("feature_dim", feature_dim)):
            check_positive(param, value)
        if not 0.0 <= held_out < 1.0:
            raise ConfigError(f"held_out must be in [0, 1), got {held_out}")
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(len(x), generator=g)
        n_test = int(round(held_out * len(x)))
        test_idx, train_idx = perm[:n_test], perm[n_test:]
        with private_rng(seed):
            net = _ClassifierNet(tuple(x.shape[1:]), n_classes, feature_dim).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        xs, ys = x[train_idx].to(device), y[train_idx].to(device)
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(xs), generator=g).to(device)
            for i in range(0, len(xs), batch_size):
                idx = order[i:i + batch_size]
                loss = F.cross_entropy(net(xs[idx]), ys[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        net.eval()
        accuracy = float("nan")
        if n_test:
            with torch.inference_mode():
                pred = torch.cat([net(x[test_idx[i:i + 1024]].to(device)).argmax(1).cpu()
                                  for i in range(0, n_test, 1024)])
            accuracy = float((pred == y[test_idx]).float().mean())
        return cls(net, name or getattr(data, "name", "data"), accuracy, n_classes,
                   device=device)


def as_extractor(extractor: Any) -> FeatureExtractor:
    """A :class:`FeatureExtractor` from an extractor, an ``nn.Module`` or a function."""
    if isinstance(extractor, FeatureExtractor):
        return extractor
    if callable(extractor):
        return ModuleFeatures(extractor)
    raise ConfigError(f"expected a FeatureExtractor, a torch.nn.Module or a function; got "
                      f"{type(extractor).__name__}")
