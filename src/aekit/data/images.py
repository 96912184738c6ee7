"""Folders of images; class sub-folders become labels.

Two layouts are understood::

    faces/                 digits/
        001.png                0/  a.png b.png ...
        002.png                1/  c.png ...
        ...                    ...

A flat folder gives unlabelled examples; a folder of class sub-folders gives one class
per sub-folder, in sorted order of the folder names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from aekit.data.dataset import Dataset
from aekit.data.validate import build_dataset
from aekit.errors import ConfigError, DataError

__all__ = ["IMAGE_SUFFIXES", "list_images", "load_image_folder"]

IMAGE_SUFFIXES: tuple[str, ...] = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
"""File name endings (case-insensitive) read as images; GIFs give their first frame."""

_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_WIDE_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}  # more than 8 bits per pixel
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees
_READ_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError,
                Image.DecompressionBombError)


def list_images(folder: str | Path) -> list[Path]:
    """The image files directly inside ``folder``, sorted by name (hidden files skipped).

    Parameters
    ----------
    folder : str or Path
        A directory.

    Returns
    -------
    list of Path
        Files whose suffix is one of :data:`IMAGE_SUFFIXES`.
    """
    return sorted(
        p for p in Path(folder).iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )


def _normalize_size(size: int | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, int | np.integer) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        height, width = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ConfigError(f"size must be an int or (height, width), got {size!r}") from None
    if height < 1 or width < 1:
        raise ConfigError(f"size must be positive, got {size!r}")
    return height, width


def _is_gray(im: Image.Image) -> bool:
    if im.mode in _GRAY_MODES:
        return True
    if im.mode in ("P", "PA"):
        palette = im.getpalette() or []
        return all(palette[k] == palette[k + 1] == palette[k + 2]
                   for k in range(0, len(palette) - 2, 3))
    return False


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    """(width, height) after applying the EXIF orientation, as loading will."""
    width, height = im.size
    try:
        orientation = im.getexif().get(0x0112)
    except Exception:  # a malformed EXIF block must not stop the load
        orientation = None
    return (height, width) if orientation in _SWAPPING_ORIENTATIONS else (width, height)


def _pixels(im: Image.Image, gray: bool) -> np.ndarray:
    """float32 ``(H, W)`` (gray) or ``(H, W, 3)`` in [0, 1]."""
    if im.mode in _WIDE_MODES:
        a = np.asarray(im, dtype=np.float32)
        if im.mode.startswith("I;16") or (im.mode == "I" and a.size and a.max() > 255):
            a = a / 65535.0
        elif im.mode == "I":
            a = a / 255.0
        a = np.clip(a, 0.0, 1.0)  # "F" images are taken to hold values in [0, 1]
        return a if gray else np.repeat(a[:, :, None], 3, axis=2)
    if im.mode == "PA":
        im = im.convert("RGBA")
    return np.asarray(im.convert("L" if gray else "RGB"), dtype=np.float32) / 255.0


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    if a.shape[:2] == (height, width):
        return a
    channels = [a] if a.ndim == 2 else [a[:, :, c] for c in range(a.shape[2])]
    out = [
        np.asarray(Image.fromarray(np.ascontiguousarray(ch), mode="F")
                   .resize((width, height), Image.Resampling.BILINEAR))
        for ch in channels
    ]
    return out[0] if a.ndim == 2 else np.stack(out, axis=2)


def load_image_folder(
    path: str | Path,
    *,
    size: int | tuple[int, int] | None = None,
    grayscale: bool | None = None,
) -> Dataset:
    """The images in a folder as ``(N, C, H, W)`` floats in [0, 1].

    Parameters
    ----------
    path : str or Path
        A folder of images (PNG, JPEG, BMP, GIF), or a folder of class sub-folders of
        images; then the sorted sub-folder names are the classes.
    size : int or (height, width), optional
        Resize every image (bilinear). Needed when the images differ in size.
    grayscale : bool, optional
        True: one channel (colour images are converted to luma). False: three RGB
        channels. Default: one channel when every image is grey, else RGB (grey images
        in a mixed folder are converted to RGB).

    Returns
    -------
    Dataset
        Labels and class names when there are class sub-folders. ``meta["files"]`` lists
        the image files (relative to ``path``) in example order. 8-bit images are divided
        by 255, 16-bit ones by 65535; alpha channels are dropped; EXIF rotations are
        applied.

    Raises
    ------
    DataError
        The folder is missing or holds no images, holds both loose images and class
        sub-folders, an image cannot be read (the file is named), or images differ in
        size and no ``size`` was given (two such files are named).
    ConfigError
        ``size`` is not a positive int or pair of ints.
    """
    folder = Path(path)
    if not folder.exists():
        raise DataError(f"no such directory: {folder}")
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of images")
    target = _normalize_size(size)

    loose = list_images(folder)
    class_dirs = sorted(
        d for d in folder.iterdir()
        if d.is_dir() and not d.name.startswith(".") and list_images(d)
    )
    if loose and class_dirs:
        raise DataError(
            f"{folder}: holds both images (e.g. {loose[0].name}) and class sub-folders of "
            f"images (e.g. {class_dirs[0].name}/); put every image in a class sub-folder, "
            "or move the sub-folders out for unlabelled images"
        )
    if class_dirs:
        items = [(f, k) for k, d in enumerate(class_dirs) for f in list_images(d)]
        class_names: list[str] | None = [d.name for d in class_dirs]
    else:
        items = [(f, -1) for f in loose]
        class_names = None
    if not items:
        raise DataError(f"{folder}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} "
                        "files in it and in its sub-folders)")

    # Pass 1: headers only. Finds unreadable files and size mismatches before decoding.
    grays: list[bool] = []
    first: tuple[Path, tuple[int, int]] | None = None
    for f, _ in items:
        try:
            with Image.open(f) as im:
                grays.append(_is_gray(im))
                dims = _oriented_size(im)
        except _READ_ERRORS as e:
            raise DataError(f"{f}: cannot read image ({e})") from None
        if target is None:
            if first is None:
                first = (f, dims)
            elif dims != first[1]:
                (w0, h0), (w1, h1) = first[1], dims
                raise DataError(
                    f"images differ in size: {first[0]} is {w0}x{h0} but {f} is {w1}x{h1} "
                    f"(width x height); resize them all: --image-size {h0}x{w0} on the "
                    f"command line, or size=(height, width) in Python, e.g. size=({h0}, {w0})"
                )
    gray = all(grays) if grayscale is None else bool(grayscale)

    # Pass 2: decode.
    arrays = []
    for f, _ in items:
        try:
            with Image.open(f) as im:
                im.seek(0)
                im = ImageOps.exif_transpose(im) or im
                a = _pixels(im, gray)
        except _READ_ERRORS as e:
            raise DataError(f"{f}: cannot read image ({e})") from None
        if target is not None:
            a = _resize(a, target)
        arrays.append(a[None] if gray else a.transpose(2, 0, 1))
    x = np.stack(arrays).astype(np.float32, copy=False)
    y = np.array([k for _, k in items], dtype=np.int64) if class_names else None
    return build_dataset(
        x,
        y,
        name=str(folder),
        class_names=class_names,
        meta={
            "format": "image_folder",
            "files": [str(f.relative_to(folder)) for f, _ in items],
        },
    )
