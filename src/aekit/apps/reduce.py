"""``AutoencoderReducer``: an autoencoder as a scikit-learn transformer.

It goes where PCA goes: ``fit`` trains any aekit model on the (internally standardised)
rows of X, ``transform`` returns the deterministic code (``model.embed``: the posterior
mean for a VAE), ``inverse_transform`` decodes codes back to the original units, and
``score`` is the negative mean squared reconstruction error per row. The shared
plumbing (input checks, scaling, training, device, save/load, pickling) is
:class:`aekit.apps.base.AutoencoderEstimator`.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted

from aekit.apps.base import TRAINING_CONSTRAINTS, AutoencoderEstimator, seed_from
from aekit.apps.retrieval import exact_neighbors
from aekit.apps.streaming import file_features, map_chunks
from aekit.data.chunks import is_chunkable

DEFAULT_EPOCHS = 100


class AutoencoderReducer(TransformerMixin, AutoencoderEstimator):
    """Nonlinear dimensionality reduction with any aekit autoencoder.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code (the model's ``latent_dim``).
    model : str, default="ae"
        Registry name of the backbone (one of ``aekit.available()``): ``"ae"`` (a plain
        MLP autoencoder), ``"vae"`` (codes are posterior means), ``"sparse_ae"``,
        ``"dae"``, ``"cae"``, ... Its code must be a vector of ``n_components`` values;
        conditional models and code grids are refused with a clear error before training.
    hidden_dims : tuple of int or None, default=None
        MLP widths of the encoder (the decoder mirrors them); None keeps the model's own
        default (``(256, 128)`` for the MLP models, ``()`` for ``linear_ae``).
    epochs : int, default=100
        Passes over the training rows.
    batch_size : int, default=64
        Rows per optimiser step.
    learning_rate : float, default=1e-3
        Adam's learning rate.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (with at least 10 rows) and stop after
        ``patience`` epochs without a lower held-out loss, keeping the best weights.
    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping`` is on, in (0, 1).
    patience : int, default=10
        Epochs without improvement before stopping.
    scale : bool, default=True
        Standardise each feature with its training mean and (population) standard
        deviation; constant features get scale 1. The network works in those units;
        ``transform`` takes raw rows and ``inverse_transform`` returns raw units.
    model_params : dict or None, default=None
        Further settings of the model's config, e.g. ``{"beta": 4.0}`` for ``beta_vae``.
        The reducer sets ``likelihood="gaussian"`` (squared error) unless given here.
    device : str, default="cpu"
        Where to train: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``. The
        fitted network is then kept on the CPU in float64 for transforms, so a row's code
        does not depend on the other rows of the call.
    verbose : bool, default=False
        Show a training progress bar.
    random_state : int, RandomState or None, default=None
        Seeds the weights, the shuffling, the held-out split and any sampling noise of
        the model; with an int, two fits on the same CPU give identical codes.

    Attributes
    ----------
    model_ : aekit.Autoencoder
        The fitted network (CPU, float64, eval mode).
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Standardisation statistics (zeros and ones when ``scale=False``).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame with string column names.
    train_codes_ : ndarray of shape (n_samples, n_components)
        Codes of the training rows, searched by :meth:`nearest`.
    history_ : list of dict
        Per-epoch training (and held-out) losses.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AutoencoderReducer
    >>> X = np.random.default_rng(0).normal(size=(100, 6))
    >>> reducer = AutoencoderReducer(n_components=2, epochs=2, random_state=0)
    >>> reducer.fit_transform(X).shape
    (100, 2)
    >>> reducer.get_feature_names_out().tolist()
    ['ae0', 'ae1']
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        **TRAINING_CONSTRAINTS,
    }
    _saved_arrays: ClassVar[tuple[str, ...]] = ("train_codes_",)

    def __init__(self, n_components: int = 2, *, model: str = "ae",
                 hidden_dims: tuple[int, ...] | None = None, epochs: int = DEFAULT_EPOCHS,
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

    # -- fitting ----------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> AutoencoderReducer:
        """Train the autoencoder on the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Dense, finite, numeric training rows.
        y : ignored
            Present for API consistency.

        Returns
        -------
        self
        """
        X = self._check_X(X, reset=True)
        self._fit_scaler(X, self.scale)
        Xs = self._scale(X)
        seed = seed_from(self.random_state)
        settings: dict[str, Any] = {"likelihood": "gaussian", "arch": "mlp"}
        if self.hidden_dims is not None:
            settings["hidden_dims"] = tuple(self.hidden_dims)
        settings.update(self.model_params or {})
        model = self._build_model(self.model, X.shape[1], self.n_components, settings, seed)
        self.history_ = self._train_model(
            model, Xs, epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate, seed=seed,
            validation_fraction=self.validation_fraction if self.early_stopping else None,
            patience=self.patience, device=self.device, verbose=self.verbose)
        self.model_ = model
        self.train_codes_ = self._run(model.embed, Xs)
        return self

    # -- transforming -----------------------------------------------------------------
    def transform(self, X: Any) -> np.ndarray:
        """Codes of the rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_), or a path
            A CSV/TSV, Parquet or ``.npy`` file of any size is transformed chunk by
            chunk, never held in memory whole (:func:`aekit.apps.streaming.map_chunks`).

        Returns
        -------
        ndarray of shape (n_samples, n_components), float64
        """
        check_is_fitted(self)
        if is_chunkable(X):
            return map_chunks(self.transform, X, features=file_features(self))
        return self._run(self.model_.embed, self._scale(self._check_X(X, reset=False)))

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode codes back to rows in the original units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_features_in_), float64
            ``E[x | z]`` of the decoder, unstandardised.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=np.float64, input_name="X")
        if Z.shape[1] != self.n_components:
            raise ValueError(f"inverse_transform: X has {Z.shape[1]} features (code values), "
                             f"but {type(self).__name__} is expecting {self.n_components} "
                             "(n_components)")
        model = self.model_

        def decode(z: torch.Tensor) -> torch.Tensor:
            return model.likelihood.mean(model.decode_logits(z))

        return self._unscale(self._run(decode, Z))

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean (over rows) of the summed squared reconstruction error.

        The error is measured in the original units, so scores of reducers with
        different settings on the same data are comparable (higher is better, as
        :class:`~sklearn.model_selection.GridSearchCV` expects).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
        y : ignored

        Returns
        -------
        float
        """
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        rec = self.inverse_transform(self.transform(X))
        return -float(((X - rec) ** 2).sum(1).mean())

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output feature names ``ae0, ae1, ...``, one per code value.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency (the codes do not map to input features).

        Returns
        -------
        ndarray of str objects, shape (n_components,)
        """
        check_is_fitted(self)
        return np.asarray([f"ae{i}" for i in range(self.n_components)], dtype=object)

    # -- retrieval --------------------------------------------------------------------
    def nearest(self, query: Any, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """Exact ``k`` nearest training rows of each query row, in code space.

        Parameters
        ----------
        query : array-like of shape (n_queries, n_features_in_)
            Raw rows (they are encoded first).
        k : int, default=5
            Neighbours per query, in ``[1, n_training_rows]``.

        Returns
        -------
        indices : ndarray of int64, shape (n_queries, k)
            Row numbers in the training data, nearest first.
        distances : ndarray of float64, shape (n_queries, k)
            Euclidean distances between the codes.
        """
        check_is_fitted(self)
        return exact_neighbors(self.transform(query), self.train_codes_, k)
