"""Folders of images; class sub-folders become labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from aekit.data.dataset import Dataset
from aekit.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_image_folder(path: str | Path, *, size: tuple[int, int] | int | None = None,
                      grayscale: bool | None = None) -> Dataset:
    """Images in ``path`` as ``(N, C, H, W)`` floats in [0, 1].

    With class sub-folders (``path/cat/*.png``, ``path/dog/*.png``) the sorted sub-folder
    names are the classes. ``size`` resizes every image (needed when sizes differ);
    ``grayscale`` forces one channel (default: one channel when every image is grey).
    """
    folder = Path(path)
    subdirs = sorted(d for d in folder.iterdir() if d.is_dir() and _files(d))
    if subdirs:
        items = [(f, k) for k, d in enumerate(subdirs) for f in _files(d)]
        class_names: list[str] | None = [d.name for d in subdirs]
    else:
        items = [(f, -1) for f in _files(folder)]
        class_names = None
    if not items:
        raise DataError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    if isinstance(size, int):
        size = (size, size)
    images = []
    for f, _ in items:
        try:
            with Image.open(f) as im:
                im.seek(0)
                images.append(im.convert("RGBA" if im.mode in ("P", "LA", "PA") else im.mode)
                              .copy())
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{f}: cannot read image ({e})") from None
    gray = grayscale if grayscale is not None else all(
        im.mode in ("L", "1", "I", "I;16", "F") for im in images)
    arrays, first = [], None
    for (f, _), im in zip(items, images):
        im = im.convert("L" if gray else "RGB")
        if size is not None:
            im = im.resize((size[1], size[0]), Image.BILINEAR)
        elif first is None:
            first = (f, im.size)
        elif im.size != first[1]:
            raise DataError(f"images differ in size: {first[0]} is {first[1][0]}x{first[1][1]}"
                            f" but {f} is {im.size[0]}x{im.size[1]}; pass size= to resize")
        a = np.asarray(im, dtype=np.float32) / 255.0
        arrays.append(a[None] if gray else a.transpose(2, 0, 1))
    x = torch.from_numpy(np.stack(arrays))
    y = torch.tensor([k for _, k in items], dtype=torch.int64) if class_names else None
    return Dataset(x, y, name=str(folder), class_names=class_names)
