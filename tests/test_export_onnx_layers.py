"""ONNX export of the convolutional and recurrent layer families, checked by running the files.

Each supported layer (and its options: strides, "same" padding with the extra zero after,
dilation, channels-last and channels-first, causal, pooling that does not count padding, ...)
is exported in a small model with random weights (moving statistics included), run by
onnxruntime at batch sizes 1 and 3 through one file (the batch dimension is dynamic) and
compared with ``model.predict`` within 1e-5 (float32). Layers that cannot export raise a
ValueError naming them and saying why. The CLI exports a saved convnet.
"""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn import Sequential
from scratchnn.export import to_onnx
from scratchnn.layers import (
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Flatten,
    GaussianNoise,
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
from test_export_onnx import TOL, cli, session

onnx = pytest.importorskip("onnx", reason="ONNX export tests need onnx (the 'onnx' extra)")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests run files with onnxruntime")

BATCH_SIZES = (1, 3)


def randomize(model, rng):
    """Random weights everywhere: N(0, 0.5^2), and positive variances for batch norms (the
    moving statistics are weights too, so inference really uses them)."""
    model.load_weight_dict({
        name: (np.abs(rng.normal(size=w.shape)) + 0.1 if name.endswith("moving_variance")
               else rng.normal(size=w.shape) * 0.5).astype(w.dtype)
        for name, w in model.weight_dict().items()
    })  # fmt: skip


def exported_matches_predict(model, sample_shape, seed=0, inputs=None):
    """Export ``model``, run it in onnxruntime at each batch size; returns the largest
    difference from ``predict``."""
    rng = np.random.default_rng(seed)
    proto = to_onnx(model)  # onnx.checker (full_check) runs inside
    run = session(proto)
    worst = 0.0
    for n in BATCH_SIZES:
        x = inputs(rng, n) if inputs else rng.normal(size=(n, *sample_shape)).astype(model.dtype)
        (got,) = run.run(["output"], {"input": x})
        expected = model.predict(x)
        assert got.shape == expected.shape == (n, *model.output_shape)
        np.testing.assert_allclose(got, expected, **TOL)
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def built(layers, sample_shape, seed=0, dtype="float32"):
    model = Sequential([Input(sample_shape), *layers], seed=seed, dtype=dtype)
    randomize(model, np.random.default_rng(seed + 100))
    return model


# --- the convolutional family -------------------------------------------------------------------

CONV_CASES = {
    "conv2d_valid_relu": ([Conv2D(4, 3, activation="relu"), Flatten()], (8, 8, 2)),
    "conv2d_same_stride2_odd_and_even": (
        [Conv2D(3, (3, 2), strides=2, padding="same", activation="tanh"), Flatten()], (7, 6, 2)),
    "conv2d_same_stride3_kernel4": ([Conv2D(2, 4, strides=3, padding="same")], (8, 7, 3)),
    "conv2d_dilated_same": ([Conv2D(4, 3, padding="same", dilation_rate=(2, 1))], (7, 6, 2)),
    "conv2d_explicit_padding_no_bias": (
        [Conv2D(3, 3, padding=((1, 0), (2, 1)), use_bias=False, activation="gelu")], (5, 6, 2)),
    "conv2d_channels_first": (
        [Conv2D(4, 3, strides=2, padding="same", data_format="channels_first"), Flatten()],
        (2, 7, 6)),
    "conv1d_valid": ([Conv1D(4, 3, activation="sigmoid")], (9, 3)),
    "conv1d_causal_dilated": ([Conv1D(4, 3, padding="causal", dilation_rate=2)], (9, 3)),
    "conv1d_same_stride2": ([Conv1D(2, 4, strides=2, padding="same")], (9, 3)),
    "conv1d_channels_first": ([Conv1D(2, 2, data_format="channels_first")], (3, 9)),
    "conv2d_transpose_same_stride2": ([Conv2DTranspose(3, 3, strides=2, padding="same")],
                                      (4, 5, 2)),
    "conv2d_transpose_kernel_below_stride": ([Conv2DTranspose(3, 2, strides=3, padding="same")],
                                             (4, 5, 2)),
    "conv2d_transpose_valid_dilated_relu": (
        [Conv2DTranspose(2, 3, strides=(2, 1), dilation_rate=(1, 2), activation="relu")],
        (3, 4, 2)),
    "conv2d_transpose_channels_first": (
        [Conv2DTranspose(2, 3, strides=2, padding="same", data_format="channels_first")],
        (2, 3, 4)),
    "max_pool2d": ([MaxPooling2D()], (6, 7, 3)),
    "max_pool2d_same_stride2": ([MaxPooling2D(3, strides=2, padding="same")], (7, 6, 2)),
    "max_pool2d_channels_first": ([MaxPooling2D((2, 3), data_format="channels_first")],
                                  (2, 6, 7)),
    "avg_pool2d": ([AveragePooling2D((2, 3), strides=1)], (5, 6, 2)),
    "avg_pool2d_same_excludes_padding": ([AveragePooling2D(3, strides=2, padding="same")],
                                         (7, 6, 2)),
    "max_pool1d_same": ([MaxPooling1D(3, strides=2, padding="same")], (8, 3)),
    "avg_pool1d_same_excludes_padding": ([AveragePooling1D(3, strides=2, padding="same")],
                                         (7, 2)),
    "global_avg_pool2d": ([GlobalAveragePooling2D()], (5, 6, 3)),
    "global_max_pool2d_keepdims_channels_first": (
        [GlobalMaxPooling2D(keepdims=True, data_format="channels_first")], (3, 5, 6)),
    "global_avg_pool1d_keepdims": ([GlobalAveragePooling1D(keepdims=True)], (7, 3)),
    "global_max_pool1d": ([GlobalMaxPooling1D()], (7, 3)),
    "batch_norm_channels_last": ([Conv2D(3, 2), BatchNormalization()], (5, 6, 2)),
    "batch_norm_axis1_without_center_and_scale": (
        [BatchNormalization(axis=1, center=False, scale=False)], (3, 5, 4)),
    "batch_norm_dense_features": ([Dense(4), BatchNormalization(epsilon=0.1)], (6,)),
    "reshape_to_sequence": ([Reshape((-1, 4)), Conv1D(2, 2)], (4, 6)),
    "zero_padding2d": ([ZeroPadding2D(((1, 2), (0, 3))), Conv2D(2, 2)], (4, 6, 3)),
    "zero_padding2d_channels_first": ([ZeroPadding2D(1, data_format="channels_first")],
                                      (3, 4, 5)),
    "upsampling2d": ([UpSampling2D((2, 3)), Conv2D(2, 2)], (4, 6, 3)),
    "upsampling2d_channels_first": ([UpSampling2D(2, data_format="channels_first")], (3, 4, 5)),
    "dropouts_and_noise_are_identities": (
        [SpatialDropout2D(0.3), GaussianNoise(0.2), Dropout(0.5), Flatten()], (4, 6, 3)),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_each_convolutional_family_layer_runs_in_onnxruntime_like_predict(case):
    layers, sample = CONV_CASES[case]
    assert exported_matches_predict(built(layers, sample), sample) < 1e-5


def mnist_convnet():
    """Keras' MNIST convnet example (untrained, random weights)."""
    return built([
        Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
        Flatten(), Dropout(0.5), Dense(10, activation="softmax"),
    ], (28, 28, 1), seed=3)  # fmt: skip


def test_the_keras_mnist_convnet_exports_and_flattens_in_channels_last_order():
    model = mnist_convnet()
    randomize(model, np.random.default_rng(4))
    # Weights N(0, 0.5^2) saturate the softmax; rescale the last Dense so outputs stay spread.
    model.layers[-1].kernel.data *= 0.01
    assert exported_matches_predict(model, (28, 28, 1)) < 1e-5
    # The graph keeps NHWC between layers: Flatten reads (N, 5, 5, 64) like predict does.
    proto = to_onnx(model)
    assert [n.op_type for n in proto.graph.node].count("Conv") == 2
    assert "Flatten" in [n.op_type for n in proto.graph.node]


def test_float64_convnets_export_as_float64_graphs():
    model = built([Conv2D(2, 3, padding="same"), MaxPooling2D(), Flatten(), Dense(2)],
                  (6, 6, 1), dtype="float64")  # fmt: skip
    proto = to_onnx(model)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_cli_exports_a_saved_convnet(tmp_path):
    model = built([Conv2D(4, 3, activation="relu"), MaxPooling2D(), BatchNormalization(),
                   Flatten(), Dense(3, activation="softmax")], (8, 8, 1), seed=5)  # fmt: skip
    model.save(tmp_path / "conv.snn")
    done = cli("export", tmp_path / "conv.snn", tmp_path / "conv.onnx", cwd=tmp_path)
    assert "input input (N, 8, 8, 1); outputs output (N, 3)" in done.stderr
    x = np.random.default_rng(1).normal(size=(3, 8, 8, 1)).astype(np.float32)
    (got,) = session(tmp_path / "conv.onnx").run(["output"], {"input": x})
    np.testing.assert_allclose(got, model.predict(x), **TOL)
