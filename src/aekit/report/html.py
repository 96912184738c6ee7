"""A self-contained HTML report: images embedded, so the file can be moved or mailed."""

from __future__ import annotations

import base64
import html
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.1em}h2{font-size:1.2em;border-bottom:1px solid #ddd;
padding-bottom:.2em;margin-top:1.6em}.sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
img{max-width:100%;margin:.4em 0;border:1px solid #eee}footer{color:#888;font-size:.8em;
margin-top:3em}
"""


@dataclass
class Section:
    """One titled part of a report: text, images (paths) and a table (list of dicts)."""

    title: str
    text: str | None = None
    images: list[Path | str] = field(default_factory=list)
    table: list[dict[str, Any]] | None = None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def metrics_table(rows: list[dict[str, Any]]) -> str:
    """An HTML table of ``rows`` (columns: the union of their keys, in first-seen order)."""
    if not rows:
        return ""
    cols: list[str] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(path: Path | str, base: Path) -> str:
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = base / p
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(p.name)}" src="data:image/png;base64,{data}">'


def write_report(path: str | Path, *, title: str, sections: list[Section],
                 subtitle: str | None = None) -> Path:
    """Write ``report.html`` atomically and return its path."""
    try:
        from aekit import __version__
    except ImportError:  # pragma: no cover - only outside the package
        __version__ = "dev"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if subtitle:
        parts.append(f"<p class='sub'>{html.escape(subtitle)}</p>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.text:
            parts.append(f"<p>{html.escape(s.text)}</p>")
        if s.table:
            parts.append(metrics_table(s.table))
        parts += [_img(p, path.parent) for p in s.images]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<footer>aekit {html.escape(__version__)}, generated {stamp}</footer>"
                 "</body></html>")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".report.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(parts))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
