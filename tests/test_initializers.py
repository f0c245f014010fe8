"""Tests for scratchnn.initializers: shapes, dtypes, statistics, determinism and the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnn import initializers
from scratchnn.initializers import (
    TRUNCATED_STD,
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Initializer,
    LecunNormal,
    LecunUniform,
    Ones,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
    compute_fans,
)

ALL_NAMES = sorted(initializers.INITIALIZERS)
RANDOM_NAMES = [n for n in ALL_NAMES if n not in ("zeros", "ones", "constant")]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- shapes and dtypes ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64", np.float64, None])
def test_shape_and_dtype(name: str, dtype: object) -> None:
    w = initializers.get(name)((3, 4, 5), rng(), dtype)
    assert w.shape == (3, 4, 5)
    assert w.dtype == (np.dtype("float32") if dtype is None else np.dtype(dtype))


def test_default_dtype_is_float32() -> None:
    assert RandomNormal()((2, 2), rng()).dtype == np.float32


def test_int_shape_and_scalar_shape() -> None:
    assert GlorotUniform()(7, rng()).shape == (7,)
    assert HeNormal()((), rng()).shape == ()
    assert Zeros()((), None).shape == ()


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(ALL_NAMES),
    shape=st.lists(st.integers(1, 6), min_size=0, max_size=4).map(tuple),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_shape(name: str, shape: tuple[int, ...], dtype: str, seed: int) -> None:
    w = initializers.get(name)(shape, rng(seed), dtype)
    assert w.shape == shape
    assert w.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(w))


@settings(max_examples=30, deadline=None)
@given(
    name=st.sampled_from(RANDOM_NAMES),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, 2**32 - 1),
)
def test_float32_is_float64_cast(name: str, shape: tuple[int, ...], seed: int) -> None:
    """The draw is made in float64 then cast: one seed, same values in both dtypes."""
    init = initializers.get(name)
    w64 = init(shape, rng(seed), "float64")
    w32 = init(shape, rng(seed), "float32")
    np.testing.assert_array_equal(w32, w64.astype(np.float32))


# --- constants ------------------------------------------------------------------------------


def test_constants() -> None:
    np.testing.assert_array_equal(Zeros()((2, 3), rng()), np.zeros((2, 3)))
    np.testing.assert_array_equal(Ones()((2, 3), rng()), np.ones((2, 3)))
    np.testing.assert_array_equal(Constant(0.25)((4,), None, "float64"), np.full(4, 0.25))
    assert initializers.constant(3)((1,), None)[0] == 3.0


def test_constant_does_not_consume_rng() -> None:
    r = rng(5)
    Zeros()((10,), r)
    assert r.random() == rng(5).random()


# --- exact draws (documented in the module docstring) -----------------------------------------


def test_random_normal_reproduces_randn_times_001() -> None:
    shape = (784, 10)
    w = initializers.random_normal(stddev=0.01)(shape, rng(0), "float64")
    np.testing.assert_array_equal(w, rng(0).standard_normal(shape) * 0.01)


def test_random_uniform_exact_draw() -> None:
    w = RandomUniform(-2.0, 3.0)((50,), rng(1), "float64")
    np.testing.assert_array_equal(w, -2.0 + 5.0 * rng(1).random(50))


def test_truncated_normal_exact_draw() -> None:
    """Entries outside [-2, 2] are redrawn, in flat order, from the same generator."""
    shape = (40, 30)
    w = TruncatedNormal(mean=1.0, stddev=0.5)(shape, rng(2), "float64")
    r = rng(2)
    z = r.standard_normal(shape).ravel()
    bad = np.flatnonzero(np.abs(z) > 2)
    assert bad.size > 0  # the seed exercises the redraw
    while bad.size:
        z[bad] = r.standard_normal(bad.size)
        bad = bad[np.abs(z[bad]) > 2]
    np.testing.assert_array_equal(w, 1.0 + 0.5 * z.reshape(shape))


# --- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", RANDOM_NAMES)
def test_same_seed_same_values_different_seed_different(name: str) -> None:
    init = initializers.get(name)
    a = init((20, 30), rng(42))
    np.testing.assert_array_equal(a, init((20, 30), rng(42)))
    assert not np.array_equal(a, init((20, 30), rng(43)))


def test_successive_draws_from_one_generator_differ() -> None:
    r = rng(0)
    assert not np.array_equal(HeNormal()((5, 5), r), HeNormal()((5, 5), r))


def test_global_numpy_state_is_untouched() -> None:
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - the legacy global state
    GlorotUniform()((10, 10), rng())
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


# --- fans -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "fans"),
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((3, 5), (3, 5)),
        ((3, 16, 32), (48, 96)),  # Conv1D (width, in, out)
        ((3, 3, 16, 32), (144, 288)),  # Conv2D (h, w, in, out)
        ((2, 3, 3, 4, 8), (72, 144)),
    ],
)
def test_compute_fans_like_keras(shape: tuple[int, ...], fans: tuple[int, int]) -> None:
    assert compute_fans(shape) == fans


# --- statistics of large draws --------------------------------------------------------------

SHAPE = (400, 600)  # 240 000 draws: sample std within ~0.3 %, mean within ~0.5 % of std
FAN_IN, FAN_OUT = SHAPE
AVG = (FAN_IN + FAN_OUT) / 2


def _check_moments(w: np.ndarray, mean: float, std: float) -> None:
    w = w.astype(np.float64)
    assert abs(w.mean() - mean) < 0.01 * std + 1e-12
    assert w.std() == pytest.approx(std, rel=0.01)


@pytest.mark.parametrize(
    ("init", "limit"),
    [
        (GlorotUniform(), math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (HeUniform(), math.sqrt(6 / FAN_IN)),
        (LecunUniform(), math.sqrt(3 / FAN_IN)),
        (RandomUniform(), 0.05),
    ],
)
def test_uniform_statistics(init: Initializer, limit: float) -> None:
    w = init(SHAPE, rng(), "float64")
    assert w.min() >= -limit and w.max() <= limit
    assert w.min() < -0.99 * limit and w.max() > 0.99 * limit  # fills the interval
    _check_moments(w, 0.0, limit / math.sqrt(3))


def test_random_uniform_bounds_and_mean() -> None:
    w = RandomUniform(2.0, 4.0)(SHAPE, rng(), "float64")
    assert w.min() >= 2.0 and w.max() < 4.0
    _check_moments(w, 3.0, 2.0 / math.sqrt(12))


@pytest.mark.parametrize(
    ("init", "std"),
    [
        (GlorotNormal(), math.sqrt(1 / AVG)),
        (HeNormal(), math.sqrt(2 / FAN_IN)),
        (LecunNormal(), math.sqrt(1 / FAN_IN)),
        (VarianceScaling(3.0, "fan_out", "truncated_normal"), math.sqrt(3 / FAN_OUT)),
    ],
)
def test_truncated_variance_scaling_statistics(init: Initializer, std: float) -> None:
    """Keras' truncated normals: the draws' std is the formula's, none beyond 2 / 0.8796 of it."""
    w = init(SHAPE, rng(), "float64")
    _check_moments(w, 0.0, std)
    bound = 2 * std / TRUNCATED_STD
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound


def test_untruncated_variance_scaling_statistics() -> None:
    w = VarianceScaling(2.0, "fan_avg", "untruncated_normal")(SHAPE, rng(), "float64")
    std = math.sqrt(2 / AVG)
    _check_moments(w, 0.0, std)
    assert np.abs(w).max() > 3.5 * std  # not truncated


def test_random_normal_statistics() -> None:
    _check_moments(RandomNormal(1.5, 0.2)(SHAPE, rng(), "float64"), 1.5, 0.2)


def test_truncated_normal_statistics() -> None:
    w = TruncatedNormal(mean=-1.0, stddev=0.3)(SHAPE, rng(), "float64")
    _check_moments(w, -1.0, 0.3 * TRUNCATED_STD)
    assert np.abs(w + 1.0).max() <= 0.6


def test_truncated_std_constant() -> None:
    """0.8796... is the std of a standard normal truncated to [-2, 2]."""
    from scipy.stats import truncnorm

    assert truncnorm(-2, 2).std() == pytest.approx(TRUNCATED_STD, rel=1e-12)


def test_fan_at_least_one() -> None:
    """Keras divides by max(1, fan); a tiny fan never blows the scale up."""
    w = HeUniform()((1,), rng(), "float64")
    assert abs(w[0]) <= math.sqrt(6)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0, 3), (3, -1), (2.0, 3), (True, 2), "ab", None])
def test_bad_shape(shape: object) -> None:
    with pytest.raises(ValueError, match="shape"):
        GlorotUniform()(shape, rng())  # type: ignore[arg-type]


def test_bad_shape_message_names_value() -> None:
    with pytest.raises(ValueError, match=r"received shape=\(0, 3\)"):
        Zeros()((0, 3), None)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: RandomNormal(stddev=0.0), "stddev=0.0"),
        (lambda: RandomNormal(stddev=-1), "stddev=-1"),
        (lambda: TruncatedNormal(stddev=-0.1), "stddev=-0.1"),
        (lambda: RandomUniform(1.0, 1.0), "minval=1.0, maxval=1.0"),
        (lambda: RandomUniform(2, 1), "minval=2.0, maxval=1.0"),
        (lambda: RandomNormal(mean=float("nan")), "mean"),
        (lambda: Constant("a"), "value"),
        (lambda: VarianceScaling(scale=0), "scale"),
        (lambda: VarianceScaling(mode="fan"), "mode"),
        (lambda: VarianceScaling(distribution="normal"), "distribution"),
    ],
)
def test_bad_arguments(factory: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()  # type: ignore[operator]


def test_bad_rng() -> None:
    with pytest.raises(TypeError, match="default_rng"):
        RandomNormal()((2,), 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Generator"):
        GlorotUniform()((2, 2), None)


def test_bad_dtype() -> None:
    with pytest.raises(TypeError, match="float32"):
        Zeros()((2,), None, "int32")


def test_frozen() -> None:
    init = RandomNormal()
    with pytest.raises(AttributeError):
        init.stddev = 1.0  # type: ignore[misc]


# --- registry and configs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("zeros", Zeros()),
        ("ones", Ones()),
        ("random_normal", RandomNormal(0.0, 0.05)),
        ("random_uniform", RandomUniform(-0.05, 0.05)),
        ("truncated_normal", TruncatedNormal(0.0, 0.05)),
        ("glorot_uniform", GlorotUniform()),
        ("glorot_normal", GlorotNormal()),
        ("he_uniform", HeUniform()),
        ("he_normal", HeNormal()),
        ("lecun_uniform", LecunUniform()),
        ("lecun_normal", LecunNormal()),
        ("uniform", RandomUniform(-0.05, 0.05)),
        ("normal", RandomNormal(0.0, 0.05)),
        ("He_Normal", HeNormal()),
        ("HeNormal", HeNormal()),
    ],
)
def test_get_by_name(name: str, expected: Initializer) -> None:
    got = initializers.get(name)
    assert got == expected
    assert type(got) is type(expected)


def test_fixed_classes_are_distinct() -> None:
    assert GlorotUniform() != VarianceScaling(1.0, "fan_avg", "uniform")
    assert repr(HeNormal()) == "HeNormal()"
    assert isinstance(HeNormal(), VarianceScaling)


def test_get_unknown_name_lists_accepted() -> None:
    with pytest.raises(ValueError, match="glorot_uniform") as info:
        initializers.get("xavier")
    assert "'xavier'" in str(info.value)
    assert "he_normal" in str(info.value)


def test_get_instance_and_callable_returned_as_is() -> None:
    init = RandomNormal(stddev=0.3)
    assert initializers.get(init) is init

    def custom(shape: tuple[int, ...], rng: np.random.Generator, dtype: str = "float32"):
        return np.full(shape, 7.0, dtype=dtype)

    assert initializers.get(custom) is custom


@pytest.mark.parametrize(
    "init",
    [
        Zeros(),
        Ones(),
        Constant(0.5),
        RandomNormal(1.0, 0.2),
        RandomUniform(-1, 2),
        TruncatedNormal(0.0, 0.1),
        VarianceScaling(2.0, "fan_out", "uniform"),
        GlorotUniform(),
        GlorotNormal(),
        HeUniform(),
        HeNormal(),
        LecunUniform(),
        LecunNormal(),
    ],
)
def test_config_round_trip(init: Initializer) -> None:
    config = initializers.serialize(init)
    assert initializers.get(config) == init
    assert type(init).from_config(init.get_config()) == init


def test_get_config_dict_with_snake_name() -> None:
    got = initializers.get({"class_name": "random_normal", "config": {"stddev": 0.01}})
    assert got == RandomNormal(stddev=0.01)
    assert initializers.get({"class_name": "GlorotUniform"}) == GlorotUniform()


@pytest.mark.parametrize(
    "config",
    [
        {"class_name": "Nope", "config": {}},
        {"class_name": "RandomNormal", "config": {"sigma": 1.0}},
        {"config": {}},
        {"class_name": "Zeros", "extra": 1},
        {"class_name": "RandomNormal", "config": {"stddev": -1.0}},
    ],
)
def test_get_bad_config(config: dict) -> None:
    with pytest.raises(ValueError):
        initializers.get(config)


def test_get_bad_type() -> None:
    with pytest.raises(TypeError, match="received int"):
        initializers.get(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        initializers.serialize(lambda shape, rng, dtype: None)  # type: ignore[arg-type]


def test_factories_match_classes() -> None:
    assert initializers.random_normal(stddev=0.01) == RandomNormal(stddev=0.01)
    assert initializers.random_uniform(-1, 1) == RandomUniform(-1, 1)
    assert initializers.truncated_normal(stddev=0.02) == TruncatedNormal(stddev=0.02)
    assert initializers.variance_scaling(2.0) == VarianceScaling(2.0)
    assert initializers.glorot_normal() == GlorotNormal()
    assert initializers.he_uniform() == HeUniform()
    assert initializers.lecun_normal() == LecunNormal()
    assert initializers.zeros() == Zeros()
    assert initializers.ones() == Ones()


def test_torch_like_glorot_bound() -> None:
    """Cross-check with PyTorch's xavier_uniform_ bound (same formula, different generator)."""
    torch = pytest.importorskip("torch")
    t = torch.empty(300, 200)
    torch.nn.init.xavier_uniform_(t, generator=torch.Generator().manual_seed(0))
    ours = GlorotUniform()((200, 300), rng(), "float64")  # (fan_in, fan_out) = (200, 300)
    bound = math.sqrt(6 / 500)
    assert float(t.abs().max()) <= bound and np.abs(ours).max() <= bound
    assert float(t.std()) == pytest.approx(float(ours.std()), rel=0.02)


@pytest.mark.parametrize("shape", [(5, 5), (3, 12), (12, 3), (2, 3, 4)])
def test_orthogonal_has_orthonormal_rows_or_columns_times_gain(shape: tuple[int, ...]) -> None:
    w = initializers.get({"class_name": "Orthogonal", "config": {"gain": 2.0}})(
        shape, rng(1), "float64"
    ).reshape(-1, shape[-1])
    small = min(w.shape)
    gram = w @ w.T if w.shape[0] == small else w.T @ w
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    again = initializers.Orthogonal(gain=2.0)(shape, rng(1), "float64").reshape(w.shape)
    np.testing.assert_array_equal(again, w)
    assert not np.allclose(initializers.orthogonal()(shape, rng(2), "float64").reshape(w.shape),
                           w / 2)
