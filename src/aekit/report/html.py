"""A self-contained HTML report: one file, images embedded, so it can be moved or mailed.

>>> from aekit.report.html import Section, write_report
>>> write_report("runs/x/report.html", title="My run", sections=[
...     Section("Final metrics", text="After 20 epochs.", table=[{"split": "val", "loss": 61.2}]),
...     Section("Loss curves", images=["plots/loss_curves.png"]),
... ])  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import math
import mimetypes
import numbers
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aekit._version import __version__
from aekit.io import atomic_write_text

__all__ = ["CSS", "Section", "format_value", "metrics_table", "write_report"]

CSS = """
:root{color-scheme:light}
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45;background:#fff}
header{border-bottom:2px solid #333;margin-bottom:1em}
h1{font-size:1.6em;margin:0 0 .15em}
h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
.sub{color:#555;margin:.1em 0 .6em}
p{margin:.5em 0}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafafa}
figure{margin:.8em 0}
img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#777;font-size:.8em}
footer{color:#888;font-size:.8em;margin-top:3em;border-top:1px solid #eee;padding-top:.5em}
"""


@dataclass
class Section:
    """One titled part of a report.

    Attributes
    ----------
    title : str
        The section heading.
    text : str, optional
        Plain text (escaped); blank lines separate paragraphs.
    images : list of Path or str
        Image files to embed, absolute or relative to the report's folder (then to the
        working directory).
    table : list of dict, optional
        Rows of a table; columns are the union of the rows' keys in first-seen order.
    """

    title: str
    text: str | None = None
    images: list[Path | str] = field(default_factory=list)
    table: list[dict[str, Any]] | None = None


def format_value(value: Any) -> str:
    """Plain text for one table cell (not escaped).

    Floats get 4 significant digits (``1.235``, ``1.235e-05``), integers are written in
    full, None as an empty cell; zero-dimensional arrays and tensors are unwrapped first.

    Parameters
    ----------
    value : Any
        The cell value.

    Returns
    -------
    str
        The text to show.
    """
    if value is None:
        return ""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalars, 0-d arrays and tensors
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(value)


def _is_numeric(value: Any) -> bool:
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def metrics_table(rows: list[dict[str, Any]]) -> str:
    """An HTML table of ``rows``; all text escaped, numbers right-aligned.

    Parameters
    ----------
    rows : list of dict
        One dict per row. Columns are the union of the keys, in first-seen order; a row
        without a key gets an empty cell.

    Returns
    -------
    str
        ``<table>...</table>``, or ``""`` for no rows.
    """
    if not rows:
        return ""
    cols: list[Any] = []
    for row in rows:
        cols += [k for k in row if k not in cols]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for row in rows:
        cells = []
        for c in cols:
            value = row.get(c)
            cls = ' class="num"' if _is_numeric(value) else ""
            cells.append(f"<td{cls}>{html.escape(format_value(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _resolve(path: Path | str, base: Path) -> Path:
    p = Path(path)
    candidates = [p] if p.is_absolute() else [base / p, p]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"report image not found: {path} (looked in "
                            f"{', '.join(str(c) for c in candidates)})")


def _image(path: Path | str, base: Path) -> str:
    """An ``<img>`` with the file embedded as a base64 data URI."""
    p = _resolve(path, base)
    mime = mimetypes.guess_type(p.name)[0] or "image/png"
    if not mime.startswith("image/"):
        mime = "image/png"
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    name = html.escape(p.name)
    return (f'<figure><img alt="{name}" src="data:{mime};base64,{data}">'
            f"<figcaption>{name}</figcaption></figure>")


def _paragraphs(text: str) -> str:
    parts = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in parts if p)


def write_report(path: str | Path, *, title: str, sections: list[Section],
                 subtitle: str | None = None) -> Path:
    """Write a self-contained HTML report, atomically.

    Parameters
    ----------
    path : str or Path
        The report file (usually ``report.html``); parent folders are created. Relative
        image paths are looked up in its folder first.
    title : str
        Page title and main heading.
    sections : list of Section
        The report's parts, in order.
    subtitle : str, optional
        A line under the heading.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    FileNotFoundError
        If an image of a section does not exist; nothing is written then.

    Notes
    -----
    Images are embedded as base64 data URIs, so the single file can be moved or mailed.
    All text is HTML-escaped. The footer names the aekit version and the time (UTC). The
    file is written to a temporary file in the same folder and renamed over ``path``, so
    an interrupted write never leaves a half-written report.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.parent
    esc = html.escape
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width,initial-scale=1">',
             f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
             f"<header><h1>{esc(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="sub">{esc(subtitle)}</p>')
    parts.append("</header>")
    for section in sections:
        parts.append(f"<section><h2>{esc(section.title)}</h2>")
        if section.text:
            parts.append(_paragraphs(section.text))
        if section.table:
            parts.append(metrics_table(section.table))
        parts += [_image(p, base) for p in section.images]
        parts.append("</section>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts.append(f"<footer>Generated by aekit {esc(__version__)} on {stamp}.</footer>"
                 "</body></html>\n")
    atomic_write_text(path, "\n".join(parts))
    return path
