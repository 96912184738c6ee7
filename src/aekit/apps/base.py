"""Plumbing shared by aekit's scikit-learn estimators (reducer, detectors, ...).

An estimator built on :class:`AutoencoderEstimator` gets, without writing them again:

* **input checking** with :func:`sklearn.utils.validation.validate_data` (2-D numeric
  arrays; scikit-learn's own messages for NaN/inf, sparse input, and a wrong number of
  features at transform time, which names the expected and the received count);
* **feature standardisation**: with ``scale=True`` each feature is centred by its
  training mean and divided by its training standard deviation (population std;
  features with std below 1e-12, i.e. constant ones, get scale 1 so they stay finite).
  The networks see standardised features; :meth:`_unscale` maps back to raw units;
* **model building and training**: :meth:`_build_model` calls :func:`aekit.create` with
  ``input_shape=(n_features,)`` and refuses, before any training, a model that is
  conditional or whose code is not a vector of the requested size;
  :meth:`_train_model` runs :class:`aekit.Trainer` seeded by ``random_state`` (the
  caller's torch RNG is left untouched), with a progress bar when ``verbose``, early
  stopping on a held-out fraction, on the requested ``device``. The fitted network is
  then kept on the CPU in float64 and in eval mode, so a row's output does not depend
  on the other rows of the call (scikit-learn checks this);
* **persistence without pickle**: :meth:`save` writes an aekit model folder
  (``config.json`` + ``model.safetensors``, readable by :func:`aekit.load`) plus
  ``estimator.json`` (class, parameters, scaler statistics and other small fitted
  values) and, when the estimator has large fitted arrays, ``estimator.safetensors``;
  :meth:`load` reads it back;
* **pickling** (``pickle``, ``joblib``, ``copy.deepcopy``): every aekit model in the
  estimator's state is stored as its JSON record plus its weights as safetensors bytes,
  so a pickle never holds torch module objects.

A subclass declares its parameters in ``__init__`` (scikit-learn style) and its
``_parameter_constraints`` (start from :data:`TRAINING_CONSTRAINTS`), and lists fitted
attributes to persist in ``_saved_values`` (small, JSON) and ``_saved_arrays`` (large
numeric arrays).
"""

from __future__ import annotations

import json
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.numpy import load_file as _load_arrays
from safetensors.numpy import save_file as _save_arrays
from safetensors.torch import load as _weights_from_bytes
from safetensors.torch import load_file as _load_weights_file
from safetensors.torch import save as _weights_to_bytes
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError
from sklearn.utils.validation import check_is_fitted, validate_data

from aekit.errors import AekitError, ConfigError
from aekit.models.base import Autoencoder
from aekit.rng import private_rng

__all__ = [
    "ARRAYS_FILE",
    "ESTIMATOR_FILE",
    "FLOAT_DTYPES",
    "TRAINING_CONSTRAINTS",
    "AutoencoderEstimator",
    "check_device",
    "model_from_state",
    "model_to_state",
    "read_record",
    "seed_from",
]

ESTIMATOR_FILE = "estimator.json"
ARRAYS_FILE = "estimator.safetensors"
FLOAT_DTYPES = (np.float64, np.float32)
MIN_STD = 1e-12  # features whose training std is below this get scale 1
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


def seed_from(random_state: Any) -> int:
    """An int seed in ``[0, 2**31 - 1)`` drawn from an int, RandomState or None."""
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def check_device(device: str) -> str:
    """Resolve ``auto`` and make sure the torch device exists here.

    Raises
    ------
    ConfigError
        Naming ``device`` when the string is not a torch device or that device is not
        available (e.g. ``cuda`` on a machine without a GPU).
    """
    from aekit.train.config import resolve_device

    return resolve_device(device)


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
    """Large fitted numeric arrays written to ``estimator.safetensors`` by :meth:`save`."""

    # -- input ------------------------------------------------------------------------
    def _check_X(self, X: Any, *, reset: bool) -> np.ndarray:
        """``X`` as a 2-D float64 array, validated by scikit-learn.

        ``reset=True`` (in ``fit``) records ``n_features_in_`` (and
        ``feature_names_in_`` for a DataFrame); ``reset=False`` checks them.
        """
        X = validate_data(self, X, reset=reset, dtype=FLOAT_DTYPES)
        return np.asarray(X, dtype=np.float64)

    # -- standardisation --------------------------------------------------------------
    def _fit_scaler(self, X: np.ndarray, enabled: bool = True) -> None:
        """Set ``mean_`` and ``scale_`` from ``X`` (zeros and ones when not ``enabled``)."""
        if enabled:
            self.mean_ = X.mean(0)
            std = X.std(0)
            self.scale_ = np.where(std > MIN_STD, std, 1.0)
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

    def _train_model(self, model: Autoencoder, Xs: np.ndarray, *, epochs: int,
                     batch_size: int, learning_rate: float, seed: int,
                     validation_fraction: float | None = None, patience: int | None = None,
                     device: str = "cpu", verbose: bool = False) -> list[dict[str, Any]]:
        """Train ``model`` in place on standardised rows ``Xs``; returns the history.

        With ``validation_fraction`` (and at least 10 rows) that share of the rows is held
        out (a seeded split); training stops after ``patience`` epochs without a lower
        held-out loss, and the best weights are kept. The model ends on the CPU in
        float64 and in eval mode (:meth:`_finish_model`).
        """
        from aekit.train import TrainConfig, Trainer

        use_val = validation_fraction is not None and len(Xs) >= 10
        cfg = TrainConfig(
            epochs=int(epochs), batch_size=int(batch_size), lr=float(learning_rate),
            seed=seed, val_fraction=float(validation_fraction) if use_val else 0.0,
            early_stopping_patience=int(patience) if use_val and patience else None,
            checkpoint_every=0, device=check_device(device), progress=bool(verbose))
        x = torch.tensor(Xs, dtype=torch.float32)
        with private_rng(device=cfg.device):  # leave the caller's RNG untouched
            result = Trainer(cfg).fit(model, x)
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
    def save(self, directory: str | Path) -> Path:
        """Write the fitted estimator to ``directory`` (created if needed), no pickle.

        The folder is an aekit model folder (``config.json`` + ``model.safetensors``,
        float64 weights; :func:`aekit.load` reads the bare network) plus
        ``estimator.json`` (the estimator's class, its parameters and the small fitted
        values such as the scaler statistics) and, if the estimator has large fitted
        arrays, ``estimator.safetensors``.

        Parameters
        ----------
        directory : str or Path
            Target folder.

        Returns
        -------
        Path
            The folder.
        """
        from aekit import __version__
        from aekit.io import atomic_write_text

        check_is_fitted(self)
        directory = Path(directory)
        self.model_.save(directory)
        params = {}
        for key, value in self.get_params(deep=False).items():
            if key == "random_state" and not isinstance(value, int | np.integer | None):
                value = None  # a RandomState object: its state is not saved
            params[key] = _to_json(value, f"parameter {key!r}")
        values = {k: _to_json(getattr(self, k), f"attribute {k!r}")
                  for k in self._saved_values if hasattr(self, k)}
        arrays = {k: np.ascontiguousarray(getattr(self, k)) for k in self._saved_arrays
                  if hasattr(self, k)}
        if arrays:
            _save_arrays(arrays, str(directory / ARRAYS_FILE))
        record = {"estimator": type(self).__name__, "aekit_version": __version__,
                  "params": params, "fitted": values, "arrays": sorted(arrays)}
        atomic_write_text(directory / ESTIMATOR_FILE, json.dumps(record, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> AutoencoderEstimator:
        """Read an estimator written by :meth:`save` (nothing is unpickled).

        Parameters
        ----------
        directory : str or Path
            A folder written by :meth:`save`.

        Returns
        -------
        AutoencoderEstimator
            The fitted estimator, as it was saved.
        """
        from aekit.io import CONFIG_FILE, WEIGHTS_FILE, model_from_record

        directory = Path(directory)
        record = read_record(directory, ESTIMATOR_FILE, "estimator", cls.__name__)
        params = record["params"]
        est = cls(**params)
        model = model_from_record(json.loads((directory / CONFIG_FILE).read_text()),
                                  str(directory / CONFIG_FILE))
        model.double()
        try:
            model.load_state_dict(_load_weights_file(str(directory / WEIGHTS_FILE)), strict=True)
        except (RuntimeError, OSError) as e:
            raise AekitError(f"{directory / WEIGHTS_FILE}: cannot read weights ({e})") from None
        est.model_ = model.eval()
        for key, value in record.get("fitted", {}).items():
            setattr(est, key, _from_json(value))
        if record.get("arrays"):
            for key, value in _load_arrays(str(directory / ARRAYS_FILE)).items():
                setattr(est, key, value)
        return est

