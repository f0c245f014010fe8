"""GANs: each of the two updates leaves the other network alone, a tiny GAN learns a 1-D Gaussian,
the MNIST-sized builders, sample grids and their GIF, and files that round-trip bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import scratchnn
from scratchnn import Sequential, io, plotting
from scratchnn.layers import Dense
from scratchnn.models import GAN, dcgan, dense_gan
from scratchnn.optimizers import Adam


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):  # small products: one thread is fastest, and steady when loaded
        yield


def gaussian_gan(seed: int = 0) -> GAN:
    """Smooth (tanh) networks: with them the spread settles (measured: 16 seeds of 16 within
    5 % after 40 epochs); with ReLU ones it keeps swinging by ±30 % from epoch to epoch."""
    g = Sequential([Dense(16, activation="tanh", input_dim=4), Dense(1)], name="generator",
                   seed=seed)
    d = Sequential([Dense(32, activation="tanh", input_dim=1), Dense(32, activation="tanh"),
                    Dense(1)], name="discriminator", seed=seed + 1)
    gan = GAN(g, d, seed=seed)
    gan.compile(d_optimizer=Adam(1e-3, beta_1=0.5), g_optimizer=Adam(1e-3, beta_1=0.5))
    return gan


def weights(model) -> dict[str, np.ndarray]:
    return model.weight_dict()


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def assert_all_changed(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for key in a:
        if "moving" not in key:
            assert not np.array_equal(a[key], b[key]), f"{key} was not updated"


@pytest.mark.parametrize("make", [
    lambda: gaussian_gan(),
    lambda: dcgan((8, 8, 1), latent_dim=8, filters=(8, 4), seed=0),  # BatchNorm in the generator
])  # fmt: skip
def test_each_update_changes_its_own_network_and_never_the_other(make):
    gan = make()
    if gan.d_optimizer is None:
        gan.compile(d_optimizer=Adam(1e-2), g_optimizer=Adam(1e-2))
    shape = gan.discriminator.input_shapes[0]
    real = np.random.default_rng(0).random((16, *shape)).astype("float32")
    fake = gan.generator(np.random.default_rng(1).normal(size=(16, gan.latent_dim)),
                         training=True)
    g0, d0 = weights(gan.generator), weights(gan.discriminator)
    logs = gan.discriminator_step(real, fake.data)
    g1, d1 = weights(gan.generator), weights(gan.discriminator)
    assert_same(g0, g1)  # the discriminator step never touches the generator
    assert_all_changed(d0, d1)
    assert set(logs) == {"d_loss", "d_real", "d_fake"} and 0 < logs["d_real"] < 1
    flags = [p.requires_grad for p in gan.discriminator.params]
    logs = gan.generator_step(fake)
    g2, d2 = weights(gan.generator), weights(gan.discriminator)
    assert_same(d1, d2)  # the generator step never touches the discriminator
    assert_all_changed(g1, g2)
    assert [p.requires_grad for p in gan.discriminator.params] == flags  # unfrozen again
    assert all(p.grad is None for p in gan.params)  # nothing left behind
    assert set(logs) == {"g_loss"}
    # a whole train_step changes both
    gan.train_on_batch(real)
    assert_all_changed(d2, weights(gan.discriminator))
    assert_all_changed(g2, weights(gan.generator))


def test_a_tiny_gan_learns_the_mean_and_spread_of_a_1d_gaussian():
    real = np.random.default_rng(0).normal(4.0, 1.25, size=(8192, 1))
    gan = gaussian_gan()
    history = gan.fit(real, batch_size=256, epochs=60, verbose=0).history
    samples = gan.generate(20000, seed=1)[:, 0]
    assert abs(samples.mean() - 4.0) < 0.1 * 4.0
    assert abs(samples.std() - 1.25) < 0.1 * 1.25
    assert len(history["d_loss"]) == 60 and np.isfinite(history["g_loss"]).all()
    # at the equilibrium the discriminator cannot tell: about ln 2 each
    assert abs(history["d_loss"][-1] - np.log(2)) < 0.1


def test_noise_comes_from_the_models_generator_or_fits_seed():
    real = np.random.default_rng(0).normal(size=(64, 1))
    a, b = gaussian_gan(seed=3), gaussian_gan(seed=3)
    a.fit(real, batch_size=16, epochs=2, verbose=0)
    b.fit(real, batch_size=16, epochs=2, verbose=0)
    assert_same(weights(a), weights(b))
    np.testing.assert_array_equal(a.generate(5, seed=0), b.generate(5, seed=0))
    c = gaussian_gan(seed=3)
    c.fit(real, batch_size=16, epochs=2, verbose=0, seed=9)
    assert not np.array_equal(weights(c)["generator/dense/kernel"],
                              weights(a)["generator/dense/kernel"])


def test_gan_errors_name_the_problem():
    g = Sequential([Dense(3, input_dim=2)], name="generator")
    with pytest.raises(ValueError, match="must match"):
        GAN(g, Sequential([Dense(1, input_dim=4)]))
    with pytest.raises(ValueError, match="one value per sample"):
        GAN(g, Sequential([Dense(2, input_dim=3)]))
    with pytest.raises(ValueError, match="built"):
        GAN(Sequential([Dense(3)]), Sequential([Dense(1, input_dim=3)]))
    gan = GAN(g, Sequential([Dense(1, input_dim=3)]))
    with pytest.raises(RuntimeError, match="compile"):
        gan.fit(np.zeros((4, 3)), verbose=0)
    gan.compile()
    with pytest.raises(ValueError, match="real samples of shape"):
        gan.fit(np.zeros((4, 5)), verbose=0)
    with pytest.raises(RuntimeError, match="no loss to evaluate"):
        gan.evaluate(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="either n"):
        gan.generate()


@pytest.mark.parametrize("make", [
    lambda: dense_gan((8, 8, 1), latent_dim=8, hidden=(16, 32), seed=0),
    lambda: dcgan((8, 8, 1), latent_dim=8, filters=(8, 4), seed=0),
])  # fmt: skip
def test_mnist_gans_train_draw_sample_grids_and_round_trip_bit_for_bit(tmp_path, make):
    gan = make()
    assert gan.generator.output_shapes[0] == (8, 8, 1)
    gan.compile(d_optimizer=Adam(2e-4, beta_1=0.5), g_optimizer=Adam(2e-4, beta_1=0.5))
    real = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")
    z = np.random.default_rng(1).normal(size=(16, 8)).astype("float32")
    grids = plotting.SampleGrids(tmp_path / "grids", z, prefix="gan")
    gan.fit(real, batch_size=16, epochs=2, verbose=0, callbacks=[grids])
    assert [p.name for p in grids.paths] == ["gan_epoch_001.png", "gan_epoch_002.png"]
    assert grids.gif_path == tmp_path / "grids" / "gan.gif"
    assert grids.gif_path.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    from PIL import Image

    with Image.open(grids.gif_path) as gif:
        assert gif.n_frames == 2
    samples = gan.generate(z=z)
    assert samples.shape == (16, 8, 8, 1) and 0 <= samples.min() and samples.max() <= 1
    path = tmp_path / "gan.snn"
    gan.save(path)
    header = io.read_file(path).header
    assert header["model_class"] == "GAN" and not header["optimizer_state"]
    loaded = scratchnn.load_model(path)
    assert type(loaded) is GAN and loaded.get_config() == gan.get_config()
    assert_same(weights(loaded), weights(gan))
    np.testing.assert_array_equal(loaded.generate(z=z), samples)
    np.testing.assert_array_equal(loaded.discriminate(real), gan.discriminate(real))
    assert loaded.compile_config() == gan.compile_config()
    loaded.fit(real, batch_size=16, epochs=1, verbose=0)  # trains on, fresh moments


# ------------------------------------------------------------------------ judging the samples
def test_classifier_score_is_the_inception_score_formula():
    from scipy.stats import entropy

    from scratchnn import metrics

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.full(10, 0.3), size=200)
    by_hand = np.exp(np.mean([entropy(row, p.mean(axis=0)) for row in p]))  # E KL(p(y|x)||p(y))
    assert metrics.classifier_score(p) == pytest.approx(by_hand, rel=1e-12)
    one_class = np.tile(np.eye(10)[3], (50, 1))
    assert metrics.classifier_score(one_class) == pytest.approx(1.0)  # mode collapse
    assert metrics.classifier_score(np.eye(10)[np.arange(50) % 10]) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="probabilities"):
        metrics.classifier_score(np.ones((3, 4)))


def test_frechet_distance_is_the_fid_formula():
    from scipy import linalg

    from scratchnn import metrics

    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 2.0
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    fid = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(
        ca + cb - 2 * np.real(linalg.sqrtm(ca @ cb)))
    assert metrics.frechet_distance(a, b) == pytest.approx(fid, rel=1e-9)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    dead = np.c_[a, np.zeros(len(a))]  # a feature that never varies: singular covariances
    assert np.isfinite(metrics.frechet_distance(dead, dead[::-1] + 1.0))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        metrics.frechet_distance(a, b[:, :3])
