"""Ops over a leading member axis: many small networks of one structure computed as one.

A population (``scratchnn.models.Population``) stacks the parameters of P networks: a Dense kernel
``(D, H)`` becomes ``(P, D, H)`` and its activations ``(P, B, H)``. :func:`stacked_linear` is the
Dense layer of such a population as one graph node, with an activation that may differ from one
run of members to the next and a mask that keeps padded units (members narrower than the widest)
out of the computation.

Shape legend: P members, B rows of a batch, D inputs, H units.

    >>> import numpy as np
    >>> from scratchnn import Tensor
    >>> x = Tensor(np.ones((4, 2)))                     # one batch, shared by the members
    >>> w = Tensor(np.ones((3, 2, 5)), requires_grad=True)
    >>> stacked_linear(x, w, activation=(("relu", 0, 2), ("tanh", 2, 3))).shape
    (3, 4, 5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scratchnn import backend
from scratchnn.ops.core import _FUSED_FORMS, FUSED_ACTIVATIONS, unbroadcast
from scratchnn.tensor import Tensor

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


def stacked_linear(
    x: Tensor,
    w: Tensor,
    b: Tensor | None = None,
    activation: str | Runs | None = None,
    kernel_mask: Any = None,
) -> Tensor:
    """``activation(x @ w + b)`` for every member at once, as one node.

    Args:
        x: ``(B, D)`` inputs shared by the members, or ``(P, B, D)``, one batch per member.
        w: ``(P, D, H)`` kernels.
        b: ``(P, H)`` biases, or ``None``.
        activation: ``None``, one name of :data:`~scratchnn.ops.FUSED_ACTIVATIONS` (or
            ``"linear"``) for every member, or runs ``(name, start, stop)`` giving each slice of
            the member axis its own. Applied in place, with the derivative taken from the output,
            as :func:`~scratchnn.ops.linear` does.
        kernel_mask: ``None``, or a 0/1 array that broadcasts against ``w`` (``(P, D, 1)``): the
            kernel entries to use. Masked entries take no part in the output and get a zero
            gradient, so padding units never change their member's result.

    Returns:
        ``(P, B, H)``.

    Raises:
        ValueError: shapes that do not fit, or an activation that cannot be fused.
    """
    xp = backend.xp
    if w.ndim != 3 or x.ndim not in (2, 3) or x.shape[-1] != w.shape[1] or (
        x.ndim == 3 and x.shape[0] != w.shape[0]
    ):
        raise ValueError(
            f"stacked_linear: expected x of shape (B, D) or (P, B, D) and w of shape (P, D, H); "
            f"received x {x.shape} and w {w.shape}."
        )
    members, _, units = w.shape
    if b is not None and b.shape != (members, units):
        raise ValueError(
            f"stacked_linear: the bias must have shape {(members, units)}; received {b.shape}."
        )
    runs = _runs(activation, members)
    kernel = w.data if kernel_mask is None else xp.where(kernel_mask, w.data, 0)
    out = xp.matmul(x.data, kernel)  # (B, D) or (P, B, D) @ (P, D, H) -> (P, B, H)
    if b is not None:
        out += b.data[:, None, :]
    for name, lo, hi in runs:
        part = out[lo:hi]
        result = _FUSED_FORMS[name][0](part)
        if result is not part:
            part[...] = result

    def backward(g):  # g: (P, B, H)
        if runs:
            g = g.copy()
            for name, lo, hi in runs:
                g[lo:hi] = _FUSED_FORMS[name][1](g[lo:hi], out[lo:hi])
        gx = gw = gb = None
        if x.requires_grad:
            gx = unbroadcast(xp.matmul(g, xp.swapaxes(kernel, 1, 2)), x.shape)  # (P, B, D)
        if w.requires_grad:
            gw = xp.matmul(xp.swapaxes(x.data, -1, -2), g)  # (D, B) @ (P, B, H) -> (P, D, H)
            if kernel_mask is not None:
                gw = xp.where(kernel_mask, gw, 0)
        if b is not None and b.requires_grad:
            gb = g.sum(axis=1)  # (P, H)
        return (gx, gw) if b is None else (gx, gw, gb)

    parents = (x, w) if b is None else (x, w, b)
    return Tensor._from_op(out, parents, backward, "stacked_linear")
