"""``aekit models``: list the registered model names."""

from __future__ import annotations

import click


@click.command("models")
def command() -> None:
    """List every model name `aekit train` accepts, with its one-line summary.

    \b
    Example:
      aekit models
    """
    from aekit.models import available, get_class

    for name in available():
        cls = get_class(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        flags = "generative" if cls.generative else ""
        flags += ", conditional" if cls.conditional else ""
        click.echo(f"{name:<12} {summary}" + (f"  [{flags}]" if flags else ""))
