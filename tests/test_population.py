"""A population member equals its solo ``fit``, for every registered optimizer, activation and loss.

A population trains through the one loop and autodiff, so nothing here is special-cased: a new
optimizer, activation or loss either works in populations (and so in sweeps) or fails here.
float64 throughout, tolerance 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnn import Tensor, activations, gradcheck, losses, ops, optimizers
from scratchnn.layers import Dense
from scratchnn.models import Population, Sequential

RTOL = 1e-9


def data(loss: str, k: int, rows: int = 48, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    labels = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) if k <= 2 else rng.integers(0, k, rows)
    if loss == "binary_crossentropy":
        return x, labels.astype(float)
    if loss == "sparse_categorical_crossentropy":
        return x, labels
    if loss == "categorical_crossentropy":
        return x, np.eye(k)[labels]
    return x, x @ np.array([0.5, -1.0, 0.25])  # regression


def member(units, hidden, output, k, loss, optimizer, seed):
    model = Sequential([Dense(units, activation=hidden, input_dim=3),
                        Dense(k, activation=output)], seed=seed, dtype="float64")
    name = loss["name"] if isinstance(loss, dict) else loss
    metric = "accuracy" if "crossentropy" in name else "mae"
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])
    return model


def assert_population_equals_solo(specs, x, y, *, batch_size, epochs=3):
    """Train ``specs`` (member arguments) as a population and each alone; compare everything."""
    population = Population([member(*spec) for spec in specs])
    history = population.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    for position, index in enumerate(population.ids):
        solo = member(*specs[index])
        solo_history = solo.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
        for got, want in zip(population.member_weights(position), solo.get_weights(),
                             strict=True):
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)
        for key, values in solo_history.history.items():
            got = [epoch[position] for epoch in history.history[key]]
            np.testing.assert_allclose(got, values, rtol=RTOL, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("name", sorted(optimizers.OPTIMIZERS))
def test_every_optimizer_trains_members_as_alone(name):
    x, y = data("binary_crossentropy", 1)
    configs = [{"name": name, "learning_rate": lr} for lr in (0.01, 0.05, 0.002)]
    specs = [(4 + i, "tanh", "sigmoid", 1, "binary_crossentropy", cfg, 10 + i)
             for i, cfg in enumerate(configs)]
    assert_population_equals_solo(specs, x, y, batch_size=16)


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_every_activation_trains_members_as_alone(name):
    x, y = data("mean_squared_error", 1)
    specs = [(5, name, None, 1, "mse", {"name": "sgd", "learning_rate": lr}, 3 + i)
             for i, lr in enumerate((0.01, 0.03))]
    assert_population_equals_solo(specs, x, y, batch_size=None)


LOSS_CASES = {
    # loss name -> (output activation, output units)
    "binary_crossentropy": ("sigmoid", 1),
    "categorical_crossentropy": ("softmax", 3),
    "sparse_categorical_crossentropy": ("softmax", 3),
    "mean_squared_error": (None, 1),
    "mean_absolute_error": (None, 1),
    "huber": (None, 1),
}


def test_the_loss_cases_cover_the_registry():
    assert set(LOSS_CASES) == set(losses.LOSSES)


@pytest.mark.parametrize(
    ("name", "from_logits"),
    [(name, False) for name in sorted(LOSS_CASES)]
    + [(name, True) for name in sorted(LOSS_CASES) if "crossentropy" in name],
)
def test_every_loss_trains_members_as_alone(name, from_logits):
    output, k = LOSS_CASES[name]
    loss = {"name": name, "from_logits": True} if from_logits else name
    x, y = data(name, k)
    specs = [(h, "relu", None if from_logits else output, k, loss,
              {"name": "adam", "learning_rate": 0.01}, h) for h in (2, 6)]
    assert_population_equals_solo(specs, x, y, batch_size=20)


def test_mixed_widths_activations_and_hyper_parameters_with_shuffled_batches():
    x, y = data("binary_crossentropy", 1, rows=64)
    specs = [
        (3, "tanh", "sigmoid", 1, "binary_crossentropy",
         {"name": "adam", "learning_rate": 0.05, "beta_1": 0.8}, 1),
        (6, "relu", "sigmoid", 1, "binary_crossentropy",
         {"name": "adam", "learning_rate": 0.01, "epsilon": 1e-4}, 2),
        (2, "sigmoid", "sigmoid", 1, "binary_crossentropy",
         {"name": "adam", "learning_rate": 0.02}, 3),
        (6, "linear", "sigmoid", 1, "binary_crossentropy",
         {"name": "adam", "learning_rate": 0.03, "weight_decay": 0.01}, 4),
    ]
    assert_population_equals_solo(specs, x, y, batch_size=16, epochs=4)


def test_members_that_cannot_share_a_population_are_refused_with_the_reason():
    a = member(3, "tanh", "sigmoid", 1, "binary_crossentropy", "adam", 0)
    b = member(3, "tanh", "sigmoid", 1, "binary_crossentropy",
               {"name": "adam", "amsgrad": True}, 1)
    with pytest.raises(ValueError, match="optimizers differ in more than numbers"):
        Population([a, b])
    c = member(3, "elu", "sigmoid", 1, "binary_crossentropy", "adam", 1)
    with pytest.raises(ValueError, match="hidden activations of layer 0 differ"):
        Population([a, c])
    d = member(3, "tanh", "sigmoid", 1, "mse", "adam", 1)
    with pytest.raises(ValueError, match="differ in their loss"):
        Population([a, d])


def test_stack_refuses_optimizers_of_another_structure():
    with pytest.raises(ValueError, match="cannot share a population"):
        optimizers.stack([optimizers.SGD(0.1), optimizers.SGD(0.1, nesterov=True,
                                                              momentum=0.5)])
    with pytest.raises(ValueError, match="cannot share a population"):
        optimizers.stack([optimizers.SGD(0.1), optimizers.Adam(0.1)])


def test_retired_members_are_cut_out_of_every_array():
    x, y = data("binary_crossentropy", 1)
    specs = [(h, "tanh", "sigmoid", 1, "binary_crossentropy",
              {"name": "adam", "learning_rate": 0.01}, h) for h in (2, 3, 4)]
    population = Population([member(*spec) for spec in specs])
    population.fit(x, y, batch_size=16, epochs=1, verbose=0)
    keep_weights = population.member_weights(2)
    population.keep([2])
    assert population.members == 1 and population.ids.tolist() == [2]
    assert all(p.shape[0] == 1 for p in population.params)
    for got, want in zip(population.member_weights(0), keep_weights, strict=True):
        np.testing.assert_array_equal(got, want)
    population.fit(x, y, batch_size=16, epochs=2, verbose=0)  # trains on alone
    solo = member(*specs[2])
    solo.fit(x, y, batch_size=16, epochs=3, verbose=0)
    for got, want in zip(population.member_weights(0), solo.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=RTOL)


# ------------------------------------------------------------------------------- the op
@settings(max_examples=25, deadline=None)
@given(
    members=st.integers(1, 3), rows=st.integers(1, 5), d=st.integers(1, 3), h=st.integers(1, 4),
    shared=st.booleans(), bias=st.booleans(), masked=st.booleans(),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "linear", None, "runs"]),
    seed=st.integers(0, 2**16),
)
def test_stacked_linear_gradcheck(members, rows, d, h, shared, bias, masked, activation, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(d, rows) if shared else (members, d, rows))  # units-first
    w = rng.normal(size=(members, h, d))
    b = rng.normal(size=(members, h))
    mask = rng.random((members, 1, d)) > 0.3 if masked else None
    if activation == "runs":
        cut = members // 2
        activation = [("tanh", 0, cut), ("sigmoid", cut, members)] if cut else "sigmoid"
    x = x + 0.05 * np.sign(x)  # keep relu's kink away from the difference steps

    def f(*args):
        return ops.stacked_linear(args[0], args[1], args[2] if bias else None, activation, mask)

    result = gradcheck(f, x, w, b)
    assert result.passed, result


def test_stacked_linear_equals_per_member_linear():
    rng = np.random.default_rng(1)
    x, w, b = rng.normal(size=(7, 3)), rng.normal(size=(4, 3, 5)), rng.normal(size=(4, 5))
    out = ops.stacked_linear(Tensor(x.T, dtype="float64"),
                             Tensor(w.transpose(0, 2, 1), dtype="float64"),
                             Tensor(b, dtype="float64"), "tanh")
    for i in range(4):  # member i is a Dense layer with kernel w[i], units-first
        np.testing.assert_allclose(out.data[i].T, np.tanh(x @ w[i] + b[i]), rtol=1e-12)
    assert out.data.flags.c_contiguous


@settings(max_examples=25, deadline=None)
@given(
    members=st.integers(1, 3), rows=st.integers(1, 5), d=st.integers(1, 3), h=st.integers(1, 4),
    k=st.integers(1, 3), shared=st.booleans(), bias=st.booleans(), masked=st.booleans(),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "linear", "runs"]),
    seed=st.integers(0, 2**16),
)
def test_stacked_perceptron_gradcheck(members, rows, d, h, k, shared, bias, masked, activation,
                                      seed):
    # shared inputs of few features take the fused backward, the others the layer-by-layer one
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(d, rows) if shared else (members, d, rows))
    w1, b1 = rng.normal(size=(members, h, d)), rng.normal(size=(members, h))
    w2, b2 = rng.normal(size=(members, k, h)), rng.normal(size=(members, k))
    mask = rng.random((members, 1, h)) > 0.3 if masked else None
    if activation == "runs":
        cut = members // 2
        activation = [("relu", 0, cut), ("sigmoid", cut, members)] if cut else "tanh"
    x = x + 0.05 * np.sign(x)
    w1 = w1 + 0.05 * np.sign(w1)

    def f(x, w1, b1, w2, b2):
        return ops.stacked_perceptron(x, w1, b1 if bias else None, activation, w2,
                                      b2 if bias else None, mask)

    # x as a constant: the fused backward computes no input gradient
    result = gradcheck(lambda *p: f(Tensor(x, dtype="float64"), *p), w1, b1, w2, b2)
    assert result.passed, result


@pytest.mark.parametrize("shared", [True, False])
def test_stacked_perceptron_equals_two_stacked_linear_nodes(shared):
    rng = np.random.default_rng(2)
    p, d, h, k, b = 4, 2, 6, 1, 30
    x = rng.normal(size=(d, b) if shared else (p, d, b))
    arrays = [rng.normal(size=s) for s in ((p, h, d), (p, h), (p, k, h), (p, k))]
    runs = [("tanh", 0, 2), ("relu", 2, 3), ("sigmoid", 3, 4)]
    mask = np.ones((p, 1, h), dtype=bool)
    mask[1, :, 4:] = False
    one = [Tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    two = [Tensor(a, dtype="float64", requires_grad=True) for a in arrays]
    xt = Tensor(x, dtype="float64")
    fused = ops.stacked_perceptron(xt, one[0], one[1], runs, one[2], one[3], mask)
    hidden = ops.stacked_linear(xt, two[0], two[1], runs)
    plain = ops.stacked_linear(hidden, two[2], two[3], None, mask)
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12)
    weights = rng.normal(size=fused.shape)
    (fused * weights).sum().backward()
    (plain * weights).sum().backward()
    for a, b_ in zip(one, two, strict=True):
        np.testing.assert_allclose(a.grad, b_.grad, rtol=1e-10, atol=1e-12)
