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
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scratchnn import Sequential, ops
from scratchnn.export import LAYER_CONVERTERS, to_onnx
from scratchnn.export.recurrent import ONNX_ACTIVATIONS
from scratchnn.layers import (
    GRU,
    LAYERS,
    LSTM,
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Bidirectional,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    GaussianNoise,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    Input,
    Masking,
    MaxPooling1D,
    MaxPooling2D,
    Reshape,
    SimpleRNN,
    SpatialDropout2D,
    TimeDistributed,
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
    model = built([
        Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
        Flatten(), Dropout(0.5), Dense(10, activation="softmax"),
    ], (28, 28, 1), seed=3)  # fmt: skip
    # Weights N(0, 0.5^2) saturate the softmax; a smaller last kernel keeps the outputs spread.
    model.layers[-1].kernel.data *= 0.01
    return model


def test_the_keras_mnist_convnet_exports_and_flattens_in_channels_last_order():
    model = mnist_convnet()
    assert exported_matches_predict(model, (28, 28, 1)) < 1e-5
    # The graph keeps NHWC between layers: Flatten reads (N, 5, 5, 64) like predict does.
    proto = to_onnx(model)
    assert [n.op_type for n in proto.graph.node].count("Conv") == 2
    assert "Flatten" in [n.op_type for n in proto.graph.node]


def test_float64_models_export_as_float64_graphs():
    """The files are valid float64 ONNX; onnxruntime's CPU kernels of Conv, ConvTranspose,
    AveragePool, RNN, LSTM and GRU are float32 only, so only the others run here."""
    for layers, sample in (
        ([Conv2D(2, 3, padding="same"), AveragePooling2D(), Flatten(), Dense(2)], (6, 6, 1)),
        ([Conv2DTranspose(2, 2), Flatten()], (3, 3, 2)),
        ([Embedding(9, 3), LSTM(2, return_sequences=True), GRU(2, return_sequences=True),
          SimpleRNN(2)], (4,)),
    ):
        proto = to_onnx(built(layers, sample, dtype="float64"))
        assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    runs = built([ZeroPadding2D(1), MaxPooling2D(), BatchNormalization(), UpSampling2D(),
                  GlobalAveragePooling2D(keepdims=True), Reshape((-1,))], (5, 4, 3),
                 dtype="float64")  # fmt: skip
    assert exported_matches_predict(runs, (5, 4, 3)) < 1e-12


def test_cli_exports_a_saved_convnet(tmp_path):
    model = built([Conv2D(4, 3, activation="relu"), MaxPooling2D(), BatchNormalization(),
                   Flatten(), Dense(3, activation="softmax")], (8, 8, 1), seed=5)  # fmt: skip
    model.save(tmp_path / "conv.snn")
    done = cli("export", tmp_path / "conv.snn", tmp_path / "conv.onnx", cwd=tmp_path)
    assert "input input (N, 8, 8, 1); outputs output (N, 3)" in done.stderr
    x = np.random.default_rng(1).normal(size=(3, 8, 8, 1)).astype(np.float32)
    (got,) = session(tmp_path / "conv.onnx").run(["output"], {"input": x})
    np.testing.assert_allclose(got, model.predict(x), **TOL)


# --- the recurrent family -----------------------------------------------------------------------

RECURRENT = {"simple_rnn": SimpleRNN, "lstm": LSTM, "gru": GRU}
RECURRENT_OPTIONS = {
    "last_step": {},
    "sequences": {"return_sequences": True},
    "backwards": {"go_backwards": True},
    "backwards_sequences_no_bias": {"go_backwards": True, "return_sequences": True,
                                    "use_bias": False},
    "relu": {"activation": "relu"},
    "linear": {"activation": "linear", "return_sequences": True},
    "dropouts_unused_at_inference": {"dropout": 0.3, "recurrent_dropout": 0.2},
}  # fmt: skip


@pytest.mark.parametrize("options", sorted(RECURRENT_OPTIONS))
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_each_recurrent_layer_runs_in_onnxruntime_like_predict(kind, options):
    layer = RECURRENT[kind](4, **RECURRENT_OPTIONS[options])
    assert exported_matches_predict(built([layer], (6, 3), seed=7), (6, 3)) < 1e-5


GATED_CASES = {
    "gru_reset_before": ([GRU(3, reset_after=False, return_sequences=True)], (5, 2)),
    "gru_recurrent_activations_swapped": (
        [GRU(3, activation="sigmoid", recurrent_activation="tanh")], (5, 2)),
    "lstm_recurrent_activations_swapped": (
        [LSTM(3, activation="sigmoid", recurrent_activation="tanh")], (5, 2)),
    "lstm_linear_gates": ([LSTM(3, recurrent_activation="linear")], (5, 2)),
    "stacked_lstm_gru_dense": (
        [LSTM(5, return_sequences=True), GRU(4), Dense(2, activation="softmax")], (7, 3)),
    "bidirectional_concat_sequences": (
        [Bidirectional(GRU(3, return_sequences=True))], (5, 2)),
    "bidirectional_sum_last": ([Bidirectional(LSTM(3), merge_mode="sum")], (5, 2)),
    "bidirectional_mul_sequences": (
        [Bidirectional(SimpleRNN(3, return_sequences=True), merge_mode="mul")], (5, 2)),
    "bidirectional_ave_last": ([Bidirectional(LSTM(3), merge_mode="ave")], (5, 2)),
    "bidirectional_other_backward_layer": (
        [Bidirectional(LSTM(3), backward_layer=SimpleRNN(2, go_backwards=True))], (5, 2)),
    "time_distributed_dense": ([TimeDistributed(Dense(3, activation="relu")), SimpleRNN(2)],
                               (5, 4)),
    "time_distributed_conv1d": ([TimeDistributed(Conv1D(2, 2)), Flatten()], (5, 4, 3)),
    "conv1d_then_lstm": ([Conv1D(4, 3, padding="causal"), MaxPooling1D(), LSTM(3)], (8, 2)),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(GATED_CASES))
def test_gated_bidirectional_and_time_distributed_models_run_like_predict(case):
    layers, sample = GATED_CASES[case]
    assert exported_matches_predict(built(layers, sample, seed=11), sample) < 1e-5


def test_an_embedding_and_lstm_text_model_runs_on_float_ids_like_predict():
    model = built([Embedding(12, 5), LSTM(4), Dense(3, activation="softmax")], (7,), seed=2)

    def ids(rng, n):  # token ids as the graph's floats, as predict takes them
        return rng.integers(0, 12, size=(n, 7)).astype(np.float32)

    assert exported_matches_predict(model, (7,), inputs=ids) < 1e-5


# --- masks ---------------------------------------------------------------------------------------


def padded_ids(rng, n, steps=6, vocabulary=10):
    """Token ids as floats with about 40% padding (id 0) anywhere, and a fully padded row."""
    x = rng.integers(1, vocabulary, size=(n, steps)).astype(np.float32)
    x[rng.random(x.shape) < 0.4] = 0
    if n > 1:
        x[0] = 0
    return x


def padded_steps(rng, n, steps=6, features=2, value=0.5):
    """Sequences with about 40% of their steps all ``value`` (Masking's padding), one whole row."""
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    x[rng.random((n, steps)) < 0.4] = value
    if n > 1:
        x[0] = value
    return x


MASKED_OPTIONS = {
    "last_step": {},
    "sequences": {"return_sequences": True},
    "backwards_sequences": {"return_sequences": True, "go_backwards": True},
    "backwards_zero_output": {"go_backwards": True, "zero_output_for_mask": True},
    "sequences_zero_output_no_bias": {"return_sequences": True, "zero_output_for_mask": True,
                                      "use_bias": False},
}  # fmt: skip


@pytest.mark.parametrize("options", sorted(MASKED_OPTIONS))
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_masked_steps_from_embedding_mask_zero_run_like_predict(kind, options):
    layers = [Embedding(10, 4, mask_zero=True), RECURRENT[kind](3, **MASKED_OPTIONS[options])]
    model = built(layers, (6,), seed=13)
    assert exported_matches_predict(model, (6,), inputs=padded_ids) < 1e-5


MASKED_MODELS = {
    "masking_then_stacked_rnns": (
        [Masking(0.5), SimpleRNN(3, return_sequences=True), LSTM(2)], (6, 2), padded_steps),
    "bidirectionals_on_a_mask": (
        [Embedding(10, 4, mask_zero=True), Bidirectional(LSTM(3, return_sequences=True)),
         Bidirectional(GRU(2), merge_mode="ave")], (6,), padded_ids),
    "time_distributed_passes_the_mask": (
        [Embedding(10, 4, mask_zero=True), TimeDistributed(Dense(3)), GRU(2)], (6,),
        padded_ids),
    "dropout_stops_the_mask": (
        [Embedding(10, 4, mask_zero=True), Dropout(0.2), LSTM(2)], (6,), padded_ids),
    "nested_sequential_takes_the_mask": (
        [Embedding(10, 4, mask_zero=True), Sequential([LSTM(3, return_sequences=True), GRU(2)])],
        (6,), padded_ids),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MASKED_MODELS))
def test_masks_pass_through_layers_as_predict_hands_them_along(case):
    layers, sample, inputs = MASKED_MODELS[case]
    assert exported_matches_predict(built(layers, sample, seed=17), sample, inputs=inputs) < 1e-5


def test_the_masked_tests_would_see_an_ignored_mask():
    """Guard: with these inputs the mask changes predict's outputs."""
    rng = np.random.default_rng(0)
    x = padded_ids(rng, 3)
    masked = built([Embedding(10, 4, mask_zero=True), LSTM(3)], (6,), seed=13)
    plain = built([Embedding(10, 4), LSTM(3)], (6,), seed=13)
    plain.set_weights(masked.get_weights())
    assert not np.allclose(masked.predict(x), plain.predict(x), atol=1e-3)


# --- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize("layers, message", [
    ([LSTM(2, return_state=True, name="rnn")], r"'rnn' \(LSTM\) with return_state"),
    ([Bidirectional(GRU(2, return_state=True), name="both")],
     r"'both' \(Bidirectional\) with merge_mode=None or return_state"),
], ids=["return_state", "bidirectional_return_state"])  # fmt: skip
def test_several_outputs_from_one_layer_are_refused_naming_it(layers, message):
    with pytest.raises(ValueError, match=message):
        to_onnx(Sequential([Input((4, 3)), *layers], seed=0))


def test_every_layer_class_has_a_converter_except_the_merge_layers():
    # Merge layers (Add, Concatenate, ...) take several inputs: only functional graphs have
    # them, and the exporter refuses functional graphs by kind (test_export_onnx.py).
    merge = {"Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract"}
    missing = {name for name, cls in LAYERS.items() if cls not in LAYER_CONVERTERS}
    assert missing == merge


def test_every_recurrent_activation_has_an_onnx_name():
    assert set(ops.RECURRENT_ACTIVATIONS) == set(ONNX_ACTIVATIONS)


# --- random convnets ----------------------------------------------------------------------------


@st.composite
def random_convnets(draw):
    """A Conv2D (or Conv2DTranspose) with drawn geometry, maybe a pooling layer, then Dense."""
    fmt = draw(st.sampled_from(["channels_last", "channels_first"]))
    h, w, c = draw(st.integers(3, 9)), draw(st.integers(3, 9)), draw(st.integers(1, 3))
    sample = (c, h, w) if fmt == "channels_first" else (h, w, c)
    conv = draw(st.sampled_from([Conv2D, Conv2DTranspose]))
    layers = [conv(
        draw(st.integers(1, 4)), (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        padding=draw(st.sampled_from(["valid", "same"])),
        dilation_rate=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        activation=draw(st.sampled_from(["linear", "relu", "tanh", "elu"])), data_format=fmt,
    )]  # fmt: skip
    pool = draw(st.sampled_from([None, MaxPooling2D, AveragePooling2D]))
    if pool is not None:
        layers.append(pool(draw(st.integers(1, 3)), strides=draw(st.integers(1, 3)),
                           padding=draw(st.sampled_from(["valid", "same"])), data_format=fmt))
    layers += [Flatten(), Dense(3)]
    return layers, sample


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_convnets(), st.integers(0, 2**16))
def test_random_convnets_run_in_onnxruntime_like_predict(drawn, seed):
    layers, sample = drawn
    try:
        model = built(layers, sample, seed=seed)
    except ValueError:  # a window larger than its (padded) input: not a model
        assume(False)
    exported_matches_predict(model, sample, seed=seed)  # within rtol and atol 1e-5


# --- random sequence models ---------------------------------------------------------------------


@st.composite
def random_sequence_models(draw):
    """Ids through an Embedding (masked or not), or features maybe through Masking, then one
    to three recurrent layers (maybe Bidirectional) of drawn kinds and options, then a Dense."""
    steps = draw(st.integers(1, 7))
    if draw(st.booleans()):
        layers = [Embedding(6, 3, mask_zero=draw(st.booleans()))]
        sample, inputs = (steps,), lambda rng, n: padded_ids(rng, n, steps, 6)
    else:
        layers = [Masking(0.5)] if draw(st.booleans()) else []
        sample, inputs = (steps, 2), lambda rng, n: padded_steps(rng, n, steps)
    depth = draw(st.integers(1, 3))
    for i in range(depth):
        kind = RECURRENT[draw(st.sampled_from(sorted(RECURRENT)))]
        options = {
            "return_sequences": i < depth - 1 or draw(st.booleans()),
            "go_backwards": draw(st.booleans()),
            "zero_output_for_mask": draw(st.booleans()),
            "use_bias": draw(st.booleans()),
            "activation": draw(st.sampled_from(["tanh", "relu", "sigmoid", "linear"])),
        }
        if kind is not SimpleRNN:
            options["recurrent_activation"] = draw(st.sampled_from(["sigmoid", "tanh"]))
        layer = kind(draw(st.integers(1, 4)), **options)
        if draw(st.booleans()):
            layer = Bidirectional(layer, merge_mode=draw(st.sampled_from(
                ["concat", "sum", "mul", "ave"])))  # fmt: skip
        layers.append(layer)
    layers.append(Dense(2))
    return layers, sample, inputs


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_sequence_models(), st.integers(0, 2**16))
def test_random_sequence_models_run_in_onnxruntime_like_predict(drawn, seed):
    layers, sample, inputs = drawn
    model = built(layers, sample, seed=seed)
    exported_matches_predict(model, sample, seed=seed, inputs=inputs)  # within 1e-5
