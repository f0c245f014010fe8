"""Recurrent and sequence layers: Keras defaults, configs, model files, masks, wrappers, errors,
and an LSTM that reads digits row by row through ``Sequential.fit``."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from scratchnn import Sequential, Tensor, gradcheck, losses, ops
from scratchnn.layers import (
    GRU,
    LAYERS,
    LSTM,
    Bidirectional,
    Dense,
    Embedding,
    Input,
    Masking,
    SimpleRNN,
    TimeDistributed,
)
from scratchnn.models import saving
from scratchnn.optimizers import Adam


def seq(seed=0, shape=(3, 5, 4)):
    return np.random.default_rng(seed).normal(size=shape)


def built(layer, input_shape, seed=0, dtype="float64"):
    layer.build(input_shape, rng=np.random.default_rng(seed), dtype=dtype)
    return layer


ALL_LAYERS = [
    lambda: SimpleRNN(3),
    lambda: SimpleRNN(3, use_bias=False, return_sequences=True),
    lambda: LSTM(3),
    lambda: LSTM(3, unit_forget_bias=False, return_sequences=True, go_backwards=True),
    lambda: GRU(3),
    lambda: GRU(3, reset_after=False, return_sequences=True),
    lambda: Bidirectional(LSTM(2, return_sequences=True)),
    lambda: Bidirectional(GRU(2), merge_mode="sum"),
    lambda: TimeDistributed(Dense(2, activation="relu")),
]


# --- weights and Keras defaults ----------------------------------------------------------------


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_weight_shapes_are_exactly_what_build_creates(make):
    layer = make()
    expected = layer.weight_shapes((5, 4))
    built(layer, (5, 4))
    assert {name: w.shape for name, w in layer.weights.items()} == expected
    assert tuple(layer(seq()).shape[1:]) == layer.compute_output_shape((5, 4))


def test_embedding_weight_shape_and_output_shape():
    layer = built(Embedding(7, 3), (5,))
    assert layer.weight_shapes((5,)) == {"embeddings": (7, 3)}
    assert layer(np.zeros((2, 5), int)).shape == (2, 5, 3) == (2, *layer.compute_output_shape((5,)))


def test_keras_defaults_orthogonal_recurrent_kernel_and_unit_forget_bias():
    lstm = built(LSTM(4), (3, 2))
    u = lstm.recurrent_kernel.numpy()
    np.testing.assert_allclose(u @ u.T, np.eye(4), atol=1e-12)  # (4, 16): orthonormal rows
    np.testing.assert_array_equal(lstm.bias.numpy(), np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    gru = built(GRU(4), (3, 2))
    assert gru.bias.shape == (2, 12) and not gru.bias.numpy().any()
    assert built(GRU(4, reset_after=False), (3, 2)).bias.shape == (12,)
    assert LSTM(4).return_sequences is False and LSTM(4).activation == "tanh"
    assert LSTM(4).recurrent_activation == "sigmoid"


def test_keras_snake_case_names():
    assert LSTM(1).name.startswith("lstm") and SimpleRNN(1).name.startswith("simple_rnn")
    assert TimeDistributed(Dense(1)).name.startswith("time_distributed")


# --- configs and model files ---------------------------------------------------------------------


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_config_round_trip_gives_the_same_layer(make):
    layer = built(make(), (5, 4))
    config = layer.get_config()
    clone = type(layer)(**config)
    assert clone.get_config() == config
    clone.build((5, 4), rng=np.random.default_rng(99), dtype="float64")
    for name, weight in layer.weights.items():
        clone.weights[name].data[...] = weight.data
    x = seq()
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())


def text_model(seed=0):
    return Sequential([
        Input((6,)), Embedding(9, 4, mask_zero=True), LSTM(5, return_sequences=True),
        Bidirectional(GRU(3, return_sequences=True), merge_mode="ave"),
        TimeDistributed(Dense(4, activation="relu")), Dense(9, activation="softmax"),
    ], seed=seed)  # fmt: skip


def test_model_files_round_trip_every_recurrent_layer(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 9, size=(20, 6))
    x[:, :2] = 0  # padding, masked
    y = rng.integers(0, 9, size=(20, 6))
    model = text_model()
    model.compile(optimizer=Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "model.snn"
    model.save(path)
    loaded = saving.load_model(path)
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # the optimizer state came back too: one more step moves both models the same way
    model.fit(x, y, epochs=1, batch_size=20, verbose=0, shuffle=False)
    loaded.fit(x, y, epochs=1, batch_size=20, verbose=0, shuffle=False)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)
    assert set(LAYERS) >= {"SimpleRNN", "LSTM", "GRU", "Bidirectional", "Embedding", "Masking",
                           "TimeDistributed"}


# --- masks ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
@pytest.mark.parametrize("padding", ["pre", "post"])
def test_padded_steps_are_skipped_through_the_model(cls, padding):
    rng = np.random.default_rng(1)
    model = Sequential([Input((7,)), Embedding(6, 3, mask_zero=True), cls(4),
                        Dense(2, activation="softmax")], seed=0, dtype="float64")  # fmt: skip
    tokens = rng.integers(1, 6, size=4)
    padded = np.zeros(7, int)
    if padding == "post":
        padded[:4] = tokens
    else:
        padded[3:] = tokens
    emb, rnn, dense = model.layers
    alone = dense(rnn(emb(tokens[None]))).numpy()  # the real steps only, no mask needed
    np.testing.assert_allclose(model.predict(padded[None]), alone, rtol=1e-12)
    no_mask = Sequential([Input((7,)), Embedding(6, 3), cls(4), Dense(2, activation="softmax")],
                         seed=0, dtype="float64")  # same weights, no mask: another answer
    assert not np.allclose(no_mask.predict(padded[None]), model.predict(padded[None]))


def test_masking_layer_marks_and_zeroes_padded_steps():
    x = seq(2, (2, 5, 3))
    x[0, 3:] = 0.0
    layer = Masking()
    np.testing.assert_array_equal(layer.compute_mask(x), [[1, 1, 1, 0, 0], [1] * 5])
    rnn = built(LSTM(2), (5, 3))
    masked = Sequential([Input((5, 3)), layer, rnn], dtype="float64")
    np.testing.assert_allclose(masked.predict(x)[0], rnn(x[:1, :3]).numpy()[0], rtol=1e-12)


def test_a_layer_that_keeps_no_mask_stops_it():
    emb = Embedding(5, 2, mask_zero=True, seed=0)
    assert LSTM(2).compute_mask(None, np.ones((1, 3), bool)) is None  # last step only
    assert LSTM(2, return_sequences=True).compute_mask(None, "m") == "m"
    assert Dense(2).compute_mask(None, "m") is None
    assert emb.compute_mask(np.array([[0, 1]])).tolist() == [[False, True]]


# --- Dense on sequences, TimeDistributed, Bidirectional -------------------------------------------


def test_dense_on_sequences_acts_on_the_last_axis():
    dense = built(Dense(3, activation="tanh"), (4,))
    x = seq(3, (2, 5, 4))
    out = dense(x).numpy()
    for t in range(5):
        np.testing.assert_allclose(out[:, t], dense(x[:, t]).numpy(), rtol=1e-14)
    assert gradcheck(lambda a, k, b: ops.tanh(ops.add(ops.matmul(a, k), b)), x,
                     dense.kernel.numpy(), dense.bias.numpy()).passed
    result = gradcheck(lambda a: dense(a), x)
    assert result.passed, str(result)


def test_time_distributed_dense_is_dense_on_every_step():
    inner = Dense(2)
    td = built(TimeDistributed(inner), (5, 4))
    x = seq(4, (3, 5, 4))
    np.testing.assert_allclose(td(x).numpy(), inner(x).numpy(), rtol=1e-14)
    assert set(td.weights) == {"kernel", "bias"}
    with pytest.raises(ValueError, match="at least 3-D"):
        TimeDistributed(Dense(2)).build((4,), rng=np.random.default_rng(0))


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merge_modes(mode):
    layer = built(Bidirectional(LSTM(3, return_sequences=True), merge_mode=mode), (5, 4))
    x = seq(5)
    forward = layer.forward_layer(x).numpy()
    backward = layer.backward_layer(x).numpy()[:, ::-1]  # back in input order
    out = layer(x)
    expected = {
        "concat": np.concatenate([forward, backward], -1), "sum": forward + backward,
        "mul": forward * backward, "ave": (forward + backward) / 2,
    }
    if mode is None:
        np.testing.assert_allclose(out[0].numpy(), forward)
        np.testing.assert_allclose(out[1].numpy(), backward)
    else:
        np.testing.assert_allclose(out.numpy(), expected[mode], rtol=1e-14)
    assert set(layer.weights) == {f"{d}/{w}" for d in ("forward", "backward")
                                  for w in ("kernel", "recurrent_kernel", "bias")}


def test_bidirectional_refuses_bad_layers_and_step_by_step_use():
    with pytest.raises(ValueError, match="merge_mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="wraps a recurrent layer"):
        Bidirectional(Dense(2))
    with pytest.raises(ValueError, match="go_backwards"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))
    with pytest.raises(ValueError, match="cannot run step by step"):
        built(Bidirectional(LSTM(2)), (3, 1)).call_stateful(np.ones((1, 3, 1)))


# --- states ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [SimpleRNN, LSTM, GRU])
def test_step_by_step_with_carried_state_equals_one_pass(cls):
    layer = built(cls(3, return_sequences=True), (6, 2))
    x = seq(6, (2, 6, 2))
    whole = layer(x).numpy()
    state = None
    for t in range(6):
        out, state = layer.call_stateful(x[:, t:t + 1], state)
        np.testing.assert_allclose(out[:, 0], whole[:, t], rtol=1e-12)


def test_return_state_and_initial_state_when_calling_a_layer():
    layer = built(LSTM(3, return_state=True), (4, 2))
    x = seq(7, (2, 4, 2))
    out, h, c = layer(x)
    np.testing.assert_array_equal(out.numpy(), h.numpy())
    _, h1, c1 = layer(x[:, :2])
    _, h2, c2 = layer(x[:, 2:], initial_state=[h1, c1])
    np.testing.assert_allclose(h2.numpy(), h.numpy(), rtol=1e-12)
    np.testing.assert_allclose(c2.numpy(), c.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"takes initial_state=\[h, c\]"):
        layer(x, initial_state=[h1])
    with pytest.raises(ValueError, match=r"\(batch, units\) = \(2, 3\)"):
        layer(x, initial_state=[h1.numpy()[:1], c1])


# --- dropout ------------------------------------------------------------------------------------


def test_dropout_only_in_training_and_reproducible_from_the_model_seed():
    x = seq(8, (4, 5, 3)).astype(np.float32)
    y = np.random.default_rng(8).integers(0, 2, 4)

    def model():
        m = Sequential([Input((5, 3)), LSTM(4, dropout=0.5, recurrent_dropout=0.3),
                        Dense(2, activation="softmax")], seed=3)  # fmt: skip
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return m

    layer = model().layers[0]
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())  # inference: no dropout
    assert not np.allclose(layer(x, training=True).numpy(), layer(x).numpy())
    a, b = model(), model()
    ha = a.fit(x, y, epochs=3, batch_size=2, verbose=0).history["loss"]
    hb = b.fit(x, y, epochs=3, batch_size=2, verbose=0).history["loss"]
    assert ha == hb


def test_input_dropout_uses_one_mask_for_every_step():
    layer = built(SimpleRNN(8, return_sequences=True, dropout=0.5, activation="linear",
                            use_bias=False), (6, 8))
    layer.recurrent_kernel.data[...] = 0  # each output is x_t W = x_t: the mask shows through
    layer.kernel.data[...] = np.eye(8)
    out = layer(np.ones((50, 6, 8)), training=True).numpy()  # (50, 6, 8)
    assert set(np.unique(out)) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - 0.5)
    assert np.all(out == out[:, :1])  # the same mask at every step of a sample
    assert not np.all(out == out[:1])  # but not for every sample


# --- bad input ------------------------------------------------------------------------------------


def test_two_dimensional_input_to_an_rnn_says_what_to_do():
    with pytest.raises(ValueError, match=r"Layer 'lstm.*' \(LSTM\) expects input of shape "
                                         r"\(batch, timesteps, features\).*received shape "
                                         r"\(None, 8\).*x\[\.\.\., None\]"):
        Sequential([Input((8,)), LSTM(2)], seed=0)
    with pytest.raises(ValueError, match=r"\(GRU\) expects input of shape"):
        GRU(2, seed=0)(np.ones((3, 8)))


def test_ragged_sequences_are_refused_with_the_padding_fix():
    ragged = [[1, 2, 3], [4, 5], [6]]
    model = Sequential([Input((3,)), Embedding(7, 2), LSTM(2), Dense(1)], seed=0)
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"'embedding.*' \(Embedding\) expects sequences of one "
                                         r"length.*lengths 3, 2, 1.*pad_sequences.*mask_zero"):
        model.fit(ragged, [0, 1, 0], verbose=0)
    with pytest.raises(ValueError, match=r"\(SimpleRNN\) expects sequences of one length"):
        SimpleRNN(2, seed=0)([np.ones((3, 1)), np.ones((2, 1))])


def test_embedding_ids_outside_the_vocabulary_are_refused_with_their_position():
    model = Sequential([Input((4,)), Embedding(5, 2), LSTM(2), Dense(1)], seed=0)
    model.compile(optimizer="adam", loss="mse")
    x = np.array([[1, 2, 3, 4], [0, 7, 1, 1]])
    with pytest.raises(ValueError, match=r"received the id 7 at position \(1, 1\), but "
                                         r"input_dim=5 allows ids 0\.\.4.*input_dim >= 8"):
        model.fit(x, [0.0, 1.0], verbose=0)
    with pytest.raises(ValueError, match=r"id -1.*must not be negative"):
        model.predict(np.array([[1, -1, 0, 0]]))
    with pytest.raises(ValueError, match="integer token ids"):
        model.predict(np.full((1, 4), 0.5))


def test_layers_without_a_generator_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"no random generator.*seed="):
        LSTM(2)(np.ones((1, 3, 1)))
    with pytest.raises(ValueError, match="activation must be one of"):
        LSTM(2, activation="gelu")
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
        GRU(2, dropout=1.0)
    with pytest.raises(ValueError, match="units must be a positive integer"):
        SimpleRNN(0)


# --- sequence targets and the digits task ---------------------------------------------------------


def test_sequence_loss_is_the_mean_over_every_step_of_every_sample():
    rng = np.random.default_rng(9)
    probs = rng.dirichlet(np.ones(4), size=(3, 5))
    labels = rng.integers(0, 4, size=(3, 5))
    expected = -np.log(np.take_along_axis(probs, labels[..., None], -1)).mean()
    loss = losses.get("sparse_categorical_crossentropy")
    assert loss(labels, Tensor(probs, dtype="float64")).item() == pytest.approx(expected)
    logits = np.log(probs) + 1.5
    fused = ops.sparse_softmax_crossentropy(Tensor(logits, dtype="float64"), labels, "mean")
    assert fused.item() == pytest.approx(expected)
    assert gradcheck(lambda z: ops.sparse_softmax_crossentropy(z, labels), logits).passed


def test_an_lstm_reads_digits_row_by_row_to_95_percent():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8): 8 steps of 8 values
    x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target, test_size=0.25, random_state=0,
                                              stratify=digits.target)
    model = Sequential([Input((8, 8)), LSTM(64), Dense(10, activation="softmax")], seed=0)
    model.compile(optimizer=Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    with threadpool_limits(1):  # tiny products: one BLAS thread is the fast choice
        model.fit(x_tr, y_tr, epochs=20, batch_size=32, verbose=0)
        accuracy = model.evaluate(x_te, y_te, return_dict=True)["accuracy"]
    assert accuracy >= 0.95
