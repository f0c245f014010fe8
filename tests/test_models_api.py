"""The Model API: functional graphs, subclasses with their own train_step, the one loop's hooks.

Done-when checks of the one-engine issue: a two-input functional model with a shared layer trains
and round-trips through a model file bit for bit; a subclass overriding ``train_step`` trains
through ``fit`` with callbacks and history; ``predict`` calls the documented ``on_predict_*``
hooks; no layer draws from an unseeded generator behind the user's back.
"""

from __future__ import annotations

import numpy as np
import pytest

import scratchnn
from scratchnn import Model, Sequential, callbacks, models, ops
from scratchnn.layers import Add, Concatenate, Dense, Dropout, Input
from scratchnn.models import Functional


def two_inputs(seed: int = 0) -> Model:
    left, right = Input((3,), name="left"), Input((3,), name="right")
    shared = Dense(4, activation="tanh", name="shared")
    merged = Concatenate(name="merge")([shared(left), shared(right)])
    out = Dense(1, activation="sigmoid", name="out")(merged)
    return Model(inputs=[left, right], outputs=out, seed=seed)


def pair_data(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
    return a, b, (a.sum(axis=1) > b.sum(axis=1)).astype(int)


# --------------------------------------------------------------------------- functional graphs
def test_model_with_inputs_and_outputs_is_a_functional_graph():
    model = two_inputs()
    assert isinstance(model, Functional) and isinstance(model, Model)
    assert model.input_names == ["left", "right"] and model.output_names == ["out"]
    # the shared layer holds one set of weights, used by both calls
    assert [name for name in model.weight_dict()] == [
        "shared/kernel", "shared/bias", "out/kernel", "out/bias"]
    assert model.count_params() == 3 * 4 + 4 + 8 + 1


def test_two_input_model_with_a_shared_layer_trains_and_round_trips_bit_for_bit(tmp_path):
    a, b, y = pair_data()
    model = two_inputs()
    model.compile(optimizer={"name": "adam", "learning_rate": 0.02}, loss="binary_crossentropy",
                  metrics=["accuracy"])
    history = model.fit([a, b], y, epochs=30, batch_size=16, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "pair.snn"
    model.save(path)
    loaded = scratchnn.load_model(path)
    assert type(loaded) is Functional
    np.testing.assert_array_equal(loaded.predict([a, b]), model.predict([a, b]))
    # inputs by name work as well
    np.testing.assert_array_equal(loaded.predict({"left": a, "right": b}), model.predict([a, b]))
    # and it trains on from where it was (the optimizer state came with it)
    before = loaded.evaluate([a, b], y)
    loaded.fit([a, b], y, epochs=2, verbose=0)
    assert loaded.evaluate([a, b], y)[0] <= before[0] + 1e-6


def test_a_graph_is_drawn_from_the_models_seed_and_rebuilt_from_its_config():
    first, second = two_inputs(seed=3), two_inputs(seed=3)
    for x, y in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    rebuilt = models.model_from_config(first.get_config())
    assert rebuilt.get_config() == first.get_config()


def test_several_outputs_with_a_loss_and_metrics_each():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 4))
    labels, target = (x[:, 0] > 0).astype(int), x @ np.array([1.0, -1.0, 0.5, 0.0])
    inputs = Input((4,))
    hidden = Dense(8, activation="relu", name="hidden")(inputs)
    kind = Dense(2, activation="softmax", name="kind")(hidden)
    size = Dense(1, name="size")(hidden)
    model = Model(inputs=inputs, outputs=[kind, size], seed=0)
    model.compile(optimizer={"name": "adam", "learning_rate": 0.02},
                  loss={"kind": "sparse_categorical_crossentropy", "size": "mse"},
                  metrics={"kind": ["accuracy"]}, loss_weights={"size": 0.5})
    history = model.fit(x, {"kind": labels, "size": target}, epochs=60, batch_size=30, verbose=0)
    assert history.history["kind_accuracy"][-1] > 0.85
    probabilities, sizes = model.predict(x)
    assert probabilities.shape == (120, 2) and sizes.shape == (120, 1)
    with pytest.raises(ValueError, match="outputs"):
        model.compile(optimizer="adam", loss=["mse"])  # one loss for two outputs


def test_graph_errors_name_the_problem():
    a, b = Input((2,), name="a"), Input((2,), name="b")
    out = Add()([Dense(3)(a), Dense(3)(b)])
    with pytest.raises(ValueError, match="Input 'b', which is not in Model"):
        Model(inputs=a, outputs=out)
    with pytest.raises(ValueError, match="one shape"):
        Add()([Input((2,)), Input((3,))])
    with pytest.raises(TypeError, match="symbolic tensors"):
        Model(inputs=np.ones((2, 2)), outputs=out)


def test_a_sequential_nested_in_a_graph_is_one_layer():
    encoder = Sequential([Dense(4, activation="relu", input_dim=6), Dense(2)], name="encoder")
    inputs = Input((6,))
    outputs = Dense(6)(encoder(inputs))
    model = Model(inputs=inputs, outputs=outputs, seed=0)
    assert list(model.weight_dict())[:2] == ["encoder/dense/kernel", "encoder/dense/bias"]
    x = np.random.default_rng(0).normal(size=(5, 6))
    np.testing.assert_allclose(model.predict(x), model.layers[-1](encoder(x)).numpy(), rtol=1e-6)


# ------------------------------------------------------------------- a custom training step
@models.register
class MeanAbsolute(Model):
    """Regression trained on the mean absolute error, its step written by hand."""

    def __init__(self, units: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = Dense(units)

    def call(self, x, training=False):
        return self.dense(x)

    def train_step(self, batch):
        x, y, _ = batch
        loss = ops.mean(ops.abs(self(x, training=True) - y.reshape(-1, self.units)))
        self.minimize(loss)
        return {"loss": loss.item()}

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_subclass_with_its_own_train_step_trains_through_fit_with_callbacks(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + 0.3
    model = MeanAbsolute(seed=0)
    model.compile(optimizer={"name": "adam", "learning_rate": 0.05})
    seen = []
    log = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs["loss"]))
    stop = callbacks.EarlyStopping(monitor="loss", patience=3)
    csv = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=60, batch_size=32, verbose=0,
                        callbacks=[log, stop, callbacks.CSVLogger(str(csv))])
    assert history.history["loss"] == seen  # the loop averaged the step's logs per epoch
    assert seen[-1] < 0.1 * seen[0]
    assert csv.read_text().count("\n") == len(seen) + 1
    # registered: its file loads back, found by name in the registry, never imported
    model.save(tmp_path / "custom.snn")
    loaded = scratchnn.load_model(tmp_path / "custom.snn")
    assert type(loaded) is MeanAbsolute and loaded.units == 1
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_an_unregistered_subclass_cannot_be_saved(tmp_path):
    class Unregistered(MeanAbsolute):
        pass

    model = Unregistered(seed=0)
    model.build((3,))
    with pytest.raises(ValueError, match="not registered"):
        model.save(tmp_path / "m.snn")
    assert not (tmp_path / "m.snn").exists()


def test_train_step_divergence_is_handled_by_the_loop():
    class Explodes(MeanAbsolute):
        def train_step(self, batch):
            logs = super().train_step(batch)
            return {"loss": float("nan")} if self.optimizer.iterations > 5 else logs

    model = Explodes(seed=0)
    model.compile(optimizer="sgd")
    x, y = np.ones((64, 3)), np.ones(64)
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    assert np.isnan(history.history["loss"][-1]) and len(history.epoch) < 5


# -------------------------------------------------------------------------- hooks, randomness
def test_predict_calls_the_documented_predict_hooks():
    calls = []
    hooks = callbacks.LambdaCallback(
        on_predict_begin=lambda logs: calls.append("begin"),
        on_predict_batch_begin=lambda b, logs: calls.append(f"batch {b}"),
        on_predict_batch_end=lambda b, logs: calls.append(logs["outputs"][0].shape[0]),
        on_predict_end=lambda logs: calls.append("end"),
    )
    model = Sequential([Dense(2, input_dim=3)], seed=0)
    model.predict(np.ones((10, 3)), batch_size=4, callbacks=[hooks])
    assert calls == ["begin", "batch 0", 4, "batch 1", 4, "batch 2", 2, "end"]


def test_no_layer_falls_back_to_an_unseeded_generator():
    with pytest.raises(ValueError, match="needs a random generator"):
        Dense(3)(np.ones((2, 4)))
    with pytest.raises(ValueError, match="needs a random generator"):
        Dropout(0.5)(np.ones((2, 4)), training=True)
    layer = Dense(3)
    layer.build((4,), rng=np.random.default_rng(0))
    assert layer(np.ones((2, 4))).shape == (2, 3)
    assert Dropout(0.5, seed=1)(np.ones((2, 4)), training=True).shape == (2, 4)


def test_automatic_names_are_unique_within_a_model_whatever_was_built_before():
    for _ in range(3):
        Dense(2)  # layers made elsewhere do not shift the names
    model = Sequential([Dense(3, input_dim=2), Dropout(0.1), Dense(1)], seed=0)
    assert [layer.name for layer in model.layers] == ["dense", "dropout", "dense_1"]
    named = Sequential([Dense(3, input_dim=2, name="dense_1"), Dense(1)], seed=0)
    assert [layer.name for layer in named.layers] == ["dense_1", "dense"]
