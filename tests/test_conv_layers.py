"""Convolution, pooling, normalisation and reshaping layers: configs, shapes, files, training.

Covers the layer contract (``weight_shapes`` matches what ``build`` creates, ``get_config`` rebuilds
the layer, the registry names every class), BatchNormalization's non-trainable moving statistics
(no gradient, no optimizer update, updated by the layer, saved and loaded), a save -> load round
trip with bit-identical predictions, the errors bad input gets, and a small CNN on scikit-learn's
digits that reaches 97 % test accuracy through ``Sequential.fit`` in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from scratchnn import Sequential, Tensor, load_model, ops
from scratchnn.layers import (
    LAYERS,
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    Input,
    MaxPooling1D,
    MaxPooling2D,
    Reshape,
    SpatialDropout2D,
    UpSampling2D,
    ZeroPadding2D,
)

# class -> (constructor arguments, one sample's shape, expected output sample shape)
CASES = {
    Conv2D: (dict(filters=4, kernel_size=3, strides=2, padding="same"), (7, 6, 2), (4, 3, 4)),
    Conv1D: (dict(filters=3, kernel_size=2, dilation_rate=2, padding="causal"), (9, 2), (9, 3)),
    Conv2DTranspose: (dict(filters=2, kernel_size=3, strides=2, padding="same"), (3, 4, 5),
                      (6, 8, 2)),
    MaxPooling2D: (dict(pool_size=2), (7, 6, 3), (3, 3, 3)),
    AveragePooling2D: (dict(pool_size=3, strides=1, padding="same"), (5, 5, 2), (5, 5, 2)),
    MaxPooling1D: (dict(pool_size=3, strides=2), (9, 2), (4, 2)),
    AveragePooling1D: (dict(), (8, 2), (4, 2)),
    GlobalAveragePooling2D: (dict(), (4, 5, 3), (3,)),
    GlobalMaxPooling2D: (dict(keepdims=True), (4, 5, 3), (1, 1, 3)),
    GlobalAveragePooling1D: (dict(), (6, 3), (3,)),
    GlobalMaxPooling1D: (dict(), (6, 3), (3,)),
    BatchNormalization: (dict(momentum=0.9), (4, 4, 3), (4, 4, 3)),
    Reshape: (dict(target_shape=(-1, 2)), (3, 4), (6, 2)),
    UpSampling2D: (dict(size=(2, 3)), (2, 2, 1), (4, 6, 1)),
    ZeroPadding2D: (dict(padding=((1, 0), (2, 3))), (2, 2, 1), (3, 7, 1)),
    SpatialDropout2D: (dict(rate=0.5, seed=1), (3, 3, 4), (3, 3, 4)),
}


def test_every_new_layer_is_in_the_registry():
    assert set(CASES) <= set(LAYERS.values())
    for cls in CASES:
        assert LAYERS[cls.__name__] is cls


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_layer_contract_shapes_weights_and_config(cls):
    kwargs, sample, expected = CASES[cls]
    layer = cls(**kwargs)
    assert layer.compute_output_shape(sample) == expected
    layer.build(sample, rng=np.random.default_rng(0), dtype="float64")
    assert {k: w.shape for k, w in layer.weights.items()} == layer.weight_shapes(sample)
    x = np.random.default_rng(1).standard_normal((2, *sample))
    for training in (False, True):
        assert layer(x, training=training).shape == (2, *expected)
    config = layer.get_config()
    again = cls(**config)
    assert again.get_config() == config


def test_keras_defaults():
    conv = Conv2D(8, 3)
    assert conv.strides == (1, 1) and conv.padding == "valid" and conv.dilation_rate == (1, 1)
    assert conv.data_format == "channels_last" and conv.use_bias
    assert MaxPooling2D().strides == (2, 2) and MaxPooling2D(3).strides == (3, 3)
    bn = BatchNormalization()
    assert (bn.momentum, bn.epsilon, bn.axis) == (0.99, 1e-3, -1)
    assert conv.name.startswith("conv2d") and MaxPooling2D().name.startswith("max_pooling2d")


def keras_convnet(seed=0, input_shape=(28, 28, 1), dtype=None):
    """Keras' "Simple MNIST convnet"."""
    from scratchnn.layers import Dropout

    return Sequential([
        Input(input_shape),
        Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
        Flatten(), Dropout(0.5), Dense(10, activation="softmax"),
    ], seed=seed, dtype=dtype)


def test_summary_shows_the_output_shapes_and_keras_parameter_counts():
    text = keras_convnet().summary(print_fn=None)
    for shape in ["(None, 26, 26, 32)", "(None, 13, 13, 32)", "(None, 11, 11, 64)",
                  "(None, 5, 5, 64)", "(None, 1600)", "(None, 10)"]:
        assert shape in text
    assert "Total params: 34,826" in text  # Keras' summary of the same model


def test_batch_norm_moving_statistics_are_non_trainable_updated_saved_and_loaded(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4, 4, 2)) * 3 + 2
    y = rng.integers(0, 3, 64)
    model = Sequential([Input((4, 4, 2)), Conv2D(3, 2), BatchNormalization(momentum=0.5),
                        Flatten(), Dense(3, activation="softmax")], seed=0)
    bn = model.layers[1]
    assert set(bn.non_trainable) == {"moving_mean", "moving_variance"}
    assert not bn.moving_mean.requires_grad and not bn.moving_variance.requires_grad
    assert "Non-trainable params: 6" in model.summary(print_fn=None)
    bn.trainable = False
    bn.trainable = True  # unfreezing never makes the moving statistics trainable
    assert not bn.moving_mean.requires_grad and bn.gamma.requires_grad
    model.compile("adam", "sparse_categorical_crossentropy")
    gamma0 = bn.gamma.numpy().copy()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert not np.allclose(bn.gamma.numpy(), gamma0)  # trained
    assert not np.allclose(bn.moving_mean.numpy(), 0)  # moved by the layer
    # Adam never kept state for the moving statistics: they received no gradient.
    names = list(model.weight_dict())  # in the order of model.params
    for i in (names.index(f"{bn.name}/moving_mean"), names.index(f"{bn.name}/moving_variance")):
        assert model.optimizer._slots[i] is None
    model.save(tmp_path / "bn.snn")
    loaded = load_model(tmp_path / "bn.snn")
    for name, array in model.weight_dict().items():
        np.testing.assert_array_equal(loaded.weight_dict()[name], array)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_batch_norm_inference_uses_the_moving_statistics_and_frozen_layers_stay_in_inference():
    layer = BatchNormalization(center=False, scale=False)
    layer.build((2,), rng=np.random.default_rng(0), dtype="float64")
    layer.moving_mean.data[...] = [1.0, 2.0]
    layer.moving_variance.data[...] = [4.0, 9.0]
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    expected = (x - [1, 2]) / np.sqrt(np.array([4.0, 9.0]) + 1e-3)
    np.testing.assert_allclose(layer(x).numpy(), expected)
    layer.trainable = False
    np.testing.assert_allclose(layer(x, training=True).numpy(), expected)
    assert layer.moving_mean.numpy().tolist() == [1.0, 2.0]


def test_save_load_round_trip_of_a_conv_model_gives_bit_identical_predictions(tmp_path):
    model = Sequential([
        Input((10, 10, 3)),
        ZeroPadding2D(1), Conv2D(4, 3, strides=2, activation="relu"), BatchNormalization(),
        SpatialDropout2D(0.2), Conv2DTranspose(3, 2, strides=2, padding="same"),
        AveragePooling2D(2), UpSampling2D(2), MaxPooling2D(2, padding="same"),
        GlobalAveragePooling2D(), Reshape((3, 1)), Flatten(), Dense(2, activation="softmax"),
    ], seed=3)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((24, 10, 10, 3)), rng.integers(0, 2, 24)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "model.snn")
    loaded = load_model(tmp_path / "model.snn")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    seq = Sequential([Input((12, 2)), Conv1D(3, 3, padding="causal"), MaxPooling1D(2),
                      AveragePooling1D(3), GlobalMaxPooling1D(), Dense(1)], seed=0)
    seq.save(tmp_path / "seq.snn")
    z = rng.random((5, 12, 2))
    np.testing.assert_array_equal(load_model(tmp_path / "seq.snn").predict(z), seq.predict(z))


def test_a_standalone_conv_layer_needs_an_explicit_generator():
    with pytest.raises(ValueError, match=r"Layer 'c' \(Conv2D\) needs a numpy.random.Generator"):
        Conv2D(2, 3, name="c")(np.ones((1, 5, 5, 1)))
    layer = Conv2D(2, 3)
    layer.build((5, 5, 1), rng=np.random.default_rng(0))
    assert layer(np.ones((1, 5, 5, 1))).shape == (1, 3, 3, 2)
    with pytest.raises(ValueError, match="no random generator"):
        SpatialDropout2D(0.5)(np.ones((1, 2, 2, 1)), training=True)


def test_spatial_dropout_drops_whole_feature_maps():
    layer = SpatialDropout2D(0.5, seed=0)
    layer.build((4, 4, 16))
    out = layer(np.ones((8, 4, 4, 16)), training=True).numpy()
    per_map = out.transpose(0, 3, 1, 2).reshape(8 * 16, 16)  # one row per feature map
    assert set(np.unique(per_map)) == {0.0, 2.0}
    assert all(len(np.unique(m)) == 1 for m in per_map)  # all or nothing
    assert np.array_equal(layer(np.ones((8, 4, 4, 16))).numpy(), np.ones((8, 4, 4, 16)))


def test_float64_models_compute_in_float64():
    model = keras_convnet(input_shape=(12, 12, 1), dtype="float64")
    out = model.predict(np.ones((2, 12, 12, 1)))
    assert out.dtype == np.float64 and model.layers[0].kernel.dtype == np.float64


# --- bad input -----------------------------------------------------------------------------------


def test_kernel_larger_than_the_input_names_the_layer_shapes_and_fix():
    with pytest.raises(ValueError, match=(
        r"Layer 'big' \(Conv2D\): the window 5x5 .* larger than the padded input 3x3 "
        r"\(input shape \(3, 3\)\)\. .*padding='same'"
    )):
        Sequential([Input((3, 3, 1)), Conv2D(2, 5, name="big")], seed=0)
    with pytest.raises(ValueError, match=r"Layer 'p' \(MaxPooling2D\): the window 2x2"):
        Sequential([Input((1, 6, 1)), MaxPooling2D(name="p")], seed=0)
    layer = Conv2D(2, 3, name="c")  # built for 8x8 images, then fed 2x2 ones
    layer.build((8, 8, 1), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"Layer 'c' \(Conv2D\): the window 3x3 .* 2x2"):
        layer(np.ones((1, 2, 2, 1)))


@pytest.mark.parametrize("make", [
    lambda: Conv2D(4, 3, strides=0, name="s"),
    lambda: Conv1D(4, 3, strides=(0,), name="s"),
    lambda: MaxPooling2D(2, strides=0, name="s"),
])
def test_a_stride_of_zero_is_refused_at_construction(make):
    with pytest.raises(ValueError, match=r"Layer 's' \(\w+\): strides must be a positive integer "
                                         r".* received strides=.*0.*Use strides=1 or more"):
        make()


def test_a_rank_2_array_fed_to_conv2d_names_the_layer_shape_and_fix():
    layer = Conv2D(2, 3, name="c")
    layer.build((28, 28, 1), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=(
        r"Layer 'c' \(Conv2D\) expects a 4-D batch \(batch, height, width, channels\) \(built "
        r"for \(None, 28, 28, 1\)\); received an array of shape \(5, 784\)\. Reshape it, e\.g\. "
        r"x\.reshape\(-1, 28, 28, 1\)"
    )):
        layer(np.ones((5, 784)))
    model = keras_convnet()
    with pytest.raises(ValueError, match=(
        r"expects input of shape \(None, 28, 28, 1\); received x of shape \(5, 784\)\. Reshape "
        r"the samples, e\.g\. x\.reshape\(-1, 28, 28, 1\)"
    )):
        model.predict(np.ones((5, 784)))
    with pytest.raises(ValueError, match=(
        r"Layer 'conv2d(_\d+)?' \(Conv2D\) expects samples of shape \(height, width, channels\).*"
        r"received samples of shape \(784,\).*x\.reshape\(-1, 28, 28, 1\)"
    )):
        Sequential([Input((784,)), Conv2D(2, 3)], seed=0)


def test_a_channel_count_that_differs_from_the_built_layer_is_named():
    layer = Conv2D(2, 3, name="c")
    layer.build((8, 8, 3), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=(
        r"Layer 'c' \(Conv2D\) was built for samples with 3 channels \(None, 8, 8, 3\); "
        r"received a batch of shape \(2, 8, 8, 1\) with 1\. Feed 3-channel inputs"
    )):
        layer(np.ones((2, 8, 8, 1)))
    bn = BatchNormalization(name="bn")
    bn.build((4, 4, 3))
    with pytest.raises(ValueError, match=r"Layer 'bn' \(BatchNormalization\) was built for "
                                         r"inputs of shape \(None, 4, 4, 3\).*\(2, 4, 4, 2\)"):
        bn(np.ones((2, 4, 4, 2)))


def test_batch_norm_training_on_one_value_per_channel_names_the_layer_and_fix():
    model = Sequential([Input((3,)), BatchNormalization(name="bn"), Dense(1)], seed=0)
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=(
        r"Layer 'bn' \(BatchNormalization\) cannot normalise in training a batch that holds a "
        r"single value per channel \(input shape \(1, 3\).*batch_size >= 2"
    )):
        model.fit(np.ones((4, 3)), np.ones(4), batch_size=1, verbose=0)
    assert model.predict(np.ones((1, 3))).shape == (1, 1)  # inference is fine


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="padding must be 'valid', 'same'"):
        Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="'causal'"):
        Conv1D(2, 3, padding="nope")
    with pytest.raises(ValueError, match="data_format must be"):
        MaxPooling2D(data_format="NCHW")
    with pytest.raises(ValueError, match="axis must be the channel axis"):
        BatchNormalization(axis=0)
    with pytest.raises(ValueError, match="momentum must be a number in"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="cannot reshape samples of shape"):
        Sequential([Input((5,)), Reshape((2, 2))], seed=0)
    with pytest.raises(ValueError, match="interpolation must be 'nearest'"):
        UpSampling2D(interpolation="bilinear")


# --- training ------------------------------------------------------------------------------------


def test_a_small_cnn_learns_digits_to_97_percent():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8, 1)
    x_tr, x_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    model = Sequential([
        Input((8, 8, 1)),
        Conv2D(16, 3, padding="same", activation="relu"), BatchNormalization(), MaxPooling2D(2),
        Conv2D(32, 3, padding="same", activation="relu"), MaxPooling2D(2),
        Flatten(), Dense(10, activation="softmax"),
    ], seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    with threadpool_limits(1):  # tiny products: one BLAS thread is fastest (and steady)
        model.fit(x_tr, y_tr, epochs=15, batch_size=32, verbose=0)
    accuracy = np.mean(model.predict(x_te).argmax(axis=1) == y_te)
    assert accuracy >= 0.97, accuracy


def test_conv_layers_fuse_relu_into_the_convolution_node():
    layer = Conv2D(2, 3, activation="relu")
    layer.build((5, 5, 1), rng=np.random.default_rng(0))
    layer.bias.data[...] = [0.5, -0.5]
    x = np.random.default_rng(1).standard_normal((2, 5, 5, 1)).astype(np.float32)
    out = layer(x)
    assert out._op == "conv2d"  # one node: convolution, bias and relu
    plain = ops.relu(ops.conv2d(Tensor(x), layer.kernel, layer.bias))
    np.testing.assert_array_equal(out.numpy(), plain.numpy())
    assert (out.numpy() == 0).any() and (out.numpy() > 0).any()
