"""Helpers shared by the command-line tests."""

from __future__ import annotations

from click.testing import CliRunner

from aekit.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result, *needles):
    """Exit code 2, no traceback, and one 'error:' line (the last) holding every needle."""
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.output
    assert "Traceback" not in result.output
    for n in needles:
        assert n in errors[0], (n, errors[0])
    return errors[0]
