"""Options and helpers shared by several commands."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import click

from aekit.errors import ConfigError

data_option = click.option(
    "--data", "data_source", required=True, metavar="SOURCE",
    help="Built-in name (digits), or a .npy/.npz/.csv/.mat/IDX file or image folder.",
)
label_column_option = click.option(
    "--label-column", default=None, metavar="NAME",
    help="CSV column holding labels (used for colouring and metrics, not for training).",
)


def parse_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``("beta=4", "hidden_dims=(256,128)")`` -> ``{"beta": 4, "hidden_dims": (256, 128)}``."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw  # a bare word such as likelihood=bernoulli
        settings[key.strip().replace("-", "_")] = value
    return settings


def load_source(source: str, label_column: str | None = None):
    """Load data for a command; accepts a built-in name or a path."""
    from aekit.data import load_data

    return load_data(source, label_column=label_column)


def existing_run(path: str) -> Path:
    """A run or model folder that must exist."""
    p = Path(path)
    if not (p / "config.json").is_file():
        raise ConfigError(f"{p}: not an aekit run or model folder (no config.json)")
    return p


def same_file(a: str | Path, b: str | Path) -> bool:
    """True when ``a`` and ``b`` name the same file (existing or not)."""
    pa, pb = Path(a), Path(b)
    if pa.exists() and pb.exists():
        return pa.samefile(pb)
    return pa.resolve() == pb.resolve()


def refuse_overwrite(data: str, *outputs: Path) -> None:
    """A ConfigError when an output path is the input file (inputs are never overwritten)."""
    for out in outputs:
        if same_file(data, out):
            raise ConfigError(f"--out {out} is the input file; aekit never overwrites "
                              "its input: choose another output path")
