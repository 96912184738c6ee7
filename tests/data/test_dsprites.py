"""The dSprites-style generator: design, determinism, and that each factor does what it says."""

import numpy as np
import pytest

from aekit.data.dsprites import FACTOR_SIZES, DSprites, dsprites_from_source
from aekit.errors import ConfigError


def test_full_design_and_binary_images():
    sprites = DSprites()
    assert sprites.factor_sizes == FACTOR_SIZES == (3, 6, 40, 32, 32)
    assert sprites.num_combinations == 737_280
    data = sprites.sample(20, seed=0)
    assert data.x.shape == (20, 1, 64, 64)
    assert set(np.unique(data.x.numpy())) <= {0.0, 1.0}
    factors = data.meta["factors"]
    assert factors.shape == (20, 5) and factors.dtype == np.int64
    assert (data.y.numpy() == factors[:, 0]).all()
    assert data.class_names == ["square", "ellipse", "heart"]
    assert all(img.sum() > 0 for img in data.x)  # every shape is visible


def test_seeded_and_reproducible():
    a, b = DSprites(32).sample(30, seed=5), DSprites(32).sample(30, seed=5)
    assert (a.x == b.x).all() and (a.meta["factors"] == b.meta["factors"]).all()
    assert not (DSprites(32).sample(30, seed=6).x == a.x).all()


def centroid(img):
    ys, xs = np.nonzero(img[0])
    return xs.mean(), ys.mean()


def test_each_factor_changes_the_image_as_described():
    s = DSprites(64)
    base = np.array([[0, 2, 0, 16, 16]])

    def with_(**kw):
        f = base.copy()
        for name, value in kw.items():
            f[0, s.factor_names.index(name)] = value
        return s.render(f)[0]

    # scale: area grows with scale^2 (square: exact up to pixelisation)
    small, large = with_(scale=0).sum(), with_(scale=5).sum()
    assert large / small == pytest.approx((1.0 / 0.5) ** 2, rel=0.15)
    # position: x moves right, y moves down
    assert centroid(with_(pos_x=31))[0] > centroid(with_(pos_x=0))[0] + 20
    assert centroid(with_(pos_y=31))[1] > centroid(with_(pos_y=0))[1] + 20
    # orientation: a square turned by 45 degrees (index 5 of 40) differs, by 90 it is the same
    assert (with_(orientation=5) != with_(orientation=0)).any()
    assert (with_(orientation=10) != with_(orientation=0)).mean() < 0.01
    # shapes differ from each other
    shapes = [with_(shape=k) for k in range(3)]
    assert all((shapes[i] != shapes[j]).any() for i in range(3) for j in range(i + 1, 3))


def test_shapes_stay_inside_the_image():
    s = DSprites(64)
    corners = np.array([[sh, 5, o, x, y] for sh in range(3) for o in range(40)
                        for x in (0, 31) for y in (0, 31)])
    imgs = s.render(corners)
    border = np.concatenate([imgs[:, 0, 0], imgs[:, 0, -1], imgs[:, 0, :, 0], imgs[:, 0, :, -1]],
                            axis=1)
    assert border.sum() == 0


def test_small_resolutions_and_reduced_factors():
    s = DSprites(16, factor_sizes={"orientation": 4, "pos_x": 8, "pos_y": 8})
    assert s.factor_sizes == (3, 6, 4, 8, 8)
    f = s.all_factors()
    assert f.shape == (3 * 6 * 4 * 8 * 8, 5)
    assert len(np.unique(f, axis=0)) == len(f)
    assert s.render(f[:10]).shape == (10, 1, 16, 16)
    sampled = s.sample_factors(1000, 0)
    assert (sampled.max(0) < np.array(s.factor_sizes)).all() and sampled.min() >= 0


def test_errors_name_the_factor():
    with pytest.raises(ConfigError, match="orientation"):
        DSprites(factor_sizes={"orientation": 41})
    with pytest.raises(ConfigError, match="unknown factor 'colour'"):
        DSprites(factor_sizes={"colour": 2})
    with pytest.raises(ConfigError, match="'scale' of row 0"):
        DSprites(16).render([[0, 6, 0, 0, 0]])
    with pytest.raises(ConfigError, match="resolution"):
        DSprites(2)


def test_source_strings():
    sprites, data = dsprites_from_source("dsprites:16", n=12, seed=1)
    assert sprites.resolution == 16 and data.x.shape == (12, 1, 16, 16)
    with pytest.raises(ConfigError, match="integer"):
        dsprites_from_source("dsprites:big")
