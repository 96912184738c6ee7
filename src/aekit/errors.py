"""Errors that speak to the user in their terms.

Every error aekit raises on bad input is an :class:`AekitError`. The command line
prints its message as one line (no traceback), so each message must say what is
wrong and where: the file, row, column or parameter.
"""

from __future__ import annotations


class AekitError(Exception):
    """Base class for every user-facing aekit error."""


class DataError(AekitError, ValueError):
    """The data is unusable: unreadable file, NaN/inf, wrong shape, non-numeric column ..."""


class ConfigError(AekitError, ValueError):
    """A parameter has a value outside its allowed range, or options contradict each other."""


class TrainingError(AekitError, RuntimeError):
    """Training cannot go on (for example a non-finite loss)."""
