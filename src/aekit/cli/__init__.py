"""The ``aekit`` command line.

Each module of this package defines one command (or group) as a module-level
``command`` (a click command); they are discovered here, so adding a command is adding
a file. Every user-facing error (:class:`aekit.errors.AekitError`, a missing file, a
bad option) is printed as one line, without a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from aekit import __version__
from aekit.errors import AekitError


class _Main(click.Group):
    """Click group that turns aekit errors into one clear line and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AekitError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except FileNotFoundError as e:
            click.echo(f"error: no such file or directory: {e.filename or e}", err=True)
            sys.exit(2)
        except OSError as e:  # permission denied, disk full, read-only file system ...
            where = f": {e.filename}" if e.filename else ""
            click.echo(f"error: {e.strerror or e}{where}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aekit")
def cli() -> None:
    """aekit: autoencoders for reduction, detection, denoising and generation.

    \b
    Start here:
      aekit quickstart                 train a VAE on the built-in digits, write a report
      aekit train vae --data digits    train any model (aekit models lists them)
    """


for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    if isinstance(getattr(_module, "command", None), click.Command):
        cli.add_command(_module.command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="aekit")
