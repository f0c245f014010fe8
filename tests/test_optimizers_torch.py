"""PyTorch as an oracle: every optimizer torch also has must follow torch's trajectory.

Both sides start from the same float64 parameters of several shapes and, for 20 steps, receive the
gradient of the same quartic bowl at their current parameters, so that any difference in an update
feeds into the following gradients. Parameters must agree to 1e-9 relative after every step.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of these tests")

from scratchnn.optimizers import (  # noqa: E402
    SGD,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Nadam,
    RMSprop,
    schedules,
    updates,
)
from scratchnn.tensor import Tensor  # noqa: E402

SHAPES = [(3,), (2, 4), (2, 3, 2)]
STEPS = 20


@pytest.fixture(autouse=True)
def _torch_float64():
    """torch keeps some optimizer scalars (NAdam's mu_product) in the default dtype."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=s) for s in SHAPES]
    a = [rng.uniform(0.5, 2.0, size=s) for s in SHAPES]
    b = [rng.uniform(0.1, 0.5, size=s) for s in SHAPES]
    c = [rng.normal(size=s) for s in SHAPES]

    def gradient(i, p):
        """Gradient of sum(a p^2 / 2 + b p^4 / 4 + c p) for parameter i."""
        return a[i] * p + b[i] * p**3 + c[i]

    return start, gradient


def _compare(ours, make_torch, *, scale=1.0, before_torch_step=None, lr_at=None):
    start, gradient = _problem()
    params = [Tensor(x.copy(), dtype="float64", requires_grad=True) for x in start]
    tparams = [torch.tensor(x.copy(), dtype=torch.float64, requires_grad=True) for x in start]
    topt = make_torch(tparams)
    for step in range(STEPS):
        for i, (p, tp) in enumerate(zip(params, tparams, strict=True)):
            p.grad = scale * gradient(i, p.data)
            tp.grad = torch.from_numpy(scale * gradient(i, tp.detach().numpy()))
        if before_torch_step is not None:
            before_torch_step(tparams)
        if lr_at is not None:
            for group in topt.param_groups:
                group["lr"] = lr_at(step)
        ours.step(params)
        topt.step()
        for p, tp in zip(params, tparams, strict=True):
            np.testing.assert_allclose(
                p.data, tp.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=f"step {step}"
            )
    # the problem moved the parameters: the comparison was not vacuous
    assert max(np.abs(p.data - x).max() for p, x in zip(params, start, strict=True)) > 1e-3


T = torch.optim
CASES = {
    "sgd": (
        lambda: SGD(learning_rate=0.05),
        lambda ps: T.SGD(ps, lr=0.05, foreach=False),
    ),
    "sgd-momentum": (
        lambda: SGD(learning_rate=0.02, momentum=0.9),
        lambda ps: T.SGD(ps, lr=0.02, momentum=0.9, foreach=False),
    ),
    "sgd-nesterov": (
        lambda: SGD(learning_rate=0.02, momentum=0.9, nesterov=True),
        lambda ps: T.SGD(ps, lr=0.02, momentum=0.9, nesterov=True, foreach=False),
    ),
    "rmsprop": (
        lambda: RMSprop(learning_rate=0.01, rho=0.9, epsilon=1e-7),
        lambda ps: T.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7, foreach=False),
    ),
    "rmsprop-momentum": (
        lambda: RMSprop(learning_rate=0.01, rho=0.8, momentum=0.5, epsilon=1e-7),
        lambda ps: T.RMSprop(ps, lr=0.01, alpha=0.8, momentum=0.5, eps=1e-7, foreach=False),
    ),
    "rmsprop-centered": (
        lambda: RMSprop(learning_rate=0.01, rho=0.9, epsilon=1e-7, centered=True),
        lambda ps: T.RMSprop(ps, lr=0.01, alpha=0.9, eps=1e-7, centered=True, foreach=False),
    ),
    "rmsprop-centered-momentum": (
        lambda: RMSprop(learning_rate=0.005, rho=0.9, momentum=0.7, centered=True),
        lambda ps: T.RMSprop(
            ps, lr=0.005, alpha=0.9, eps=1e-7, momentum=0.7, centered=True, foreach=False
        ),
    ),
    "adagrad": (
        lambda: Adagrad(learning_rate=0.1, initial_accumulator_value=0.1, epsilon=1e-7),
        lambda ps: T.Adagrad(ps, lr=0.1, initial_accumulator_value=0.1, eps=1e-7, foreach=False),
    ),
    "adam": (
        lambda: Adam(learning_rate=0.02, beta_1=0.9, beta_2=0.99, epsilon=1e-7),
        lambda ps: T.Adam(ps, lr=0.02, betas=(0.9, 0.99), eps=1e-7, foreach=False),
    ),
    "adam-amsgrad": (
        lambda: Adam(learning_rate=0.02, beta_2=0.9, amsgrad=True),
        lambda ps: T.Adam(ps, lr=0.02, betas=(0.9, 0.9), eps=1e-7, amsgrad=True, foreach=False),
    ),
    "adam-decoupled-weight-decay": (
        lambda: Adam(learning_rate=0.02, weight_decay=0.1),
        lambda ps: T.AdamW(ps, lr=0.02, eps=1e-7, weight_decay=0.1, foreach=False),
    ),
    "adamw": (
        lambda: AdamW(learning_rate=0.02, weight_decay=0.05, beta_1=0.8),
        lambda ps: T.AdamW(
            ps, lr=0.02, betas=(0.8, 0.999), eps=1e-7, weight_decay=0.05, foreach=False
        ),
    ),
    "adamw-amsgrad": (
        lambda: AdamW(learning_rate=0.02, amsgrad=True),
        lambda ps: T.AdamW(ps, lr=0.02, eps=1e-7, weight_decay=0.004, amsgrad=True, foreach=False),
    ),
    "adamax": (
        lambda: Adamax(learning_rate=0.02, beta_1=0.9, beta_2=0.99, epsilon=1e-7),
        lambda ps: T.Adamax(ps, lr=0.02, betas=(0.9, 0.99), eps=1e-7, foreach=False),
    ),
    "nadam": (
        lambda: Nadam(learning_rate=0.02, epsilon=1e-7),
        lambda ps: T.NAdam(ps, lr=0.02, eps=1e-7, foreach=False),
    ),
    "nadam-momentum-decay": (
        lambda: Nadam(learning_rate=0.02, beta_1=0.95, momentum_decay=0.05),
        lambda ps: T.NAdam(
            ps, lr=0.02, betas=(0.95, 0.999), eps=1e-7, momentum_decay=0.05, foreach=False
        ),
    ),
    "nadam-decoupled-weight-decay": (
        lambda: Nadam(learning_rate=0.02, weight_decay=0.1),
        lambda ps: T.NAdam(
            ps, lr=0.02, eps=1e-7, weight_decay=0.1, decoupled_weight_decay=True, foreach=False
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_trajectory_matches_torch(case):
    ours, theirs = CASES[case]
    _compare(ours(), theirs)


def test_schedule_matches_torch_with_the_same_lr_per_step():
    schedule = schedules.CosineDecay(0.05, decay_steps=STEPS, alpha=0.1)
    _compare(
        Adam(learning_rate=schedule),
        lambda ps: T.Adam(ps, lr=0.05, eps=1e-7, foreach=False),
        lr_at=schedule,
    )


def test_clipvalue_matches_clip_grad_value():
    # gradients of size ~10 so that clipping at 1 is active on most elements
    def clip(tparams):
        torch.nn.utils.clip_grad_value_(tparams, 1.0)

    _compare(
        SGD(learning_rate=0.01, momentum=0.9, clipvalue=1.0),
        lambda ps: T.SGD(ps, lr=0.01, momentum=0.9, foreach=False),
        scale=10.0,
        before_torch_step=clip,
    )


def test_global_clipnorm_matches_clip_grad_norm():
    """torch scales by max_norm / (N + 1e-6), Keras (and scratchnn) by max_norm / N."""
    start, gradient = _problem()
    grads = [10 * gradient(i, x) for i, x in enumerate(start)]
    total = np.sqrt(sum((g**2).sum() for g in grads))
    tgrads = [torch.tensor(g) for g in grads]
    tparams = [torch.zeros_like(g, requires_grad=True) for g in tgrads]
    for tp, tg in zip(tparams, tgrads, strict=True):
        tp.grad = tg.clone()
    torch.nn.utils.clip_grad_norm_(tparams, max_norm=2.0, foreach=False)
    ours = updates.clip_by_global_norm(grads, 2.0)
    assert np.sqrt(sum((g**2).sum() for g in ours)) == pytest.approx(2.0, rel=1e-12)
    for g, tp in zip(ours, tparams, strict=True):
        np.testing.assert_allclose(g * total / (total + 1e-6), tp.grad.numpy(), rtol=1e-12, atol=0)


def test_global_clipnorm_in_step_matches_clip_grad_norm_closely():
    def clip(tparams):
        torch.nn.utils.clip_grad_norm_(tparams, max_norm=1.0, foreach=False)

    start, gradient = _problem()
    params = [Tensor(x.copy(), dtype="float64", requires_grad=True) for x in start]
    tparams = [torch.tensor(x.copy(), requires_grad=True) for x in start]
    for i, (p, tp) in enumerate(zip(params, tparams, strict=True)):
        p.grad = gradient(i, p.data)
        tp.grad = torch.from_numpy(gradient(i, tp.detach().numpy()))
    clip(tparams)
    SGD(learning_rate=0.1, global_clipnorm=1.0).step(params)
    T.SGD(tparams, lr=0.1).step()
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6)
