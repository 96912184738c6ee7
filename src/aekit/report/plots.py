"""PNG plots for reports and commands; matplotlib figures without pyplot's global state.

Every function writes one PNG to ``path`` (creating parent folders) and returns the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

SKIP_KEYS = {"epoch", "step", "lr", "time", "examples_per_s", "split"}


def _np(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a)


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _as_images(images: Any) -> np.ndarray:
    """``(N, H, W, C)`` floats in [0, 1] from ``(N, C, H, W)`` or ``(N, H, W)``."""
    a = _np(images).astype(np.float32)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, C, H, W) with C = 1 or 3, or "
                         f"(N, H, W); got {a.shape} (vectors are not images)")
    return np.clip(a.transpose(0, 2, 3, 1), 0.0, 1.0)


def _grid_array(imgs: np.ndarray, nrow: int, pad: int = 1) -> np.ndarray:
    n, h, w, c = imgs.shape
    rows = -(-n // nrow)
    grid = np.ones((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), dtype=np.float32) * 0.5
    for k in range(n):
        r, col = divmod(k, nrow)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h,
             pad + col * (w + pad):pad + col * (w + pad) + w] = imgs[k]
    return grid


def image_grid(images: Any, path: str | Path, *, nrow: int | None = None,
               title: str | None = None, labels: Sequence[str] | None = None) -> Path:
    """A grid of images, upscaled with nearest neighbours so small images stay sharp."""
    imgs = _as_images(images)
    nrow = nrow or int(np.ceil(np.sqrt(len(imgs))))
    h = imgs.shape[1]
    scale = max(1, int(np.ceil(48 / h)))
    grid = _grid_array(imgs, nrow)
    grid = np.kron(grid, np.ones((scale, scale, 1), dtype=np.float32))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if title is None and labels is None:
        pixels = (grid * 255).round().astype(np.uint8)
        Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(path)
        return path
    fig = Figure(figsize=(grid.shape[1] / 80, grid.shape[0] / 80 + 0.4))
    ax = fig.add_subplot()
    ax.imshow(grid[..., 0] if grid.shape[2] == 1 else grid, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    if labels is not None:
        step_h, step_w = (h + 1) * scale, (imgs.shape[2] + 1) * scale
        for k, text in enumerate(labels[:len(imgs)]):
            r, col = divmod(k, nrow)
            ax.text(col * step_w + 2, r * step_h + 2, str(text), color="yellow",
                    fontsize=7, va="top")
    return _save(fig, path)


def image_strip(images: Any, path: str | Path, *, captions: Sequence[str] | None = None) -> Path:
    """One row of images (an interpolation, a traversal)."""
    imgs = _as_images(images)
    return image_grid(imgs.transpose(0, 3, 1, 2), path, nrow=len(imgs), labels=captions)


def reconstruction_pairs(originals: Any, reconstructions: Any, path: str | Path, *,
                         n: int = 16) -> Path:
    """Originals above their reconstructions (images), or overlaid profiles (vectors)."""
    x, r = _np(originals)[:n], _np(reconstructions)[:n]
    if x.ndim == 2:
        k = min(len(x), 6)
        fig = Figure(figsize=(10, 1.6 * k))
        for i in range(k):
            ax = fig.add_subplot(k, 1, i + 1)
            ax.plot(x[i], label="original", lw=1.2)
            ax.plot(r[i], label="reconstruction", lw=1.2, ls="--")
            if i == 0:
                ax.legend(loc="upper right", fontsize=7)
        return _save(fig, path)
    return image_grid(np.concatenate([x, r]), path, nrow=len(x),
                      title="top: original, bottom: reconstruction")


def loss_curves(rows: Sequence[Mapping[str, Any]], path: str | Path, *,
                keys: Sequence[str] | None = None) -> Path:
    """One panel per loss term, train and validation against epoch."""
    if keys is None:
        keys = []
        for row in rows:
            for k, v in row.items():
                if k not in SKIP_KEYS and isinstance(v, int | float) and k not in keys:
                    keys.append(k)
    keys = list(keys) or ["loss"]
    cols = min(3, len(keys))
    nrows = -(-len(keys) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.0 * nrows))
    for i, key in enumerate(keys):
        ax = fig.add_subplot(nrows, cols, i + 1)
        for split, style in (("train", "-"), ("val", "--")):
            pts = [(r["epoch"], r[key]) for r in rows if r.get("split") == split and key in r]
            if pts:
                ax.plot(*zip(*pts), style, label=split)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def latent_map(codes: Any, path: str | Path, *, labels: Any = None,
               class_names: Sequence[str] | None = None, title: str | None = None) -> Path:
    """2-D (or 3-D) scatter of codes coloured by label; more dimensions go through PCA."""
    z = _np(codes).astype(np.float64).reshape(len(_np(codes)), -1)
    axis_names = ["z1", "z2", "z3"]
    if z.shape[1] > 3:
        zc = z - z.mean(0)
        _, _, vt = np.linalg.svd(zc, full_matrices=False)
        z = zc @ vt[:2].T
        axis_names = ["PC1", "PC2"]
    elif z.shape[1] == 1:
        z = np.concatenate([z, np.zeros_like(z)], 1)
    three = z.shape[1] == 3
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot(projection="3d" if three else None)
    size = 6 if len(z) < 5000 else 2
    if labels is None:
        ax.scatter(*z.T, s=size, alpha=0.7)
    else:
        lab = _np(labels).reshape(-1)
        classes = np.unique(lab)
        colors = [f"C{k % 10}" for k in range(len(classes))]
        for k, c in enumerate(classes):
            m = lab == c
            name = class_names[int(c)] if class_names is not None and 0 <= int(c) < len(
                class_names) else str(c)
            ax.scatter(*z[m].T, s=size, alpha=0.7, color=colors[k], label=name)
        ax.legend(markerscale=3, fontsize=7, loc="best")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    if three:
        ax.set_zlabel(axis_names[2])
    if title:
        ax.set_title(title)
    return _save(fig, path)


def bar_chart(values: Any, path: str | Path, *, labels: Sequence[str] | None = None,
              title: str | None = None, ylabel: str | None = None) -> Path:
    """Bars, e.g. KL per latent dimension."""
    v = _np(values).reshape(-1)
    fig = Figure(figsize=(max(4.0, 0.35 * len(v) + 1.5), 3.2))
    ax = fig.add_subplot()
    ax.bar(np.arange(len(v)), v, color="C0")
    ax.set_xticks(np.arange(len(v)))
    ax.set_xticklabels(labels if labels is not None else [str(i) for i in range(len(v))],
                       fontsize=7, rotation=90 if len(v) > 20 else 0)
    if title:
        ax.set_title(title)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def histogram(values: Any, path: str | Path, *, threshold: float | None = None,
              title: str | None = None, xlabel: str | None = None) -> Path:
    """Histogram, with an optional vertical threshold line (e.g. anomaly scores)."""
    v = _np(values).reshape(-1)
    fig = Figure(figsize=(6, 3.4))
    ax = fig.add_subplot()
    ax.hist(v[np.isfinite(v)], bins=min(80, max(10, len(v) // 20)), color="C0", alpha=0.8)
    if threshold is not None:
        ax.axvline(threshold, color="C3", ls="--", label=f"threshold {threshold:.4g}")
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    return _save(fig, path)


def line_plot(x: Any, ys: Mapping[str, Any], path: str | Path, *, xlabel: str, ylabel: str,
              title: str | None = None) -> Path:
    """Named lines against one x (ROC and PR curves, rate-distortion ...)."""
    fig = Figure(figsize=(5.5, 4.0))
    ax = fig.add_subplot()
    for name, y in ys.items():
        xs = _np(x) if not isinstance(y, tuple) else _np(y[0])
        yv = _np(y) if not isinstance(y, tuple) else _np(y[1])
        ax.plot(xs, yv, label=name, marker="o" if len(yv) < 30 else None, ms=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(ys) > 1:
        ax.legend(fontsize=8)
    return _save(fig, path)
