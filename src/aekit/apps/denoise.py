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

Both train with :class:`aekit.Trainer` on ``device``, keep the caller's random state
untouched, and save to a folder without pickle (an aekit model folder plus
``denoiser.json``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator

from aekit.apps.base import _from_json, _to_json, check_device, read_record
from aekit.data.corruptions import CORRUPTIONS, make_corruption
from aekit.data.series import as_series_list, sliding_windows, windows_to_points
from aekit.data.validate import as_examples, check_sample_shape
from aekit.errors import AekitError, ConfigError, DataError
from aekit.metrics.reconstruction import psnr
from aekit.models.base import Autoencoder
from aekit.rng import private_rng

__all__ = ["Denoiser", "SignalDenoiser", "load_denoiser"]

RECORD_FILE = "denoiser.json"
TARGET_STEPS = 3000  # epochs=None trains for about this many steps
CHUNK = 4096  # examples (or windows) denoised at once
MIN_STD = 1e-12
MAX_TRAIN_WINDOWS = 200_000  # SignalDenoiser trains on every window up to about this many


class _DenoiserBase(BaseEstimator):
    """Training, chunked denoising and persistence shared by the two denoisers."""

    _fitted: ClassVar[tuple[str, ...]] = ()  # fitted attributes saved in denoiser.json

    def _keep_params(self, params: dict[str, Any]) -> None:
        """Store ``__init__``'s arguments unchanged, as scikit-learn expects."""
        for key, value in params.items():
            if key not in ("self", "__class__"):
                setattr(self, key, value)

    def _check_params(self) -> None:
        if self.noise not in CORRUPTIONS:
            raise ConfigError(f"noise={self.noise!r} is not one of {CORRUPTIONS}")
        level = float(self.noise_level)
        if self.noise == "gaussian" and not level > 0:
            raise ConfigError(f"noise_level (the Gaussian std) must be > 0, got {level}")
        if self.noise != "gaussian" and not 0 < level < 1:
            raise ConfigError(f"noise_level (the fraction of values corrupted by "
                              f"{self.noise}) must be in (0, 1), got {level}")
        for name in ("batch_size",) + (("epochs",) if self.epochs is not None else ()):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate!r}")
        if self.latent_dim is not None and int(self.latent_dim) < 1:
            raise ConfigError(f"latent_dim must be >= 1 or None, got {self.latent_dim!r}")

    def _train(self, x: torch.Tensor, *, likelihood: str, noise_level: float,
               value_range: tuple[float, float] | None, arch: str) -> Autoencoder:
        """A DAE for examples shaped like ``x[0]``, trained on ``x`` (already scaled)."""
        from aekit.models import create
        from aekit.train import TrainConfig, Trainer

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
        device = check_device(self.device)
        cfg = TrainConfig(epochs=int(epochs), batch_size=int(self.batch_size),
                          lr=float(self.learning_rate), seed=seed, val_fraction=0.0,
                          checkpoint_every=0, device=device, progress=bool(self.verbose))
        with private_rng(device=device):
            self.history_ = Trainer(cfg).fit(model, x).history
        return model.eval()

    def _denoise(self, x: torch.Tensor) -> torch.Tensor:
        """``E[x | x~]`` for scaled noisy examples ``x``, in chunks on the model's device."""
        model = self.model_
        out = []
        with torch.inference_mode():
            for i in range(0, len(x), CHUNK):
                out.append(model.reconstruct(x[i:i + CHUNK].to(model.device)).float().cpu())
        return torch.cat(out)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise AekitError(f"this {type(self).__name__} is not fitted yet; call fit(X) "
                             "first (or load a saved one)")

    def save(self, directory: str | Path) -> Path:
        """Write the fitted denoiser to ``directory``: an aekit model folder (readable by
        :func:`aekit.load`) plus ``denoiser.json`` (parameters and fitted values)."""
        from aekit import __version__
        from aekit.io import atomic_write_text

        self._check_fitted()
        directory = Path(directory)
        self.model_.save(directory)
        record = {"denoiser": type(self).__name__, "aekit_version": __version__,
                  "params": _to_json(self.get_params(deep=False), "parameters"),
                  "fitted": {k: _to_json(getattr(self, k), k) for k in self._fitted}}
        atomic_write_text(directory / RECORD_FILE, json.dumps(record, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> _DenoiserBase:
        """Read a denoiser written by :meth:`save` (on ``device``, default: the CPU)."""
        from aekit.io import load

        directory = Path(directory)
        record = read_record(directory, RECORD_FILE, "denoiser", cls.__name__)
        params, fitted = record["params"], record.get("fitted", {})
        den = cls(**params)
        missing = [k for k in cls._fitted if k not in fitted and k != "history_"]
        if missing:
            raise AekitError(f"{directory / RECORD_FILE}: lacks the fitted value(s) {missing}; "
                             "the folder is damaged or from another program")
        for key, value in fitted.items():
            value = _from_json(value)
            keep_list = key in ("channel_names_", "history_")
            setattr(den, key, tuple(value) if isinstance(value, list) and not keep_list
                    else value)
        den.model_ = load(directory, device=check_device(device or "cpu"))
        return den


class Denoiser(_DenoiserBase):
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
    """

    _fitted = ("input_shape_", "unit_range_", "offset_", "scale_", "value_range_",
               "data_range_", "history_")

    def __init__(self, noise: str = "gaussian", noise_level: float = 0.2, *,
                 arch: str = "auto", latent_dim: int | None = None,
                 hidden_dims: tuple[int, ...] | None = None, epochs: int | None = None,
                 batch_size: int = 64, learning_rate: float = 1e-3, device: str = "cpu",
                 random_state: int = 0, verbose: bool = False) -> None:
        self._keep_params(locals())

    def fit(self, X: Any, y: Any = None) -> Denoiser:
        """Train on clean examples ``X`` (shape ``(N, ...)``; ``y`` is ignored)."""
        self._check_params()
        if self.arch not in ("auto", "conv", "mlp"):
            raise ConfigError(f"arch={self.arch!r} is not one of 'auto', 'conv', 'mlp'")
        x = as_examples(X, "X")
        self.input_shape_ = tuple(int(s) for s in x.shape[1:])
        lo, hi = float(x.min()), float(x.max())
        self.unit_range_ = lo >= 0.0 and hi <= 1.0
        self.data_range_ = 1.0 if self.unit_range_ else max(hi - lo, MIN_STD)
        if self.unit_range_:
            self.offset_, self.scale_ = 0.0, 1.0
        else:  # masked values are zeros in data units: then only scale
            self.offset_ = 0.0 if self.noise == "masking" else float(x.mean())
            self.scale_ = max(float(x.std()), MIN_STD)
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

    def transform(self, X: Any) -> np.ndarray:
        """The denoised examples, same shape as ``X``, float32."""
        self._check_fitted()
        x = as_examples(X, "X")
        check_sample_shape(self.input_shape_, tuple(x.shape[1:]), where="X")
        out = self._denoise((x - self.offset_) / self.scale_)
        return (out * self.scale_ + self.offset_).numpy()

    def corrupt(self, X: Any, seed: int | None = None) -> np.ndarray:
        """``X`` with the training noise added (seeded by ``seed``, else ``random_state``)."""
        self._check_fitted()
        x = as_examples(X, "X")
        noise = make_corruption(self.noise, float(self.noise_level),
                                value_range=tuple(self.value_range_))
        g = torch.Generator().manual_seed(int(self.random_state if seed is None else seed))
        noisy = noise(x, generator=g)
        if self.unit_range_ and self.noise == "gaussian":
            noisy = noisy.clamp(0.0, 1.0)  # images stay images
        return noisy.numpy()

    def score(self, X: Any, X_noisy: Any = None) -> float:
        """PSNR in dB of the denoised ``X_noisy`` against the clean ``X`` (higher is
        better); without ``X_noisy``, ``X`` corrupted by :meth:`corrupt`."""
        noisy = self.corrupt(X) if X_noisy is None else X_noisy
        clean = as_examples(X, "X")
        return psnr(clean, torch.from_numpy(self.transform(noisy)),
                    data_range=self.data_range_)


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

    _fitted = ("n_channels_", "channel_names_", "mean_", "std_", "low_", "high_",
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

    def fit(self, X: Any, y: Any = None) -> SignalDenoiser:
        """Train on clean series: one ``(T,)`` / ``(T, C)`` array or a list of them."""
        self._check_params()
        if int(self.window) < 2 or not 1 <= self._stride() <= int(self.window):
            raise ConfigError(f"window must be >= 2 and stride in [1, window] (every step "
                              f"inside some window), got {self.window} and {self.stride}")
        from aekit.data.series import Series

        series, _ = as_series_list(X, "X")
        # names of a Series' channels are kept, so a CSV with other columns is refused later
        self.channel_names_ = list(X.channel_names) if isinstance(X, Series) else None
        channels = {s.shape[1] for s in series}
        if len(channels) != 1:
            raise ConfigError(f"X: every series needs the same number of channels, got "
                              f"{sorted(channels)}")
        self.n_channels_ = channels.pop()
        values = np.concatenate(series)
        self.mean_ = values.mean(0).astype(np.float64)
        std = values.std(0)
        self.std_ = np.where(std > MIN_STD, std, 1.0).astype(np.float64)
        standardised = self._standardise(values)
        self.low_, self.high_ = float(standardised.min()), float(standardised.max())
        step = max(1, sum(len(s) for s in series) // MAX_TRAIN_WINDOWS)  # cap the copies
        windows = np.concatenate([sliding_windows(self._standardise(s), int(self.window),
                                                  step)[0] for s in series])
        self.model_ = self._train(torch.from_numpy(windows), likelihood="gaussian_learned",
                                  noise_level=float(self.noise_level),
                                  value_range=(self.low_, self.high_), arch="mlp")
        return self

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
        return [np.ndim(item.values if isinstance(item, Series) else item) == 1
                for item in items]

    def _standardise(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean_) / self.std_).astype(np.float32)

    def transform(self, X: Any) -> np.ndarray | list[np.ndarray]:
        """The denoised series, each with the shape it came in (a list for a list)."""
        self._check_fitted()
        series, single = as_series_list(X, "X")
        out = []
        for k, (values, one_channel) in enumerate(zip(series, self._one_channel(X, single))):
            if values.shape[1] != self.n_channels_:
                where = "X" if single else f"X[{k}]"
                raise DataError(f"{where}: {values.shape[1]} channels, but the denoiser "
                                f"was fitted on {self.n_channels_}")
            windows, starts = sliding_windows(self._standardise(values), int(self.window),
                                              self._stride())
            clean = self._denoise(torch.from_numpy(windows)).numpy()  # (N, C, W)
            points = np.stack([windows_to_points(clean[:, c], starts, len(values))
                               for c in range(self.n_channels_)], 1)
            points = (points * self.std_ + self.mean_).astype(np.float32)
            out.append(points[:, 0] if one_channel else points)
        return out[0] if single else out


def load_denoiser(directory: str | Path, device: str | None = None
                  ) -> Denoiser | SignalDenoiser:
    """Whichever denoiser :meth:`save` wrote to ``directory``."""
    path = Path(directory) / RECORD_FILE
    try:
        kind = json.loads(path.read_text(encoding="utf-8")).get("denoiser")
    except (OSError, json.JSONDecodeError, AttributeError):
        kind = None
    cls = {c.__name__: c for c in (Denoiser, SignalDenoiser)}.get(kind, Denoiser)
    return cls.load(directory, device=device)
