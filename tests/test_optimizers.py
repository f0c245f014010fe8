"""Optimizers: pure update functions against textbook formulas, and the Optimizer class API.

The reference functions below are written out independently of ``scratchnn.optimizers.updates``:
they are functional (return new arrays), follow the papers' notation, and are what the in-place
updates must reproduce.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scratchnn import optimizers
from scratchnn.optimizers import (
    SGD,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Nadam,
    Optimizer,
    RMSprop,
    schedules,
    updates,
)
from scratchnn.tensor import Tensor

SHAPES = [(3,), (2, 4), (2, 3, 2)]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _grads_sequence(shape, steps, seed=1):
    rng = _rng(seed)
    return [rng.normal(size=shape) for _ in range(steps)]


# ------------------------------------------------------------------------- textbook references
def ref_sgd(p, g, state, lr, momentum, nesterov):
    if momentum == 0:
        return p - lr * g
    v = momentum * state.get("v", np.zeros_like(p)) + g
    state["v"] = v
    direction = g + momentum * v if nesterov else v
    return p - lr * direction


def ref_rmsprop(p, g, state, lr, rho, eps, momentum, centered):
    s = rho * state.get("s", np.zeros_like(p)) + (1 - rho) * g**2
    state["s"] = s
    if centered:
        a = rho * state.get("a", np.zeros_like(p)) + (1 - rho) * g
        state["a"] = a
        denominator = np.sqrt(s - a**2) + eps
    else:
        denominator = np.sqrt(s) + eps
    if momentum > 0:
        b = momentum * state.get("b", np.zeros_like(p)) + g / denominator
        state["b"] = b
        return p - lr * b
    return p - lr * g / denominator


def ref_adagrad(p, g, state, lr, eps, h0):
    h = state.get("h", np.full_like(p, h0)) + g**2
    state["h"] = h
    return p - lr * g / (np.sqrt(h) + eps)


def ref_adam(p, g, state, lr, b1, b2, eps, t, amsgrad=False):
    m = b1 * state.get("m", np.zeros_like(p)) + (1 - b1) * g
    v = b2 * state.get("v", np.zeros_like(p)) + (1 - b2) * g * g
    state["m"], state["v"] = m, v
    if amsgrad:
        v = np.maximum(state.get("vmax", np.zeros_like(p)), v)
        state["vmax"] = v
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamax(p, g, state, lr, b1, b2, eps, t):
    m = b1 * state.get("m", np.zeros_like(p)) + (1 - b1) * g
    u = np.maximum(b2 * state.get("u", np.zeros_like(p)), np.abs(g) + eps)
    state["m"], state["u"] = m, u
    return p - (lr / (1 - b1**t)) * m / u


def ref_nadam(p, g, state, lr, b1, b2, eps, t, psi=0.004):
    """Dozat's Nadam with torch's momentum schedule mu_t = b1 (1 - 0.5 * 0.96^(t psi))."""
    mus = [b1 * (1 - 0.5 * 0.96 ** (i * psi)) for i in range(1, t + 2)]
    prod_t = math.prod(mus[:t])  # mu_1 ... mu_t
    prod_next = prod_t * mus[t]  # mu_1 ... mu_{t+1}
    m = b1 * state.get("m", np.zeros_like(p)) + (1 - b1) * g
    v = b2 * state.get("v", np.zeros_like(p)) + (1 - b2) * g * g
    state["m"], state["v"] = m, v
    v_hat = v / (1 - b2**t)
    m_bar = mus[t] * m / (1 - prod_next) + (1 - mus[t - 1]) * g / (1 - prod_t)
    return p - lr * m_bar / (np.sqrt(v_hat) + eps)


# ------------------------------------------------------------------ pure functions vs textbook
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_update_matches_textbook(momentum, nesterov):
    p = _rng().normal(size=(4, 3))
    expected, state = p.copy(), {}
    velocity = np.zeros_like(p) if momentum else None
    for g in _grads_sequence(p.shape, 5):
        g_before = g.copy()
        updates.sgd_update(p, g, velocity, lr=0.1, momentum=momentum, nesterov=nesterov)
        expected = ref_sgd(expected, g, state, 0.1, momentum, nesterov)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(g, g_before)  # gradient only read


def test_sgd_update_with_momentum_needs_velocity():
    with pytest.raises(ValueError, match="velocity"):
        updates.sgd_update(np.zeros(2), np.ones(2), None, lr=0.1, momentum=0.5)


@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.8])
def test_rmsprop_update_matches_textbook(centered, momentum):
    p = _rng().normal(size=(5,))
    expected, state = p.copy(), {}
    sq = np.zeros_like(p)
    ga = np.zeros_like(p) if centered else None
    buf = np.zeros_like(p) if momentum else None
    for g in _grads_sequence(p.shape, 5):
        g_before = g.copy()
        updates.rmsprop_update(
            p,
            g,
            sq,
            lr=0.01,
            rho=0.9,
            epsilon=1e-7,
            momentum=momentum,
            grad_avg=ga,
            momentum_buffer=buf,
        )
        expected = ref_rmsprop(expected, g, state, 0.01, 0.9, 1e-7, momentum, centered)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(g, g_before)
    np.testing.assert_allclose(sq, state["s"], rtol=1e-12)


def test_adagrad_update_matches_textbook():
    p = _rng().normal(size=(2, 2))
    expected, state = p.copy(), {}
    acc = np.full_like(p, 0.1)
    for g in _grads_sequence(p.shape, 5):
        updates.adagrad_update(p, g, acc, lr=0.1, epsilon=1e-7)
        expected = ref_adagrad(expected, g, state, 0.1, 1e-7, 0.1)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_update_matches_textbook(amsgrad):
    p = _rng().normal(size=(3, 2))
    expected, state = p.copy(), {}
    m, v = np.zeros_like(p), np.zeros_like(p)
    v_max = np.zeros_like(p) if amsgrad else None
    # Shrinking gradients make v fall, so AMSGrad's maximum differs from v.
    for t, g in enumerate(_grads_sequence(p.shape, 6), start=1):
        g = g / t**2
        g_before = g.copy()
        updates.adam_update(
            p, g, m, v, lr=0.01, beta_1=0.9, beta_2=0.99, epsilon=1e-7, step=t, v_max=v_max
        )
        expected = ref_adam(expected, g, state, 0.01, 0.9, 0.99, 1e-7, t, amsgrad)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(g, g_before)
    np.testing.assert_allclose(m, state["m"], rtol=1e-12)


def test_adam_first_step_is_lr_times_sign():
    p = np.array([1.0, 1.0, 1.0])
    updates.adam_update(
        p,
        np.array([3.0, -0.1, 1e-3]),
        np.zeros(3),
        np.zeros(3),
        lr=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=0.0,
        step=1,
    )
    np.testing.assert_allclose(p, [0.9, 1.1, 0.9], rtol=1e-12)


def test_adamax_update_matches_textbook():
    p = _rng().normal(size=(4,))
    expected, state = p.copy(), {}
    m, u = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(_grads_sequence(p.shape, 5), start=1):
        updates.adamax_update(p, g, m, u, lr=0.02, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=t)
        expected = ref_adamax(expected, g, state, 0.02, 0.9, 0.999, 1e-7, t)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)


def test_nadam_update_matches_textbook():
    p = _rng().normal(size=(2, 3))
    expected, state = p.copy(), {}
    m, v, mu_product = np.zeros_like(p), np.zeros_like(p), 1.0
    for t, g in enumerate(_grads_sequence(p.shape, 5), start=1):
        mu_product = updates.nadam_update(
            p,
            g,
            m,
            v,
            lr=0.01,
            beta_1=0.9,
            beta_2=0.999,
            epsilon=1e-7,
            step=t,
            mu_product=mu_product,
            momentum_decay=0.004,
        )
        expected = ref_nadam(expected, g, state, 0.01, 0.9, 0.999, 1e-7, t)
        np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-14)
    assert mu_product == pytest.approx(
        math.prod(0.9 * (1 - 0.5 * 0.96 ** (i * 0.004)) for i in range(1, 6)), rel=1e-14
    )


def test_update_functions_keep_float32():
    p = np.ones(3, dtype=np.float32)
    m, v = np.zeros(3, np.float32), np.zeros(3, np.float32)
    updates.adam_update(
        p, np.ones(3, np.float32), m, v, lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7, step=1
    )
    assert p.dtype == m.dtype == v.dtype == np.float32
    np.testing.assert_allclose(p, 0.9, rtol=1e-6)


def test_apply_weight_decay_is_decoupled_shrink():
    p = np.array([2.0, -4.0])
    updates.apply_weight_decay(p, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(p, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-15)


# ----------------------------------------------------------------------------- clipping helpers
def test_clip_by_value_returns_new_clipped_array():
    g = np.array([-3.0, 0.5, 2.0])
    clipped = updates.clip_by_value(g, 1.0)
    np.testing.assert_array_equal(clipped, [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(g, [-3.0, 0.5, 2.0])


def test_clip_by_norm_rescales_only_above_threshold():
    g = np.array([3.0, 4.0])  # norm 5
    np.testing.assert_allclose(updates.clip_by_norm(g, 1.0), [0.6, 0.8], rtol=1e-15)
    assert updates.clip_by_norm(g, 5.0) is g
    np.testing.assert_array_equal(g, [3.0, 4.0])


def test_clip_by_global_norm_hand_formula():
    grads = [np.array([3.0]), np.array([[4.0, 0.0]]), np.array([12.0])]  # joint norm 13
    clipped = updates.clip_by_global_norm(grads, 6.5)
    for c, g in zip(clipped, grads, strict=True):
        np.testing.assert_allclose(c, g * 0.5, rtol=1e-15)
    assert updates.clip_by_global_norm(grads, 13.0)[0] is grads[0]


# ------------------------------------------------------------------------------- class helpers
def _params(dtype="float64", seed=0):
    rng = _rng(seed)
    return [Tensor(rng.normal(size=s), dtype=dtype, requires_grad=True) for s in SHAPES]


def _set_grads(params, seed):
    rng = _rng(seed)
    for p in params:
        # gradient of a quartic bowl, so that the trajectory depends on the parameters
        p.grad = p.data + 0.5 * p.data**3 + 0.1 * rng.normal(size=p.shape)


def _run(opt, params, steps, seed0=100):
    for k in range(steps):
        _set_grads(params, seed0 + k)
        opt.step(params)


ALL_CONFIGS = [
    SGD(learning_rate=0.05),
    SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    RMSprop(learning_rate=0.01, momentum=0.5, centered=True),
    RMSprop(learning_rate=0.01),
    Adagrad(learning_rate=0.1),
    Adam(learning_rate=0.01),
    Adam(learning_rate=0.01, amsgrad=True, weight_decay=0.01),
    AdamW(learning_rate=0.01),
    Adamax(learning_rate=0.01),
    Nadam(learning_rate=0.01),
]
CONFIG_IDS = [repr(o) for o in ALL_CONFIGS]


def _fresh(opt: Optimizer) -> Optimizer:
    return optimizers.from_config(opt.get_config())


# ------------------------------------------------------------------------------------ class API
@pytest.mark.parametrize("template", ALL_CONFIGS, ids=CONFIG_IDS)
def test_state_round_trip_continues_identical_trajectory(template):
    opt, params = _fresh(template), _params()
    _run(opt, params, 5)
    state = opt.get_state()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert int(state["iterations"]) == 5

    clone = _fresh(template)
    clone.set_state(state)
    clone_params = [Tensor(p.data.copy(), dtype="float64", requires_grad=True) for p in params]
    _run(opt, params, 5, seed0=200)
    _run(clone, clone_params, 5, seed0=200)
    assert clone.iterations == opt.iterations == 10
    for a, b in zip(params, clone_params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    # the state taken earlier is a copy, not a view of the live buffers
    for key, value in opt.get_state().items():
        if key.startswith(("m.", "v.", "square_avg.", "accumulator.", "velocity.")):
            assert not np.array_equal(value, state[key])


def test_get_state_keys_for_adam():
    opt, params = Adam(), _params()
    _run(opt, params, 3)
    state = opt.get_state()
    assert set(state) == {"iterations"} | {f"{k}.{i}" for k in ("m", "v", "step") for i in range(3)}
    assert state["step.1"] == 3
    assert state["m.2"].shape == SHAPES[2]


def test_set_state_rejects_foreign_or_incomplete_state():
    adam = Adam()
    _run(adam, _params(), 2)
    state = adam.get_state()
    with pytest.raises(ValueError, match=r"velocity\.0"):
        Adam().set_state({**state, "velocity.0": np.zeros(3)})
    with pytest.raises(ValueError, match="iterations"):
        Adam().set_state({k: v for k, v in state.items() if k != "iterations"})
    with pytest.raises(ValueError, match=r"lacks entries \['v'\]"):
        Adam().set_state({k: v for k, v in state.items() if k != "v.1"})
    with pytest.raises(ValueError, match=r"m\.0"):
        SGD(momentum=0.9).set_state(state)


def test_step_skips_params_without_grad_or_not_trainable():
    a, b, c = _params()
    a.grad = np.ones_like(a.data)
    c.grad = np.ones_like(c.data)
    c.requires_grad = False
    before = [t.data.copy() for t in (a, b, c)]
    opt = Adam(learning_rate=0.1)
    opt.step([a, b, c])
    assert not np.array_equal(a.data, before[0])
    np.testing.assert_array_equal(b.data, before[1])
    np.testing.assert_array_equal(c.data, before[2])
    state = opt.get_state()
    assert state["step.0"] == 1
    assert not any(k.endswith((".1", ".2")) for k in state)  # no state for b and c yet
    assert opt.iterations == 1


def test_bias_correction_counts_the_steps_of_each_parameter():
    """A parameter first updated on the optimizer's 3rd step still gets Adam's first-step size."""
    a = Tensor(np.zeros(2), dtype="float64", requires_grad=True)
    b = Tensor(np.zeros(2), dtype="float64", requires_grad=True)
    opt = Adam(learning_rate=0.1, epsilon=0.0)
    for _ in range(2):
        a.grad = np.ones(2)
        opt.step([a, b])
    b.grad = np.array([3.0, -0.5])
    opt.step([a, b])
    np.testing.assert_allclose(b.data, [-0.1, 0.1], rtol=1e-12)  # lr * sign(g) at its step 1


def test_step_never_modifies_grad_even_when_clipping():
    for opt in (SGD(clipvalue=0.1), SGD(clipnorm=0.1), SGD(global_clipnorm=0.1), Adam()):
        params = _params()
        _set_grads(params, 3)
        grads = [p.grad for p in params]
        copies = [g.copy() for g in grads]
        opt.step(params)
        for p, g, c in zip(params, grads, copies, strict=True):
            assert p.grad is g
            np.testing.assert_array_equal(g, c)


def test_step_updates_data_in_place():
    (p,) = _params()[:1]
    data = p.data
    p.grad = np.ones_like(data)
    RMSprop().step([p])
    assert p.data is data


def test_changed_parameter_list_raises():
    opt, params = SGD(momentum=0.9), _params()
    _run(opt, params, 1)
    with pytest.raises(ValueError, match="built for 3 parameters; received 2"):
        opt.step(params[:2])
    other = [*params[:2], Tensor(np.zeros((5,)), dtype="float64", requires_grad=True)]
    with pytest.raises(ValueError, match=r"had shape \(2, 3, 2\).*received shape \(5,\)"):
        opt.step(other)


def test_restored_state_is_checked_against_the_parameters():
    opt, params = Adam(), _params()
    _run(opt, params, 2)
    state = opt.get_state()
    with pytest.raises(ValueError, match="up to index 2; received 2 parameters"):
        restored = Adam()
        restored.set_state(state)
        _run(restored, params[:2], 1)
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(2, 4\).*shape \(3,\)"):
        restored = Adam()
        restored.set_state(state)
        _run(restored, [params[0], params[0], params[2]], 1)
    restored = Adam()
    restored.set_state(state)
    _run(restored, [*params, Tensor(np.zeros(4), dtype="float64", requires_grad=True)], 1)
    assert restored.get_state()["step.0"] == 3 and restored.get_state()["step.3"] == 1


def test_gradient_shape_mismatch_raises():
    p = Tensor(np.zeros(3), dtype="float64", requires_grad=True)
    p.grad = np.zeros(4)
    with pytest.raises(ValueError, match=r"shape \(3,\) but its gradient has shape \(4,\)"):
        SGD().step([p])


def test_step_rejects_non_tensors():
    with pytest.raises(TypeError, match="list of Tensors"):
        SGD().step([np.zeros(3)])


def test_float32_params_stay_float32():
    params = _params(dtype="float32")
    for p in params:
        p.grad = np.ones_like(p.data)
    for opt in (Adam(), Nadam(), RMSprop(centered=True, momentum=0.5), Adagrad(), Adamax()):
        opt.step(params)
    assert all(p.data.dtype == np.float32 for p in params)


# --------------------------------------------------------------------- clipping / weight decay
def _one_sgd_step(grad, **kwargs):
    p = Tensor(np.zeros_like(grad), dtype="float64", requires_grad=True)
    p.grad = grad
    SGD(learning_rate=1.0, **kwargs).step([p])
    return -p.data


def test_clipvalue_in_step():
    g = np.array([-5.0, 0.3, 2.0])
    np.testing.assert_array_equal(_one_sgd_step(g, clipvalue=1.0), [-1.0, 0.3, 1.0])


def test_clipnorm_is_per_variable():
    g1, g2 = np.array([3.0, 4.0]), np.array([0.3, 0.4])  # norms 5 and 0.5
    params = [Tensor(np.zeros(2), dtype="float64", requires_grad=True) for _ in range(2)]
    params[0].grad, params[1].grad = g1, g2
    SGD(learning_rate=1.0, clipnorm=1.0).step(params)
    np.testing.assert_allclose(-params[0].data, g1 / 5.0, rtol=1e-15)  # clipped to norm 1
    np.testing.assert_allclose(-params[1].data, g2, rtol=1e-15)  # below the threshold: unchanged


def test_global_clipnorm_scales_all_together():
    g1, g2 = np.array([3.0, 4.0]), np.array([0.0, 12.0])  # joint norm 13
    params = [Tensor(np.zeros(2), dtype="float64", requires_grad=True) for _ in range(2)]
    params[0].grad, params[1].grad = g1, g2
    SGD(learning_rate=1.0, global_clipnorm=1.3).step(params)
    np.testing.assert_allclose(-params[0].data, g1 / 10, rtol=1e-15)
    np.testing.assert_allclose(-params[1].data, g2 / 10, rtol=1e-15)


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match=r"Only one of.*clipnorm=1.0, clipvalue=2.0"):
        SGD(clipnorm=1.0, clipvalue=2.0)


@pytest.mark.parametrize("cls", [SGD, RMSprop, Adagrad, Adam, Adamax, Nadam])
def test_weight_decay_is_decoupled_and_applied_first(cls):
    """One step with weight decay == shrink the parameter, then the plain update."""
    params, plain = _params(), _params()
    _set_grads(params, 7)
    for p, q in zip(params, plain, strict=True):
        q.grad = p.grad
        q.data *= 1 - 0.01 * 0.2
    cls(learning_rate=0.01, weight_decay=0.2).step(params)
    cls(learning_rate=0.01).step(plain)
    for p, q in zip(params, plain, strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-14)


def test_sgd_weight_decay_hand_formula():
    p = Tensor(np.array([1.0, -2.0]), dtype="float64", requires_grad=True)
    p.grad = np.array([0.5, 0.5])
    SGD(learning_rate=0.1, weight_decay=0.3).step([p])
    np.testing.assert_allclose(p.data, np.array([1.0, -2.0]) * 0.97 - 0.05, rtol=1e-15)


def test_adamw_defaults_to_keras_weight_decay():
    assert AdamW().weight_decay == 0.004
    assert Adam().weight_decay is None


# ------------------------------------------------------------------------------- learning rate
def test_schedule_is_evaluated_at_each_step():
    seen = []

    def schedule(step):
        seen.append(step)
        return 0.1 * (step + 1)

    p = Tensor(np.zeros(1), dtype="float64", requires_grad=True)
    opt = SGD(learning_rate=schedule)
    moves = []
    for _ in range(4):
        assert opt.current_learning_rate == pytest.approx(0.1 * (opt.iterations + 1))
        p.grad = np.ones(1)
        before = p.data.copy()
        opt.step([p])
        moves.append(float(before[0] - p.data[0]))
    np.testing.assert_allclose(moves, [0.1, 0.2, 0.3, 0.4], rtol=1e-12)
    assert sorted(set(seen)) == [0, 1, 2, 3]  # called with iterations, from 0


def test_schedule_object_drives_adam_step_size():
    schedule = schedules.PiecewiseConstantDecay([1], [0.1, 0.001])
    p = Tensor(np.zeros(1), dtype="float64", requires_grad=True)
    opt = Adam(learning_rate=schedule, epsilon=0.0)
    moves = []
    for _ in range(3):  # constant gradient: each Adam step moves by exactly lr
        p.grad = np.ones(1)
        before = float(p.data[0])
        opt.step([p])
        moves.append(before - float(p.data[0]))
    np.testing.assert_allclose(moves, [0.1, 0.1, 0.001], rtol=1e-12)


def test_learning_rate_is_settable_and_validated():
    opt = Adam()
    opt.learning_rate = 0.05
    assert opt.learning_rate == 0.05 and opt.current_learning_rate == 0.05
    with pytest.raises(ValueError, match="received learning_rate=-1"):
        opt.learning_rate = -1
    assert opt.learning_rate == 0.05


def test_schedule_returning_negative_rate_raises():
    opt = SGD(learning_rate=lambda step: -0.1)
    p = Tensor(np.zeros(1), dtype="float64", requires_grad=True)
    p.grad = np.ones(1)
    with pytest.raises(ValueError, match=r"returned -0.1 at step 0"):
        opt.step([p])


# ------------------------------------------------------------------------ config and registry
@pytest.mark.parametrize("template", ALL_CONFIGS, ids=CONFIG_IDS)
def test_config_is_json_and_round_trips(template):
    config = template.get_config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = optimizers.get(json.loads(json.dumps(config)))
    assert type(rebuilt) is type(template)
    assert rebuilt.get_config() == config


def test_config_contents():
    config = RMSprop(learning_rate=0.02, rho=0.8, centered=True, clipnorm=2.0).get_config()
    assert config == {
        "name": "rmsprop",
        "learning_rate": 0.02,
        "rho": 0.8,
        "momentum": 0.0,
        "epsilon": 1e-7,
        "centered": True,
        "weight_decay": None,
        "clipnorm": 2.0,
        "clipvalue": None,
        "global_clipnorm": None,
    }


def test_config_with_schedule():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    config = Adam(learning_rate=schedule).get_config()
    assert config["learning_rate"] == {
        "class_name": "ExponentialDecay",
        "config": {
            "initial_learning_rate": 0.1,
            "decay_steps": 10,
            "decay_rate": 0.5,
            "staircase": False,
        },
    }
    rebuilt = optimizers.get(json.loads(json.dumps(config)))
    assert isinstance(rebuilt.learning_rate, schedules.ExponentialDecay)
    assert rebuilt.learning_rate(20) == pytest.approx(0.025)


def test_plain_function_learning_rate_cannot_be_serialised():
    with pytest.raises(TypeError, match="Plain functions cannot be saved"):
        SGD(learning_rate=lambda step: 0.1).get_config()


@pytest.mark.parametrize(
    "name,cls",
    [
        ("sgd", SGD),
        ("SGD", SGD),
        ("Adam", Adam),
        ("rmsprop", RMSprop),
        ("adagrad", Adagrad),
        ("ADAMW", AdamW),
        ("adamax", Adamax),
        ("Nadam", Nadam),
    ],
)
def test_get_by_name(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls


def test_get_defaults_are_keras_defaults():
    assert optimizers.get("sgd").learning_rate == 0.01
    adam = optimizers.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert optimizers.get("adagrad").initial_accumulator_value == 0.1
    assert optimizers.get("rmsprop").rho == 0.9


def test_get_returns_instance_as_is_and_rejects_unknown():
    opt = Adam()
    assert optimizers.get(opt) is opt
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adadelta'.*'adam'.*'sgd'"):
        optimizers.get("adadelta")
    with pytest.raises(TypeError, match="received 3"):
        optimizers.get(3)
    with pytest.raises(ValueError, match="Unknown Adam config keys"):
        optimizers.get({"name": "adam", "bogus": 1})
    with pytest.raises(ValueError, match="'sgd'"):
        Adam.from_config(SGD().get_config())


# ---------------------------------------------------------------------------------- validation
BAD_ARGUMENTS = [
    (SGD, {"learning_rate": 0}, ValueError, "learning_rate=0"),
    (SGD, {"learning_rate": -0.1}, ValueError, "learning_rate=-0.1"),
    (Adam, {"learning_rate": float("nan")}, ValueError, "learning_rate=nan"),
    (Adam, {"learning_rate": "0.01"}, TypeError, "learning_rate='0.01'"),
    (Adam, {"learning_rate": True}, TypeError, "learning_rate=True"),
    (SGD, {"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\); received momentum=1.0"),
    (SGD, {"momentum": -0.5}, ValueError, "momentum=-0.5"),
    (SGD, {"nesterov": "yes"}, TypeError, "nesterov='yes'"),
    (RMSprop, {"rho": 1.5}, ValueError, "rho=1.5"),
    (RMSprop, {"momentum": 1}, ValueError, "momentum=1"),
    (RMSprop, {"epsilon": -1e-3}, ValueError, "epsilon=-0.001"),
    (Adagrad, {"initial_accumulator_value": -1}, ValueError, "initial_accumulator_value=-1"),
    (Adam, {"beta_1": 1.0}, ValueError, "beta_1=1.0"),
    (Adam, {"beta_2": -0.1}, ValueError, "beta_2=-0.1"),
    (Adamax, {"beta_2": 2}, ValueError, "beta_2=2"),
    (Nadam, {"momentum_decay": -1}, ValueError, "momentum_decay=-1"),
    (Adam, {"clipnorm": 0}, ValueError, "clipnorm=0"),
    (Adam, {"clipvalue": -1.0}, ValueError, "clipvalue=-1.0"),
    (Adam, {"global_clipnorm": 0.0}, ValueError, "global_clipnorm=0.0"),
    (Adam, {"weight_decay": -0.1}, ValueError, "weight_decay=-0.1"),
    (AdamW, {"weight_decay": None}, ValueError, "weight_decay=None"),
]


@pytest.mark.parametrize("cls,kwargs,error,message", BAD_ARGUMENTS)
def test_bad_arguments_raise_with_received_value(cls, kwargs, error, message):
    with pytest.raises(error, match=message):
        cls(**kwargs)


def test_learning_rate_error_message_is_complete():
    with pytest.raises(ValueError) as info:
        SGD(learning_rate=0)
    assert str(info.value).startswith(
        "learning_rate must be a positive number or a schedule; received learning_rate=0"
    )


def test_state_survives_a_safetensors_file(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    opt, params = Nadam(learning_rate=0.01), _params()
    _run(opt, params, 3)
    path = str(tmp_path / "optimizer.safetensors")
    safetensors_numpy.save_file(opt.get_state(), path)
    clone = Nadam(learning_rate=0.01)
    clone.set_state(safetensors_numpy.load_file(path))
    clone_params = [Tensor(p.data.copy(), dtype="float64", requires_grad=True) for p in params]
    _run(opt, params, 2, seed0=50)
    _run(clone, clone_params, 2, seed0=50)
    for a, b in zip(params, clone_params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
