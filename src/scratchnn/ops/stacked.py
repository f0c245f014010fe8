"""Ops over a leading member axis: many small networks of one structure computed as one.

A population (``scratchnn.models.Population``) stacks the parameters of P networks. Its arrays
are units-first, as tutorial 000's own ``W1 @ X``: a layer's kernel is ``(P, H, D)`` (each
member's Dense kernel transposed), its activations ``(P, H, B)`` with the batch along the last,
contiguous axis. That keeps the work of narrow networks (a few units, many rows) in long rows and
makes the first layer of a whole population one matrix product. :func:`stacked_linear` is the
Dense layer of such a population as one graph node, with an activation that may differ from one
run of members to the next and a mask that keeps padded units (members narrower than the widest)
out of the computation.

Shape legend: P members, B rows of a batch, D inputs, H units.

    >>> import numpy as np
    >>> from scratchnn import Tensor
    >>> x = Tensor(np.ones((2, 4)))                     # (D, B): one batch shared by the members
    >>> w = Tensor(np.ones((3, 5, 2)), requires_grad=True)
    >>> stacked_linear(x, w, activation=(("relu", 0, 2), ("tanh", 2, 3))).shape
    (3, 5, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scratchnn import backend
from scratchnn.ops.core import _FUSED_FORMS, FUSED_ACTIVATIONS, unbroadcast
from scratchnn.tensor import Array, Gradients, Tensor

Runs = Sequence[tuple[str, int, int]]
"""``(activation, start, stop)``: the members ``start:stop`` use ``activation``."""


def _runs(activation: str | Runs | None, members: int) -> list[tuple[str, int, int]]:
    if activation is None:
        return []
    if isinstance(activation, str):
        runs = [(activation, 0, members)]
    else:
        runs = [(str(name), int(lo), int(hi)) for name, lo, hi in activation]
    for name, lo, hi in runs:
        if name not in FUSED_ACTIVATIONS and name != "linear":
            raise ValueError(
                f"stacked_linear: activation must be one of {sorted(FUSED_ACTIVATIONS)} or "
                f"'linear'; received {name!r}. Apply other activations as their own op."
            )
        if not 0 <= lo < hi <= members:
            raise ValueError(
                f"stacked_linear: the run {(name, lo, hi)} is not a slice of the {members} members."
            )
    return [run for run in runs if run[0] != "linear"]


def _through_activations(g: Any, out: Any, runs: Runs, members: int) -> Any:
    """``g`` times each run's activation derivative (taken from the output), in a new array;
    members without a run are linear: their gradient passes as it is."""
    if not runs:
        return g
    covered = sum(hi - lo for _, lo, hi in runs) == members
    grad = backend.xp.empty_like(g) if covered else g.copy()
    for name, lo, hi in runs:
        _FUSED_FORMS[name][1](g[lo:hi], out[lo:hi], grad[lo:hi])
    return grad


def _affine(x: Any, kernel: Any, bias: Any, halved: Sequence[tuple[int, int]] = ()
            ) -> tuple[Any, Any]:
    """``kernel @ x + bias`` ``(P, H, B)``, and the input as the product used it: with a shared
    ``x`` ``(D, B)`` and a bias, ``[x; 1]`` ``(D+1, B)`` (the bias rides along as one more input
    row of one product for the whole population), else ``x`` itself. The members of the
    ``halved`` slices get half of it (their kernel and bias halved, not the output)."""
    xp = backend.xp
    members, units, _ = kernel.shape
    if halved:
        kernel = kernel.copy()
        bias = None if bias is None else bias.copy()
        for lo, hi in halved:
            kernel[lo:hi] *= 0.5
            if bias is not None:
                bias[lo:hi] *= 0.5
    if x.ndim == 2:
        if bias is not None:
            x = xp.concatenate([x, xp.ones((1, x.shape[-1]), x.dtype)], axis=0)
            kernel = xp.concatenate([kernel, bias[:, :, None]], axis=2)  # (P, H, D+1)
        # (P H, D+1) @ (D+1, B) -> (P, H, B)
        return (kernel.reshape(members * units, -1) @ x).reshape(members, units, -1), x
    out = xp.matmul(kernel, x)  # (P, H, D) @ (P, D, B) -> (P, H, B)
    if bias is not None:
        out += bias[:, :, None]
    return out, x


def stacked_linear(
    x: Tensor,
    w: Tensor,
    b: Tensor | None = None,
    activation: str | Runs | None = None,
    kernel_mask: Array | None = None,
) -> Tensor:
    """``activation(w @ x + b)`` for every member at once, units-first, as one node.

    Args:
        x: ``(D, B)`` inputs shared by the members, or ``(P, D, B)``, one batch per member.
        w: ``(P, H, D)`` kernels (member ``i``'s Dense kernel is ``w[i].T``).
        b: ``(P, H)`` biases, or ``None``.
        activation: ``None``, one name of :data:`~scratchnn.ops.FUSED_ACTIVATIONS` (or
            ``"linear"``) for every member, or runs ``(name, start, stop)`` giving each slice of
            the member axis its own. Applied in place, with the derivative taken from the output,
            as :func:`~scratchnn.ops.linear` does.
        kernel_mask: ``None``, or a 0/1 array that broadcasts against ``w`` (``(P, 1, D)``): the
            kernel entries to use. Masked entries take no part in the output and get a zero
            gradient, so padding units never change their member's result.

    Returns:
        ``(P, H, B)``.

    Raises:
        ValueError: shapes that do not fit, or an activation that cannot be fused.

    Inside, when ``x`` is shared, the bias rides along as one more input row: ``[w, b] @ [x; 1]``
    is one matrix product for the whole population, and the weight gradient ``g @ [x; 1]^T``
    holds the bias gradient as its last column.
    """
    xp = backend.xp
    if w.ndim != 3 or x.ndim not in (2, 3) or x.shape[-2] != w.shape[2] or (
        x.ndim == 3 and x.shape[0] != w.shape[0]
    ):
        raise ValueError(
            f"stacked_linear: expected x of shape (D, B) or (P, D, B) and w of shape (P, H, D); "
            f"received x {x.shape} and w {w.shape}."
        )
    members, units, d = w.shape
    if b is not None and b.shape != (members, units):
        raise ValueError(
            f"stacked_linear: the bias must have shape {(members, units)}; received {b.shape}."
        )
    runs = _runs(activation, members)
    kernel = w.data if kernel_mask is None else xp.where(kernel_mask, w.data, 0)
    shared = x.ndim == 2
    out, xa = _affine(x.data, kernel, None if b is None else b.data)
    for name, lo, hi in runs:
        _FUSED_FORMS[name][0](out[lo:hi])

    def backward(g: Array) -> Gradients:  # g: (P, H, B)
        g = _through_activations(g, out, runs, members)
        gx = gw = gb = None
        if x.requires_grad:
            if units == 1:  # outer products: a broadcast product, not P tiny matrix products
                gx = xp.swapaxes(kernel, 1, 2) * g  # (P, D, 1) * (P, 1, B) -> (P, D, B)
            else:
                gx = xp.matmul(xp.swapaxes(kernel, 1, 2), g)  # (P, D, H) @ (P, H, B)
            gx = unbroadcast(gx, x.shape)
        need_w = w.requires_grad
        need_b = b is not None and b.requires_grad
        if shared and (need_w or need_b):
            # (P, H, B) @ (B, D+1) -> (P, H, D+1): the bias gradient is the last column (one
            # product per member: BLAS is slow on one tall (P H, B) @ (B, D+1) product)
            gwb = xp.matmul(g, xa.T)
            gw = gwb[:, :, :d] if need_w else None
            gb = xp.ascontiguousarray(gwb[:, :, d]) if need_b and b is not None else None
        else:
            if need_w:
                gw = xp.matmul(g, xp.swapaxes(xa, 1, 2))  # (P, H, B) @ (P, B, D) -> (P, H, D)
            if need_b:
                gb = g.sum(axis=2)  # (P, H): along the contiguous batch axis
        if gw is not None:
            gw = xp.where(kernel_mask, gw, 0) if kernel_mask is not None else (
                xp.ascontiguousarray(gw)
            )
        return (gx, gw) if b is None else (gx, gw, gb)

    parents = (x, w) if b is None else (x, w, b)
    return Tensor._from_op(out, parents, backward, "stacked_linear")


# A derivative from the stored hidden value, as c0 + c1 * S with S one new array (None: the
# constant c0). Sigmoid units store t = tanh(z / 2) (see stacked_perceptron): s' = (1 - t**2) / 4.
def _derivative_term(name: str, a: Any) -> tuple[float, float, Any]:
    xp = backend.xp
    if name == "relu":
        return 0.0, 1.0, xp.greater(a, 0, out=xp.empty_like(a))
    if name == "tanh":  # 1 - a**2
        return 1.0, -1.0, xp.multiply(a, a)
    if name == "sigmoid":  # a = tanh(z / 2): (1 - a**2) / 4
        return 0.25, -0.25, xp.multiply(a, a)
    return 1.0, 0.0, None  # linear


def _times_derivative(g: Any, a: Any, runs: Runs) -> Any:
    """``g`` times the hidden activations' derivative (from the stored values ``a``), in place;
    members without a run are linear."""
    for name, lo, hi in runs:
        c0, c1, s = _derivative_term(name, a[lo:hi])
        part = g[lo:hi]
        if c0 == 0.0:  # relu: g * mask
            part *= s
        else:  # g * (c0 + c1 * S) = c0 * g + c1 * (g * S)
            s *= part
            part *= c0
            s *= c1
            part += s
    return g


FUSED_PERCEPTRON_WIDTH = 16
""":func:`stacked_perceptron` forms no ``(P, H, B)`` gradient when (inputs + 1) x outputs is at
most this; wider layers take the layer-by-layer formula inside the same op."""

SMALL_WIDTH = 6
"""Up to this many hidden units (one output, shared inputs), the fused backward forms
``S * g`` and multiplies it by each input row for all members in one product (fewer, larger
calls than one product per member)."""


def _halved(runs: Runs) -> list[tuple[int, int]]:
    return [(lo, hi) for name, lo, hi in runs if name == "sigmoid"]


def stacked_perceptron(
    x: Tensor,
    w1: Tensor,
    b1: Tensor | None,
    activation: str | Runs | None,
    w2: Tensor,
    b2: Tensor | None = None,
    hidden_mask: Array | None = None,
) -> Tensor:
    """A population's one-hidden-layer network, ``w2 @ activation(w1 @ x + b1) + b2``, as one node.

    The same maths as two :func:`stacked_linear` nodes (tested to rounding), for the networks
    sweeps train most (tutorial 000's 2-n_h-1): with few inputs and outputs its backward never
    forms the gradient of the hidden layer. With ``F`` the activation's derivative (from the
    output, written ``c0 + c1 * S``), ``X`` the inputs with a row of ones and ``G`` the output
    gradient::

        dW1[p, h, d] = sum_k W2[p, k, h] * sum_b F[p, h, b] * X[d, b] * G[p, k, b]

    a few matrix-vector products of ``S`` with the small ``(P, (D+1) K, B)`` array ``X * G``.

    Sigmoid hidden units are kept as ``t = tanh(z / 2)`` (``sigmoid(z) = (1 + t) / 2``): one
    transcendental pass, with the halving folded into the first layer's weights and the affine
    map back to ``sigmoid(z)`` into the output layer's (``W2 s + b2 = (W2 / 2) t + b2 +
    sum(W2) / 2``), so the hidden array sees one pass instead of four.

    Args:
        x: ``(D, B)`` shared inputs, or ``(P, D, B)``.
        w1: ``(P, H, D)`` hidden kernels; b1: ``(P, H)`` or ``None``.
        activation: the hidden activation (a fusable name, or runs; see :func:`stacked_linear`).
        w2: ``(P, K, H)`` output kernels; b2: ``(P, K)`` or ``None``.
        hidden_mask: ``None`` or ``(P, 1, H)``: the hidden units each member really has.

    Returns:
        ``(P, K, B)``, the output layer's pre-activations.
    """
    xp = backend.xp
    members, units, d = w1.shape
    k = w2.shape[1]
    if w2.shape != (members, k, units):
        raise ValueError(
            f"stacked_perceptron: w2 must have shape (P, K, H) = {(members, k, units)}; "
            f"received {w2.shape}."
        )
    runs = _runs(activation, members)
    halved = _halved(runs)
    a, xa = _affine(x.data, w1.data, None if b1 is None else b1.data, halved)  # the hidden layer
    for name, lo, hi in runs:
        _FUSED_FORMS["tanh" if name == "sigmoid" else name][0](a[lo:hi])
    kernel2 = w2.data if hidden_mask is None else xp.where(hidden_mask, w2.data, 0)
    forward2, bias2 = kernel2, None if b2 is None else b2.data
    if halved:  # s = (1 + t) / 2 folded into the output layer
        forward2 = kernel2.copy()
        bias2 = xp.zeros((members, k), kernel2.dtype) if bias2 is None else bias2.copy()
        for lo, hi in halved:
            forward2[lo:hi] *= 0.5
            bias2[lo:hi] += forward2[lo:hi].sum(axis=2)
    out = xp.matmul(forward2, a)  # (P, K, H) @ (P, H, B) -> (P, K, B)
    if bias2 is not None:
        out += bias2[:, :, None]
    shared = x.ndim == 2
    fused = shared and (d + 1) * k <= FUSED_PERCEPTRON_WIDTH

    def backward(g: Array) -> Gradients:  # g: (P, K, B)
        gw2 = xp.matmul(g, xp.swapaxes(a, 1, 2))  # (P, K, B) @ (P, B, H) -> (P, K, H)
        gb2: Any = g.sum(axis=2) if b2 is not None or halved else None  # set when halved
        for lo, hi in halved:  # s = (1 + t) / 2: g s^T = (g t^T + sum_b g) / 2
            gw2[lo:hi] += gb2[lo:hi, :, None]
            gw2[lo:hi] *= 0.5
        if hidden_mask is not None:
            gw2 = xp.where(hidden_mask, gw2, 0)
        if fused and not x.requires_grad:
            gw1b = _first_layer_gradient(g, a, xa, kernel2, runs, members)
            gx = None
        else:  # the layer-by-layer formula: the hidden layer's gradient, then its product
            gh = (xp.swapaxes(kernel2, 1, 2) * g if k == 1
                  else xp.matmul(xp.swapaxes(kernel2, 1, 2), g))  # (P, H, B)
            gh = _times_derivative(gh, a, runs)
            gx = None
            if x.requires_grad:
                gx = unbroadcast(xp.matmul(xp.swapaxes(w1.data, 1, 2), gh), x.shape)
            if shared:
                gw1b = xp.matmul(gh, xa.T)  # (P, H, B) @ (B, D(+1))
            else:  # (P, H, B) @ (P, B, D) -> (P, H, D), the bias gradient apart
                gw1b = xp.matmul(gh, xp.swapaxes(xa, 1, 2))
                if b1 is not None:
                    gw1b = xp.concatenate([gw1b, gh.sum(axis=2)[:, :, None]], axis=2)
        gw1 = xp.ascontiguousarray(gw1b[:, :, :d])
        grads = [gx, gw1]
        if b1 is not None:
            grads.append(xp.ascontiguousarray(gw1b[:, :, d]))
        grads.append(gw2)
        if b2 is not None:
            grads.append(gb2)
        return tuple(grads)

    parents = tuple(t for t in (x, w1, b1, w2, b2) if t is not None)
    return Tensor._from_op(out, parents, backward, "stacked_perceptron")


def _first_layer_gradient(g: Any, a: Any, xa: Any, kernel2: Any, runs: Runs,
                          members: int) -> Any:
    """``[dW1, db1]`` ``(P, H, D+1)`` of a one-hidden-layer network without forming the hidden
    layer's gradient (see :func:`stacked_perceptron`); ``xa`` is ``(D+1, B)``."""
    xp = backend.xp
    p, k, b = g.shape
    units = a.shape[1]
    small = k == 1 and units <= SMALL_WIDTH
    width = xa.shape[0] * k
    q: Any = None  # q[p, (d, k), b] = x[d, b] * g[p, k, b]: (P, W, B), when products need it
    if not small:
        q = xa * g if k == 1 else (xa[None, :, None, :] * g[:, None, :, :]).reshape(p, -1, b)
    # (P, W): the c0 part, sum_b x[d, b] g[p, k, b]
    total = g[:, 0, :] @ xa.T if k == 1 else q.sum(axis=2)
    m = xp.empty((p, units, width), dtype=g.dtype)  # sum_b F[p, h, b] q[p, (d, k), b]
    covered = [False] * members
    for name, lo, hi in runs:
        c0, c1, s = _derivative_term(name, a[lo:hi])
        part = m[lo:hi]
        if small:  # (S * g) @ x^T: one product per input row, all members' rows at once
            s *= g[lo:hi]
            flat = s.reshape(-1, b)
            for col in range(width):
                xp.matmul(flat, xa[col], out=part[:, :, col].reshape(-1))
        else:  # one matrix-vector product per column: BLAS is slow on (H, B) @ (B, W)
            for col in range(width):
                xp.matmul(s, q[lo:hi, col, :, None], out=part[:, :, col:col + 1])
        if c1 != 1.0:
            part *= c1
        if c0 != 0.0:
            part += total[lo:hi, None, :] * c0
        covered[lo:hi] = [True] * (hi - lo)
    for i, done in enumerate(covered):  # linear members: F = 1
        if not done:
            m[i] = total[i]
    # dW1b[p, h, d] = sum_k W2[p, k, h] m[p, h, (d, k)]
    m = m.reshape(p, units, -1, k)
    return xp.einsum("phdk,pkh->phd", m, kernel2) if k > 1 else m[..., 0] * xp.swapaxes(
        kernel2, 1, 2
    )
