"""Options and helpers shared by several commands."""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any

import click

from aekit.errors import ConfigError

_data = click.option(
    "--data", "data_source", required=True, metavar="SOURCE",
    help="Built-in name (digits), or a .npy/.npz/.csv/.mat/IDX file or image folder.",
)


def _image_size(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    h, sep, w = value.lower().partition("x")
    try:
        size = (int(h), int(w) if sep else int(h))
    except ValueError:
        raise click.BadParameter(f"expects HxW or one size, e.g. 28x28, got {value!r}") \
            from None
    if min(size) < 1:
        raise click.BadParameter(f"sizes must be >= 1, got {value!r}")
    ctx.meta["aekit.image_size"] = size


image_size_option = click.option(
    "--image-size", metavar="HxW", expose_value=False, callback=_image_size,
    help="Resize the images of an image-folder --data to H x W pixels.")


def data_option(f):
    """``--data SOURCE`` and ``--image-size HxW`` (read by :func:`load_source`)."""
    return _data(image_size_option(f))

force_option = click.option(
    "--force", is_flag=True,
    help="Replace existing output files (never an input, nor a file of a folder read).")
label_column_option = click.option(
    "--label-column", default=None, metavar="NAME",
    help="CSV column holding labels (used for colouring and metrics, not for training).",
)


# Words --set reads as values rather than names (JSON and shell spellings included).
WORDS = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf,
         "infinity": math.inf, "-infinity": -math.inf, "true": True, "false": False,
         "none": None, "null": None}


def parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("beta=4", "hidden_dims=(256,128)")`` -> ``{"beta": 4, "hidden_dims": (256, 128)}``.

    Values are Python literals; ``nan``, ``inf``, ``true``/``false`` and ``none`` are read
    in any case; anything else is a name (``likelihood=bernoulli``). Whether the value
    fits the setting is the model's check.
    """
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        raw = raw.strip()
        if raw.lower() in WORDS:
            value = WORDS[raw.lower()]
        else:
            try:
                value = ast.literal_eval(raw)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                value = raw  # a bare word such as likelihood=bernoulli
        settings[key.strip().replace("-", "_")] = value
    return settings


def load_source(source: str, label_column: str | None = None):
    """Load data for a command; accepts a built-in name or a path."""
    from aekit.data import load_data

    ctx = click.get_current_context(silent=True)
    size = None if ctx is None else ctx.meta.get("aekit.image_size")
    return load_data(source, label_column=label_column, size=size)


def existing_run(path: str) -> Path:
    """A run or model folder that must exist."""
    p = Path(path)
    if not (p / "config.json").is_file():
        raise ConfigError(f"{p}: not an aekit run or model folder (no config.json)")
    return p


def writable(out: str | Path, *inputs: str | Path, option: str = "--out",
             suffixes: tuple[str, ...] | None = None, force: bool = False,
             folder: bool = False, owned: tuple[str, ...] | None = None) -> Path:
    """The one output policy of every command (:func:`aekit.outputs.check_output`):
    ``out`` is not one of ``inputs`` nor inside one, has a suffix in ``suffixes``, and
    is not an existing file (or a folder already holding ``owned``) unless ``force``."""
    from aekit.outputs import check_output

    return check_output(out, option=option, inputs=inputs, suffixes=suffixes, force=force,
                        folder=folder, owned=owned)
