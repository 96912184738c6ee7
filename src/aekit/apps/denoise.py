"""Denoising: learn a known kind of noise away, for examples (images, vectors) and signals.

A denoising autoencoder (:mod:`aekit.models.dae`) is trained on clean data corrupted by
a noise model C (additive Gaussian, masking or salt-and-pepper, :mod:`aekit.data.corruptions`)
to reconstruct the clean data::

    min E_x E_{x~ ~ C(.|x)} [ -log p(x | g(f(x~))) ]

so that g(f(x~)) approximates E[x | x~], the best estimate of the clean data under
squared error. It needs clean training data (or data whose noise is much weaker than the
noise to remove); it removes the kind and level of noise it was trained on.

* :class:`Denoiser` works on examples of any shape (``(N, C, H, W)`` images,
  ``(N, D)`` vectors). Data in [0, 1] is modelled with a Bernoulli likelihood as it is;
  other data is standardised by one global mean and standard deviation (so a Gaussian
  noise level in data units stays one number) and modelled with a learned-scale Gaussian.
* :class:`SignalDenoiser` works on series ``(T,)`` or ``(T, C)``: each channel is
  standardised, the series is cut into overlapping windows
  (:func:`aekit.apps.timeseries.sliding_windows`), each window is denoised, and every
  time step gets the mean of the denoised windows that cover it.

Both are :class:`aekit.apps.base.AutoencoderEstimator` s: declarative parameter
checks, the one scaler, the one training helper (:class:`aekit.Trainer` on ``device``,
the caller's random state untouched), the one folder format (``estimator.json`` +
``model/``, no pickle) and the one ``NotFittedError``.
"""

from __future__ import annotations

import json
import math
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import _check_feature_names_in, _get_feature_names

from aekit.apps.base import (
    ESTIMATOR_FILE,
    MIN_STD,
    AutoencoderEstimator,
    ParameterError,
    scaler_stats,
)
from aekit.data.corruptions import CORRUPTIONS, make_corruption
from aekit.data.series import as_series_list, sliding_windows, windows_to_points
from aekit.errors import AekitError, ConfigError, DataError
from aekit.metrics.reconstruction import psnr
from aekit.models.base import Autoencoder
from aekit.rng import private_rng

__all__ = ["Denoiser", "SignalDenoiser", "load_denoiser"]

TARGET_STEPS = 3000  # epochs=None trains for about this many steps
CHUNK = 4096  # examples (or windows) denoised at once
MAX_TRAIN_WINDOWS = 200_000  # SignalDenoiser trains on every window up to about this many


class _DenoiserBase(AutoencoderEstimator):
    """Training, chunked denoising and persistence shared by the two denoisers."""

    _parameter_constraints: ClassVar[dict] = {
        "noise": [StrOptions(set(CORRUPTIONS))],
        "noise_level": [Interval(Real, 0, None, closed="neither")],  # (0, 1) unless gaussian
        "latent_dim": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_dims": [tuple, list, None],
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "device": [str],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
    }
    _model_dtype: ClassVar[torch.dtype] = torch.float32

    def _keep_params(self, params: dict[str, Any]) -> None:
        """Store ``__init__``'s arguments unchanged, as scikit-learn expects."""
        for key, value in params.items():
            if key not in ("self", "__class__"):
                setattr(self, key, value)

    def _check_noise_level(self) -> None:
        """The one rule the declarative constraints cannot say: a fraction for masking
        and salt-and-pepper noise."""
        level = float(self.noise_level)
        if self.noise != "gaussian" and not level < 1:
            raise ConfigError(f"noise_level (the fraction of values corrupted by "
                              f"{self.noise}) must be in (0, 1), got {level}")

    def _train(self, x: torch.Tensor, *, likelihood: str, noise_level: float,
               value_range: tuple[float, float] | None, arch: str) -> Autoencoder:
        """A DAE for examples shaped like ``x[0]``, trained on ``x`` (already scaled)."""
        from aekit.models import create

        d = math.prod(x.shape[1:])
        settings: dict[str, Any] = {
            "input_shape": tuple(x.shape[1:]), "arch": arch, "likelihood": likelihood,
            "latent_dim": int(self.latent_dim or np.clip(d // 2, 2, 128)),
            "corruption": self.noise, "noise_level": noise_level,
            "value_range": value_range}
        if self.hidden_dims is not None:
            settings["hidden_dims"] = tuple(int(h) for h in self.hidden_dims)
        seed = int(self.random_state)
        with private_rng(seed):
            model = create("dae", **settings)
        epochs = self.epochs or int(np.clip(math.ceil(
            TARGET_STEPS / math.ceil(len(x) / int(self.batch_size))), 1, 1000))
        self.history_ = self._train_model(
            model, x, epochs=epochs, batch_size=self.batch_size,
            learning_rate=self.learning_rate, seed=seed, device=self.device,
            verbose=self.verbose, finish=False)
        return model.eval()

    def _denoise(self, x: torch.Tensor) -> torch.Tensor:
        """``E[x | x~]`` for scaled noisy examples ``x``, in chunks on the model's device."""
        model = self.model_
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), CHUNK):
                out.append(model.reconstruct(x[i:i + CHUNK].to(model.device)).float().cpu())
        return torch.cat(out)

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, np.ndarray],
                       models: dict[str, Autoencoder], device: str | None) -> None:
        missing = [k for k in self._saved_values if k not in values and k != "history_"]
        if missing:
            raise AekitError(f"lacks the fitted value(s) {missing}; the "
                             "folder is damaged or from another program")
        for key, value in values.items():
            keep_list = key in ("channel_names_", "history_")
            setattr(self, key, tuple(value) if isinstance(value, list) and not keep_list
                    else value)
        self.model_ = models["model"]


class Denoiser(TransformerMixin, _DenoiserBase):
    """Removes a known kind of noise from images or vectors with a denoising autoencoder.

    Parameters
    ----------
    noise : str
        The noise to remove: ``"gaussian"`` (additive), ``"masking"`` (values set to 0)
        or ``"salt_pepper"`` (values set to the minimum or maximum: 0 or 1 for data in
        [0, 1], else those of the training data).
    noise_level : float
        Gaussian: the noise's standard deviation in data units. Masking and
        salt-and-pepper: the fraction of values hit, in (0, 1).
    arch : str
        ``"auto"`` (convolutional for images, MLP otherwise), ``"conv"`` or ``"mlp"``.
    latent_dim : int, optional
        Code size; default half the values of an example, within [2, 128].
    hidden_dims : tuple of int, optional
        Hidden widths (MLP) or channels (conv); default: the model's.
    epochs : int, optional
        Default: about 3000 optimiser steps, within [1, 1000] epochs.
    batch_size, learning_rate : int, float
        Adam's settings.
    device : str
        ``"cpu"``, ``"cuda"``, ``"auto"``, ... for training and denoising.
    random_state : int
        Seeds the weights, the noise and the batches.
    verbose : bool
        A progress bar while training.

    Examples
    --------
    >>> from aekit.apps.denoise import Denoiser
    >>> den = Denoiser(noise="gaussian", noise_level=0.3).fit(clean_images)  # doctest: +SKIP
    >>> restored = den.transform(noisy_images)                                # doctest: +SKIP
    >>> den.score(test_images)  # PSNR in dB after corrupting them as in training  # doctest: +SKIP

    On tables, ``set_output(transform="pandas")`` returns DataFrames whose columns are
    the input's (:meth:`get_feature_names_out`).
    """

    _saved_values = ("input_shape_", "unit_range_", "offset_", "scale_", "value_range_",
               "data_range_", "history_")

    def __init__(self, noise: str = "gaussian", noise_level: float = 0.2, *,
                 arch: str = "auto", latent_dim: int | None = None,
                 hidden_dims: tuple[int, ...] | None = None, epochs: int | None = None,
                 batch_size: int = 64, learning_rate: float = 1e-3, device: str = "cpu",
                 random_state: int = 0, verbose: bool = False) -> None:
        self._keep_params(locals())

    _accepts_nd: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict] = {
        **_DenoiserBase._parameter_constraints,
        "arch": [StrOptions({"auto", "conv", "mlp"})],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> Denoiser:
        """Train on clean examples ``X`` (shape ``(N, ...)``; ``y`` is ignored)."""
        self._check_noise_level()
        x = torch.from_numpy(self._check_X(X, reset=True, dtype=np.float32))
        lo, hi = float(x.min()), float(x.max())
        self.unit_range_ = lo >= 0.0 and hi <= 1.0
        self.data_range_ = 1.0 if self.unit_range_ else max(hi - lo, MIN_STD)
        if self.unit_range_:
            self.offset_, self.scale_ = 0.0, 1.0
        else:  # masked values are zeros in data units: then only scale
            mean, scale = scaler_stats(x, axis=None)  # one mean and scale for all values
            self.offset_ = 0.0 if self.noise == "masking" else float(mean)
            self.scale_ = float(scale)
        xs = (x - self.offset_) / self.scale_
        self.value_range_ = (0.0, 1.0) if self.unit_range_ else (lo, hi)  # data units
        image = len(self.input_shape_) == 3 and min(self.input_shape_[1:]) >= 4
        arch = self.arch if self.arch != "auto" else ("conv" if image else "mlp")
        self.model_ = self._train(
            xs, likelihood="bernoulli" if self.unit_range_ else "gaussian_learned",
            noise_level=float(self.noise_level) / (
                self.scale_ if self.noise == "gaussian" else 1.0),
            value_range=tuple((v - self.offset_) / self.scale_ for v in self.value_range_),
            arch=arch)
        return self

    def _examples(self, X: Any) -> torch.Tensor:
        """Checked examples shaped as in ``fit``, float32."""
        self._check_fitted()
        return torch.from_numpy(self._check_X(X, reset=False, dtype=np.float32))

    def transform(self, X: Any) -> np.ndarray:
        """The denoised examples, same shape as ``X`` (float64 for float64 input, else
        float32)."""
        out = self._restored(self._examples(X))
        dtype = np.float64 if getattr(X, "dtype", None) == np.float64 else np.float32
        return out.numpy().astype(dtype, copy=False)

    def _restored(self, x: torch.Tensor) -> torch.Tensor:
        """Checked examples ``x`` denoised, in data units."""
        return self._denoise((x - self.offset_) / self.scale_) * self.scale_ + self.offset_

    def corrupt(self, X: Any, seed: int | None = None) -> np.ndarray:
        """``X`` with the training noise added (seeded by ``seed``, else ``random_state``)."""
        return self._corrupted(self._examples(X), seed).numpy()

    def _corrupted(self, x: torch.Tensor, seed: int | None) -> torch.Tensor:
        noise = make_corruption(self.noise, float(self.noise_level),
                                value_range=tuple(self.value_range_))
        g = torch.Generator().manual_seed(int(self.random_state if seed is None else seed))
        noisy = noise(x, generator=g)
        if self.unit_range_ and self.noise == "gaussian":
            noisy = noisy.clamp(0.0, 1.0)  # images stay images
        return noisy

    def score(self, X: Any, y: Any = None, *, X_noisy: Any = None) -> float:
        """PSNR in dB of the denoised ``X_noisy`` against the clean ``X`` (higher is
        better); without ``X_noisy``, ``X`` corrupted by :meth:`corrupt`.

        ``y`` is ignored (scikit-learn's ``score(X, y)``, so the denoiser scores in a
        Pipeline or a grid search); noisy copies of ``X`` go in ``X_noisy``, and a ``y``
        shaped like ``X`` (``score(X, noisy)``, which older versions read as the noisy
        copies) is refused rather than ignored.
        """
        if y is not None and np.shape(y) == np.shape(X):
            raise ConfigError("Denoiser.score(X, y): y is ignored (scikit-learn's "
                              "convention), but it has the shape of X; pass noisy copies "
                              "as score(X, X_noisy=...)")
        clean = self._examples(X)
        noisy = self._corrupted(clean, None) if X_noisy is None else self._examples(X_noisy)
        return psnr(clean, self._restored(noisy).float(), data_range=self.data_range_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Column names of :meth:`transform`'s output: the input's (each denoised value
        stays in its column), for examples with one axis (tables) only.

        Parameters
        ----------
        input_features : array-like of str, optional
            Must equal ``feature_names_in_`` when that is set; default
            ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        ndarray of str objects, shape (n_features_in_,)
        """
        self._check_fitted()
        if len(self.input_shape_) != 1:
            raise DataError(f"{type(self).__name__} was fitted on examples of shape "
                            f"{tuple(self.input_shape_)}, not table rows: its output has no "
                            "column names (set_output(transform='pandas') needs (N, D) data)")
        return _check_feature_names_in(self, input_features)


class SignalDenoiser(_DenoiserBase):
    """Removes a known kind of noise from (multichannel) signals, window by window.

    Parameters
    ----------
    window : int
        Time steps per window (the model's input is ``(channels, window)``).
    stride : int, optional
        Steps between window starts when denoising; default ``window // 4`` (every
        step is then the mean of about four estimates). Training uses every window (or
        every k-th, to keep about 200,000 of them).
    noise : str
        ``"gaussian"``, ``"masking"`` or ``"salt_pepper"``.
    noise_level : float
        Gaussian: the noise's standard deviation in units of each channel's standard
        deviation (0.5: noise half as strong as the signal). Otherwise the fraction of
        values hit, in (0, 1); masking sets a value to its channel's training mean (0
        after standardisation), salt-and-pepper to the lowest or highest standardised
        training value over all channels (mapped back to each channel's units).
    latent_dim, hidden_dims, epochs, batch_size, learning_rate, device, random_state,
    verbose
        As for :class:`Denoiser`.
    """

    _saved_values = ("n_channels_", "channel_names_", "mean_", "std_", "low_", "high_",
               "history_")

    def __init__(self, window: int = 64, stride: int | None = None, *,
                 noise: str = "gaussian", noise_level: float = 0.5,
                 latent_dim: int | None = None, hidden_dims: tuple[int, ...] | None = None,
                 epochs: int | None = None, batch_size: int = 64,
                 learning_rate: float = 1e-3, device: str = "cpu", random_state: int = 0,
                 verbose: bool = False) -> None:
        self._keep_params(locals())

    def _stride(self) -> int:
        return int(self.stride) if self.stride is not None else max(1, int(self.window) // 4)

    _parameter_constraints: ClassVar[dict] = {
        **_DenoiserBase._parameter_constraints,
        "window": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left"), None],
    }

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> SignalDenoiser:
        """Train on clean series: one ``(T,)`` / ``(T, C)`` array or a list of them."""
        self._check_noise_level()
        if int(self.window) < 2 or not 1 <= self._stride() <= int(self.window):
            raise ConfigError(f"window must be >= 2 and stride in [1, window] (every step "
                              f"inside some window), got {self.window} and {self.stride}")
        from aekit.data.series import Series

        series, _ = as_series_list(X, "X")
        # names of a Series' channels are kept, so a CSV with other columns is refused later
        if isinstance(X, Series):
            self.channel_names_ = list(X.channel_names)
        else:  # a DataFrame's string columns, else None
            names = _get_feature_names(X)
            self.channel_names_ = None if names is None else names.tolist()
        channels = {s.shape[1] for s in series}
        if len(channels) != 1:
            raise ConfigError(f"X: every series needs the same number of channels, got "
                              f"{sorted(channels)}")
        self.n_channels_ = channels.pop()
        if any(len(v) < 2 for v in series):
            raise DataError("X: a series of 1 sample (time step); the denoiser needs at "
                            "least 2 steps per series")
        values = np.concatenate(series)
        mean, std = scaler_stats(values)
        self.mean_, self.std_ = mean.astype(np.float64), std.astype(np.float64)
        standardised = self._standardise(values)
        self.low_, self.high_ = float(standardised.min()), float(standardised.max())
        step = max(1, sum(len(s) for s in series) // MAX_TRAIN_WINDOWS)  # cap the copies
        windows = np.concatenate([sliding_windows(self._standardise(s), int(self.window),
                                                  step)[0] for s in series])
        self.model_ = self._train(torch.from_numpy(windows), likelihood="gaussian_learned",
                                  noise_level=float(self.noise_level),
                                  value_range=(self.low_, self.high_), arch="mlp")
        return self

    @property
    def n_features_in_(self) -> int:
        """The number of channels (scikit-learn's name: a series is a table whose rows are
        time steps); an AttributeError before ``fit``."""
        try:
            return self.n_channels_
        except AttributeError:
            raise AttributeError("n_features_in_: the denoiser is not fitted") from None

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray | list[np.ndarray]:
        """``fit(X)`` then ``transform(X)`` (``y`` is ignored)."""
        return self.fit(X).transform(X)

    def corrupt(self, X: Any, seed: int | None = None) -> np.ndarray | list[np.ndarray]:
        """The series with the training noise added (seeded by ``seed``, else
        ``random_state``), each with the shape it came in."""
        self._check_fitted()
        series, single = as_series_list(X, "X")
        noise = make_corruption(self.noise, float(self.noise_level),
                                value_range=(self.low_, self.high_))
        g = torch.Generator().manual_seed(int(self.random_state if seed is None else seed))
        out = []
        for values, one_channel in zip(series, self._one_channel(X, single)):
            noisy = noise(torch.from_numpy(self._standardise(values)), generator=g).numpy()
            noisy = (noisy * self.std_ + self.mean_).astype(np.float32)
            out.append(noisy[:, 0] if one_channel else noisy)
        return out[0] if single else out

    @staticmethod
    def _one_channel(X: Any, single: bool) -> list[bool]:
        """Per series: whether it was given as one 1-D channel (answered the same way)."""
        from aekit.data.series import Series

        items = [X] if single else list(X)
        return [np.asarray(item.values if isinstance(item, Series) else item).ndim == 1
                for item in items]

    def _standardise(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean_) / self.std_).astype(np.float32)

    def transform(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """The denoised series, each with the shape it came in (a list for a list)."""
        self._check_fitted()
        series, single = as_series_list(X, "X")
        out = []
        items = [X] if single else list(X)
        for k, (values, one_channel) in enumerate(zip(series, self._one_channel(X, single))):
            where = "X" if single else f"X[{k}]"
            if values.shape[1] != self.n_channels_:
                raise DataError(f"{where} has {values.shape[1]} features, but "
                                f"{type(self).__name__} is expecting {self.n_channels_} "
                                "features as input (one per channel)")
            names = _get_feature_names(items[k])  # a DataFrame's columns
            if names is not None and self.channel_names_ is not None and \
                    names.tolist() != list(self.channel_names_):
                raise DataError(f"{where}: channels {names.tolist()}, but the denoiser was "
                                f"fitted on {list(self.channel_names_)}, in that order")
            windows, starts = sliding_windows(self._standardise(values), int(self.window),
                                              self._stride())
            clean = self._denoise(torch.from_numpy(windows)).numpy()  # (N, C, W)
            points = np.stack([windows_to_points(clean[:, c], starts, len(values))
                               for c in range(self.n_channels_)], 1)
            points = (points * self.std_ + self.mean_).astype(np.float32)
            out.append(points[:, 0] if one_channel else points)
        if _get_output_config("transform", self)["dense"] == "pandas":
            out = [self._as_pandas(points, item) for points, item in zip(out, items)]
        return out[0] if single else out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Channel names of the denoised series: those seen in ``fit`` (a
        :class:`~aekit.data.series.Series`' channels, a DataFrame's columns), else
        ``x0, x1, ...``.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency.

        Returns
        -------
        ndarray of str objects, shape (n_channels_,)
        """
        self._check_fitted()
        names = self.channel_names_ or [f"x{c}" for c in range(self.n_channels_)]
        return np.asarray(names, dtype=object)

    def set_output(self, *, transform: str | None = None) -> SignalDenoiser:
        """scikit-learn's output switch: ``transform="pandas"`` makes :meth:`transform`
        return each series as a pandas DataFrame (columns :meth:`get_feature_names_out`,
        the input's index when it was pandas), or a Series for a series given as one 1-D
        channel; ``"default"`` returns arrays; None leaves the setting as it is.

        Returns
        -------
        self
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas"):
            raise ParameterError(f"set_output: transform must be 'default' or 'pandas', "
                                 f"got {transform!r}")
        self._sklearn_output_config = {"transform": transform}
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn tags: a transformer (of series: its own :meth:`set_output`, not
        TransformerMixin's wrapping, which assumes one table in, one table out)."""
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags()
        return tags

    def _as_pandas(self, points: np.ndarray, given: Any) -> Any:
        """One denoised series as pandas: a DataFrame of channels (a Series for a 1-D
        input), indexed like ``given`` when that is pandas."""
        import pandas as pd

        names = self.get_feature_names_out()
        index = getattr(given, "index", None)
        if not isinstance(index, pd.Index):
            index = None
        if points.ndim == 1:
            name = given.name if isinstance(given, pd.Series) else names[0]
            return pd.Series(points, index=index, name=name)
        return pd.DataFrame(points, index=index, columns=names)


def load_denoiser(directory: str | Path, device: str | None = None
                  ) -> Denoiser | SignalDenoiser:
    """Whichever denoiser :meth:`save` wrote to ``directory``."""
    path = Path(directory) / ESTIMATOR_FILE
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("estimator")
    except (OSError, json.JSONDecodeError, AttributeError):
        kind = None
    cls = {c.__name__: c for c in (Denoiser, SignalDenoiser)}.get(kind, Denoiser)
    return cls.load(directory, device=device)
