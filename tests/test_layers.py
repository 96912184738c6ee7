"""Imports only point down: the layer table in docs/architecture.md, checked over src/aekit.

The table under ``## Layers`` in docs/architecture.md is the one place the layer map is
written: each row names a layer and its modules, top layer first. This test reads the
table, parses every module of src/aekit with :mod:`ast` (imports inside functions and
``TYPE_CHECKING`` blocks count too: they are dependencies all the same) and fails on an
import that points up, or on a module that no row places.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "aekit"
DOC = ROOT / "docs" / "architecture.md"
FACADES = "facades"  # the table's row of top-level re-export modules (aekit, aekit.chem)


def layer_table() -> list[tuple[str, list[str]]]:
    """``[(layer, [module prefixes])]`` from the doc's table, top layer first."""
    text = DOC.read_text(encoding="utf-8").split("## Layers", 1)[1]
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2 or set(cells[0]) <= {"-"}:
            if rows and not line.startswith("|"):
                break
            continue
        modules = re.findall(r"`(aekit[\w.]*)`", cells[1])
        if modules:
            rows.append((cells[0], modules))
    return rows


TABLE = layer_table()
RANK = {layer: len(TABLE) - i for i, (layer, _) in enumerate(TABLE) if layer != FACADES}
RANK[FACADES] = max(RANK.values())  # the top: a facade re-exports from every layer, and
# only the command line (`import aekit; aekit.load(...)`) may use one
OWNER = {m: layer for layer, mods in TABLE for m in mods}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name: the longest prefix the table names (``aekit``
    itself names only the package's ``__init__``, not everything below it)."""
    if module == "aekit":
        return OWNER["aekit"]
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        name = ".".join(parts[:n])
        if name in OWNER:
            return OWNER[name]
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, name: str, package: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every aekit import in the ``source`` of module ``name``."""
    anchor = name if package else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                parts = anchor.split(".")[: len(anchor.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for a in node.names:  # `from aekit import io` names the module aekit.io
                sub = SRC.parent / Path(*f"{base}.{a.name}".split("."))
                is_module = sub.with_suffix(".py").exists() or sub.is_dir()
                out.append((node.lineno, f"{base}.{a.name}" if is_module else base))
    return [(line, m) for line, m in out if m == "aekit" or m.startswith("aekit.")]


def upward(source: str, name: str, package: bool = False) -> list[str]:
    """The imports of module ``name`` that point to a higher layer."""
    here = layer_of(name)
    return [f"line {line}: {m} ({layer_of(m)})"
            for line, m in sorted(imports_of(source, name, package))
            if here is not None and layer_of(m) is not None and RANK[layer_of(m)] > RANK[here]]


SOURCES = sorted(SRC.rglob("*.py"))


def test_table_is_read() -> None:
    layers = [layer for layer, _ in TABLE]
    assert layers[:1] == [FACADES] and {"cli", "apps", "metrics", "train", "models"} <= set(
        layers), layers


def test_every_module_is_placed() -> None:
    unplaced = [module_name(p) for p in SOURCES if layer_of(module_name(p)) is None]
    assert not unplaced, (f"modules no row of the layer table in {DOC.name} places: "
                          f"{unplaced}; add each to its layer there")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_point_down(path: Path) -> None:
    name = module_name(path)
    up = upward(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    assert not up, f"{name} ({layer_of(name)}) imports upward: " + "; ".join(up)


@pytest.mark.parametrize("path", sorted((SRC / "metrics").rglob("*.py")),
                         ids=lambda p: module_name(p))
def test_metrics_never_train_and_never_plot(path: Path) -> None:
    """Below the layer rule, the metrics' own: they import neither the Trainer nor plots."""
    names = [a.name if isinstance(node, ast.Import) else node.module or ""
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Import | ast.ImportFrom)
             for a in node.names]
    bad = [n for n in names if n.split(".")[:2] in (["aekit", "train"], ["aekit", "report"])
           or n.split(".")[0] == "matplotlib"]
    assert not bad, f"{module_name(path)} imports {bad}: metrics never train and never plot"


def test_the_checker_catches_upward_imports() -> None:
    """The checker itself, on made-up sources: what it must flag and what it must pass."""
    bad = ("import torch\nfrom aekit.train import Trainer\n"
           "def f():\n    from ..apps.detect import AnomalyDetector\n    import aekit\n")
    assert upward(bad, "aekit.models.made_up") == [
        "line 2: aekit.train (train)", "line 4: aekit.apps.detect (apps)",
        "line 5: aekit (facades)"]
    assert upward("from aekit import io\n", "aekit.rng") == ["line 1: aekit.io (models)"]
    good = "from aekit.train import T\nfrom . import _util\nfrom aekit.errors import E\n"
    assert upward(good, "aekit.metrics.made_up") == []
    assert upward("import aekit\nfrom aekit.apps.reduce import R\n", "aekit.cli.made_up") == []
    assert layer_of("aekit.not_in_the_table") is None  # a new module must be placed
