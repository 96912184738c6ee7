"""PNG plots for reports and commands.

Every function writes one PNG to ``path`` (creating parent folders) and returns the path as
a :class:`~pathlib.Path`. Inputs may be numpy arrays, torch tensors or (where it makes sense)
plain sequences.

Image grids are drawn with numpy and Pillow: pixels are upscaled by an integer factor
(nearest neighbour), so an 8x8 digit stays a crisp 8x8 block pattern. Charts use
:class:`matplotlib.figure.Figure` with an explicit Agg canvas and never ``pyplot``, so no
global matplotlib state (current figure, backend, rcParams) is read or changed and nothing
has to be closed afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "SKIP_KEYS",
    "bar_chart",
    "histogram",
    "image_grid",
    "image_strip",
    "latent_map",
    "line_plot",
    "loss_curves",
    "reconstruction_pairs",
    "series_scores",
]

#: Fill colour of the flagged spans in :func:`series_scores` (tests look for it).
FLAG_COLOR = "#f4a3a3"

#: Keys of a metrics row that are never plotted as loss terms by :func:`loss_curves`.
SKIP_KEYS = frozenset({"epoch", "step", "lr", "time", "examples_per_s", "split"})

DPI = 110
_MIN_TILE = 64  # small images are upscaled until their longer side is at least this many px
_SEP = 2  # separator width between tiles, px
_PAIR_GAP = 10  # extra space between row pairs of reconstruction_pairs, px
_MAX_SHEET_WIDTH = 1100  # reconstruction_pairs wraps into row pairs beyond this width, px
_INK, _PAPER, _RULE = 30, 255, 190  # text, background and separator grey levels


# --------------------------------------------------------------------------- helpers


def _np(a: Any) -> np.ndarray:
    """A numpy array from an array, a (possibly bf16 / GPU / grad) tensor or a sequence."""
    if hasattr(a, "detach"):  # torch.Tensor without importing torch
        a = a.detach().cpu()
        if a.is_floating_point():
            a = a.float()
        a = a.numpy()
    return np.asarray(a)


def _prepare(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _save(fig: Figure, path: str | Path) -> Path:
    """Render ``fig`` with its own Agg canvas and write it as PNG."""
    path = _prepare(path)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


# --------------------------------------------------------------------------- image sheets


def _as_images(images: Any, who: str = "image_grid") -> np.ndarray:
    """``(N, H, W, C)`` float32 in [0, 1] from ``(N, C, H, W)``, ``(N, H, W, C)`` or ``(N, H, W)``.

    Raises
    ------
    ValueError
        For anything that is not a non-empty batch of 1- or 3-channel images, in
        particular ``(N, D)`` vectors.
    """
    a = _np(images)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    a = a.astype(np.float32)
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4 and a.shape[1] not in (1, 3) and a.shape[3] in (1, 3):
        a = a.transpose(0, 3, 1, 2)  # channels-last input
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        hint = ""
        if a.ndim == 2:
            side = math.isqrt(a.shape[1])
            hint = (f": these are vectors, not images (reshape them first, e.g. to "
                    f"(N, 1, {side}, {side}))" if side * side == a.shape[1] else
                    ": these are vectors, not images")
        raise ValueError(f"{who} expects images shaped (N, C, H, W) with C = 1 or 3, or "
                         f"(N, H, W); got shape {tuple(a.shape)}{hint or ' (not images)'}")
    if a.shape[0] == 0 or a.shape[2] == 0 or a.shape[3] == 0:
        raise ValueError(f"{who} got no images (shape {tuple(a.shape)})")
    a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(a.transpose(0, 2, 3, 1), 0.0, 1.0)


def _tiles(imgs: np.ndarray, scale: int | None) -> np.ndarray:
    """uint8 tiles ``(N, H*s, W*s, C)``, upscaled by repeating pixels."""
    h, w = imgs.shape[1:3]
    s = scale if scale is not None else max(1, math.ceil(_MIN_TILE / max(h, w)))
    if s < 1:
        raise ValueError(f"scale must be a positive integer, got {s}")
    pixels = (imgs * 255.0).round().astype(np.uint8)
    return pixels.repeat(s, axis=1).repeat(s, axis=2)


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans (shipped with matplotlib) at ``size`` px, or Pillow's default font."""
    try:
        ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        return ImageFont.truetype(str(ttf), size)
    except OSError:  # no FreeType support or no font file
        return ImageFont.load_default()


def _text_size(text: str, font: Any) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return int(math.ceil(right - left)), int(math.ceil(bottom - top))


def _fit(text: str, font: Any, width: int) -> str:
    """``text``, shortened with '...' until it is at most ``width`` px wide."""
    if _text_size(text, font)[0] <= width:
        return text
    while text and _text_size(text + "...", font)[0] > width:
        text = text[:-1]
    return text + "..." if text else ""


def _sheet(tiles: np.ndarray, rows: list[list[int]], *, title: str | None = None,
           captions: Sequence[Any] | None = None, row_labels: Sequence[str] | None = None,
           gap_after: frozenset[int] = frozenset()) -> Image.Image:
    """Lay out equally sized ``tiles`` on a page.

    Parameters
    ----------
    tiles : np.ndarray
        uint8 ``(N, h, w, C)``.
    rows : list of list of int
        Tile indices shown in each grid row, left to right.
    title : str, optional
        A line of text centred above the grid.
    captions : sequence, optional
        One caption per tile (index into ``tiles``), drawn in a band under the tile.
    row_labels : sequence of str, optional
        One label per grid row, drawn right-aligned left of the row.
    gap_after : frozenset of int
        Grid rows after which extra space is left (to group rows, e.g. in pairs).
    """
    n, th, tw, c = tiles.shape
    ncol = max(len(r) for r in rows)
    gray = c == 1
    color = (lambda v: v) if gray else (lambda v: (v, v, v))
    cap_font, label_font, title_font = _font(11), _font(12), _font(14)

    cap_h = _text_size("Ag", cap_font)[1] + 6 if captions is not None else 0
    label_w = 0
    if row_labels is not None:
        label_w = max(_text_size(str(t), label_font)[0] for t in row_labels) + 16
    title_h = _text_size("Ag", title_font)[1] + 14 if title else 0
    grid_w = _SEP + ncol * (tw + _SEP)
    row_h = th + cap_h + _SEP
    grid_h = _SEP + len(rows) * row_h + _PAIR_GAP * len([g for g in gap_after
                                                          if g < len(rows) - 1])
    width = label_w + grid_w
    if title:
        width = max(width, _text_size(title, title_font)[0] + 16)
    canvas = Image.new("L" if gray else "RGB", (width, title_h + grid_h), color(_PAPER))
    draw = ImageDraw.Draw(canvas)
    if title:
        tw_px = _text_size(title, title_font)[0]
        draw.text(((width - tw_px) // 2, 6), title, fill=color(_INK), font=title_font)

    y = title_h
    for r, idx in enumerate(rows):
        # separator background of this row (tiles and caption bands are drawn over it)
        draw.rectangle([label_w, y, label_w + _SEP + len(idx) * (tw + _SEP) - 1,
                        y + row_h + _SEP - 1], fill=color(_RULE))
        if row_labels is not None:
            text = str(row_labels[r])
            w_px, h_px = _text_size(text, label_font)
            draw.text((label_w - 8 - w_px, y + _SEP + (th - h_px) // 2), text,
                      fill=color(_INK), font=label_font)
        for col, k in enumerate(idx):
            x0, y0 = label_w + _SEP + col * (tw + _SEP), y + _SEP
            canvas.paste(Image.fromarray(tiles[k][..., 0] if gray else tiles[k]), (x0, y0))
            if captions is not None and k < len(captions):
                draw.rectangle([x0, y0 + th, x0 + tw - 1, y0 + th + cap_h - 1],
                               fill=color(_PAPER))
                text = _fit(str(captions[k]), cap_font, tw - 2)
                draw.text((x0 + (tw - _text_size(text, cap_font)[0]) // 2, y0 + th + 2), text,
                          fill=color(_INK), font=cap_font)
        y += row_h + (_PAIR_GAP if r in gap_after else 0)
    return canvas


def _write_png(image: Image.Image, path: str | Path) -> Path:
    path = _prepare(path)
    image.save(path, format="PNG")
    return path


def image_grid(images: Any, path: str | Path, *, nrow: int | None = None,
               title: str | None = None, labels: Sequence[Any] | None = None,
               scale: int | None = None) -> Path:
    """Write a grid of images, upscaled pixel-exactly, as a PNG.

    Parameters
    ----------
    images : array or tensor
        ``(N, C, H, W)`` with ``C`` 1 (grey) or 3 (RGB), ``(N, H, W)`` (grey), or
        channels-last ``(N, H, W, C)``. Float values are clipped to [0, 1] (NaN shows as 0);
        uint8 values are read as 0-255.
    path : str or Path
        Where to write the PNG; parent folders are created.
    nrow : int, optional
        Images per grid row (as in ``torchvision.utils.make_grid``); default: about
        ``sqrt(N)``, making the grid square.
    title : str, optional
        Text centred above the grid.
    labels : sequence, optional
        One caption per image (``str()`` is applied), shown under it and shortened to fit.
    scale : int, optional
        Integer upscaling factor (nearest neighbour); default: the smallest factor that
        makes each image at least 64 px on its longer side (8 for 8x8 digits).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``images`` is not a batch of images, e.g. ``(N, D)`` vectors.
    """
    imgs = _as_images(images, "image_grid")
    n = len(imgs)
    if nrow is not None and nrow < 1:
        raise ValueError(f"nrow must be at least 1, got {nrow}")
    ncol = min(n, nrow) if nrow is not None else math.ceil(math.sqrt(n))
    rows = [list(range(i, min(i + ncol, n))) for i in range(0, n, ncol)]
    if labels is not None:
        labels = list(labels)
    sheet = _sheet(_tiles(imgs, scale), rows, title=title, captions=labels)
    return _write_png(sheet, path)


def image_strip(images: Any, path: str | Path, *, captions: Sequence[Any] | None = None,
                title: str | None = None) -> Path:
    """Write one row of images (an interpolation, a latent traversal) as a PNG.

    Parameters
    ----------
    images : array or tensor
        ``(N, C, H, W)``, ``(N, H, W)`` or ``(N, H, W, C)``, as for :func:`image_grid`.
    path : str or Path
        Where to write the PNG.
    captions : sequence, optional
        One caption per image, e.g. the interpolation weight.
    title : str, optional
        Text centred above the strip.

    Returns
    -------
    Path
        ``path``.
    """
    imgs = _as_images(images, "image_strip")
    return image_grid(imgs, path, nrow=len(imgs), labels=captions, title=title)


# --------------------------------------------------------------------------- reconstructions


def _looks_like_images(a: np.ndarray) -> bool:
    """Whether a batch should be drawn as images rather than as vectors or sequences."""
    if a.ndim == 4:
        return a.shape[1] in (1, 3) or a.shape[3] in (1, 3)
    if a.ndim == 3:
        h, w = a.shape[1:]
        return min(h, w) >= 4 and max(h, w) <= 4 * min(h, w)
    return False


def reconstruction_pairs(originals: Any, reconstructions: Any, path: str | Path, *,
                         n: int = 16) -> Path:
    """Write originals next to their reconstructions as a PNG.

    Images are shown as row pairs, originals above their reconstructions, labelled
    "original" and "reconstruction" (wrapping into several pairs when the row would be too
    wide). Vectors ``(N, D)`` are drawn as one panel per example (at most 6) with the
    original and the reconstruction overlaid: bars for ``D <= 32``, lines otherwise.
    Sequences ``(N, C, T)`` are drawn as one line per channel (at most 4), the longer axis
    taken as time.

    Parameters
    ----------
    originals : array or tensor
        ``(N, C, H, W)``, ``(N, H, W)``, ``(N, C, T)`` or ``(N, D)``.
    reconstructions : array or tensor
        Same number of elements per example as ``originals`` (it is reshaped to match).
    path : str or Path
        Where to write the PNG.
    n : int
        How many images to show (the first ``n``).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If the two batches do not match.
    """
    x, r = _np(originals), _np(reconstructions)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"reconstruction_pairs expects a batch (N, ...), got shape {x.shape}")
    if len(r) != len(x) or r.size != x.size:
        raise ValueError(f"originals {tuple(x.shape)} and reconstructions {tuple(r.shape)} "
                         "do not match")
    k = max(1, min(n, len(x)))
    x, r = x[:k], r[:k].reshape(x[:k].shape)
    if _looks_like_images(x):
        xi, ri = _as_images(x, "reconstruction_pairs"), _as_images(r, "reconstruction_pairs")
        tiles = _tiles(np.concatenate([xi, ri]), None)
        ncol = max(1, min(k, _MAX_SHEET_WIDTH // (tiles.shape[2] + _SEP)))
        rows, labels = [], []
        for start in range(0, k, ncol):
            idx = list(range(start, min(start + ncol, k)))
            rows += [idx, [i + k for i in idx]]
            labels += ["original", "reconstruction"]
        gaps = frozenset(range(1, len(rows), 2))
        return _write_png(_sheet(tiles, rows, row_labels=labels, gap_after=gaps), path)
    if x.ndim == 3:
        return _sequence_pairs(x.astype(np.float64), r.astype(np.float64), path)
    return _vector_pairs(x.reshape(k, -1).astype(np.float64),
                         r.reshape(k, -1).astype(np.float64), path)


def _vector_pairs(x: np.ndarray, r: np.ndarray, path: str | Path) -> Path:
    k, d = min(len(x), 6), x.shape[1]
    fig = _figure(max(6.0, min(12.0, 0.25 * d + 3.0)), 1.45 * k + 0.5)
    axes = fig.subplots(k, 1, sharex=True, squeeze=False)[:, 0]
    pos = np.arange(d)
    for i, ax in enumerate(axes):
        if d <= 32:
            ax.bar(pos - 0.2, x[i], width=0.4, color="C0", label="original")
            ax.bar(pos + 0.2, r[i], width=0.4, color="C1", label="reconstruction")
        else:
            ax.plot(pos, x[i], color="C0", lw=1.2, label="original")
            ax.plot(pos, r[i], color="C1", lw=1.2, ls="--", label="reconstruction")
        ax.set_ylabel(f"#{i}", rotation=0, ha="right", va="center")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=2, fontsize=8,
                   frameon=False)
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[-1].set_xlabel("dimension")
    return _save(fig, path)


def _sequence_pairs(x: np.ndarray, r: np.ndarray, path: str | Path) -> Path:
    if x.shape[1] > x.shape[2]:  # (N, T, C) -> (N, C, T)
        x, r = x.transpose(0, 2, 1), r.transpose(0, 2, 1)
    k, c, t = min(len(x), 6), min(x.shape[1], 4), x.shape[2]
    fig = _figure(10.0, 1.45 * k + 0.5)
    axes = fig.subplots(k, 1, sharex=True, squeeze=False)[:, 0]
    for i, ax in enumerate(axes):
        for ch in range(c):
            name = f" (channel {ch})" if c > 1 else ""
            ax.plot(np.arange(t), x[i, ch], color=f"C{ch}", lw=1.2, label="original" + name)
            ax.plot(np.arange(t), r[i, ch], color=f"C{ch}", lw=1.2, ls="--",
                    label="reconstruction" + name)
        ax.set_ylabel(f"#{i}", rotation=0, ha="right", va="center")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    axes[0].legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=2 * c, fontsize=7,
                   frameon=False)
    axes[-1].set_xlabel("time step")
    return _save(fig, path)


# --------------------------------------------------------------------------- charts


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_))


def loss_curves(rows: Sequence[Mapping[str, Any]], path: str | Path, *,
                keys: Sequence[str] | None = None) -> Path:
    """Write training curves: one panel per loss term, train and validation against epoch.

    Parameters
    ----------
    rows : sequence of dict
        Rows as read from ``metrics.jsonl``, e.g. ``{"epoch": 3, "step": 120,
        "split": "train", "loss": 12.3, "recon": 11.0, "kl": 1.3, "lr": 1e-3}``. Rows
        without ``split`` count as train; rows without ``epoch`` are placed by ``step``, or
        by their position. Validation rows may be missing altogether.
    path : str or Path
        Where to write the PNG.
    keys : sequence of str, optional
        The terms to plot; default: every numeric key except those in :data:`SKIP_KEYS`
        (epoch, step, lr, time, examples_per_s), in first-seen order.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    A panel whose values are all positive and span more than two decades gets a
    logarithmic y axis. Non-finite values leave gaps.
    """
    rows = list(rows)
    if keys is None:
        keys = []
        for row in rows:
            keys += [k for k, v in row.items()
                     if k not in SKIP_KEYS and k not in keys and _is_number(v)]
    keys = list(keys)
    if any("epoch" in row for row in rows):
        xname = "epoch"
    elif any("step" in row for row in rows):
        xname = "step"
    else:
        xname = None
    cols = max(1, min(3, len(keys)))
    nrows = max(1, math.ceil(len(keys) / cols))
    fig = _figure(4.2 * cols, 3.0 * nrows)
    if not keys:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no metrics to plot", ha="center", va="center")
        ax.set_axis_off()
        return _save(fig, path)
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()
    for ax, key in zip(axes, keys):
        values = []
        for split, style in (("train", "-"), ("val", "--")):
            pts = sorted((float(row[xname]) if xname in row else float(i), float(row[key]))
                         for i, row in enumerate(rows)
                         if row.get("split", "train") == split and _is_number(row.get(key)))
            if not pts:
                continue
            xs, ys = map(np.asarray, zip(*pts))
            values.append(ys)
            ax.plot(xs, ys, style, color="C0" if split == "train" else "C1", label=split,
                    marker="o" if len(xs) <= 30 else None, ms=3)
        ax.set_title(key)
        ax.set_xlabel(xname or "row")
        ax.grid(alpha=0.3)
        if values:
            ax.legend(fontsize=8)
            allv = np.concatenate(values)
            allv = allv[np.isfinite(allv)]
            if allv.size and allv.min() > 0 and allv.max() / allv.min() > 100:
                ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    for ax in axes[len(keys):]:
        ax.set_axis_off()
    return _save(fig, path)


def _pca2(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Projection of ``z`` onto its first two principal components, and their variance share."""
    zc = z - z.mean(0)
    evals, evecs = np.linalg.eigh(zc.T @ zc)
    order = np.argsort(evals)[::-1][:2]
    total = evals.clip(min=0).sum()
    share = evals[order].clip(min=0) / total if total > 0 else np.zeros(2)
    return zc @ evecs[:, order], share


def latent_map(codes: Any, path: str | Path, *, labels: Any = None,
               class_names: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Write a scatter plot of latent codes, coloured by label.

    Parameters
    ----------
    codes : array or tensor
        ``(N, D)`` codes (higher-rank codes are flattened). ``D = 2`` gives a 2-D scatter,
        ``D = 3`` a 3-D scatter, ``D > 3`` a 2-D scatter of the first two principal
        components (axes "PC1", "PC2", with their share of the variance), ``D = 1`` a
        histogram (one per class). Rows with non-finite values are left out.
    path : str or Path
        Where to write the PNG.
    labels : array or tensor, optional
        ``(N,)`` labels. Up to 20 distinct integer labels get discrete colours and a legend;
        other labels (many classes, real values) a continuous colour scale with a colour
        bar.
    class_names : sequence of str, optional
        Legend names for integer labels ``0 .. K-1``.
    title : str, optional
        Plot title.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``codes`` is empty or ``labels`` has a different length.
    """
    z = _np(codes).astype(np.float64)
    if z.ndim == 1:
        z = z[:, None]
    z = z.reshape(len(z), -1)
    if z.size == 0:
        raise ValueError(f"latent_map got no codes (shape {z.shape})")
    lab = None
    if labels is not None:
        lab = _np(labels).reshape(-1)
        if len(lab) != len(z):
            raise ValueError(f"latent_map: {len(lab)} labels for {len(z)} codes")
    keep = np.isfinite(z).all(1)
    if lab is not None and lab.dtype.kind == "f":
        keep &= np.isfinite(lab)
    z = z[keep]
    lab = None if lab is None else lab[keep]
    dropped = int((~keep).sum())

    names = [f"z{i + 1}" for i in range(min(z.shape[1], 3))]
    if z.shape[1] > 3:
        z, share = _pca2(z)
        names = [f"PC{i + 1} ({100 * s:.0f}% of variance)" for i, s in enumerate(share)]
    # random drawing order, so no class hides under the one drawn last
    order = np.random.default_rng(0).permutation(len(z))
    z = z[order]
    lab = None if lab is None else lab[order]

    discrete = None
    if lab is not None:
        values = np.unique(lab)
        integer = lab.dtype.kind in "iub" or (lab.dtype.kind == "f"
                                                and np.all(values == np.round(values)))
        if integer and len(values) <= 20:
            discrete = values
    cmap = matplotlib.colormaps["tab10" if discrete is None or len(discrete) <= 10
                                else "tab20"]

    def name_of(v: Any) -> str:
        iv = int(v)
        if class_names is not None and 0 <= iv < len(class_names):
            return str(class_names[iv])
        return str(iv)

    three = z.shape[1] == 3
    fig = _figure(6.8, 5.4)
    ax = fig.add_subplot(projection="3d" if three else None)
    n = len(z)
    size = 14.0 if n <= 1000 else 5.0 if n <= 10000 else 1.5
    alpha = 0.85 if n <= 10000 else 0.5
    handles = []
    if z.shape[1] == 1:
        bins = np.histogram_bin_edges(z[:, 0], bins=min(60, max(10, int(math.sqrt(n)))))
        if discrete is not None:
            for k, v in enumerate(discrete):
                ax.hist(z[lab == v, 0], bins=bins, histtype="step", lw=1.4, color=cmap(k),
                        label=name_of(v))
            ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
        else:
            ax.hist(z[:, 0], bins=bins, color="C0", alpha=0.8)
        ax.set_ylabel("count")
    elif lab is None:
        ax.scatter(*z.T, s=size, alpha=alpha, color="C0", linewidths=0)
    elif discrete is not None:
        index = np.searchsorted(discrete, lab)
        ax.scatter(*z.T, s=size, alpha=alpha, c=cmap(index), linewidths=0)
        handles = [Line2D([], [], ls="", marker="o", ms=6, color=cmap(k), label=name_of(v))
                   for k, v in enumerate(discrete)]
        ax.legend(handles=handles, fontsize=8, loc="center left",
                  bbox_to_anchor=(1.08 if three else 1.01, 0.5), title="label")
    else:
        mappable = ax.scatter(*z.T, s=size, alpha=alpha, c=lab.astype(np.float64),
                              cmap="viridis", linewidths=0)
        fig.colorbar(mappable, ax=ax, label="label", shrink=0.8)
    ax.set_xlabel(names[0])
    if z.shape[1] > 1:
        ax.set_ylabel(names[1])
        ax.grid(alpha=0.3)
    if three:
        ax.set_zlabel(names[2])
    heading = title or ""
    if dropped:
        heading += f"{' ' if heading else ''}({dropped} non-finite codes left out)"
    if heading:
        ax.set_title(heading)
    return _save(fig, path)


def bar_chart(values: Any, path: str | Path, *, labels: Sequence[str] | None = None,
              title: str | None = None, ylabel: str | None = None) -> Path:
    """Write a bar chart, e.g. the KL divergence per latent dimension.

    Parameters
    ----------
    values : array, tensor or sequence
        One value per bar (flattened).
    path : str or Path
        Where to write the PNG.
    labels : sequence of str, optional
        One tick label per bar; default: the index ``0 .. N-1``.
    title, ylabel : str, optional
        Plot title and y-axis label.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``labels`` has a different length than ``values``.
    """
    v = _np(values).astype(np.float64).reshape(-1)
    if labels is not None and len(labels) != len(v):
        raise ValueError(f"bar_chart: {len(labels)} labels for {len(v)} values")
    n = len(v)
    fig = _figure(min(14.0, max(4.5, 0.3 * n + 1.5)), 3.4)
    ax = fig.add_subplot()
    pos = np.arange(n)
    bars = ax.bar(pos, v, color="C0")
    if n <= 40 or labels is not None:
        ax.set_xticks(pos)
        ax.set_xticklabels([str(t) for t in labels] if labels is not None
                           else [str(i) for i in pos],
                           fontsize=7, rotation=90 if n > 16 else 0)
    if 0 < n <= 16:
        ax.bar_label(bars, fmt="%.3g", fontsize=7, padding=1)
    if title:
        ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _save(fig, path)


def histogram(values: Any, path: str | Path, *, threshold: float | None = None,
              title: str | None = None, xlabel: str | None = None,
              counts: Any = None) -> Path:
    """Write a histogram, optionally with a vertical threshold line (e.g. anomaly scores).

    Parameters
    ----------
    values : array, tensor or sequence
        The values (flattened); non-finite values are left out and counted in the title.
    path : str or Path
        Where to write the PNG.
    threshold : float, optional
        Draws a dashed vertical line, labelled with the share of values above it.
    title, xlabel : str, optional
        Plot title and x-axis label.
    counts : array, optional
        Counts already binned: then ``values`` are the bin edges (one more than the
        counts), e.g. from :class:`aekit.metrics.score_summary.StreamingHistogram`.

    Returns
    -------
    Path
        ``path``.
    """
    if counts is not None:
        edges = _np(values).astype(np.float64).reshape(-1)
        w = _np(counts).astype(np.float64).reshape(-1)
        v = (edges[:-1] + edges[1:]) / 2  # each bin's count drawn at its centre
    else:
        v = _np(values).astype(np.float64).reshape(-1)
        w = np.ones_like(v)
    finite = v[np.isfinite(v)]
    w = w[np.isfinite(v)]
    fig = _figure(6.0, 3.6)
    ax = fig.add_subplot()
    if finite.size:
        ax.hist(finite, weights=w, color="C0", alpha=0.85,
                bins=edges if counts is not None else
                min(100, max(10, int(math.sqrt(finite.size)))))
    else:
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
    if threshold is not None:
        above = float(w[finite > threshold].sum() / w.sum()) if finite.size else 0.0
        ax.axvline(float(threshold), color="C3", ls="--", lw=1.5,
                   label=f"threshold {float(threshold):.4g} ({100 * above:.1f}% above)")
        ax.legend(fontsize=8)
    heading = title or ""
    if finite.size < v.size:
        heading += f"{' ' if heading else ''}({v.size - finite.size} non-finite left out)"
    if heading:
        ax.set_title(heading)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _save(fig, path)


def line_plot(x: Any, ys: Mapping[str, Any], path: str | Path, *, xlabel: str, ylabel: str,
              title: str | None = None) -> Path:
    """Write named lines against a shared x (ROC and PR curves, rate-distortion, ...).

    Parameters
    ----------
    x : array, tensor or sequence, or None
        The shared x values. May be None if every value of ``ys`` is an ``(x, y)`` pair.
    ys : dict of str to array
        Legend name to y values (same length as ``x``), or to an ``(x, y)`` pair for a line
        with its own x values (e.g. ROC curves of several models).
    path : str or Path
        Where to write the PNG.
    xlabel, ylabel : str
        Axis labels.
    title : str, optional
        Plot title.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If a line's x and y have different lengths.
    """
    fig = _figure(5.8, 4.2)
    ax = fig.add_subplot()
    for name, y in ys.items():
        if isinstance(y, tuple) and len(y) == 2:
            xs, yv = _np(y[0]).reshape(-1), _np(y[1]).reshape(-1)
        else:
            if x is None:
                raise ValueError(f"line_plot: line {name!r} has no x values")
            xs, yv = _np(x).reshape(-1), _np(y).reshape(-1)
        if len(xs) != len(yv):
            raise ValueError(f"line_plot: line {name!r} has {len(yv)} y values for "
                             f"{len(xs)} x values")
        ax.plot(xs, yv, label=str(name), marker="o" if len(yv) <= 30 else None, ms=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if ys:
        ax.legend(fontsize=8)
    return _save(fig, path)


def series_scores(values: Any, scores: Any, path: str | Path, *, threshold: float,
                  labels: Any = None, channel_names: Sequence[str] | None = None,
                  title: str | None = None) -> Path:
    """Write a series above its per-step anomaly scores, the flagged spans shaded.

    Parameters
    ----------
    values : array, tensor or sequence
        The series, ``(T,)`` or ``(T, C)`` (at most 8 channels are drawn, one line each).
    scores : array, tensor or sequence
        Per-step scores ``(T,)``.
    path : str or Path
        Where to write the PNG.
    threshold : float
        Drawn as a dashed line under the scores; the runs of steps above it are shaded
        (colour :data:`FLAG_COLOR`) on both panels.
    labels : array, optional
        Known 0/1 labels ``(T,)``: their runs are marked by a bar under the score panel.
    channel_names : sequence of str, optional
        Legend names of the channels.
    title : str, optional
        Title of the figure.

    Returns
    -------
    Path
        ``path``.
    """
    from aekit.data.series import flagged_spans

    v = _np(values).astype(np.float64)
    v = v[:, None] if v.ndim == 1 else v
    s = _np(scores).astype(np.float64).reshape(-1)
    if len(s) != len(v):
        raise ValueError(f"series_scores: {len(s)} scores for {len(v)} steps")
    t = np.arange(len(s))
    fig = _figure(9.0, 4.8)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    for c in range(min(v.shape[1], 8)):
        name = channel_names[c] if channel_names is not None else f"channel {c}"
        top.plot(t, v[:, c], lw=0.8, label=name)
    if v.shape[1] > 1:
        top.legend(fontsize=7, loc="upper right")
    top.set_ylabel("value")
    bottom.plot(t, s, lw=0.8, color="C0", label="score")
    bottom.axhline(float(threshold), color="C3", ls="--", lw=1.2,
                   label=f"threshold {float(threshold):.4g}")
    spans = flagged_spans(s > threshold)
    for ax in (top, bottom):
        for a, b in spans:
            ax.axvspan(a - 0.5, b - 0.5, color=FLAG_COLOR, lw=0, zorder=0)
    if labels is not None:
        lab = _np(labels).reshape(-1)
        for i, (a, b) in enumerate(flagged_spans(lab)):
            bottom.axvspan(a - 0.5, b - 0.5, ymin=0, ymax=0.04, color="C2", lw=0,
                           label="labelled anomaly" if i == 0 else None)
    bottom.legend(fontsize=7, loc="upper right")
    bottom.set_xlabel("time step")
    bottom.set_ylabel("anomaly score")
    if title:
        top.set_title(f"{title} ({len(spans)} flagged span{'s' if len(spans) != 1 else ''})")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.set_axisbelow(True)
    return _save(fig, path)
