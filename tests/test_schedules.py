"""Learning-rate schedules: hand formulas, properties, serialisation and argument checks."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnn.optimizers import schedules
from scratchnn.optimizers.schedules import (
    CosineDecay,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
)

rates = st.floats(1e-6, 10.0)
decay_steps = st.integers(1, 10_000)
steps = st.integers(0, 100_000)


# -------------------------------------------------------------------------------- hand formulas
def test_exponential_decay_hand_formula():
    s = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.96)
    for step in (0, 1, 50, 100, 1234):
        assert s(step) == pytest.approx(0.1 * 0.96 ** (step / 100), rel=1e-14)
    stair = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.96, staircase=True)
    assert stair(99) == pytest.approx(0.1)
    assert stair(100) == pytest.approx(0.1 * 0.96)
    assert stair(250) == pytest.approx(0.1 * 0.96**2)


def test_inverse_time_decay_hand_formula():
    s = InverseTimeDecay(0.5, decay_steps=10, decay_rate=2.0)
    for step in (0, 3, 10, 77):
        assert s(step) == pytest.approx(0.5 / (1 + 2.0 * step / 10), rel=1e-14)
    stair = InverseTimeDecay(0.5, decay_steps=10, decay_rate=2.0, staircase=True)
    assert stair(9) == 0.5
    assert stair(10) == pytest.approx(0.5 / 3)
    assert stair(25) == pytest.approx(0.5 / 5)


def test_piecewise_constant_boundaries_follow_keras():
    s = PiecewiseConstantDecay([100_000, 110_000], [1.0, 0.5, 0.1])
    points = [0, 100_000, 100_001, 110_000, 110_001, 10**7]
    assert [s(k) for k in points] == [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]


def test_cosine_decay_hand_formula():
    s = CosineDecay(0.2, decay_steps=1000, alpha=0.05)
    for step in (0, 1, 250, 500, 999, 1000, 5000):
        fraction = min(step, 1000) / 1000
        decayed = (1 - 0.05) * 0.5 * (1 + math.cos(math.pi * fraction)) + 0.05
        assert s(step) == pytest.approx(0.2 * decayed, rel=1e-14)
    assert s(1000) == pytest.approx(0.2 * 0.05)


def test_cosine_decay_warmup_keras_example():
    """Keras' documented example: warm up from 0 to 0.1 over 1000 steps, then decay over 1000."""
    s = CosineDecay(0.0, decay_steps=1000, warmup_target=0.1, warmup_steps=1000)
    assert s(0) == 0.0
    assert s(250) == pytest.approx(0.025)
    assert s(500) == pytest.approx(0.05)
    assert s(1000) == pytest.approx(0.1)
    assert s(1500) == pytest.approx(0.05)
    assert s(2000) == pytest.approx(0.0, abs=1e-15)
    assert s(9000) == pytest.approx(0.0, abs=1e-15)


def test_cosine_warmup_from_nonzero_start():
    s = CosineDecay(0.01, decay_steps=10, alpha=0.5, warmup_target=0.11, warmup_steps=5)
    assert s(2) == pytest.approx(0.01 + 0.1 * 2 / 5)
    assert s(5) == pytest.approx(0.11)
    assert s(15) == pytest.approx(0.11 * 0.5)


def test_schedules_accept_numpy_integers_and_return_floats():
    import numpy as np

    s = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    value = s(np.int64(10))
    assert type(value) is float and value == pytest.approx(0.05)


# ----------------------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(rates, decay_steps, st.floats(0.01, 1.0), st.booleans(), steps, st.integers(0, 5000))
def test_exponential_is_positive_and_non_increasing(lr, ds, rate, staircase, step, delta):
    s = ExponentialDecay(lr, ds, rate, staircase=staircase)
    assert 0 <= s(step + delta) <= s(step) <= lr
    if (step + delta) / ds * math.log(rate) > -500:  # positive unless it underflows a double
        assert s(step + delta) > 0


@settings(max_examples=60, deadline=None)
@given(rates, decay_steps, st.floats(0.0, 100.0), st.booleans(), steps, st.integers(0, 5000))
def test_inverse_time_is_positive_and_non_increasing(lr, ds, rate, staircase, step, delta):
    s = InverseTimeDecay(lr, ds, rate, staircase=staircase)
    assert 0 < s(step + delta) <= s(step) <= lr


@settings(max_examples=60, deadline=None)
@given(rates, decay_steps, st.floats(0.0, 1.0), steps, st.integers(0, 5000))
def test_cosine_is_non_increasing_between_alpha_and_initial(lr, ds, alpha, step, delta):
    s = CosineDecay(lr, ds, alpha=alpha)
    later, now = s(step + delta), s(step)
    assert later <= now * (1 + 1e-12)
    assert alpha * lr * (1 - 1e-12) <= later <= now <= lr * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([ExponentialDecay, InverseTimeDecay]),
    rates,
    decay_steps,
    st.floats(0.5, 0.99),
    st.integers(0, 100),
)
def test_staircase_is_constant_within_each_interval(cls, lr, ds, rate, k):
    s = cls(lr, ds, rate, staircase=True)
    start = k * ds
    values = {s(start + offset) for offset in (0, ds // 2, ds - 1)}
    assert len(values) == 1
    assert s(start + ds) < s(start)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 10_000), min_size=1, max_size=5, unique=True),
    st.data(),
)
def test_piecewise_takes_only_given_values_in_order(boundaries, data):
    boundaries = sorted(boundaries)
    values = data.draw(
        st.lists(st.floats(1e-5, 1.0), min_size=len(boundaries) + 1, max_size=len(boundaries) + 1)
    )
    s = PiecewiseConstantDecay(boundaries, values)
    step = data.draw(steps)
    index = sum(step > b for b in boundaries)
    assert s(step) == values[index]


@settings(max_examples=40, deadline=None)
@given(rates, decay_steps, st.floats(0.01, 1.0), st.booleans(), steps)
def test_serialize_round_trip_gives_same_values(lr, ds, rate, staircase, step):
    for s in (
        ExponentialDecay(lr, ds, rate, staircase=staircase),
        InverseTimeDecay(lr, ds, rate, staircase=staircase),
        CosineDecay(lr, ds, alpha=rate / 2, warmup_target=lr * 2, warmup_steps=ds // 2),
    ):
        rebuilt = schedules.get(json.loads(json.dumps(schedules.serialize(s))))
        assert type(rebuilt) is type(s)
        assert rebuilt == s
        assert rebuilt(step) == s(step)


# ------------------------------------------------------------------------- registry / configs
def test_get_config_and_get():
    s = PiecewiseConstantDecay([10, 20], [0.3, 0.2, 0.1])
    assert s.get_config() == {"boundaries": [10, 20], "values": [0.3, 0.2, 0.1]}
    assert schedules.serialize(s)["class_name"] == "PiecewiseConstantDecay"
    assert schedules.get(s) is s
    with pytest.raises(ValueError, match=r"Unknown learning-rate schedule 'Nope'.*CosineDecay"):
        schedules.get({"class_name": "Nope", "config": {}})
    with pytest.raises(ValueError, match="class_name"):
        schedules.get({"initial_learning_rate": 0.1})
    with pytest.raises(TypeError, match=r"received 0\.1"):
        schedules.get(0.1)


def test_register_custom_schedule():
    class Halving(LearningRateSchedule):
        def __init__(self, lr):
            self.lr = lr

        def __call__(self, step):
            return self.lr / 2**step

        def get_config(self):
            return {"lr": self.lr}

    schedules.register(Halving)
    rebuilt = schedules.get(schedules.serialize(Halving(1.0)))
    assert rebuilt(3) == 0.125


# ------------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "factory,error,message",
    [
        (lambda: ExponentialDecay(0.1, 0, 0.5), ValueError, "decay_steps=0"),
        (lambda: ExponentialDecay(0.1, -5, 0.5), ValueError, "decay_steps=-5"),
        (lambda: ExponentialDecay(0, 10, 0.5), ValueError, "initial_learning_rate=0"),
        (lambda: ExponentialDecay(0.1, 10, 0.0), ValueError, "decay_rate=0.0"),
        (lambda: ExponentialDecay(0.1, 10, 0.5, staircase="no"), TypeError, "staircase='no'"),
        (lambda: InverseTimeDecay(0.1, 10, -1.0), ValueError, "decay_rate=-1.0"),
        (lambda: InverseTimeDecay(0.1, "10", 1.0), TypeError, "decay_steps='10'"),
        (lambda: CosineDecay(0.1, 0), ValueError, "decay_steps=0"),
        (lambda: CosineDecay(0.1, 10, alpha=1.5), ValueError, "alpha=1.5"),
        (lambda: CosineDecay(0.0, 10), ValueError, "initial_learning_rate=0.0"),
        (lambda: CosineDecay(0.1, 10, warmup_target=-1.0), ValueError, "warmup_target=-1.0"),
        (lambda: CosineDecay(0.1, 10, warmup_steps=-3), ValueError, "warmup_steps=-3"),
        (lambda: CosineDecay(0.1, 10, warmup_steps=2.5), TypeError, "warmup_steps=2.5"),
        (
            lambda: PiecewiseConstantDecay([10, 20], [0.1, 0.01]),
            ValueError,
            "received 2 boundaries and 2 values",
        ),
        (
            lambda: PiecewiseConstantDecay([20, 10], [0.1, 0.01, 0.001]),
            ValueError,
            r"strictly increasing; received boundaries=\[20.0, 10.0\]",
        ),
        (lambda: PiecewiseConstantDecay([10], [0.1, -0.01]), ValueError, r"values\[1\]=-0.01"),
    ],
)
def test_bad_arguments_raise_with_received_value(factory, error, message):
    with pytest.raises(error, match=message):
        factory()


@pytest.mark.parametrize("step,error", [(-1, ValueError), ("3", TypeError), (None, TypeError)])
def test_bad_step_raises(step, error):
    with pytest.raises(error, match="step number"):
        ExponentialDecay(0.1, 10, 0.5)(step)
