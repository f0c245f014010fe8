"""Autoencoders (dense, convolutional, denoising), GaussianNoise, and per-layer gradient norms.

The autoencoder must beat PCA with the same code size on held-out digits: a linear code is what
PCA finds best, so beating it shows the non-linear encoder and decoder earn their keep.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

import scratchnn
from scratchnn import Sequential, datasets
from scratchnn.layers import Dense, Dropout, GaussianNoise
from scratchnn.models import Functional, conv_autoencoder, dense_autoencoder
from scratchnn.models.diagnostics import gradient_norms
from scratchnn.optimizers import Adam


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(1):  # small products: one thread is fastest, and steady when loaded
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = datasets.load_digits()
    x = (X / 16.0).astype("float32")
    return x[:1300], x[1300:], y[1300:]


def test_a_dense_autoencoder_beats_pca_with_the_same_code_size(digits):
    train, test, _ = digits
    pca = PCA(8).fit(train)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(test)) - test) ** 2)
    parts = dense_autoencoder(64, code_size=8, hidden=(64,), seed=0)
    parts.model.compile(optimizer=Adam(3e-3), loss="mse")
    parts.model.fit(train, train, epochs=60, batch_size=32, verbose=0)
    mse = np.mean((parts.reconstruct(test) - test) ** 2)
    assert mse < 0.85 * pca_mse, (mse, pca_mse)
    # the encoder and the decoder are models of their own, sharing the autoencoder's weights
    codes = parts.encoder.predict(test)
    assert codes.shape == (len(test), 8)
    np.testing.assert_allclose(parts.decoder.predict(codes), parts.reconstruct(test), rtol=1e-5,
                               atol=1e-6)
    assert parts.encoder.layers[1].weights["kernel"] is parts.model.layers[1].layers[1].weights[
        "kernel"]


def test_a_convolutional_autoencoder_trains_on_images(digits):
    images = digits[0].reshape(-1, 8, 8, 1)
    parts = conv_autoencoder((8, 8, 1), code_size=8, filters=(8, 16), seed=0)
    assert parts.encoder.output_shapes[0] == (8,)
    assert parts.decoder.output_shapes[0] == (8, 8, 1)
    parts.model.compile(optimizer=Adam(3e-3), loss="mse")
    loss = parts.model.fit(images, images, epochs=10, batch_size=32, verbose=0).history["loss"]
    assert loss[-1] < 0.5 * loss[0]
    with pytest.raises(ValueError, match="multiples of 4"):
        conv_autoencoder((10, 10, 1))


def test_a_denoising_autoencoder_adds_noise_in_training_only(digits):
    train, test, _ = digits
    parts = dense_autoencoder(64, code_size=8, hidden=(32,), noise_stddev=0.3, seed=0)
    noise = parts.model.layers[1]
    assert isinstance(noise, GaussianNoise) and noise.stddev == 0.3
    first = parts.model.predict(test[:5])
    np.testing.assert_array_equal(first, parts.model.predict(test[:5]))  # no noise in predict
    np.testing.assert_allclose(first, parts.decoder.predict(parts.encoder.predict(test[:5])),
                               rtol=1e-5, atol=1e-6)
    noisy = noise(test[:5], training=True).numpy()
    assert 0.2 < np.std(noisy - test[:5]) < 0.4
    parts.model.compile(optimizer=Adam(3e-3), loss="mse")
    parts.model.fit(train, train, epochs=20, batch_size=32, verbose=0)
    corrupted = test + np.random.default_rng(1).normal(0, 0.3, test.shape).astype("float32")
    # it cleans: the reconstruction of the corrupted digits is closer to the clean ones
    assert np.mean((parts.reconstruct(corrupted) - test) ** 2) < 0.5 * np.mean(
        (corrupted - test) ** 2)


def test_gaussian_noise_layer_checks_and_config():
    with pytest.raises(ValueError, match="stddev must be a finite number >= 0"):
        GaussianNoise(-1.0)
    layer = GaussianNoise(0.5, seed=3)
    assert layer.get_config()["stddev"] == 0.5 and layer.get_config()["seed"] == 3
    a = GaussianNoise(0.5, seed=3)(np.zeros((2, 3)), training=True).numpy()
    np.testing.assert_array_equal(a, layer(np.zeros((2, 3)), training=True).numpy())
    with pytest.raises(ValueError, match="needs a random generator"):
        GaussianNoise(0.5)(np.zeros((2, 3)), training=True)


@pytest.mark.parametrize("make", [
    lambda: dense_autoencoder(64, code_size=4, hidden=(16,), noise_stddev=0.1, seed=0),
    lambda: conv_autoencoder((8, 8, 1), code_size=4, filters=(4, 8), seed=0),
])  # fmt: skip
def test_autoencoders_round_trip_bit_for_bit(tmp_path, make, digits):
    parts = make()
    x = digits[0][:64]
    x = x if len(parts.model.input_shapes[0]) == 1 else x.reshape(-1, 8, 8, 1)
    parts.model.compile(optimizer="adam", loss="mse")
    parts.model.fit(x, x, epochs=1, batch_size=16, verbose=0)
    for model in (parts.model, parts.encoder, parts.decoder):
        path = tmp_path / f"{model.name}.snn"
        model.save(path)
        loaded = scratchnn.load_model(path)
        assert type(loaded) is Functional
        for (key, a), (key_b, b) in zip(model.weight_dict().items(),
                                        loaded.weight_dict().items(), strict=True):
            assert key == key_b
            np.testing.assert_array_equal(a, b)
    loaded = scratchnn.load_model(tmp_path / f"{parts.model.name}.snn")
    np.testing.assert_array_equal(loaded.predict(x), parts.model.predict(x))


def test_gradient_norms_are_the_norms_of_each_kernels_gradient():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 5)), rng.integers(0, 3, 32)
    model = Sequential([Dense(6, activation="sigmoid", input_dim=5), Dropout(0.5),
                        Dense(3, activation="softmax")], seed=0, dtype="float64")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    norms = gradient_norms(model, x, y)
    assert list(norms) == ["dense", "dense_1"]
    # by hand: the same loss, backward, the kernels' gradients
    for p in model.params:
        p.grad = None
    loss, _ = model.compute_loss(x, model._prepare(x, y).ys[0], None, training=False)
    loss.backward()
    kernels = [model.layers[0].weights["kernel"], model.layers[2].weights["kernel"]]
    np.testing.assert_allclose(list(norms.values()),
                               [np.linalg.norm(k.grad) for k in kernels], rtol=1e-12)
    before = model.get_weights()
    gradient_norms(model, x, y)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # nothing trained
    with pytest.raises(RuntimeError, match="compiled"):
        gradient_norms(Sequential([Dense(2, input_dim=5)]), x, y)
