"""``AutoencoderReducer``: an autoencoder as a scikit-learn transformer.

It drops into pipelines where PCA would go: ``fit`` trains any aekit model on the
(internally standardised) rows of X, ``transform`` returns the deterministic code
(``model.embed``: the posterior mean for a VAE), ``inverse_transform`` decodes codes
back to the original units, and ``score`` is the negative mean squared reconstruction
error per example. After fitting, the network is kept in float64, so transforms of a
row do not depend on which other rows are in the batch.
"""

from __future__ import annotations

import json
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from aekit.errors import ConfigError
from aekit.models import available, create
from aekit.train import TrainConfig, Trainer

ESTIMATOR_FILE = "estimator.json"


class AutoencoderReducer(TransformerMixin, BaseEstimator):
    """Nonlinear dimensionality reduction with any aekit autoencoder.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the model's ``latent_dim``).
    model : str, default="ae"
        Registry name of the model (``aekit.available()``); its code must be a vector.
    hidden_dims : tuple of int, default=(128, 64)
        MLP widths of the encoder (the decoder mirrors them).
    epochs, batch_size, learning_rate : training budget.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop after ``patience`` epochs
        without improvement, keeping the best weights.
    scale : bool, default=True
        Standardise each feature with the training mean and standard deviation (constant
        features get scale 1); codes and reconstructions are in those units internally,
        ``inverse_transform`` returns the original units.
    model_params : dict, optional
        Further settings of the model (e.g. ``{"beta": 4.0}``).
    device : str, default="cpu"
    verbose : bool, default=False
        Show a progress bar.
    random_state : int, RandomState or None
        Seeds weight initialisation, shuffling and sampling noise.

    Attributes
    ----------
    model_ : aekit model (float64, eval mode)
    mean_, scale_ : ndarray of shape (n_features,)
    n_features_in_ : int
    train_codes_ : ndarray of shape (n_samples, n_components), used by :meth:`nearest`
    history_ : list of dict, per-epoch training metrics

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AutoencoderReducer
    >>> X = np.random.default_rng(0).normal(size=(100, 6))
    >>> Z = AutoencoderReducer(n_components=2, epochs=2, random_state=0).fit_transform(X)
    >>> Z.shape
    (100, 2)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "model": [StrOptions(set(available()))],
        "hidden_dims": [tuple, list],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "scale": ["boolean"],
        "model_params": [dict, None],
        "device": [str],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(self, n_components: int = 2, *, model: str = "ae",
                 hidden_dims: tuple[int, ...] = (128, 64), epochs: int = 100,
                 batch_size: int = 64, learning_rate: float = 1e-3,
                 early_stopping: bool = False, validation_fraction: float = 0.1,
                 patience: int = 10, scale: bool = True, model_params: dict | None = None,
                 device: str = "cpu", verbose: bool = False, random_state: Any = None) -> None:
        self.n_components = n_components
        self.model = model
        self.hidden_dims = hidden_dims
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.scale = scale
        self.model_params = model_params
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> AutoencoderReducer:
        """Train the autoencoder on the rows of X (y is ignored)."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        X = np.asarray(X, dtype=np.float64)
        self.mean_ = X.mean(0) if self.scale else np.zeros(X.shape[1])
        std = X.std(0) if self.scale else np.ones(X.shape[1])
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        xs = torch.tensor((X - self.mean_) / self.scale_, dtype=torch.float32)
        settings = {"latent_dim": self.n_components, "hidden_dims": tuple(self.hidden_dims),
                    "arch": "mlp", "likelihood": "gaussian", **(self.model_params or {})}
        use_val = self.early_stopping and len(X) >= 10
        cfg = TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, lr=self.learning_rate, seed=seed,
            val_fraction=self.validation_fraction if use_val else 0.0,
            early_stopping_patience=self.patience if use_val else None, checkpoint_every=0,
            device=self.device, progress=bool(self.verbose))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = create(self.model, input_shape=(X.shape[1],), **settings)
            result = Trainer(cfg).fit(model, xs)
        self.model_ = model.double().cpu().eval()
        self._check_vector_code()
        self.history_ = result.history
        self.train_codes_ = self._encode(xs.double())
        return self

    def _check_vector_code(self) -> None:
        probe = torch.zeros(1, self.n_features_in_, dtype=torch.float64)
        with torch.inference_mode():
            code = self.model_.embed(probe)
        if code.ndim != 2:
            raise ConfigError(f"model {self.model!r} gives codes of shape "
                              f"{tuple(code.shape[1:])}, not vectors; choose another model")

    # -- transforming --------------------------------------------------------------
    def _standardise(self, X: Any) -> torch.Tensor:
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return torch.tensor((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_,
                            dtype=torch.float64)

    def _encode(self, xs: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return self.model_.embed(xs).numpy()

    def transform(self, X: Any) -> np.ndarray:
        """Codes of the rows of X, shape ``(n_samples, n_components)``."""
        check_is_fitted(self)
        return self._encode(self._standardise(X))

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes back to rows in the original units."""
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float64)
        if Z.shape[1] != self.n_components:
            raise ValueError(f"inverse_transform expects codes of shape (n, "
                             f"{self.n_components}), got {Z.shape}")
        with torch.inference_mode():
            z = torch.tensor(Z, dtype=torch.float64)
            out = self.model_.likelihood.mean(self.model_.decode_logits(z)).numpy()
        return out * self.scale_ + self.mean_

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean (over rows) of the summed squared reconstruction error."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        rec = self.inverse_transform(self.transform(X))
        return -float(((np.asarray(X, dtype=np.float64) - rec) ** 2).sum(1).mean())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``ae0, ae1, ...``, one per code dimension."""
        check_is_fitted(self)
        return np.asarray([f"ae{i}" for i in range(self.n_components)], dtype=object)

    # -- retrieval -----------------------------------------------------------------
    def nearest(self, query: Any, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Exact k nearest training rows of each query row in code space.

        Returns ``(indices, distances)``, each of shape ``(n_queries, k)``, nearest first.
        """
        check_is_fitted(self)
        if not 1 <= k <= len(self.train_codes_):
            raise ValueError(f"k must be in [1, {len(self.train_codes_)}], got {k}")
        q = torch.tensor(self.transform(query))
        d = torch.cdist(q, torch.tensor(self.train_codes_))
        dist, idx = torch.topk(d, k, dim=1, largest=False)
        return idx.numpy(), dist.numpy()

    # -- persistence (no pickle) -----------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write the model folder plus ``estimator.json`` and the scaler/codes arrays."""
        check_is_fitted(self)
        directory = Path(directory)
        self.model_.float().save(directory)
        self.model_.double()
        np.savez(directory / "reducer_arrays.npz", mean=self.mean_, scale=self.scale_,
                 train_codes=self.train_codes_)
        params = {k: (list(v) if isinstance(v, tuple) else v)
                  for k, v in self.get_params().items() if k != "random_state"}
        params["random_state"] = self.random_state if isinstance(
            self.random_state, int | None) else None
        (directory / ESTIMATOR_FILE).write_text(json.dumps(
            {"estimator": "AutoencoderReducer", "params": params,
             "n_features_in": self.n_features_in_}, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> AutoencoderReducer:
        """Read a folder written by :meth:`save`."""
        from aekit.io import load

        directory = Path(directory)
        meta = json.loads((directory / ESTIMATOR_FILE).read_text())
        params = meta["params"]
        params["hidden_dims"] = tuple(params["hidden_dims"])
        est = cls(**params)
        est.model_ = load(directory).double()
        with np.load(directory / "reducer_arrays.npz", allow_pickle=False) as arrays:
            est.mean_, est.scale_ = arrays["mean"], arrays["scale"]
            est.train_codes_ = arrays["train_codes"]
        est.n_features_in_ = meta["n_features_in"]
        est.history_ = []
        return est
