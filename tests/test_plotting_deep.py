"""The pictures of the deep architectures: image grids and rows, RBM filters, 2-D code spaces,
gradient norms per layer, and animated GIFs. Each is written as a real file and read back; a cut
title fails (``PlotLayoutWarning`` is an error in this suite)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import image as mpimg
from PIL import Image

from scratchnn import plotting


def read(path):
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and float(np.std(pixels)) > 0.01, f"{path} looks blank"
    return pixels


def test_image_grid_lays_tiles_out_in_one_mosaic(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((10, 8, 8))
    fig = plotting.plot_image_grid(images, tmp_path / "grid.png", cols=5, title="ten digits")
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.shape == (2 * 8 + 1, 5 * 8 + 4)
    np.testing.assert_allclose(mosaic[:8, 9:17], images[1])  # second tile, after 1 pixel gap
    assert read(tmp_path / "grid.png").shape[:2] == (640, 600)
    rows = plotting.plot_image_grid(images.reshape(10, 64), image_shape=(8, 8), cols=5)
    np.testing.assert_array_equal(rows.axes[0].images[0].get_array(), mosaic)
    each = plotting.plot_image_grid(3 * images - 1, scale="each").axes[0].images[0].get_array()
    assert each.min() == 0.0 and each.max() == 1.0
    with pytest.raises(ValueError, match="cannot be read as images of shape"):
        plotting.plot_image_grid(images.reshape(10, 64), image_shape=(7, 7))
    with pytest.raises(ValueError, match="images"):
        plotting.plot_image_grid(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="scale"):
        plotting.plot_image_grid(images, scale="log")


def test_rbm_filters_are_the_kernels_columns_as_images(tmp_path):
    kernel = np.random.default_rng(0).normal(size=(64, 20))
    fig = plotting.plot_rbm_filters(kernel, (8, 8), tmp_path / "filters.png", max_filters=12)
    assert fig.get_suptitle() == "RBM filters: 12 of 20 hidden units, 8x8"
    tile = fig.axes[0].images[0].get_array()[:8, :8]
    first = kernel[:, 0].reshape(8, 8)
    np.testing.assert_allclose(tile, (first - first.min()) / (first.max() - first.min()))
    read(tmp_path / "filters.png")
    with pytest.raises(ValueError, match="kernel must be"):
        plotting.plot_rbm_filters(kernel, (7, 7))


def test_image_rows_label_each_row(tmp_path):
    x = np.random.default_rng(0).random((20, 64))
    fig = plotting.plot_image_rows(
        {"original": x, "noisy": np.clip(x + 0.3, 0, 1), "reconstructed": x[::-1]},
        tmp_path / "rows.png", image_shape=(8, 8), max_images=10, title="Denoising",
    )
    assert [ax.get_ylabel() for ax in fig.axes] == ["original", "noisy", "reconstructed"]
    assert fig.axes[0].images[0].get_array().shape == (8, 10 * 8 + 9)
    read(tmp_path / "rows.png")
    with pytest.raises(ValueError, match="at least one row"):
        plotting.plot_image_rows({})


def test_code_space_colours_each_class(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    codes = rng.normal(size=(300, 2)) + labels[:, None]
    fig = plotting.plot_code_space(codes, labels, tmp_path / "codes.png", title="codes")
    ax = fig.axes[0]
    assert len(ax.collections) == 10
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [str(d) for d in range(10)]
    read(tmp_path / "codes.png")
    with pytest.raises(ValueError, match="different numbers of samples"):
        plotting.plot_code_space(codes, labels[:5])


def test_gradient_norms_on_a_log_axis(tmp_path):
    norms = {"sigmoid, at init": [1e-7, 1e-5, 1e-3], "relu + He, at init": [0.2, 0.3, 0.25]}
    fig = plotting.plot_gradient_norms(
        norms, tmp_path / "grads.png", styles={"sigmoid, at init": ("C0", "--")})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.lines) == 2
    assert ax.lines[0].get_linestyle() == "--"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), norms["sigmoid, at init"])
    read(tmp_path / "grads.png")
    with pytest.raises(ValueError, match="finite positive"):
        plotting.plot_gradient_norms({"bad": [0.0, 1.0]})


def test_save_gif_animates_pngs_or_arrays(tmp_path):
    frames = []
    for k in range(3):
        frames.append(plotting.save_png(
            plotting.plot_image_grid(np.full((4, 6, 6), k / 2), title=f"frame {k}"),
            tmp_path / f"f{k}.png"))
    path = plotting.save_gif(frames, tmp_path / "anim.gif", fps=4)
    with Image.open(path) as gif:
        assert gif.n_frames == 3 and gif.size == (600, 640)
    arrays = plotting.save_gif([np.zeros((10, 12)), np.ones((10, 12))], tmp_path / "a.gif")
    with Image.open(arrays) as gif:
        assert gif.n_frames == 2 and gif.size == (12, 10)
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    with pytest.raises(ValueError, match="one shape"):
        plotting.save_gif([np.zeros((2, 2)), np.zeros((3, 3))], tmp_path / "b.gif")
    with pytest.raises(ValueError, match=r"\.gif file"):
        plotting.save_gif(frames, tmp_path / "b.png")
