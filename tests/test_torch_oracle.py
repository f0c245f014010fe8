"""PyTorch as an oracle: random networks, every activation and loss, matmul, reductions, indexing.

Our network is built from ``scratchnn.layers.Dense`` in float64 with seeded generators; its
weights are copied into torch tensors and both are run. Forward values and the gradients of every
kernel, every bias and the input must agree to ``rtol=1e-9, atol=1e-12``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratchnn import Tensor, activations, layers, losses, ops

torch = pytest.importorskip(
    "torch", reason="PyTorch (test extra) is not installed: oracle tests skipped"
)
F = torch.nn.functional

ORACLE = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = st.integers(0, 2**32 - 1)
LEAKY_SLOPE = 0.2  # our default; torch's default is 0.01, so it is passed explicitly

TORCH_ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, negative_slope=LEAKY_SLOPE),
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "gelu_tanh": lambda z: F.gelu(z, approximate="tanh"),
    # torch returns z itself above threshold=20 (gradient exactly 1); by 40 both agree exactly.
    "softplus": lambda z: F.softplus(z, threshold=40),
    "swish": F.silu,
    "silu": F.silu,
    "softmax": lambda z: F.softmax(z, dim=-1),
    "log_softmax": lambda z: F.log_softmax(z, dim=-1),
}


def assert_close(ours, theirs):
    if isinstance(ours, Tensor):
        ours = ours.numpy()
    assert ours is not None, "no gradient reached this tensor"
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)


def leaf_pair(array):
    """The same float64 array as our leaf Tensor and as a torch leaf tensor."""
    array = np.asarray(array, dtype=np.float64)
    return (
        Tensor(array, dtype="float64", requires_grad=True),
        torch.tensor(array, dtype=torch.float64, requires_grad=True),
    )


def test_every_activation_of_ours_has_a_torch_equivalent_here():
    assert set(TORCH_ACTIVATIONS) == set(activations.ACTIVATIONS)


# --- networks --------------------------------------------------------------------------------


def build_network(seed, d_in, widths, names, use_bias):
    """Dense layers built with seeded generators, in float64, with non-zero biases."""
    net = []
    d = d_in
    for i, (units, name) in enumerate(zip(widths, names, strict=True)):
        layer = layers.Dense(units, activation=name, use_bias=use_bias)
        rng = np.random.default_rng([seed, i])
        layer.build((d,), rng=rng, dtype="float64")
        assert layer.kernel.dtype == np.float64
        if use_bias:
            layer.bias.data[...] = rng.uniform(-0.5, 0.5, units)
        net.append(layer)
        d = units
    return net


def run_both(net, x, our_head, torch_head):
    """Run the network and a scalar head in both libraries; backward; compare everything."""
    ours_x, torch_x = leaf_pair(x)
    h, ht = ours_x, torch_x
    torch_params = []
    for layer in net:
        w = torch.tensor(layer.kernel.numpy(), requires_grad=True)
        b = torch.tensor(layer.bias.numpy(), requires_grad=True) if layer.use_bias else None
        torch_params.append((w, b))
        h = layer(h)
        z = ht @ w if b is None else ht @ w + b
        ht = TORCH_ACTIVATIONS[activations.name_of(layer.activation)](z)
        assert_close(h, ht)

    ours_loss, torch_loss = our_head(h), torch_head(ht)
    assert_close(ours_loss, torch_loss)
    ours_loss.backward()
    torch_loss.backward()

    assert_close(ours_x.grad, torch_x.grad)
    for layer, (w, b) in zip(net, torch_params, strict=True):
        assert_close(layer.kernel.grad, w.grad)
        if b is not None:
            assert_close(layer.bias.grad, b.grad)
        else:
            assert layer.bias is None


def weighted_sum_heads(shape, seed):
    """A scalar ``sum(out * R)`` head, so every output entry carries its own gradient."""
    r = np.random.default_rng(seed).standard_normal(shape)
    return (lambda out: ops.sum(out * r)), (lambda out: (out * torch.tensor(r)).sum())


@ORACLE
@given(
    depth=st.integers(1, 4),
    data=st.data(),
    n=st.integers(1, 6),
    d_in=st.integers(1, 5),
    use_bias=st.booleans(),
    seed=SEEDS,
)
def test_random_networks_match_torch(depth, data, n, d_in, use_bias, seed):
    widths = data.draw(st.lists(st.integers(1, 5), min_size=depth, max_size=depth), label="widths")
    names = data.draw(
        st.lists(st.sampled_from(sorted(activations.ACTIVATIONS)), min_size=depth, max_size=depth),
        label="activations",
    )
    net = build_network(seed, d_in, widths, names, use_bias)
    x = np.random.default_rng(seed).standard_normal((n, d_in))
    run_both(net, x, *weighted_sum_heads((n, widths[-1]), seed + 1))


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
@FEW
@given(depth=st.integers(1, 4), n=st.integers(1, 6), width=st.integers(2, 5), seed=SEEDS)
def test_every_activation_in_a_deep_network_matches_torch(name, depth, n, width, seed):
    net = build_network(seed, 3, [width] * depth, [name] * depth, use_bias=True)
    x = 2 * np.random.default_rng(seed).standard_normal((n, 3))
    run_both(net, x, *weighted_sum_heads((n, width), seed + 1))


# --- losses ---------------------------------------------------------------------------------------


def _labels(rng, n, k):
    return rng.integers(0, k, n)


LOSS_CASES = {
    # name: (our loss factory, output activation, target draw, torch per-sample loss, torch mean)
    "bce_probabilities": (
        losses.BinaryCrossentropy,
        "sigmoid",
        lambda rng, n, k: rng.integers(0, 2, (n, k)).astype(float),
        lambda p, y: F.binary_cross_entropy(p, y, reduction="none").mean(-1),
        lambda p, y: F.binary_cross_entropy(p, y),
    ),
    "bce_logits": (
        lambda **kw: losses.BinaryCrossentropy(from_logits=True, **kw),
        "linear",
        lambda rng, n, k: rng.random((n, k)),
        lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none").mean(-1),
        lambda x, y: F.binary_cross_entropy_with_logits(x, y),
    ),
    "cce_logits_probability_targets": (
        lambda **kw: losses.CategoricalCrossentropy(from_logits=True, **kw),
        "linear",
        lambda rng, n, k: rng.dirichlet(np.ones(k), n),
        lambda x, y: F.cross_entropy(x, y, reduction="none"),
        lambda x, y: F.cross_entropy(x, y),
    ),
    "cce_probabilities": (
        losses.CategoricalCrossentropy,
        "softmax",
        lambda rng, n, k: np.eye(k)[_labels(rng, n, k)],
        lambda p, y: F.nll_loss(torch.log(p), y.argmax(-1), reduction="none"),
        lambda p, y: F.nll_loss(torch.log(p), y.argmax(-1)),
    ),
    "sparse_logits": (
        lambda **kw: losses.SparseCategoricalCrossentropy(from_logits=True, **kw),
        "linear",
        _labels,
        lambda x, y: F.cross_entropy(x, y.long(), reduction="none"),
        lambda x, y: F.cross_entropy(x, y.long()),
    ),
    "sparse_probabilities": (
        losses.SparseCategoricalCrossentropy,
        "softmax",
        _labels,
        lambda p, y: F.nll_loss(torch.log(p), y.long(), reduction="none"),
        lambda p, y: F.nll_loss(torch.log(p), y.long()),
    ),
    "mse": (
        losses.MeanSquaredError,
        "linear",
        lambda rng, n, k: rng.standard_normal((n, k)),
        lambda p, y: F.mse_loss(p, y, reduction="none").mean(-1),
        F.mse_loss,
    ),
    "mae": (
        losses.MeanAbsoluteError,
        "tanh",
        lambda rng, n, k: rng.standard_normal((n, k)),
        lambda p, y: F.l1_loss(p, y, reduction="none").mean(-1),
        F.l1_loss,
    ),
    "huber": (
        lambda **kw: losses.Huber(delta=0.6, **kw),
        "linear",
        lambda rng, n, k: 2 * rng.standard_normal((n, k)),
        lambda p, y: F.huber_loss(p, y, delta=0.6, reduction="none").mean(-1),
        lambda p, y: F.huber_loss(p, y, delta=0.6),
    ),
}


def test_every_loss_class_is_compared_with_torch():
    classes = {type(factory()) for factory, *_ in LOSS_CASES.values()}
    assert classes == set(losses.LOSSES.values())


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
@ORACLE
@given(
    n=st.integers(1, 6),
    k=st.integers(2, 4),
    depth=st.integers(1, 3),
    reduction=st.sampled_from(losses.REDUCTIONS),
    weighted=st.booleans(),
    seed=SEEDS,
)
def test_loss_on_a_network_matches_torch(name, n, k, depth, reduction, weighted, seed):
    factory, output_activation, draw_targets, torch_per_sample, torch_mean = LOSS_CASES[name]
    rng = np.random.default_rng(seed)
    net = build_network(seed, 3, [4] * (depth - 1) + [k], ["tanh"] * (depth - 1) + [
        output_activation
    ], use_bias=True)
    x = rng.standard_normal((n, 3))
    y = draw_targets(rng, n, k)
    y_torch = torch.tensor(y)
    w = rng.uniform(0.2, 2.0, n) if weighted else None
    w_torch = None if w is None else torch.tensor(w)
    loss = factory(reduction=reduction)

    def torch_loss(out):
        if w is None and reduction in ("mean", "sum_over_batch_size"):
            return torch_mean(out, y_torch)  # torch's own mean
        per_sample = torch_per_sample(out, y_torch)
        if w_torch is not None:
            per_sample = per_sample * w_torch  # hand-weighted
        if reduction == "sum":
            return per_sample.sum()
        if reduction == "none":
            return per_sample
        return per_sample.sum() / n

    if reduction == "none":
        r = np.random.default_rng(seed + 7).standard_normal(n)
        run_both(
            net, x,
            lambda out: ops.sum(loss(y, out, sample_weight=w) * r),
            lambda out: (torch_loss(out) * torch.tensor(r)).sum(),
        )
    else:
        run_both(net, x, lambda out: loss(y, out, sample_weight=w), torch_loss)


@pytest.mark.parametrize("from_logits", [False, True])
def test_weighted_bce_matches_torch_weight_argument(from_logits):
    rng = np.random.default_rng(11)
    logits = rng.standard_normal((5, 3))
    y = rng.integers(0, 2, (5, 3)).astype(float)
    w = rng.uniform(0.2, 2.0, 5)
    ours_in, torch_in = leaf_pair(logits)
    loss = losses.BinaryCrossentropy(from_logits=from_logits)
    if from_logits:
        ours = loss(y, ours_in, sample_weight=w)
        theirs = F.binary_cross_entropy_with_logits(
            torch_in, torch.tensor(y), weight=torch.tensor(w)[:, None].expand(5, 3)
        )
    else:
        ours = loss(y, ops.sigmoid(ours_in), sample_weight=w)
        theirs = F.binary_cross_entropy(
            torch.sigmoid(torch_in), torch.tensor(y), weight=torch.tensor(w)[:, None].expand(5, 3)
        )
    assert_close(ours, theirs)
    ours.backward()
    theirs.backward()
    assert_close(ours_in.grad, torch_in.grad)


def test_crossentropy_with_unnormalised_soft_targets_matches_torch():
    # sum(y) != 1 exercises the softmax * sum(y) - y form of the gradient.
    rng = np.random.default_rng(12)
    logits, y = rng.standard_normal((4, 3)), 2 * rng.random((4, 3))
    ours_in, torch_in = leaf_pair(logits)
    ours = losses.CategoricalCrossentropy(from_logits=True)(y, ours_in)
    theirs = F.cross_entropy(torch_in, torch.tensor(y))
    assert_close(ours, theirs)
    ours.backward()
    theirs.backward()
    assert_close(ours_in.grad, torch_in.grad)


# --- matmul, reductions, indexing --------------------------------------------------------------


@pytest.mark.parametrize(
    "a_shape, b_shape",
    [
        ((3, 4), (4, 2)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 1, 3, 4), (3, 4, 2)),  # batch axes broadcast
        ((1, 3, 4), (5, 4, 2)),
        ((4,), (4, 2)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4,)),
    ],
)
def test_matmul_matches_torch(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, at = leaf_pair(rng.standard_normal(a_shape))
    b, bt = leaf_pair(rng.standard_normal(b_shape))
    ours, theirs = ops.matmul(a, b), torch.matmul(at, bt)
    assert_close(ours, theirs)
    r = rng.standard_normal(theirs.shape)
    (ours * r).sum().backward()
    (theirs * torch.tensor(r)).sum().backward()
    assert_close(a.grad, at.grad)
    assert_close(b.grad, bt.grad)


TORCH_REDUCTIONS = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin}


@pytest.mark.parametrize("name", sorted(TORCH_REDUCTIONS))
@ORACLE
@given(
    shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
    data=st.data(),
    keepdims=st.booleans(),
    seed=SEEDS,
)
def test_reductions_match_torch_including_ties(name, shape, data, keepdims, seed):
    ndim = len(shape)
    axis = data.draw(
        st.none()
        | st.integers(-ndim, ndim - 1)
        | st.lists(st.integers(0, ndim - 1), min_size=1, unique=True).map(tuple),
        label="axis",
    )
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 3, shape).astype(float)  # few distinct values: many ties
    a, at = leaf_pair(values)
    ours = getattr(ops, name)(a, axis=axis, keepdims=keepdims)
    dim = tuple(range(ndim)) if axis is None else axis
    theirs = TORCH_REDUCTIONS[name](at, dim=dim, keepdim=keepdims)
    assert_close(ours, theirs)
    r = rng.standard_normal(theirs.shape)
    (ours * r).sum().backward()
    (theirs * torch.tensor(r)).sum().backward()
    assert_close(a.grad, at.grad)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_elementwise_extrema_match_torch_including_ties(name):
    rng = np.random.default_rng(3)
    a, at = leaf_pair(rng.integers(0, 3, (4, 5)).astype(float))
    b, bt = leaf_pair(rng.integers(0, 3, (5,)).astype(float))
    ours, theirs = getattr(ops, name)(a, b), getattr(torch, name)(at, bt)
    assert_close(ours, theirs)
    r = rng.standard_normal((4, 5))
    (ours * r).sum().backward()
    (theirs * torch.tensor(r)).sum().backward()
    assert_close(a.grad, at.grad)
    assert_close(b.grad, bt.grad)


@pytest.mark.parametrize(
    "index",
    [
        np.array([0, 2, 0, 0, -1]),
        (slice(None), np.array([1, 1, 3, 0])),
        (np.array([0, 0, 2]), np.array([3, 3, 1])),
        (Ellipsis, np.array([2, 2])),
        np.array([True, False, True]),
        (slice(1, None), slice(None, None, 2)),
    ],
    ids=["rows-repeated", "columns-repeated", "pairs-repeated", "ellipsis", "mask", "slices"],
)
def test_getitem_matches_torch(index):
    rng = np.random.default_rng(4)
    a, at = leaf_pair(rng.standard_normal((3, 4)))
    torch_index = tuple(
        torch.tensor(i) if isinstance(i, np.ndarray) else i
        for i in (index if isinstance(index, tuple) else (index,))
    )
    ours, theirs = ops.getitem(a, index), at[torch_index]
    assert_close(ours, theirs)
    r = rng.standard_normal(theirs.shape)
    (ours * r).sum().backward()
    (theirs * torch.tensor(r)).sum().backward()
    assert_close(a.grad, at.grad)
