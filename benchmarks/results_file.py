"""Writing a benchmark's result file (benchmarks/results/<topic>.md by default)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
"""benchmarks/results/, wherever a script is run from."""


def write_result(path: str | Path, lines: list[str]) -> str:
    """Write ``lines`` as one markdown file (folders made as needed), print and return it."""
    text = "\n".join(lines) + "\n"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
    print(text)
    return text
