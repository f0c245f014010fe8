"""Population training equals training each member alone with the real ``Sequential.fit``.

The reference here builds each model from the public API (``Sequential``, ``Dense``, an optimizer
from its config), fits it for exactly one trial's epoch count and evaluates it; the population
trains all members at once (padded hidden layers, per-member learning rates, checkpoints) and must
give the same weights, history and metrics to floating-point rounding.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

from scratchnn import optimizers
from scratchnn.layers import LAYERS
from scratchnn.models import Sequential
from scratchnn.sweep.engine import Checkpoint, Member, history_epochs, load_split
from scratchnn.sweep.plan import members_of, plan
from scratchnn.sweep.population import PopulationRun, population_key, unsupported_reason
from scratchnn.sweep.spec import load_spec

DATA = {"name": "moons", "n_samples": 160, "noise": 0.2, "seed": 0, "source": "sklearn",
        "dev_size": 0.25, "split_seed": 0}
SMALL_INIT = {"class_name": "RandomNormal", "config": {"stddev": 0.01}}


def config(hidden, activation="tanh", lr=0.5, *, optimizer="sgd", opt_args=None,
           batch_size=None, shuffle=False, seed=0, fit_seed=None, dtype="float64",
           loss="binary_crossentropy", output="sigmoid", units=1, init=SMALL_INIT):
    """A trial configuration of a Dense stack ``2 -> hidden... -> units``."""
    hidden = [hidden] if isinstance(hidden, int) else list(hidden)
    layers = [{"class_name": "Dense", "units": h, "activation": activation,
               "kernel_initializer": init} for h in hidden]
    layers[0]["input_dim"] = 2
    layers.append({"class_name": "Dense", "units": units, "activation": output,
                   "kernel_initializer": init})
    return {
        "data": dict(DATA),
        "model": {"dtype": dtype, "seed": seed, "layers": layers},
        "compile": {"optimizer": {"name": optimizer, "learning_rate": lr, **(opt_args or {})},
                    "loss": loss, "metrics": ["accuracy"]},
        "fit": {"batch_size": batch_size, "shuffle": shuffle, "seed": fit_seed},
    }


def reference(cfg, epochs):
    """Train one configuration alone with ``Sequential.fit``: weights, History, metrics."""
    x_train, y_train, x_dev, y_dev = load_split(cfg["data"])
    layers = []
    for entry in copy.deepcopy(cfg["model"]["layers"]):
        layers.append(LAYERS[entry.pop("class_name")](**entry))
    model = Sequential(layers, dtype=cfg["model"]["dtype"], seed=cfg["model"]["seed"])
    model.compile(optimizer=optimizers.get(dict(cfg["compile"]["optimizer"])),
                  loss=cfg["compile"]["loss"], metrics=cfg["compile"]["metrics"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(x_train, y_train, batch_size=cfg["fit"]["batch_size"], epochs=epochs,
                            shuffle=cfg["fit"]["shuffle"], seed=cfg["fit"]["seed"], verbose=0)
        train = model.evaluate(x_train, y_train, return_dict=True)
        dev = model.evaluate(x_dev, y_dev, return_dict=True)
    return model.get_weights(), history.history, train, dev


def population(configs, epochs, points=5):
    """Train the configurations as one population; results by (member index, epochs)."""
    members = [Member(c, tuple(Checkpoint(f"{i}/{e}", e) for e in epochs), points)
               for i, c in enumerate(configs)]
    results = {}

    def emit(kind, payload):
        if kind == "result":
            i, e = payload.trial_key.split("/")
            results[int(i), int(e)] = payload

    PopulationRun(members, emit).train()
    assert len(results) == len(configs) * len(epochs)
    return results


def close(a, b, rtol):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & (a == b)
    ok = both_nan | same_inf | np.isclose(a, b, rtol=rtol, atol=rtol * 1e-2)
    return bool(ok.all())


def assert_matches(configs, epochs, rtol=1e-9, points=5):
    """Every member at every checkpoint equals its own Sequential.fit of that many epochs.

    A member that diverged is compared in everything but its final weights and metrics: near
    overflow the order of operations decides whether a weight is huge or infinite, and so
    whether the last finite copy is restored; both must then be finite.
    """
    results = population(configs, epochs, points)
    for i, cfg in enumerate(configs):
        for e in epochs:
            got = results[i, e]
            weights, history, train, dev = reference(cfg, e)
            assert len(got.weights) == len(weights)
            diverged = any(not math.isfinite(v) for v in history["loss"])
            assert got.diverged is diverged
            for w_got, w_ref in zip(got.weights, weights, strict=True):
                assert w_got.shape == w_ref.shape and w_got.dtype == w_ref.dtype
                if diverged:
                    assert np.isfinite(w_got).all() and np.isfinite(w_ref).all()
                else:
                    assert close(w_got, w_ref, rtol), (i, e, np.abs(w_got - w_ref).max())
            logged = [int(x) for x in history_epochs(e, points) if x < len(history["loss"])]
            assert sorted(got.history) == logged
            for epoch in logged:
                for name in ("loss", "accuracy"):
                    assert close(got.history[epoch][name], history[name][epoch], rtol), (
                        i, e, epoch, name)
            if diverged:
                assert got.epochs_run == len(history["loss"]) - 1
                continue
            for name, value in train.items():
                assert close(got.metrics[f"train_{'acc' if name == 'accuracy' else name}"],
                             value, rtol)
            for name, value in dev.items():
                assert close(got.metrics[f"dev_{'acc' if name == 'accuracy' else name}"],
                             value, rtol)
    return results


# ------------------------------------------------------------------------------ full batch
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear"])
def test_full_batch_padded_population_equals_sequential(activation):
    # widths 1, 3 and 6 share one population (padded to 6), with two learning rates each
    configs = [config(h, activation, lr) for h in (1, 3, 6) for lr in (1.2, 0.1)]
    assert len({population_key(c) for c in configs}) == 1
    assert_matches(configs, epochs=(3, 12))


def test_members_of_different_activations_share_a_population():
    # each run of members with one activation gets its own slice of the hidden layer
    configs = [config(h, act, lr) for act in ("relu", "tanh", "linear", "sigmoid")
               for h, lr in ((2, 0.9), (5, 0.2))]
    configs = configs[1::2] + configs[0::2]  # interleaved: the population sorts them
    assert len({population_key(c) for c in configs}) == 1
    assert_matches(configs, epochs=(4, 9))
    wide = [config(h, act, 0.3) for act in ("sigmoid", "tanh", "relu") for h in (7, 9)]
    assert_matches(wide, epochs=(5,))  # more units than the small-width path takes
    deep = [config((3, 2), act, 0.5, init="glorot_uniform") for act in ("tanh", "relu")]
    deep[1]["model"]["layers"][1]["activation"] = "sigmoid"  # per layer, too
    assert_matches(deep, epochs=(5,))


def test_float32_tutorial_network_matches_to_float32_rounding():
    init = {"class_name": "RandomNormal", "config": {"stddev": 0.01}}
    configs = [config(h, "tanh", lr, dtype="float32", init=init) for h in (3, 4)
               for lr in (0.6, 1.2)]
    assert_matches(configs, epochs=(60,), rtol=2e-4)


def test_checkpoints_equal_separate_fits_and_padding_changes_nothing():
    # a 1-unit network trained beside a 12-unit one equals a 1-unit network trained alone
    alone = population([config(1, "sigmoid", 0.9)], (4, 9))
    beside = population([config(1, "sigmoid", 0.9), config(12, "sigmoid", 0.9)], (4, 9))
    for e in (4, 9):
        for a, b in zip(alone[0, e].weights, beside[0, e].weights, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-16)
        assert alone[0, e].epochs_run == e


# ------------------------------------------------------------------------------ mini-batch
def test_mini_batches_with_each_members_own_shuffling_order():
    # seeds differ and widths differ, so each member's generator draws its own order
    configs = [config(h, "tanh", 0.3, batch_size=32, shuffle=True, seed=s)
               for h in (2, 4) for s in (0, 1)]
    assert_matches(configs, epochs=(2, 5))


def test_mini_batches_with_a_shared_fit_seed_and_no_shuffle():
    assert_matches([config(h, "relu", 0.2, batch_size=40, shuffle=True, fit_seed=3)
                    for h in (2, 5)], epochs=(4,))
    assert_matches([config(h, "relu", 0.2, batch_size=50) for h in (2, 5)], epochs=(4,))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("sgd", {}),
        ("sgd", {"momentum": 0.9, "nesterov": True}),
        ("sgd", {"clipnorm": 0.05}),
        ("rmsprop", {}),
        ("rmsprop", {"centered": True, "momentum": 0.5, "clipvalue": 0.01}),
        ("adagrad", {}),
        ("adam", {}),
        ("adam", {"amsgrad": True, "global_clipnorm": 0.05}),
        ("adamw", {"weight_decay": 0.05}),
        ("adamax", {}),
        ("nadam", {}),
    ],
)
def test_every_optimizer_with_per_member_learning_rates(name, args):
    configs = [config(h, "tanh", lr, optimizer=name, opt_args=args, batch_size=48, shuffle=True,
                      init="glorot_uniform")
               for h in (2, 5) for lr in (0.01, 0.05)]
    assert_matches(configs, epochs=(2, 4))


def test_per_member_betas_and_epsilons():
    configs = [config(3, "tanh", 0.02, optimizer="adamax", batch_size=64,
                      opt_args={"beta_1": b1, "epsilon": eps}, init="glorot_uniform")
               for b1 in (0.8, 0.95) for eps in (1e-7, 1e-3)]
    assert len({population_key(c) for c in configs}) == 1
    assert_matches(configs, epochs=(3,))


# ---------------------------------------------------------------------- other structures
def test_two_hidden_layers_of_different_widths():
    configs = [config((h, g), act, lr, init="glorot_uniform") for h, g in ((2, 5), (4, 2))
               for act in ("sigmoid",) for lr in (0.5, 0.1)]
    assert_matches(configs, epochs=(3, 8))


def test_softmax_with_sparse_labels_and_mse_regression_heads():
    init = "glorot_uniform"
    assert_matches([config(h, "tanh", lr, loss="sparse_categorical_crossentropy",
                           output="softmax", units=2, init=init)
                    for h in (2, 4) for lr in (0.5, 0.1)], epochs=(5,))
    assert_matches([config(h, "relu", 0.1, loss="mse", output="linear", init=init)
                    for h in (2, 4)], epochs=(5,))
    assert_matches([config(3, "tanh", 0.5, loss={"name": "binary_crossentropy",
                                                 "from_logits": True},
                           output="linear", init=init)], epochs=(4,))


def test_layers_without_biases_tutorial_003_style():
    # seed 003: 2 -> 4 -> 1, sigmoid everywhere, no biases, squared error, lr 0.5
    configs = []
    for h in (2, 4):
        cfg = config(h, "sigmoid", 0.5, loss="mse", output="sigmoid",
                     init={"class_name": "RandomUniform", "config": {"minval": 0.0,
                                                                      "maxval": 1.0}})
        for layer in cfg["model"]["layers"]:
            layer["use_bias"] = False
        configs.append(cfg)
    cfg = config(3, "tanh", 0.3, init="glorot_uniform")
    cfg["model"]["layers"][1]["use_bias"] = False  # a bias in the hidden layer only
    assert_matches(configs, epochs=(3, 10))
    assert_matches([cfg], epochs=(6,))


def test_diverging_members_stop_like_sequential_without_disturbing_the_others():
    configs = [config(h, "relu", lr, loss="mse", output="linear", init="glorot_uniform")
               for h in (3, 8) for lr in (0.05, 50.0)]
    with np.errstate(all="ignore"):
        results = assert_matches(configs, epochs=(5, 30), rtol=1e-7)
    assert results[1, 30].diverged and results[1, 30].epochs_run < 30
    assert not results[0, 30].diverged and results[0, 30].epochs_run == 30


# ---------------------------------------------------------------------------- what stacks
def test_what_cannot_be_stacked_is_named():
    cfg = config(3)
    cfg["model"]["layers"][0]["kernel_regularizer"] = "l2"
    assert "kernel_regularizer" in unsupported_reason(cfg) and population_key(cfg) is None
    # any activation trains in a population; only relu/tanh/sigmoid/linear may differ in one
    assert unsupported_reason(config(3, "elu")) is None
    assert population_key(config(3, "elu")) != population_key(config(3, "tanh"))
    assert population_key(config(3, "elu")) == population_key(config(5, "elu"))
    assert population_key(config(3, "tanh")) == population_key(config(3, "relu"))
    assert population_key(config(3, output="tanh", loss="mse")) != \
        population_key(config(3, output="sigmoid", loss="mse"))
    cfg = config(3)
    cfg["model"]["layers"].insert(1, {"class_name": "Dropout", "rate": 0.5})
    assert "Dropout" in unsupported_reason(cfg)
    # only an optimizer's structure splits populations; numbers and widths do not
    base = population_key(config(3, optimizer="adam"))
    assert population_key(config(7, lr=0.01, optimizer="adam")) == base
    assert population_key(config(3, optimizer="adam", opt_args={"beta_2": 0.9})) == base
    assert population_key(config(3, optimizer="adam", opt_args={"amsgrad": True})) != base
    assert population_key(config(3, optimizer="adam", opt_args={"clipnorm": 1.0})) != base
    assert population_key(config(3, optimizer="sgd", opt_args={"momentum": 0.9})) == \
        population_key(config(3, optimizer="sgd"))
    assert population_key(config(3, optimizer="sgd", opt_args={"nesterov": True})) != \
        population_key(config(3, optimizer="sgd"))


def test_the_tutorial_grid_plans_into_a_few_padded_populations():
    spec = load_spec(__import__("pathlib").Path(__file__).resolve().parents[1]
                     / "examples" / "sweeps" / "tutorial000.toml")
    members = members_of(spec.trials, spec.history_points)
    assert len(members) == 105  # 420 trials / 4 iteration counts
    assert {tuple(c.epochs for c in m.checkpoints) for m in members} == {(100, 1000, 10000,
                                                                          100000)}
    units = plan(spec.trials, spec.history_points, workers=2)
    assert 2 <= len(units) <= 12 and all(u.engine == "population" for u in units)
    keys = [k for u in units for k in u.trial_keys]
    assert sorted(keys) == sorted(t.key for t in spec.trials)  # each trial exactly once
    for unit in units:
        widths = {m.config["model"]["layers"][0]["units"] for m in unit.members}
        assert max(widths) <= 5 * min(widths), widths  # no 1-unit net padded to 50
    # all three activations train in the same populations
    assert any(len({m.config["model"]["layers"][0]["activation"] for m in u.members}) == 3
               for u in units)
    assert [u.seconds for u in units] == sorted((u.seconds for u in units), reverse=True)
    alone = plan(spec.trials, spec.history_points, workers=1)
    assert len(alone) <= len(units)  # splitting only pays with more workers
    sequential = plan(spec.trials[:8], spec.history_points, engine="sequential")
    assert all(u.engine == "sequential" and len(u.members) == 1 for u in sequential)
