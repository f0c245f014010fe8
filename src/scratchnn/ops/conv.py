"""Convolution, pooling, resampling, padding and batch normalisation, forward beside backward.

Images are channels-last by default, ``(N, H, W, C)`` as in Keras (``data_format=
"channels_first"`` takes ``(N, C, H, W)`` and returns that layout too); sequences are ``(N, L, C)``
(or ``(N, C, L)``). Kernels keep Keras' layout whatever the data format: ``(KH, KW, C, F)`` for
``conv2d``, ``(K, C, F)`` for ``conv1d`` and ``(KH, KW, F, C)`` for ``conv2d_transpose``.

How a convolution is computed (CS231n's im2col, tinygrad's strided views):

* forward: the padded input is viewed as its windows with one ``as_strided`` call,
  ``(N, OH, OW, KH, KW, C)``, copied once into an ``(M, KH*KW*C)`` matrix (M = N*OH*OW rows, one
  per output pixel) and multiplied by the ``(KH*KW*C, F)`` kernel: one matrix product gives the
  ``(M, F)`` output, which *is* the NHWC output, no transpose needed;
* backward: the kernel gradient is one product ``cols.T @ g``; the input gradient is
  ``g @ kernel.T`` reshaped to ``(N, OH, OW, KH, KW, C)`` and added back kernel offset by kernel
  offset, each offset one strided slice of the padded input (KH*KW slice additions, no
  ``np.add.at`` scatter).

The transposed convolution is the same two halves swapped (its forward is a convolution's input
gradient, its backward a convolution's forward); 1-D ops are the 2-D ones on a height of 1.
Pooling works offset by offset on strided slices too: ``max`` keeps, per output, the index of the
first maximal offset (ties go to the first, as in PyTorch), ``avg`` divides by the number of real
(non-padding) inputs in the window (Keras).

Padding: ``"valid"`` (none), ``"same"`` (output ``ceil(size / stride)``, the extra pixel of an
odd total after the end, as TensorFlow), an int ``p`` (``p`` on every side), a pair ``(ph, pw)``
(``ph`` top and bottom, ``pw`` left and right) or explicit pairs ``((top, bottom), (left,
right))``; ``conv1d`` also takes ``"causal"`` (``(K - 1) * dilation`` zeros before the sequence).

Shape legend used in comments: N batch, H/W input height/width, C input channels, F filters
(output channels), KH/KW kernel height/width, OH/OW output height/width, HP/WP padded height/width,
M = N*OH*OW rows of the window matrix, KK = KH*KW*C columns of it, L sequence length.
"""

from __future__ import annotations

import builtins
import math
import numbers
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

from scratchnn import backend
from scratchnn.ops.core import _FUSED_FORMS, FUSED_ACTIVATIONS
from scratchnn.tensor import Array, Gradients, Tensor, is_grad_enabled

Pads = tuple[tuple[int, int], ...]

DATA_FORMATS = ("channels_last", "channels_first")

DataFormat: TypeAlias = Literal["channels_last", "channels_first"]
"""Where the channel axis is: last, ``(N, H, W, C)`` (the default), or first, ``(N, C, H, W)``."""

IntOrInts: TypeAlias = "int | Sequence[int]"
"""One int for every spatial axis, or one per axis (window sizes, strides, dilations)."""

Padding: TypeAlias = (
    "Literal['valid', 'same', 'causal'] | int | Sequence[int] | Sequence[tuple[int, int]]"
)
"""``"valid"`` (none), ``"same"`` (output size = input size / stride), ``"causal"`` (1-D
convolutions: all on the left), or explicit zeros: one int, one per axis, or ``(before,
after)`` pairs."""

BLOCK_BYTES = 1 << 20
"""A convolution builds its window matrix and multiplies it a block of images at a time, about
this many bytes of the matrix per block: the block is still in cache when the product reads it
(and when the backward adds the input gradient's block back), and without a graph to keep
(``predict``) only one block is ever held."""

# ------------------------------------------------------------------------------ argument checks


def check_ints(value: Any, n: int, label: str, op: str) -> tuple[int, ...]:
    """``value`` (an int or ``n`` ints) as ``n`` positive ints, or a ValueError naming it."""
    items = (value,) * n if _is_int(value) else value
    try:
        items = tuple(items)
    except TypeError:
        items = ()
    if len(items) != n or not all(_is_int(v) and v >= 1 for v in items):
        raise ValueError(
            f"{op}: {label} must be a positive integer or {n} of them; received "
            f"{label}={value!r}. Use {label}=1 or more."
        )
    return tuple(int(v) for v in items)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_data_format(data_format: Any, op: str) -> DataFormat:
    """``data_format`` (``None`` means channels-last) as one of :data:`DATA_FORMATS`."""
    if data_format is None:
        return "channels_last"
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"{op}: data_format must be 'channels_last' (N, H, W, C) or 'channels_first' "
            f"(N, C, H, W); received data_format={data_format!r}."
        )
    return data_format


def check_padding(padding: Any, n: int, op: str, causal: bool = False) -> str | Pads:
    """``padding`` as ``"valid"``, ``"same"``, ``"causal"`` or ``n`` ``(before, after)`` pairs.

    With one spatial axis a pair of ints is ``(before, after)``; with two it is ``(ph, pw)``.
    """
    names = ("valid", "same", "causal") if causal else ("valid", "same")
    if isinstance(padding, str):
        if padding.lower() in names:
            return padding.lower()
    else:
        try:
            items = (padding,) * n if _is_int(padding) else tuple(padding)
            if n == 1 and len(items) == 2 and all(_is_int(v) for v in items):
                items = (items,)
            pairs = tuple((v, v) if _is_int(v) else tuple(v) for v in items)
            if len(pairs) == n and all(
                len(p) == 2 and all(_is_int(v) and v >= 0 for v in p) for p in pairs
            ):
                return tuple((int(a), int(b)) for a, b in pairs)
        except TypeError:
            pass
    explicit = "an int p >= 0, " + (
        "a pair (before, after)" if n == 1 else f"{n} ints or {n} pairs (before, after)"
    )
    raise ValueError(
        f"{op}: padding must be {', '.join(repr(s) for s in names)}, {explicit}; received "
        f"padding={padding!r}."
    )


def _pads(
    padding: str | Pads, sizes: Sequence[int], eff: Sequence[int], strides: Sequence[int]
) -> Pads:
    """``(before, after)`` zeros per spatial axis for a checked ``padding``."""
    if padding == "valid":
        return tuple((0, 0) for _ in sizes)
    if padding == "causal":
        return ((0, 0),) * (len(sizes) - 1) + ((eff[-1] - 1, 0),)
    if padding == "same":
        pads = []
        for size, k, s in zip(sizes, eff, strides, strict=True):
            total = builtins.max((-(-size // s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    return padding  # type: ignore[return-value]


def _geometry(
    sizes: Sequence[int], window: Sequence[int], strides: Sequence[int],
    dilation: Sequence[int], padding: str | Pads, op: str, shape: tuple[int, ...],
    transposed: bool = False,
) -> tuple[Pads, tuple[int, ...]]:
    """``(pads, output sizes)`` over the spatial axes for a checked ``padding``.

    A window larger than the padded input (or a transposed convolution cropped to nothing) is a
    ValueError that says what was received and the fix.
    """
    eff = [(k - 1) * d + 1 for k, d in zip(window, dilation, strict=True)]
    if transposed:  # the output is the input of the convolution that maps it to ``sizes``
        full = [(n - 1) * s + k for n, s, k in zip(sizes, strides, eff, strict=True)]
        if padding == "same":
            out = [n * s for n, s in zip(sizes, strides, strict=True)]
            return _pads("same", out, eff, strides), tuple(out)
        pads = _pads(padding, full, eff, strides)
        out = [m - a - b for m, (a, b) in zip(full, pads, strict=True)]
        if builtins.min(out) < 1:
            raise ValueError(
                f"{op}: padding {padding} crops the whole {'x'.join(map(str, full))} output "
                f"(input shape {shape}); use less padding."
            )
        return pads, tuple(out)
    pads = _pads(padding, sizes, eff, strides)
    padded = [n + a + b for n, (a, b) in zip(sizes, pads, strict=True)]
    if any(p < k for p, k in zip(padded, eff, strict=True)):
        raise ValueError(
            f"{op}: the window {'x'.join(map(str, eff))} (dilation included) is larger than the "
            f"padded input {'x'.join(map(str, padded))} (input shape {shape}). Use a smaller "
            "kernel or pool size, padding='same', or larger inputs."
        )
    return pads, tuple(
        (p - k) // s + 1 for p, k, s in zip(padded, eff, strides, strict=True)
    )


def spatial_output_shape(
    sizes: Sequence[int], window: IntOrInts, strides: IntOrInts = 1, padding: Padding = "valid",
    dilation_rate: IntOrInts = 1, transposed: bool = False, op: str = "conv",
) -> tuple[int, ...]:
    """Output sizes of a convolution or pooling (or a transposed convolution) over ``sizes``.

    Args:
        sizes: the spatial sizes of one input, e.g. ``(28, 28)`` or ``(100,)``.
        window: kernel (or pool) size, an int or one per axis.
        strides, padding, dilation_rate: as :func:`conv2d` (``"causal"`` for one axis).
        transposed: sizes of :func:`conv2d_transpose` instead.
        op: name used in error messages.

    Raises:
        ValueError: bad arguments, or a window larger than the padded input.

    Example:
        >>> spatial_output_shape((28, 28), 3), spatial_output_shape((26, 26), 2, strides=2)
        ((26, 26), (13, 13))
    """
    return _checked_geometry(sizes, window, strides, padding, dilation_rate, transposed, op)[1]


def spatial_padding(
    sizes: Sequence[int], window: IntOrInts, strides: IntOrInts = 1, padding: Padding = "valid",
    dilation_rate: IntOrInts = 1, transposed: bool = False, op: str = "conv",
) -> Pads:
    """The ``(before, after)`` zeros per spatial axis that ``padding`` puts around ``sizes``.

    Arguments as :func:`spatial_output_shape`. For ``"same"`` the extra zero of an odd total goes
    after (TensorFlow's rule); a transposed convolution crops its full output by these amounts.
    Exporters use it to write explicit pads.

    Example:
        >>> spatial_padding((5, 6), 3, strides=2, padding="same")
        ((1, 1), (0, 1))
    """
    return _checked_geometry(sizes, window, strides, padding, dilation_rate, transposed, op)[0]


def _checked_geometry(
    sizes: Sequence[int], window: IntOrInts, strides: IntOrInts, padding: Padding,
    dilation_rate: IntOrInts, transposed: bool, op: str,
) -> tuple[Pads, tuple[int, ...]]:
    n = len(sizes)
    window = check_ints(window, n, "kernel_size", op)
    strides = check_ints(strides, n, "strides", op)
    dilation = check_ints(dilation_rate, n, "dilation_rate", op)
    spec = check_padding(padding, n, op, causal=n == 1 and not transposed)
    return _geometry(sizes, window, strides, dilation, spec, op, tuple(sizes), transposed)


def _check_rank(x: Tensor, rank: int, op: str, layout: str) -> None:
    if x.ndim != rank:
        raise ValueError(
            f"{op}: expected a {rank}-D input {layout}; received shape {x.shape}."
        )


def _to_nhwc(x: Any, data_format: str, spatial: int) -> Any:
    """An array in NHWC (2-D) or N1LC (1-D) layout, a view where possible."""
    xp = backend.xp
    if data_format == "channels_first":
        x = xp.moveaxis(x, 1, -1)
    return x[:, None] if spatial == 1 else x


def _from_nhwc(y: Any, data_format: str, spatial: int) -> Any:
    """The inverse of :func:`_to_nhwc` (a view)."""
    xp = backend.xp
    if spatial == 1:
        y = y[:, 0]
    return xp.moveaxis(y, -1, 1) if data_format == "channels_first" else y


def _records(*tensors: Tensor | None) -> bool:
    """Whether an op on these tensors records a graph (so its backward will be called)."""
    return is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


# --------------------------------------------------------------------------- window primitives


def _pad_array(x: Any, pads: Pads, value: float = 0.0) -> Any:
    """``(N, H, W, C)`` -> ``(N, HP, WP, C)``, ``value`` around (``x`` itself without padding)."""
    (t, b), (left, r) = pads
    if t == b == left == r == 0:
        return x
    xp = backend.xp
    n, h, w, c = x.shape
    out = xp.full((n, h + t + b, w + left + r, c), value, dtype=x.dtype)
    out[:, t : t + h, left : left + w] = x
    return out


def _windows(xpad: Any, kernel: tuple[int, ...], strides: tuple[int, ...],
             dilation: tuple[int, ...], out: tuple[int, ...]) -> Any:
    """The ``(N, OH, OW, KH, KW, C)`` windows of ``(N, HP, WP, C)``, a read-only strided view."""
    xp = backend.xp
    n, _, _, c = xpad.shape
    s0, s1, s2, s3 = xpad.strides
    return xp.lib.stride_tricks.as_strided(
        xpad,
        shape=(n, out[0], out[1], kernel[0], kernel[1], c),
        strides=(s0, s1 * strides[0], s2 * strides[1], s1 * dilation[0], s2 * dilation[1], s3),
        writeable=False,
    )


def _im2col(xpad: Any, kernel: tuple[int, ...], strides: tuple[int, ...],
            dilation: tuple[int, ...], out: tuple[int, ...]) -> Any:
    """``(N, HP, WP, C)`` -> ``(M, KK)``: one row per output pixel, one copy."""
    n, _, _, c = xpad.shape
    win = _windows(xpad, kernel, strides, dilation, out)  # (N, OH, OW, KH, KW, C)
    return win.reshape(n * out[0] * out[1], kernel[0] * kernel[1] * c)  # (M, KK), a copy


def _offset_slices(kernel: tuple[int, ...], strides: tuple[int, ...],
                   dilation: tuple[int, ...], out: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """Per kernel offset ``(i, j)``: the index of the input pixels it meets, ``(:, rows, cols)``.

    ``xpad[index]`` is ``(N, OH, OW, C)``: the input under offset ``(i, j)`` of every window.
    """
    return [
        (
            slice(None),
            slice(i * dilation[0], i * dilation[0] + strides[0] * (out[0] - 1) + 1, strides[0]),
            slice(j * dilation[1], j * dilation[1] + strides[1] * (out[1] - 1) + 1, strides[1]),
        )
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]


def _col2im(dcols: Any, padded: tuple[int, ...], kernel: tuple[int, ...],
            strides: tuple[int, ...], dilation: tuple[int, ...], out: tuple[int, ...]) -> Any:
    """``(M, KK)`` -> ``(N, HP, WP, C)``: each window's entries added back, offset by offset."""
    grad = backend.xp.zeros(padded, dtype=dcols.dtype)
    _col2im_add(grad, dcols, kernel, strides, dilation, out)
    return grad


def _col2im_add(grad: Any, dcols: Any, kernel: tuple[int, ...], strides: tuple[int, ...],
                dilation: tuple[int, ...], out: tuple[int, ...]) -> None:
    """Add the ``(M, KK)`` window entries ``dcols`` onto ``grad`` ``(N, HP, WP, C)`` in place."""
    n, _, _, c = grad.shape
    d = dcols.reshape(n, out[0], out[1], kernel[0] * kernel[1], c)  # (N, OH, OW, KH*KW, C)
    for k, index in enumerate(_offset_slices(kernel, strides, dilation, out)):
        grad[index] += d[:, :, :, k]  # (N, OH, OW, C) onto a strided slice


def _blocks(n: int, row_bytes: int) -> list[tuple[int, ...]]:
    """``(lo, hi)`` ranges of images, each about :data:`BLOCK_BYTES` of a matrix."""
    rows = builtins.max(1, BLOCK_BYTES // builtins.max(row_bytes, 1))
    return [(lo, builtins.min(lo + rows, n)) for lo in range(0, n, rows)]


def _crop(xpad: Any, pads: Pads, size: tuple[int, ...]) -> Any:
    """The inverse of :func:`_pad_array`: ``(N, HP, WP, C)`` -> ``(N, H, W, C)`` (a view)."""
    (t, _), (left, _) = pads
    if xpad.shape[1:3] == size:
        return xpad
    return xpad[:, t : t + size[0], left : left + size[1]]


def _fused(activation: str | None, op: str) -> tuple[Any, Any]:
    """``(apply in place, derivative from the output)`` of a fusable activation, or Nones."""
    if activation is None:
        return None, None
    if activation not in FUSED_ACTIVATIONS:
        raise ValueError(
            f"{op}: activation must be one of {sorted(FUSED_ACTIVATIONS)} or None; received "
            f"{activation!r}. Apply other activations as their own op."
        )
    return _FUSED_FORMS[activation]


# --------------------------------------------------------------------------------- convolutions


def _conv(
    x: Tensor, kernel: Tensor, bias: Tensor | None, strides: Any, padding: Any,
    dilation_rate: Any, data_format: Any, activation: str | None, spatial: int, op: str,
) -> Tensor:
    """Convolution over ``spatial`` (1 or 2) axes; see :func:`conv2d`."""
    xp = backend.xp
    fmt = check_data_format(data_format, op)
    strides = check_ints(strides, spatial, "strides", op)
    dilation = check_ints(dilation_rate, spatial, "dilation_rate", op)
    layout = "(N, L, C)" if spatial == 1 else "(N, H, W, C)"
    if fmt == "channels_first":
        layout = "(N, C, L)" if spatial == 1 else "(N, C, H, W)"
    _check_rank(x, spatial + 2, op, layout)
    if kernel.ndim != spatial + 2:
        raise ValueError(
            f"{op}: the kernel must be {spatial + 2}-D, "
            f"{'(K, C, F)' if spatial == 1 else '(KH, KW, C, F)'}; received shape "
            f"{kernel.shape}."
        )
    apply, derivative = _fused(activation, op)
    xd = _to_nhwc(x.data, fmt, spatial)  # (N, H, W, C)
    w = kernel.data if spatial == 2 else kernel.data[None]  # (KH, KW, C, F)
    n, h, wd, c = xd.shape
    kh, kw, kc, f = w.shape
    if kc != c:
        raise ValueError(
            f"{op}: the input has {c} channels (shape {x.shape}, {fmt}) but the kernel "
            f"{kernel.shape} expects {kc}. Give the input {kc} channels or build the kernel "
            f"for {c}."
        )
    if bias is not None and bias.shape != (f,):
        raise ValueError(f"{op}: the bias must have shape ({f},); received {bias.shape}.")
    pad_spec = check_padding(padding, spatial, op, causal=spatial == 1)
    pads, outs = _geometry(
        (h, wd)[2 - spatial:], (kh, kw)[2 - spatial:], strides, dilation, pad_spec, op, x.shape
    )
    if spatial == 1:  # a height of 1, never padded
        pads, outs, strides, dilation = ((0, 0), *pads), (1, *outs), (1, *strides), (1, *dilation)
    oh, ow = outs
    geometry = ((kh, kw), strides, dilation, (oh, ow))
    w2 = w.reshape(kh * kw * c, f)  # (KK, F)
    xpad = _pad_array(xd, pads)  # (N, HP, WP, C)
    kk, per = w2.shape[0], oh * ow  # columns of the window matrix; its rows per image
    blocks = _blocks(n, per * builtins.max(kk, f) * w2.itemsize)
    win = _windows(xpad, *geometry)  # (N, OH, OW, KH, KW, C), a view
    buffer = xp.empty(((blocks[0][1] - blocks[0][0]) * per, kk), w2.dtype)  # one block of cols

    def im2col(lo: int, hi: int) -> Any:
        cols = buffer[: (hi - lo) * per]  # (B, KK)
        cols.reshape(hi - lo, oh, ow, kh, kw, c)[...] = win[lo:hi]  # one copy
        return cols

    out = xp.empty((n * per, f), dtype=w2.dtype)  # (M, F)
    for lo, hi in blocks:
        out_block = out[lo * per : hi * per]
        xp.matmul(im2col(lo, hi), w2, out=out_block)  # (B, KK) @ (KK, F) -> (B, F)
        if bias is not None:
            out_block += bias.data
        if apply is not None:
            done = apply(out_block)  # relu and tanh work in place, sigmoid makes a new array
            if done is not out_block:
                out_block[...] = done
    y = out.reshape(n, oh, ow, f)  # (N, OH, OW, F)

    def backward(g: Array) -> Gradients:
        # Block by block, like the forward (whose window matrix is rebuilt rather than kept):
        # each block of the gradient, its activation derivative and its windows are used while
        # they are in cache, and no array of the gradient's or the window matrix's size is made
        # besides the input gradient itself.
        g2 = xp.ascontiguousarray(_to_nhwc(g, fmt, spatial)).reshape(-1, f)  # (M, F)
        gpad = xp.zeros(xpad.shape, dtype=g2.dtype) if x.requires_grad else None
        gw = xp.zeros(w2.shape, dtype=g2.dtype) if kernel.requires_grad else None
        gb = None
        if bias is not None and bias.requires_grad:
            gb = xp.zeros(f, dtype=g2.dtype)
            ones = xp.ones(len(buffer), dtype=g2.dtype)
        for lo, hi in blocks:
            rows = slice(lo * per, hi * per)
            g_block = g2[rows]  # (B, F)
            if derivative is not None:
                g_block = derivative(g_block, out[rows])
            if gpad is not None:
                dcols = g_block @ w2.T  # (B, F) @ (F, KK) -> (B, KK)
                _col2im_add(gpad[lo:hi], dcols, *geometry)
            if gw is not None:
                gw += im2col(lo, hi).T @ g_block  # (KK, B) @ (B, F) -> (KK, F)
            if gb is not None:
                gb += ones[: len(g_block)] @ g_block  # (B,) @ (B, F) -> (F,)
        gx = None if gpad is None else _from_nhwc(_crop(gpad, pads, (h, wd)), fmt, spatial)
        gw = None if gw is None else gw.reshape(kernel.shape)
        return (gx, gw) if bias is None else (gx, gw, gb)

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return Tensor._from_op(_from_nhwc(y, fmt, spatial), parents, backward, op)


def conv2d(
    x: Tensor, kernel: Tensor, bias: Tensor | None = None, strides: IntOrInts = 1,
    padding: Padding = "valid", dilation_rate: IntOrInts = 1,
    data_format: DataFormat | None = None,
    activation: str | None = None,
) -> Tensor:
    """2-D convolution (cross-correlation, as every deep-learning library computes it).

    ``y[n, i, j, f] = b[f] + sum_{a, b, c} xpad[n, i*sh + a*dh, j*sw + b*dw, c] * k[a, b, c, f]``.

    Args:
        x: ``(N, H, W, C)`` images (``(N, C, H, W)`` with ``data_format="channels_first"``).
        kernel: ``(KH, KW, C, F)`` (Keras' layout, in either data format).
        bias: ``(F,)`` or ``None``.
        strides: an int or ``(sh, sw)``.
        padding: ``"valid"``, ``"same"``, an int, ``(ph, pw)`` or ``((top, bottom), (left,
            right))`` (see the module's notes).
        dilation_rate: an int or ``(dh, dw)``: the kernel's taps are that many pixels apart.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"`` applied in the same node (as
            :func:`scratchnn.ops.linear` does), or ``None``.

    Returns:
        ``(N, OH, OW, F)`` (or ``(N, F, OH, OW)``).

    Raises:
        ValueError: a wrong rank, channel count or bias shape, a stride or dilation below 1, a
            bad padding, or a window larger than the padded input.

    Example:
        >>> import numpy as np
        >>> from scratchnn import Tensor
        >>> x = Tensor(np.ones((1, 4, 4, 1)))
        >>> conv2d(x, Tensor(np.ones((3, 3, 1, 2)))).shape
        (1, 2, 2, 2)
    """
    return _conv(x, kernel, bias, strides, padding, dilation_rate, data_format, activation, 2,
                 "conv2d")


def conv1d(
    x: Tensor, kernel: Tensor, bias: Tensor | None = None, strides: IntOrInts = 1,
    padding: Padding = "valid", dilation_rate: IntOrInts = 1,
    data_format: DataFormat | None = None,
    activation: str | None = None,
) -> Tensor:
    """1-D convolution over the length axis: :func:`conv2d` on images of height 1.

    Args:
        x: ``(N, L, C)`` (``(N, C, L)`` with ``data_format="channels_first"``).
        kernel: ``(K, C, F)``.
        bias: ``(F,)`` or ``None``.
        strides, dilation_rate: ints.
        padding: ``"valid"``, ``"same"``, ``"causal"`` (``(K-1)*dilation`` zeros before the
            sequence: output ``t`` sees inputs ``<= t`` only), an int or ``(before, after)``.
        data_format, activation: as :func:`conv2d`.

    Returns:
        ``(N, OL, F)`` (or ``(N, F, OL)``).
    """
    return _conv(x, kernel, bias, strides, padding, dilation_rate, data_format, activation, 1,
                 "conv1d")


def conv2d_transpose(
    x: Tensor, kernel: Tensor, bias: Tensor | None = None, strides: IntOrInts = 1,
    padding: Padding = "valid", dilation_rate: IntOrInts = 1,
    data_format: DataFormat | None = None,
    activation: str | None = None,
) -> Tensor:
    """Transposed 2-D convolution: the gradient of :func:`conv2d` with respect to its input.

    Each input pixel scatters ``x[n, i, j, :] @ kernel[a, b].T`` onto output pixel
    ``(i*sh + a*dh, j*sw + b*dw)`` of the full map, which is then cropped by the padding.
    Output size per axis: ``(H - 1) * s + (K - 1) * d + 1`` for ``"valid"``, ``H * s`` for
    ``"same"`` (Keras), ``(H - 1) * s + (K - 1) * d + 1 - before - after`` for explicit padding
    (PyTorch's ``padding=p`` is ``((p, p), (p, p))``).

    Args:
        x: ``(N, H, W, C)`` (``(N, C, H, W)`` with ``data_format="channels_first"``).
        kernel: ``(KH, KW, F, C)`` (Keras' layout: output channels before input channels).
        bias: ``(F,)`` or ``None``.
        strides, padding, dilation_rate, data_format, activation: as :func:`conv2d`.

    Returns:
        ``(N, OH, OW, F)`` (or ``(N, F, OH, OW)``).

    Example:
        >>> import numpy as np
        >>> from scratchnn import Tensor
        >>> conv2d_transpose(Tensor(np.ones((1, 2, 2, 3))), Tensor(np.ones((3, 3, 4, 3))),
        ...                  strides=2, padding="same").shape
        (1, 4, 4, 4)
    """
    op = "conv2d_transpose"
    xp = backend.xp
    fmt = check_data_format(data_format, op)
    strides = check_ints(strides, 2, "strides", op)
    dilation = check_ints(dilation_rate, 2, "dilation_rate", op)
    _check_rank(x, 4, op, "(N, C, H, W)" if fmt == "channels_first" else "(N, H, W, C)")
    if kernel.ndim != 4:
        raise ValueError(f"{op}: the kernel must be 4-D, (KH, KW, F, C); received {kernel.shape}.")
    apply, derivative = _fused(activation, op)
    xd = _to_nhwc(x.data, fmt, 2)  # (N, H, W, C)
    n, h, wd, c = xd.shape
    kh, kw, f, kc = kernel.shape
    if kc != c:
        raise ValueError(
            f"{op}: the input has {c} channels (shape {x.shape}, {fmt}) but the kernel "
            f"{kernel.shape} expects {kc} (its last axis). Give the input {kc} channels or "
            f"build the kernel for {c}."
        )
    if bias is not None and bias.shape != (f,):
        raise ValueError(f"{op}: the bias must have shape ({f},); received {bias.shape}.")
    pads, size = _geometry(
        (h, wd), (kh, kw), strides, dilation, check_padding(padding, 2, op), op, x.shape,
        transposed=True,
    )
    # The output is the input gradient of a convolution of a (size) image to this (H, W) one.
    padded = (n, size[0] + pads[0][0] + pads[0][1], size[1] + pads[1][0] + pads[1][1], f)
    geometry = ((kh, kw), strides, dilation, (h, wd))
    w2 = kernel.data.reshape(kh * kw * f, c)  # (KK, C), KK = KH*KW*F here
    x2 = xp.ascontiguousarray(xd).reshape(-1, c)  # (N*H*W, C)
    cols = x2 @ w2.T  # (N*H*W, C) @ (C, KK) -> (N*H*W, KK)
    full_map = _col2im(cols, padded, *geometry)  # (N, HP, WP, F)
    out = xp.ascontiguousarray(_crop(full_map, pads, size))  # (N, OH, OW, F)
    if bias is not None:
        out += bias.data
    if apply is not None:
        out = apply(out)

    def backward(g: Array) -> Gradients:
        g = _to_nhwc(g, fmt, 2)  # (N, OH, OW, F)
        if derivative is not None:
            g = derivative(g, out)
        gcols = _im2col(_pad_array(g, pads), *geometry)  # (N*H*W, KK)
        gx = gw = gb = None
        if x.requires_grad:
            gx = _from_nhwc((gcols @ w2).reshape(n, h, wd, c), fmt, 2)  # (N*H*W, C)
        if kernel.requires_grad:
            gw = (gcols.T @ x2).reshape(kernel.shape)  # (KK, N*H*W) @ (N*H*W, C) -> (KK, C)
        if bias is not None and bias.requires_grad:
            gb = g.sum(axis=(0, 1, 2))
        return (gx, gw) if bias is None else (gx, gw, gb)

    parents = (x, kernel) if bias is None else (x, kernel, bias)
    return Tensor._from_op(_from_nhwc(out, fmt, 2), parents, backward, op)


# ---------------------------------------------------------------------------------------- pooling


def _pool(x: Tensor, pool_size: Any, strides: Any, padding: Any, data_format: Any,
          spatial: int, kind: str) -> Tensor:
    """Max or average pooling over ``spatial`` (1 or 2) axes, offset by offset."""
    op = f"{kind}_pool{spatial}d"
    xp = backend.xp
    fmt = check_data_format(data_format, op)
    size = check_ints(pool_size, spatial, "pool_size", op)
    step = size if strides is None else check_ints(strides, spatial, "strides", op)
    layout = ("(N, L, C)", "(N, C, L)") if spatial == 1 else ("(N, H, W, C)", "(N, C, H, W)")
    _check_rank(x, spatial + 2, op, layout[fmt == "channels_first"])
    xd = _to_nhwc(x.data, fmt, spatial)  # (N, H, W, C)
    h, w = xd.shape[1:3]
    pads, outs = _geometry(
        (h, w)[2 - spatial:], size, step, (1,) * spatial, check_padding(padding, spatial, op),
        op, x.shape,
    )
    if spatial == 1:
        pads, outs, size, step = ((0, 0), *pads), (1, *outs), (1, *size), (1, *step)
    oh, ow = outs
    geometry = (size, step, (1, 1), (oh, ow))
    offsets = _offset_slices(*geometry)
    # Windows that do not overlap touch each input at most once: the backward can
    # write its slices instead of adding to them.
    disjoint = all(s >= k for s, k in zip(step, size, strict=True))
    if kind == "max":
        xpad = _pad_array(xd, pads, -math.inf)  # (N, HP, WP, C)
        out = xpad[offsets[0]].copy()  # (N, OH, OW, C)
        for index in offsets[1:]:
            xp.maximum(out, xpad[index], out=out)
        count = None
    else:
        xpad = _pad_array(xd, pads)
        out = xpad[offsets[0]].copy()
        for index in offsets[1:]:
            out += xpad[index]
        if pads == ((0, 0), (0, 0)):
            count = xd.dtype.type(len(offsets))
        else:  # the real inputs under each window: pool a padded map of ones the same way
            ones = _pad_array(xp.ones((1, h, w, 1), dtype=xd.dtype), pads)
            count = builtins.sum(ones[index] for index in offsets)  # (1, OH, OW, 1)
        out /= count

    def backward(g: Array) -> Gradients:
        g = _to_nhwc(g, fmt, spatial)  # (N, OH, OW, C)
        grad = xp.zeros(xpad.shape, dtype=g.dtype)  # (N, HP, WP, C)
        if kind == "max":
            # The gradient goes to the first offset that holds the maximum (branch-free masks:
            # hit = (x == max) and not taken by an earlier offset).
            taken = None
            for k, index in enumerate(offsets):
                hit = xpad[index] == out
                if taken is not None:
                    xp.greater(hit, taken, out=hit)  # hit and not taken
                if k < len(offsets) - 1:
                    taken = hit.copy() if taken is None else xp.logical_or(taken, hit, out=taken)
                if disjoint:
                    xp.multiply(g, hit, out=grad[index])
                else:
                    grad[index] += g * hit
        else:
            share = g / count
            for index in offsets:
                if disjoint:
                    grad[index] = share
                else:
                    grad[index] += share
        return (_from_nhwc(_crop(grad, pads, (h, w)), fmt, spatial),)

    return Tensor._from_op(_from_nhwc(out, fmt, spatial), (x,), backward, op)


def max_pool2d(x: Tensor, pool_size: IntOrInts = 2, strides: IntOrInts | None = None,
               padding: Padding = "valid", data_format: DataFormat | None = None) -> Tensor:
    """Maximum over each ``pool_size`` window, moved by ``strides`` (default: ``pool_size``).

    The gradient goes to the first maximal entry of each window (PyTorch's choice on ties).
    ``"same"`` padding pads with -inf (a window never picks padding). The forward keeps no index:
    the backward compares each offset with the maximum.

    Args:
        x: ``(N, H, W, C)`` (or ``(N, C, H, W)`` with ``data_format="channels_first"``).
        pool_size, strides: an int or a pair.
        padding: ``"valid"``, ``"same"`` or explicit (see the module's notes).

    Returns:
        ``(N, OH, OW, C)`` (or ``(N, C, OH, OW)``), ``OH = (H + padding - KH) // sh + 1``.

    Example:
        >>> import numpy as np
        >>> from scratchnn import Tensor
        >>> max_pool2d(Tensor(np.arange(16.0).reshape(1, 4, 4, 1)))[0, :, :, 0].tolist()
        [[5.0, 7.0], [13.0, 15.0]]
    """
    return _pool(x, pool_size, strides, padding, data_format, 2, "max")


def avg_pool2d(x: Tensor, pool_size: IntOrInts = 2, strides: IntOrInts | None = None,
               padding: Padding = "valid", data_format: DataFormat | None = None) -> Tensor:
    """Mean over each ``pool_size`` window; padding is not counted (Keras, TensorFlow).

    Arguments and shapes as :func:`max_pool2d`.
    """
    return _pool(x, pool_size, strides, padding, data_format, 2, "avg")


def max_pool1d(x: Tensor, pool_size: IntOrInts = 2, strides: IntOrInts | None = None,
               padding: Padding = "valid", data_format: DataFormat | None = None) -> Tensor:
    """:func:`max_pool2d` along the length of ``(N, L, C)`` sequences (ints for the sizes)."""
    return _pool(x, pool_size, strides, padding, data_format, 1, "max")


def avg_pool1d(x: Tensor, pool_size: IntOrInts = 2, strides: IntOrInts | None = None,
               padding: Padding = "valid", data_format: DataFormat | None = None) -> Tensor:
    """:func:`avg_pool2d` along the length of ``(N, L, C)`` sequences (ints for the sizes)."""
    return _pool(x, pool_size, strides, padding, data_format, 1, "avg")


def _global(x: Tensor, data_format: Any, keepdims: bool, spatial: int, kind: str) -> Tensor:
    op = f"global_{kind}_pool{spatial}d"
    fmt = check_data_format(data_format, op)
    _check_rank(x, spatial + 2, op, "with a batch axis, spatial axes and a channel axis")
    axes = tuple(range(2, spatial + 2)) if fmt == "channels_first" else tuple(
        range(1, spatial + 1))
    xp = backend.xp
    xd = x.data
    if kind == "avg":
        count = math.prod(xd.shape[a] for a in axes)
        out = xd.mean(axis=axes, keepdims=True)  # (N, 1, 1, C)

        def backward(g: Array) -> Gradients:
            return (xp.broadcast_to(g.reshape(out.shape) / count, xd.shape),)
    else:
        out = xd.max(axis=axes, keepdims=True)

        def backward(g: Array) -> Gradients:
            hit = (xd == out).astype(xd.dtype)  # ties share the gradient, as torch.amax
            hit /= hit.sum(axis=axes, keepdims=True)
            return (hit * g.reshape(out.shape),)

    value = out if keepdims else out.reshape([n for i, n in enumerate(out.shape) if i not in axes])
    return Tensor._from_op(value, (x,), backward, op)


def global_avg_pool2d(x: Tensor, data_format: DataFormat | None = None, keepdims: bool = False
                      ) -> Tensor:
    """Mean over height and width: ``(N, H, W, C) -> (N, C)`` (``(N, 1, 1, C)`` with keepdims)."""
    return _global(x, data_format, keepdims, 2, "avg")


def global_max_pool2d(x: Tensor, data_format: DataFormat | None = None, keepdims: bool = False
                      ) -> Tensor:
    """Maximum over height and width: ``(N, H, W, C) -> (N, C)``; ties share the gradient."""
    return _global(x, data_format, keepdims, 2, "max")


def global_avg_pool1d(x: Tensor, data_format: DataFormat | None = None, keepdims: bool = False
                      ) -> Tensor:
    """Mean over the length: ``(N, L, C) -> (N, C)`` (``(N, 1, C)`` with keepdims)."""
    return _global(x, data_format, keepdims, 1, "avg")


def global_max_pool1d(x: Tensor, data_format: DataFormat | None = None, keepdims: bool = False
                      ) -> Tensor:
    """Maximum over the length: ``(N, L, C) -> (N, C)``; ties share the gradient."""
    return _global(x, data_format, keepdims, 1, "max")


# ---------------------------------------------------------------------- resampling and padding


def upsample2d(
    x: Tensor, size: IntOrInts = 2, data_format: DataFormat | None = None
) -> Tensor:
    """Nearest-neighbour upsampling: each pixel repeated ``size`` times along height and width.

    Args:
        x: ``(N, H, W, C)`` (or ``(N, C, H, W)``).
        size: an int or ``(sh, sw)``.

    Returns:
        ``(N, H*sh, W*sw, C)``; the gradient of an input pixel is the sum over its copies.
    """
    op = "upsample2d"
    fmt = check_data_format(data_format, op)
    sh, sw = check_ints(size, 2, "size", op)
    _check_rank(x, 4, op, "(N, C, H, W)" if fmt == "channels_first" else "(N, H, W, C)")
    xd = _to_nhwc(x.data, fmt, 2)
    n, h, w, c = xd.shape
    out = backend.xp.broadcast_to(xd[:, :, None, :, None], (n, h, sh, w, sw, c)).reshape(
        n, h * sh, w * sw, c)  # (N, H*sh, W*sw, C)

    def backward(g: Array) -> Gradients:
        g = _to_nhwc(g, fmt, 2).reshape(n, h, sh, w, sw, c)
        return (_from_nhwc(g.sum(axis=(2, 4)), fmt, 2),)

    return Tensor._from_op(_from_nhwc(out, fmt, 2), (x,), backward, op)


def pad(x: Tensor, pad_width: Sequence[Sequence[int]], value: float = 0.0) -> Tensor:
    """Constant padding: ``pad_width[i] = (before, after)`` entries of ``value`` on axis ``i``.

    Args:
        x: any shape.
        pad_width: one ``(before, after)`` pair of ints >= 0 per axis of ``x``.
        value: the fill value.

    Example:
        >>> from scratchnn import Tensor
        >>> pad(Tensor([[1.0]]), ((0, 0), (1, 2))).tolist()
        [[0.0, 1.0, 0.0, 0.0]]
    """
    xp = backend.xp
    try:
        pairs = tuple((int(a), int(b)) for a, b in pad_width)
        ok = len(pairs) == x.ndim and builtins.min((v for p in pairs for v in p), default=0) >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            f"pad: pad_width must hold one (before, after) pair of ints >= 0 per axis of the "
            f"input ({x.ndim} axes, shape {x.shape}); received {pad_width!r}."
        )
    out = xp.full(
        tuple(n + a + b for n, (a, b) in zip(x.shape, pairs, strict=True)), value, dtype=x.dtype
    )
    inner = tuple(slice(a, a + n) for n, (a, _) in zip(x.shape, pairs, strict=True))
    out[inner] = x.data
    return Tensor._from_op(out, (x,), lambda g: (g[inner],), "pad")


# --------------------------------------------------------------------------- batch normalisation


def batch_norm(
    x: Tensor, gamma: Tensor | None = None, beta: Tensor | None = None,
    moving_mean: Array | None = None, moving_variance: Array | None = None, training: bool = False,
    momentum: float = 0.99, epsilon: float = 1e-3, axis: int = -1,
) -> Tensor:
    """Batch normalisation: ``gamma * (x - mean) / sqrt(var + epsilon) + beta`` per channel.

    In training the mean and (biased) variance are the batch's, over every axis but ``axis``,
    and the moving statistics are updated in place as Keras does:
    ``moving = moving * momentum + batch * (1 - momentum)`` (PyTorch's ``momentum`` is
    ``1 - momentum``; PyTorch's running variance uses the unbiased batch variance, Keras' the
    biased one). At inference the moving statistics are used and not changed.

    Args:
        x: input, e.g. ``(N, H, W, C)`` with ``axis=-1``.
        gamma, beta: ``(C,)`` scale and offset, or ``None`` (1 and 0).
        moving_mean, moving_variance: ``(C,)`` arrays or Tensors (their data is updated in
            training; required at inference).
        training: use and update batch statistics.
        momentum: Keras' momentum, in [0, 1].
        epsilon: added to the variance.
        axis: the channel axis.

    Raises:
        ValueError: a batch with a single value per channel in training (its variance is 0 and
            the output would be ``beta`` whatever the input), or missing moving statistics at
            inference.
    """
    xp = backend.xp
    axis = axis % builtins.max(x.ndim, 1)
    c = x.shape[axis]
    axes = tuple(i for i in range(x.ndim) if i != axis)
    count = math.prod(x.shape[i] for i in axes)
    bshape = tuple(c if i == axis else 1 for i in range(x.ndim))  # broadcasts against x
    xd = x.data
    g_ = None if gamma is None else gamma.data.reshape(bshape)

    def stat(v: Any) -> Any:
        return v.data if isinstance(v, Tensor) else v

    if training:
        if count < 2:
            raise ValueError(
                f"batch_norm: training needs more than one value per channel to compute a "
                f"variance; received input shape {x.shape} (channel axis {axis}: {count} "
                "value per channel). Use batches of at least 2 samples, or training=False."
            )
        mean = xd.mean(axis=axes, keepdims=True)  # (1, ..., C)
        xc = xd - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        inv = 1 / xp.sqrt(var + epsilon)
        xhat = xc
        xhat *= inv  # in place: xc is not needed again
        for moving, batch in ((moving_mean, mean), (moving_variance, var)):
            if moving is not None:
                arr = stat(moving)
                arr *= momentum
                arr += (1 - momentum) * batch.reshape(arr.shape)
    else:
        if moving_mean is None or moving_variance is None:
            raise ValueError(
                "batch_norm: inference (training=False) needs moving_mean and moving_variance."
            )
        mean = stat(moving_mean).reshape(bshape)
        inv = 1 / xp.sqrt(stat(moving_variance).reshape(bshape) + epsilon)
        xhat = (xd - mean) * inv
    out = xhat * g_ if g_ is not None else xhat.copy()
    if beta is not None:
        out += beta.data.reshape(bshape)

    def backward(g: Array) -> Gradients:
        gxhat = g * g_ if g_ is not None else g
        gx = None
        if x.requires_grad:
            if training:
                s1 = gxhat.sum(axis=axes, keepdims=True) / count
                s2 = (gxhat * xhat).sum(axis=axes, keepdims=True) / count
                gx = inv * (gxhat - s1 - xhat * s2)
            else:
                gx = gxhat * inv
        grads = [gx]
        if gamma is not None:
            grads.append((g * xhat).sum(axis=axes) if gamma.requires_grad else None)
        if beta is not None:
            grads.append(g.sum(axis=axes) if beta.requires_grad else None)
        return tuple(grads)

    parents = tuple(t for t in (x, gamma, beta) if t is not None)
    return Tensor._from_op(out, parents, backward, "batch_norm")
