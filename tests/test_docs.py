"""Every fenced ```bash / ```sh / ```python block of README.md and docs/**.md runs.

The convention (stated in docs/training.md and the common rules): the blocks of one file
run in order in one temporary working directory; its python blocks share one namespace;
bash blocks run with the project venv's bin first on PATH; the environment variable
``AEKIT_EPOCHS_CAP=1`` caps every Trainer at one epoch; a block preceded by the line
``<!-- doc-test: skip REASON -->`` is not run. Use ```text for sample output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_LANGS = {"bash": "bash", "sh": "bash", "python": "python"}
SKIP = re.compile(r"^<!--\s*doc-test:\s*skip\s+(\S.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
BLOCK_TIMEOUT_S = 900  # a guard against a hung command, not a budget


@dataclass
class Block:
    """One fenced code block: its language, first line number, code and skip reason."""

    lang: str
    line: int
    code: str
    skip: str | None


def doc_files() -> list[Path]:
    """README.md and every markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a markdown text, in order (every language)."""
    out: list[Block] = []
    lines = text.splitlines()
    i, skip = 0, None
    while i < len(lines):
        line = lines[i]
        m = SKIP.match(line.strip())
        if m:
            skip = m.group(1)
            i += 1
            continue
        f = FENCE.match(line)
        if not f:
            if line.strip():
                skip = None  # a skip marker applies to the block right after it
            i += 1
            continue
        indent, fence, lang = f.groups()
        body, i = [], i + 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        out.append(Block(lang.lower(), i - len(body) + 1, "\n".join(body) + "\n", skip))
        skip, i = None, i + 1
    return out


def test_block_parser_reads_languages_lines_and_skips():
    text = ("intro\n<!-- doc-test: skip needs a GPU -->\n```bash\naekit x\n```\n"
            "```python\nprint(1)\n```\n```text\nout\n```\n")
    got = blocks(text)
    assert [(b.lang, b.line, b.skip) for b in got] == [
        ("bash", 4, "needs a GPU"), ("python", 7, None), ("text", 10, None)]
    assert got[1].code == "print(1)\n"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["AEKIT_EPOCHS_CAP"] = "1"
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["MPLBACKEND"] = "Agg"
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = "1"
    return env


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the file's runnable blocks in order; a failure names the file and line."""
    runnable = [b for b in blocks(path.read_text(encoding="utf-8")) if b.lang in RUN_LANGS]
    todo = [b for b in runnable if b.skip is None]
    if not todo:
        pytest.skip("no runnable blocks")
    env = _env()
    for key in ("AEKIT_EPOCHS_CAP", "MPLBACKEND"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__doc__"}
    where = path.relative_to(ROOT)
    for b in todo:
        if RUN_LANGS[b.lang] == "python":
            try:
                exec(compile(b.code, f"{where}:{b.line}", "exec"), namespace)
            except Exception as e:  # noqa: BLE001 - reported with the block's place
                pytest.fail(f"{where}:{b.line} python block failed: {type(e).__name__}: {e}")
        else:
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", b.code], cwd=tmp_path,
                                  env=env, capture_output=True, text=True,
                                  timeout=BLOCK_TIMEOUT_S)
            if proc.returncode != 0:
                pytest.fail(f"{where}:{b.line} bash block exited {proc.returncode}:\n"
                            f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
