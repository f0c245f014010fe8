"""What users get on bad input: every message names the problem and the fix."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scratchnn import Sequential, optimizers
from scratchnn.callbacks import LambdaCallback
from scratchnn.layers import Dense
from scratchnn.models import trainer


def binary(
    units: int = 1,
    activation: str = "sigmoid",
    loss: str = "binary_crossentropy",
    metrics: list | None = None,
) -> Sequential:
    model = Sequential(
        [
            Dense(4, activation="relu", input_dim=3, name="hidden"),
            Dense(units, activation=activation, name="output"),
        ],
        seed=0,
    )
    model.compile(optimizer="adam", loss=loss, metrics=metrics)
    return model


def xy(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)), rng.integers(0, 2, size=n)


# --- data -------------------------------------------------------------------------------------


def test_nan_and_inf_in_x_give_count_and_first_position():
    x, y = xy()
    x[5, 1] = np.nan
    x[7, 0] = np.inf
    with pytest.raises(
        ValueError,
        match=r"x contains 2 NaN or infinite values; the first is "
        r"nan at row 5, column 1\. .*SimpleImputer",
    ):
        binary().fit(x, y, verbose=0)


def test_nan_in_y_and_in_validation_data():
    x, y = xy()
    yf = y.astype(float)
    yf[3] = np.nan
    with pytest.raises(ValueError, match=r"y contains 1 NaN or infinite value; .* at row 3"):
        binary().fit(x, yf, verbose=0)
    xv = x.copy()
    xv[2, 2] = -np.inf
    with pytest.raises(ValueError, match=r"validation x contains 1 .* row 2, column 2"):
        binary().fit(x, y, validation_data=(xv, y), verbose=0)


def test_values_too_large_for_float32_are_explained():
    x, y = xy()
    x[4, 0] = 1e300
    with pytest.raises(
        ValueError,
        match=r"x holds 1 value too large for float32; the first is "
        r"1e\+300 at row 4, column 0\..*dtype='float64'",
    ):
        binary().fit(x, y, verbose=0)


def test_row_counts_must_agree():
    x, y = xy()
    with pytest.raises(ValueError, match="x has 20 rows, y has 19"):
        binary().fit(x, y[:-1], verbose=0)


def test_empty_x():
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 3\)\)"):
        binary().fit(np.zeros((0, 3)), np.zeros(0), verbose=0)


def test_feature_count_must_match_the_first_layer():
    x, y = xy()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Layer 'hidden' (Dense) expects input of shape (None, 3); received x of shape (20, 4)"
        ),
    ):
        binary().fit(np.hstack([x, x[:, :1]]), y, verbose=0)
    with pytest.raises(ValueError, match="expects input of shape"):
        binary().predict(np.ones((2, 5)))


def test_labels_outside_the_output_layers_range():
    x, _ = xy()
    labels = np.arange(20) % 4  # 4 classes
    model = binary(units=3, activation="softmax", loss="sparse_categorical_crossentropy")
    with pytest.raises(
        ValueError,
        match=r"class label 3 at row 3, but the output layer 'output' "
        r"has 3 units \(labels 0\.\.2\)",
    ):
        model.fit(x, labels, verbose=0)
    with pytest.raises(ValueError, match="class label -1"):
        model.fit(x, labels - 1, verbose=0)
    with pytest.raises(
        ValueError,
        match=r"needs targets in \[0, 1\]; y holds 2 at row 2\. "
        r".*softmax",
    ):
        binary().fit(x, labels, verbose=0)


def test_target_shapes_that_do_not_fit_the_loss():
    x, y = xy()
    categorical = binary(units=2, activation="softmax", loss="categorical_crossentropy")
    with pytest.raises(
        ValueError,
        match=r"one-hot targets of shape \(N, 2\).*"
        r"sparse_categorical_crossentropy",
    ):
        categorical.fit(x, y, verbose=0)
    sparse = binary(units=2, activation="softmax", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="For one-hot targets use loss='categorical_crossentropy'"):
        sparse.fit(x, np.eye(2)[y], verbose=0)
    regression = binary(activation="linear", loss="mse")
    with pytest.raises(
        ValueError,
        match=r"y has shape \(20, 3\) but the output layer 'output' "
        r"produces shape \(None, 1\)",
    ):
        regression.fit(x, np.ones((20, 3)), verbose=0)


def test_string_labels_with_a_numeric_loss_suggest_encoding():
    x, _ = xy()
    labels = np.array(["churn", "stay"] * 10)
    with pytest.raises(
        ValueError,
        match=r"y must hold numbers; it holds 'churn' at row 0\. .*"
        r"LabelEncoder",
    ):
        binary().fit(x, labels, verbose=0)
    features = x.astype(object)
    features[1, 2] = "France"
    with pytest.raises(
        ValueError,
        match=r"x must hold numbers; it holds 'France' at row 1, "
        r"column 2\. .*OneHotEncoder",
    ):
        binary().fit(features, np.zeros(20), verbose=0)


def test_weights_that_do_not_fit():
    x, y = xy()
    with pytest.raises(ValueError, match=r"one weight per sample, shape \(20,\)"):
        binary().fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="class_weight needs class labels"):
        binary(activation="linear", loss="mse").fit(x, y, class_weight={0: 1, 1: 2}, verbose=0)


# --- using the model in the wrong order -------------------------------------------------------


def test_fit_before_compile():
    x, y = xy()
    model = Sequential([Dense(1, input_dim=3)])
    for call in (
        lambda: model.fit(x, y),
        lambda: model.evaluate(x, y),
        lambda: model.train_on_batch(x, y),
    ):
        with pytest.raises(
            RuntimeError,
            match=r"call model\.compile\(optimizer=\.\.\., "
            r"loss=\.\.\.\) first",
        ):
            call()


def test_compile_errors_list_what_is_accepted():
    model = Sequential([Dense(1, input_dim=3)])
    with pytest.raises(ValueError, match=r"Unknown metric 'acuracy'\. Known metrics: .*accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="needs a loss"):
        model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"Unknown loss 'crossentropy'.*binary_crossentropy"):
        model.compile(optimizer="adam", loss="crossentropy")
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        model.compile(optimizer="adamm", loss="mse")


def test_model_without_layers():
    model = Sequential()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no layers"):
        model.fit(np.ones((2, 2)), np.ones(2))


# --- arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1; received batch_size=0"),
        ({"batch_size": -5}, "received batch_size=-5"),
        ({"epochs": -1}, "epochs must be an integer >= 0; received epochs=-1"),
        (
            {"validation_split": 1.0},
            r"validation_split must be a fraction in \[0, 1\); "
            r"received validation_split=1\.0",
        ),
        ({"validation_split": -0.1}, "received validation_split=-0.1"),
        ({"validation_split": 0.01}, "leaves 0 for validation"),
        ({"verbose": 3}, "verbose must be 0, 1 or 2"),
        ({"validation_data": (np.ones((2, 3)),)}, "validation_data must be a tuple"),
    ],
)
def test_bad_fit_arguments_are_refused_with_the_value(kwargs, message):
    x, y = xy()
    with pytest.raises(ValueError, match=message):
        binary().fit(x, y, **kwargs)


def test_zero_epochs_trains_nothing():
    x, y = xy()
    model = binary()
    before = model.get_weights()
    history = model.fit(x, y, epochs=0, verbose=0)
    assert history.history == {}
    np.testing.assert_array_equal(before[0], model.get_weights()[0])


# --- divergence -------------------------------------------------------------------------------


def regression(lr: float) -> tuple[Sequential, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    y = x.sum(axis=1)
    model = Sequential([Dense(1, input_dim=3)], seed=0)
    model.compile(optimizer=optimizers.SGD(learning_rate=lr), loss="mse")
    return model, x, y


def test_divergence_stops_training_with_a_warning_and_finite_weights():
    model, x, y = regression(lr=1e3)
    with pytest.warns(
        RuntimeWarning,
        match=r"diverged at epoch \d+, batch \d+: the loss became "
        r"(inf|nan)",
    ):
        history = model.fit(x, y, epochs=20, batch_size=10, verbose=0)
    assert len(history.epoch) < 20
    assert np.isnan(history.history["loss"][-1])
    assert all(np.isfinite(w).all() for w in model.get_weights())


class BlowUp(optimizers.SGD):
    """SGD whose update number ``at`` writes NaN into the first weight."""

    def __init__(self, at: int) -> None:
        super().__init__(learning_rate=0.01)
        self.at = at

    def step(self, params):
        super().step(params)
        if self.iterations == self.at:
            params[0].data[...] = np.nan


@pytest.mark.parametrize("at", [3, 10, 40, 64])  # mid-epoch, an epoch's last update, later
def test_weights_are_restored_to_the_last_finite_snapshot(at):
    every = trainer.SNAPSHOT_EVERY
    model, x, y = regression(lr=0.01)
    model.compile(optimizer=BlowUp(at), loss="mse")
    before_step = []
    record = LambdaCallback(
        on_train_batch_begin=lambda b, logs: before_step.append(model.get_weights())
    )
    # update ``at`` (step at - 1, counting from 0) writes NaN: the loss of step ``at`` shows it
    epoch, batch = at // 10 + 1, at % 10 + 1
    with pytest.warns(RuntimeWarning, match=f"diverged at epoch {epoch}, batch {batch}:"):
        model.fit(x, y, epochs=10, batch_size=10, shuffle=False, verbose=0, callbacks=[record])
    # copies are taken every ``every`` steps while the weights are finite
    snapshot_step = every * ((at - 1) // every)
    for got, expected in zip(model.get_weights(), before_step[snapshot_step], strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_diverging_last_update_is_caught_at_the_end_of_fit():
    model, x, y = regression(lr=0.01)
    model.compile(optimizer=BlowUp(20), loss="mse")  # the very last update of fit
    with pytest.warns(RuntimeWarning, match="diverged"):
        model.fit(x, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_train_on_batch_skips_a_diverging_update():
    model, x, y = regression(lr=1e3)
    with pytest.warns(RuntimeWarning, match="train_on_batch: the loss became"):
        for _ in range(100):
            model.train_on_batch(x, y)
    assert all(np.isfinite(w).all() for w in model.get_weights())
