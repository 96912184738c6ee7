"""The one base of aekit's scikit-learn estimators: the reducer, the anomaly detector,
the denoisers (and every estimator to come).

An estimator built on :class:`AutoencoderEstimator` gets, without writing them again:

* **parameter checks**, declarative: ``_parameter_constraints`` (scikit-learn's form,
  :data:`TRAINING_CONSTRAINTS` for the shared training settings); a wrong value raises
  :class:`ParameterError`, scikit-learn's ``InvalidParameterError`` and an aekit
  ``ConfigError`` at once, naming the parameter and the allowed values;
* **one input check**, :meth:`_check_X`: scikit-learn's validation (its messages for a
  wrong number of features; NaN/inf named by example and position), ``n_features_in_``,
  ``feature_names_in_`` from a DataFrame or an aekit Dataset (other columns, or the same
  in another order, are refused), examples with several axes (images, windows) for an
  estimator with ``_accepts_nd``, which records and checks ``input_shape_``;
* **one scaler**, :func:`scaler_stats`: training mean and population std per feature
  (or one for all values), scale 1 for a constant feature so values stay finite;
* **model building and training**: :meth:`_build_model` calls :func:`aekit.create` with
  ``input_shape=(n_features,)`` and refuses, before any training, a model that is
  conditional or whose code is not a vector of the requested size;
  :meth:`_train_model`, the one training helper, runs :class:`aekit.Trainer` seeded
  (the caller's torch RNG is left untouched), with a progress bar when ``verbose``,
  optional early stopping on a held-out fraction, on the requested ``device``;
* **one folder format, no pickle**: :meth:`save` writes ``estimator.json`` (class,
  parameters, small fitted values), ``estimator.safetensors`` (fitted arrays) and each
  network as an aekit model folder, ``model/`` or ``members/<i>/``; :meth:`load` reads
  it back;
* **one NotFittedError** (:class:`NotFittedError`: scikit-learn's and an AekitError);
* **pickling** (``pickle``, ``joblib``, ``copy.deepcopy``): every aekit model in the
  estimator's state is stored as its JSON record plus its weights as safetensors bytes.

A subclass declares its parameters in ``__init__`` (scikit-learn style) and its
``_parameter_constraints``, lists fitted attributes to persist in ``_saved_values``
(small, JSON) and ``_saved_arrays`` (large numeric arrays), and overrides
``_saved_models`` / ``_restore_state`` when it holds more than one ``model_``.
"""

from __future__ import annotations

import json
import re
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as _load_arrays
from safetensors.numpy import save_file as _save_arrays
from safetensors.torch import load as _weights_from_bytes
from safetensors.torch import load_file as _load_weights_file
from safetensors.torch import save as _weights_to_bytes
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError
from sklearn.utils.validation import (
    _check_feature_names,
    check_array,
    check_is_fitted,
    validate_data,
)

from aekit.data.dataset import Dataset
from aekit.data.validate import as_examples
from aekit.devices import resolve_device
from aekit.errors import AekitError, ConfigError, DataError
from aekit.models.base import Autoencoder
from aekit.rng import private_rng

__all__ = [
    "ARRAYS_FILE",
    "NotFittedError",
    "ParameterError",
    "scaler_stats",
    "ESTIMATOR_FILE",
    "FLOAT_DTYPES",
    "TRAINING_CONSTRAINTS",
    "AutoencoderEstimator",
    "model_from_state",
    "model_to_state",
    "read_record",
    "seed_from",
]

ESTIMATOR_FILE = "estimator.json"
ARRAYS_FILE = "estimator.safetensors"
FLOAT_DTYPES = (np.float64, np.float32)
_SUBFOLDER = re.compile(r"(model|members/[0-9]+)?")  # network folders save() writes
MIN_STD = 1e-8  # a std at or below MIN_STD * (1 + |mean|) (a constant feature) gets scale 1
CHUNK = 8192  # rows pushed through a network at once at predict time

TRAINING_CONSTRAINTS: dict[str, list[Any]] = {
    "model": [str],  # also checked against aekit.available() at fit time
    "hidden_dims": [tuple, list, None],
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
"""Constraints of the training parameters that aekit estimators share (scikit-learn's
declarative form: a wrong value raises ``InvalidParameterError`` naming the parameter
and the allowed range)."""


class ParameterError(InvalidParameterError, ConfigError):
    """A parameter of an aekit estimator has a value outside its allowed range.

    scikit-learn's ``InvalidParameterError`` (what its checks expect) and an aekit
    :class:`ConfigError` (what the command line prints as one line) at once.
    """


class NotFittedError(SklearnNotFittedError, AekitError):
    """The estimator is used before ``fit`` (or ``load``): scikit-learn's
    ``NotFittedError`` and an :class:`AekitError` at once. Every aekit estimator raises it."""


def scaler_stats(X: np.ndarray | torch.Tensor, axis: int | None = 0
                 ) -> tuple[Any, Any]:
    """``(mean, scale)`` that standardise ``X`` along ``axis``: the one scaler of the apps.

    ``scale`` is the population standard deviation, except where it is at most
    ``MIN_STD * (1 + |mean|)`` (a constant feature, up to rounding), where it is 1, so
    standardised values stay finite. Computed in ``X``'s own type and precision (numpy
    array or torch tensor); ``axis=None`` gives one mean and scale for all values.
    """
    if isinstance(X, torch.Tensor):
        mean = X.mean() if axis is None else X.mean(axis)
        std = X.std(unbiased=False) if axis is None else X.std(axis, unbiased=False)
        return mean, torch.where(std > MIN_STD * (1 + mean.abs()), std, torch.ones_like(std))
    mean, std = X.mean(axis), X.std(axis)
    return mean, np.where(std > MIN_STD * (1 + np.abs(mean)), std, 1.0)


def seed_from(random_state: Any) -> int:
    """An int seed in ``[0, 2**31 - 1)`` drawn from an int, RandomState or None."""
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def model_to_state(model: Autoencoder) -> dict[str, Any]:
    """A picklable description of ``model``: its JSON record and safetensors weight bytes."""
    from aekit.io import model_record

    weights = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
    dtype = next((str(v.dtype) for v in weights.values() if v.is_floating_point()),
                 "torch.float32")
    return {"record": model_record(model), "weights": _weights_to_bytes(weights),
            "dtype": dtype, "training": model.training, "step": model.step}


def model_from_state(state: dict[str, Any]) -> Autoencoder:
    """Rebuild the model described by :func:`model_to_state` (on the CPU)."""
    from aekit.io import model_from_record

    model = model_from_record(state["record"], "pickled estimator")
    if state["dtype"] == "torch.float64":
        model.double()
    model.load_state_dict(_weights_from_bytes(state["weights"]), strict=True)
    model.step = state["step"]
    return model.train(state["training"])


def _is_model_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, Autoencoder) for v in value)


def _to_json(value: Any, where: str) -> Any:
    """``value`` as JSON data; numpy arrays become ``{"ndarray": ..., "dtype": ...}``."""
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return [_to_json(v, where) for v in value]
    if isinstance(value, list):
        return [_to_json(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v, where) for k, v in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise AekitError(f"{where} is a {type(value).__name__}, which cannot be saved as JSON")


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"ndarray", "dtype"}:
        return np.asarray(value["ndarray"], dtype=value["dtype"])
    return value


def read_record(directory: Path, filename: str, kind_key: str, kind: str) -> dict[str, Any]:
    """The JSON record ``directory/filename`` of a saved ``kind``, its ``params`` with JSON
    lists back as tuples (the form estimators take), or an AekitError saying what is
    wrong: no such file, not such a record, another kind."""
    path = directory / filename
    if not path.is_file():
        raise AekitError(f"{directory}: no {filename}; not a folder written by {kind}.save")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        saved, params = record[kind_key], dict(record["params"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise AekitError(f"{path}: not an aekit {kind_key} record ({e})") from None
    if saved != kind:
        raise AekitError(f"{directory} holds a {saved}, not a {kind}")
    record["params"] = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return record


class AutoencoderEstimator(BaseEstimator):
    """Base class of aekit's scikit-learn estimators (see the module docstring).

    Subclasses call :meth:`_check_X` on every input, :meth:`_fit_scaler` /
    :meth:`_scale` / :meth:`_unscale` around the network, :meth:`_build_model` and
    :meth:`_train_model` in ``fit``, and keep the network in ``model_``.
    The fitted network lives on the CPU in float64 (see :meth:`_finish_model`).
    """

    _saved_values: ClassVar[tuple[str, ...]] = (
        "n_features_in_", "feature_names_in_", "mean_", "scale_", "history_")
    """Fitted attributes written to ``estimator.json`` by :meth:`save` (if set)."""
    _saved_arrays: ClassVar[tuple[str, ...]] = ()
    _renamed_params: ClassVar[dict[str, str]] = {}
    """Old parameter name -> new name, so that folders saved before a rename still load."""
    """Large fitted numeric arrays written to ``estimator.safetensors`` by :meth:`save`."""

    _unsaved_params: ClassVar[tuple[str, ...]] = ()
    """Parameters :meth:`save` leaves out of ``estimator.json`` (a nested estimator the
    subclass saves in its own subfolder and restores in ``load``)."""

    _accepts_nd: ClassVar[bool] = False
    """Whether examples may have more than one axis (images ``(N, C, H, W)``, windows
    ``(N, C, T)``); such an estimator records ``input_shape_`` and checks it."""

    # -- parameters and state ---------------------------------------------------------
    def _validate_params(self) -> None:
        """scikit-learn's declarative check of ``_parameter_constraints``; a wrong value
        raises :class:`ParameterError` naming the parameter and the allowed values."""
        try:
            super()._validate_params()
        except InvalidParameterError as e:
            raise ParameterError(str(e)) from None

    def _check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` (or ``load``) has run."""
        try:
            check_is_fitted(self)
        except SklearnNotFittedError as e:
            raise NotFittedError(str(e)) from None

    # -- input ------------------------------------------------------------------------
    def _check_X(self, X: Any, *, reset: bool, dtype: Any = FLOAT_DTYPES) -> np.ndarray:
        """``X`` validated by scikit-learn, as a float array (float64 unless ``dtype``).

        ``reset=True`` (in ``fit``) records ``n_features_in_`` and ``feature_names_in_``
        (for a DataFrame); ``reset=False`` checks them, so columns given in another order
        or under other names are a ``ValueError`` (scikit-learn's). Estimators with
        ``_accepts_nd`` also take examples with several axes: they record
        ``input_shape_`` (``n_features_in_`` is then the number of values per example)
        and check it. Bad values (NaN, inf, text, a wrong shape) raise a
        :class:`DataError`, which is a ``ValueError`` too. An aekit
        :class:`~aekit.data.Dataset` (what the command line reads) counts as a table
        whose columns are its ``feature_names``.
        """
        names = None
        if isinstance(X, Dataset):
            names = None if X.feature_names is None else np.asarray(X.feature_names, object)
            X = X.x.numpy()
        try:
            with warnings.catch_warnings():
                if names is not None:  # checked below, not from the bare array
                    warnings.filterwarnings("ignore", "X does not have valid feature names")
                if self._accepts_nd and np.asarray(X).ndim > 2:
                    _check_feature_names(self, X, reset=reset)
                    X = check_array(X, allow_nd=True, dtype=dtype)
                    if reset:
                        self.n_features_in_ = int(np.prod(X.shape[1:]))
                else:
                    X = validate_data(self, X, reset=reset, dtype=dtype)
        except DataError:
            raise
        except ValueError as e:
            if "feature names" in str(e):
                raise  # scikit-learn's own error for other columns than in fit
            if "NaN" in str(e) or "infinity" in str(e):
                as_examples(X, "X")  # aekit's message, naming where the bad values are
            raise DataError(f"X: {e}") from None
        if names is not None and reset:
            self.feature_names_in_ = names
        elif names is not None and hasattr(self, "feature_names_in_") and not np.array_equal(
                names, self.feature_names_in_):
            raise DataError(f"X: the feature names should match those that were passed "
                            f"during fit, in the same order: got {names.tolist()}, fitted on "
                            f"{self.feature_names_in_.tolist()}")
        if self._accepts_nd:
            shape = tuple(int(s) for s in X.shape[1:])
            if reset:
                self.input_shape_ = shape
            elif shape != tuple(self.input_shape_):
                raise DataError(f"X: examples of shape {shape}, but {type(self).__name__} "
                                f"was fitted on examples of shape {tuple(self.input_shape_)}")
        if dtype is FLOAT_DTYPES:
            return np.asarray(X, dtype=np.float64)
        return np.ascontiguousarray(X)  # row-major, as torch reductions expect

    # -- standardisation --------------------------------------------------------------
    def _fit_scaler(self, X: np.ndarray, enabled: bool = True) -> None:
        """Set ``mean_`` and ``scale_`` from ``X`` (:func:`scaler_stats`; zeros and ones
        when not ``enabled``)."""
        if enabled:
            self.mean_, self.scale_ = scaler_stats(X)
        else:
            self.mean_ = np.zeros(X.shape[1])
            self.scale_ = np.ones(X.shape[1])

    def _scale(self, X: np.ndarray) -> np.ndarray:
        """Standardised rows: ``(X - mean_) / scale_``."""
        return (X - self.mean_) / self.scale_

    def _unscale(self, Xs: np.ndarray) -> np.ndarray:
        """Rows back in the original units: ``Xs * scale_ + mean_``."""
        return Xs * self.scale_ + self.mean_

    # -- the network ------------------------------------------------------------------
    def _check_model_name(self, name: str, param: str = "model") -> None:
        """Raise ``InvalidParameterError`` unless ``name`` is a registered model."""
        from aekit.models import available

        names = available()
        if name not in names:
            raise InvalidParameterError(
                f"The {param!r} parameter of {type(self).__name__} must be a str among "
                f"aekit.available() = {names}. Got {name!r} instead.")

    def _build_model(self, name: str, n_features: int, n_components: int | None,
                     settings: dict[str, Any], seed: int) -> Autoencoder:
        """Create model ``name`` for vectors of ``n_features`` values, weights seeded.

        ``settings`` go to the model's config (``latent_dim`` = ``n_components`` when
        given). The untrained model is probed on two zero rows: a conditional model, a
        code that is not a vector of ``n_components`` values, or a decoder that cannot
        take the code back to ``n_features`` values is a :class:`ConfigError` naming the
        model, before any time is spent training.
        """
        from aekit.models import create, get_class

        self._check_model_name(name)
        if get_class(name).conditional:
            raise ConfigError(f"model {name!r} is conditional (it needs labels at every "
                              f"call); {type(self).__name__} takes unconditional models")
        if n_components is not None:
            settings = {"latent_dim": n_components, **settings}
        with private_rng(seed):
            model = create(name, input_shape=(n_features,), **settings)
        self._probe_codes(model, name, n_features, n_components)
        return model

    @staticmethod
    def _probe_codes(model: Autoencoder, name: str, n_features: int,
                     n_components: int | None) -> None:
        model.eval()
        try:
            with torch.inference_mode():
                code = model.embed(torch.zeros(2, n_features))
                want = (2, n_components) if n_components is not None else (2, code.shape[-1])
                if tuple(code.shape) != want:
                    raise ConfigError(
                        f"model {name!r} with these settings gives codes of shape "
                        f"{tuple(code.shape[1:])} per row, not vectors of n_components="
                        f"{n_components} values; set its own size parameters through "
                        "model_params so that its code has n_components values, or choose "
                        "another model")
                try:
                    out = model.decode_logits(code)
                except (RuntimeError, ValueError) as e:
                    raise ConfigError(
                        f"model {name!r} cannot decode its own codes (embed gives "
                        f"{tuple(code.shape[1:])}, decode_logits fails: "
                        f"{str(e).splitlines()[0]}); choose another model") from None
                if tuple(out.shape) != (2, n_features):
                    raise ConfigError(
                        f"model {name!r} decodes codes to shape {tuple(out.shape[1:])}, "
                        f"not ({n_features},); choose another model")
        finally:
            model.train()

    def _train_model(self, model: Any, Xs: np.ndarray | torch.Tensor, *, epochs: int,
                     batch_size: int, learning_rate: float, seed: int,
                     validation_fraction: float | None = None, patience: int | None = None,
                     device: str = "cpu", verbose: bool = False,
                     finish: bool = True) -> list[dict[str, Any]]:
        """Train ``model`` in place on standardised examples ``Xs``; returns the history.

        The one training helper of the estimators: :class:`aekit.Trainer` seeded by
        ``seed``, the caller's random state untouched, a progress bar when ``verbose``.
        With ``validation_fraction`` (and at least 10 rows) that share of the rows is held
        out (a seeded split); training stops after ``patience`` epochs without a lower
        held-out loss, and the best weights are kept. With ``finish`` the model ends on
        the CPU in float64 and in eval mode (:meth:`_finish_model`); otherwise it stays
        where and as it trained. ``model`` is anything the Trainer trains (a model, or a
        wrapper of one such as :class:`aekit.train.robust.RobustLoss`).
        """
        from aekit.train import TrainConfig, Trainer

        use_val = validation_fraction is not None and len(Xs) >= 10
        cfg = TrainConfig(
            epochs=int(epochs), batch_size=int(batch_size), lr=float(learning_rate),
            seed=seed, val_fraction=float(validation_fraction) if use_val else 0.0,
            early_stopping_patience=int(patience) if use_val and patience else None,
            checkpoint_every=0, device=resolve_device(device), progress=bool(verbose))
        x = torch.as_tensor(Xs, dtype=torch.float32)
        with private_rng(device=cfg.device):  # leave the caller's RNG untouched
            result = Trainer(cfg).fit(model, x)
        if finish:
            self._finish_model(model)
        return result.history

    @staticmethod
    def _finish_model(model: Autoencoder) -> Autoencoder:
        """Move the fitted network to the CPU in float64 and eval mode (in place)."""
        return model.cpu().double().eval()

    @staticmethod
    def _run(fn: Any, Xs: np.ndarray) -> np.ndarray:
        """``fn`` (tensor -> tensor) applied to float64 rows in fixed-size chunks."""
        out = []
        with torch.inference_mode():
            for i in range(0, len(Xs), CHUNK):
                out.append(fn(torch.from_numpy(np.ascontiguousarray(Xs[i:i + CHUNK]))))
        return torch.cat(out).numpy() if out else np.empty((0,))

    # -- tags -------------------------------------------------------------------------
    def __sklearn_tags__(self) -> Any:
        """scikit-learn tags: dense, finite, 2-D numeric input."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    # -- pickling ---------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """The state with every aekit model replaced by its record and weight bytes."""
        state = super().__getstate__()
        state = dict(state)
        for key, value in state.items():
            if isinstance(value, Autoencoder):
                state[key] = {"__aekit_model__": model_to_state(value)}
            elif _is_model_list(value):
                state[key] = {"__aekit_models__": [model_to_state(m) for m in value]}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Inverse of :meth:`__getstate__`."""
        state = dict(state)
        for key, value in state.items():
            if isinstance(value, dict) and set(value) == {"__aekit_model__"}:
                state[key] = model_from_state(value["__aekit_model__"])
            elif isinstance(value, dict) and set(value) == {"__aekit_models__"}:
                state[key] = [model_from_state(s) for s in value["__aekit_models__"]]
        super().__setstate__(state)

    # -- persistence without pickle ---------------------------------------------------
    _model_dtype: ClassVar[torch.dtype] = torch.float64
    """The precision the fitted networks are kept (and loaded) in."""

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray],
                                     dict[str, Autoencoder]]:
        """What :meth:`save` writes: small fitted values (JSON), large arrays, and the
        networks by subfolder (``model`` here; an ensemble uses ``members/<i>``)."""
        values = {k: getattr(self, k) for k in self._saved_values if hasattr(self, k)}
        arrays = {k: np.ascontiguousarray(getattr(self, k)) for k in self._saved_arrays
                  if hasattr(self, k)}
        return values, arrays, self._saved_models()

    def _saved_models(self) -> dict[str, Autoencoder]:
        """The fitted networks by subfolder of the saved folder."""
        return {"model": self.model_}

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, np.ndarray],
                       models: dict[str, Autoencoder], device: str | None) -> None:
        """Inverse of :meth:`_fitted_state` on a new, unfitted estimator."""
        for key, value in {**values, **arrays}.items():
            setattr(self, key, value)
        self.model_ = models["model"]

    def save(self, directory: str | Path) -> Path:
        """Write the fitted estimator to ``directory`` (created if needed), no pickle.

        The folder holds ``estimator.json`` (the estimator's class, its parameters and
        small fitted values such as the column names), ``estimator.safetensors`` (the
        fitted arrays, e.g. the scaler statistics) and each network as an aekit model
        folder (``config.json`` + ``model.safetensors``, readable by :func:`aekit.load`):
        ``model/``, or ``members/0/``, ``members/1/``, ... for an ensemble. Every file
        is written atomically, ``estimator.json`` last.

        Parameters
        ----------
        directory : str or Path
            Target folder.

        Returns
        -------
        Path
            The folder.
        """
        from aekit._version import __version__
        from aekit.io import atomic_path, atomic_write_text

        self._check_fitted()
        directory = Path(directory)
        values, arrays, models = self._fitted_state()
        for sub, model in models.items():
            model.save(directory / sub)
        params = {}
        for key, value in self.get_params(deep=False).items():
            if key in self._unsaved_params:
                continue
            if key == "random_state" and not isinstance(value, int | np.integer | None):
                value = None  # a RandomState object: its state is not saved
            params[key] = _to_json(value, f"parameter {key!r}")
        with atomic_path(directory / ARRAYS_FILE) as tmp:
            _save_arrays({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
        record = {"estimator": type(self).__name__, "aekit_version": __version__,
                  "params": params,
                  "fitted": {k: _to_json(v, f"attribute {k!r}") for k, v in values.items()},
                  "arrays": sorted(arrays), "models": list(models)}
        atomic_write_text(directory / ESTIMATOR_FILE, json.dumps(record, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str | None = None) -> AutoencoderEstimator:
        """Read an estimator written by :meth:`save` (nothing is unpickled).

        Parameters
        ----------
        directory : str or Path
            A folder written by :meth:`save`.
        device : str, optional
            Where to put the networks (default: the CPU).

        Returns
        -------
        AutoencoderEstimator
            The fitted estimator, as it was saved.
        """
        from aekit.io import CONFIG_FILE, WEIGHTS_FILE, check_finite, model_from_record

        directory = Path(directory)
        record = read_record(directory, ESTIMATOR_FILE, "estimator", cls.__name__)
        where = directory / ESTIMATOR_FILE
        est = cls(**{cls._renamed_params.get(k, k): v for k, v in record["params"].items()})
        # folders of aekit <= 0.1.0 kept the one network at the top, not in model/
        subs = record.get("models", [""])
        models = {}
        for sub in subs:
            if not isinstance(sub, str) or not _SUBFOLDER.fullmatch(sub):
                raise AekitError(f"{where}: model folder {sub!r} is not model/ or "
                                 "members/<i>/ inside this folder; refusing to load it")
            folder = directory / sub
            model = model_from_record(_read_json(folder / CONFIG_FILE), str(folder / CONFIG_FILE))
            model.to(cls._model_dtype)
            try:
                weights = _load_weights_file(str(folder / WEIGHTS_FILE))
                check_finite(weights, str(folder / WEIGHTS_FILE))
                model.load_state_dict(weights, strict=True)
            except (RuntimeError, OSError, SafetensorError) as e:
                raise AekitError(f"{folder / WEIGHTS_FILE}: cannot read weights ({e})") from None
            if device is not None:
                model.to(resolve_device(device))
            models[sub or "model"] = model.eval()
        arrays = {}
        if record.get("arrays"):
            try:
                arrays = dict(_load_arrays(str(directory / ARRAYS_FILE)))
            except (OSError, SafetensorError) as e:
                raise AekitError(f"{directory / ARRAYS_FILE}: cannot read it ({e})") from None
            check_finite({k: torch.from_numpy(v) for k, v in arrays.items()},
                         str(directory / ARRAYS_FILE))
        try:
            values = {k: _from_json(v) for k, v in dict(record.get("fitted", {})).items()}
            est._restore_state(values, arrays, models, device)
        except AekitError as e:
            raise AekitError(f"{where}: {e}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise AekitError(f"{where}: malformed estimator record "
                             f"({type(e).__name__}: {e})") from None
        return est


def _read_json(path: Path) -> Any:
    """The JSON document at ``path``, or an AekitError naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise AekitError(f"{path}: cannot read it as JSON ({e})") from None
