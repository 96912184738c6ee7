"""Image folders: classes from sub-folders, channels, sizes, and located errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from aekit.data.images import list_images, load_image_folder
from aekit.errors import ConfigError, DataError


def _gray(value: int, shape=(6, 5)) -> np.ndarray:
    return np.full(shape, value, np.uint8)


def test_class_sub_folders_become_labels(tmp_path, write_image):
    for cls, value in (("dog", 255), ("cat", 0)):
        for k in range(2):
            write_image(tmp_path / cls / f"{k}.png", _gray(value))
    d = load_image_folder(tmp_path)
    assert d.x.shape == (4, 1, 6, 5) and d.x.dtype == torch.float32
    assert d.class_names == ["cat", "dog"] and d.y.tolist() == [0, 0, 1, 1]
    assert d.x[:2].max() == 0.0 and d.x[2:].min() == 1.0
    assert d.meta["files"] == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]


def test_flat_folder_has_no_labels_and_scales_to_unit_range(tmp_path, write_image):
    write_image(tmp_path / "a.png", np.array([[0, 51], [102, 255]], np.uint8))
    write_image(tmp_path / "b.bmp", _gray(7, (2, 2)))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"junk")
    d = load_image_folder(tmp_path)
    assert d.y is None and d.class_names is None and d.x.shape == (2, 1, 2, 2)
    torch.testing.assert_close(d.x[0, 0], torch.tensor([[0.0, 0.2], [0.4, 1.0]]))
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.bmp"]


def test_rgb_jpeg_and_gif_first_frame(tmp_path, write_image):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 255
    write_image(tmp_path / "red.jpg", rgb)
    frames = [Image.fromarray(_gray(v, (4, 4))).convert("P") for v in (200, 10)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    d = load_image_folder(tmp_path)
    assert d.x.shape == (2, 3, 4, 4)
    gif = d.x[0]  # anim.gif sorts first; a grey first frame is the same in every channel
    torch.testing.assert_close(gif, torch.full((3, 4, 4), 200 / 255), atol=0.02, rtol=0)
    red = d.x[1]
    assert red[0].min() > 0.9 and red[1:].max() < 0.1


def test_mixed_gray_and_rgb_becomes_rgb_unless_grayscale(tmp_path, write_image):
    write_image(tmp_path / "g.png", _gray(100, (3, 3)))
    write_image(tmp_path / "c.png", np.full((3, 3, 3), 100, np.uint8))
    d = load_image_folder(tmp_path)
    assert d.x.shape == (2, 3, 3, 3)
    torch.testing.assert_close(d.x[0], d.x[1])
    assert load_image_folder(tmp_path, grayscale=True).x.shape == (2, 1, 3, 3)
    assert load_image_folder(tmp_path / ".", grayscale=False).x.shape == (2, 3, 3, 3)


def test_rgba_palette_and_16_bit(tmp_path, write_image):
    write_image(tmp_path / "a.png", np.full((2, 2, 4), 255, np.uint8))
    assert load_image_folder(tmp_path).x.shape == (1, 3, 2, 2)
    (tmp_path / "a.png").unlink()
    Image.fromarray(np.full((2, 2), 65535 // 5, np.uint16)).save(tmp_path / "w.png")
    d = load_image_folder(tmp_path)
    assert d.x.shape == (1, 1, 2, 2)
    torch.testing.assert_close(d.x, torch.full((1, 1, 2, 2), 0.2))


def test_size_resizes_every_image(tmp_path, write_image):
    write_image(tmp_path / "a.png", _gray(255, (6, 5)))
    write_image(tmp_path / "b.png", _gray(255, (9, 9)))
    d = load_image_folder(tmp_path, size=(4, 3))
    assert d.x.shape == (2, 1, 4, 3)
    torch.testing.assert_close(d.x, torch.ones(2, 1, 4, 3))
    assert load_image_folder(tmp_path, size=8).x.shape == (2, 1, 8, 8)
    with pytest.raises(ConfigError, match="size must be"):
        load_image_folder(tmp_path, size=(0, 3))


def test_mixed_sizes_name_two_files_and_suggest_size(tmp_path, write_image):
    write_image(tmp_path / "cat" / "a.png", _gray(0, (6, 5)))
    write_image(tmp_path / "dog" / "odd.png", _gray(0, (9, 7)))
    with pytest.raises(DataError) as err:
        load_image_folder(tmp_path)
    msg = str(err.value)
    assert "cat/a.png is 5x6" in msg and "dog/odd.png is 7x9 (width x height)" in msg
    assert "size=(height, width)" in msg and "size=(6, 5)" in msg


def test_unreadable_image_is_named(tmp_path, write_image):
    write_image(tmp_path / "good.png", _gray(0))
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match=r"broken\.png: cannot read image"):
        load_image_folder(tmp_path)
    (tmp_path / "broken.png").unlink()
    good = (tmp_path / "good.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"truncated\.png: cannot read image"):
        load_image_folder(tmp_path)


def test_folder_errors(tmp_path, write_image):
    with pytest.raises(DataError, match="no images found"):
        load_image_folder(tmp_path)
    with pytest.raises(DataError, match="no such directory"):
        load_image_folder(tmp_path / "missing")
    write_image(tmp_path / "loose.png", _gray(0))
    write_image(tmp_path / "cls" / "x.png", _gray(0))
    with pytest.raises(DataError, match=r"holds both images \(e\.g\. loose\.png\) and class "
                                        r"sub-folders"):
        load_image_folder(tmp_path)


def test_exif_rotation_is_applied(tmp_path):
    image = Image.fromarray(np.zeros((2, 4, 3), np.uint8))  # 4 wide, 2 high
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    image.save(tmp_path / "r.jpg", exif=exif)
    Image.fromarray(np.zeros((4, 2, 3), np.uint8)).save(tmp_path / "s.jpg")
    d = load_image_folder(tmp_path)
    assert d.x.shape == (2, 3, 4, 2)
