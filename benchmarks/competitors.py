"""The competitors: the same networks trained or run by scratchnn, hand-written NumPy, scikit-learn
and PyTorch.

Every ``prepare_*`` function does the untimed set-up (build the model, draw the weights) and
returns the function that is timed, so that :func:`common.alternate` can interleave competitors.
scratchnn is used as a user would: ``Sequential.fit`` / ``predict``. Libraries are imported inside
the functions, so that a memory-measuring subprocess loads only the one it measures.

Shape legend: N rows, D inputs, H hidden units, K classes.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Run = Callable[[], object]


# ------------------------------------------------------------------------ hand-written NumPy
def init_numpy_mlp(sizes: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """He-scaled float32 kernels and zero biases, ``[w1, b1, w2, b2, ...]``."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)).astype(
            np.float32
        ))
        params.append(np.zeros(fan_out, np.float32))
    return params


def numpy_mlp_epoch(
    params: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    batch: int,
    lr: float,
    rng: np.random.Generator,
    adam: list[np.ndarray] | None = None,
    dropout: float = 0.0,
) -> float:
    """One shuffled epoch of a ReLU MLP with a softmax cross-entropy output, written by hand.

    Plain SGD, or Adam (``torch.optim.Adam`` formulas, ``adam`` = ``[m1, v1, m2, v2, ...]``,
    ``adam[-1]`` a one-element step counter) when ``adam`` is given; inverted dropout after
    every hidden layer when ``dropout > 0``. Returns the mean loss of the epoch.
    """
    n = len(x)
    order = rng.permutation(n)
    lr32 = np.float32(lr)
    scale = np.float32(1 / (1 - dropout)) if dropout else None
    depth = len(params) // 2
    total = 0.0
    for lo in range(0, n, batch):
        idx = order[lo : lo + batch]
        h = x.take(idx, axis=0)  # (B, D)
        labels = y.take(idx)
        rows = np.arange(len(h))
        inputs, masks = [h], []
        for layer in range(depth):
            z = h @ params[2 * layer]  # (B, D) @ (D, H) -> (B, H)
            z += params[2 * layer + 1]
            if layer < depth - 1:
                np.maximum(z, 0, out=z)
                if dropout:
                    mask = rng.random(z.shape, dtype=np.float32) >= dropout
                    z *= mask
                    z *= scale
                    masks.append(mask)
                inputs.append(z)
            h = z
        h -= h.max(axis=1, keepdims=True)  # logits -> softmax, in place
        np.exp(h, out=h)
        sums = h.sum(axis=1)
        total += float(np.log(sums).sum() - np.log(h[rows, labels]).sum())
        h /= sums[:, None]
        h[rows, labels] -= 1
        h /= np.float32(len(idx))  # d mean loss / d logits, (B, K)
        grads: list[np.ndarray] = [None] * len(params)  # type: ignore[list-item]
        g = h
        for layer in reversed(range(depth)):
            a = inputs[layer]
            grads[2 * layer] = a.T @ g  # (H_in, B) @ (B, H) -> (H_in, H)
            grads[2 * layer + 1] = g.sum(axis=0)
            if layer:
                g = g @ params[2 * layer].T  # (B, H) @ (H, H_in) -> (B, H_in)
                g *= a > 0
                if dropout:
                    g *= masks[layer - 1]
                    g *= scale
        if adam is None:
            for p, gr in zip(params, grads, strict=True):
                gr *= lr32
                p -= gr
        else:
            _numpy_adam(params, grads, adam, lr)
    return total / n


def _numpy_adam(params, grads, state, lr, beta_1=0.9, beta_2=0.999, eps=1e-7) -> None:
    state[-1][0] += 1
    t = state[-1][0]
    step = lr / (1 - beta_1**t)
    root = np.sqrt(1 - beta_2**t)
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        m, v = state[2 * i], state[2 * i + 1]
        m *= beta_1
        m += (1 - beta_1) * g
        v *= beta_2
        g *= g
        g *= 1 - beta_2
        v += g
        denom = np.sqrt(v)
        denom /= root
        denom += eps
        np.divide(m, denom, out=denom)
        denom *= step
        p -= denom


def prepare_numpy_epoch(
    x: np.ndarray, y: np.ndarray, sizes: Sequence[int], lr: float, batch: int = 128,
    adam: bool = False, dropout: float = 0.0,
) -> Run:
    """A hand-written epoch on fresh weights (and fresh Adam state)."""
    params = init_numpy_mlp(sizes)
    state = None
    if adam:
        state = [np.zeros_like(p) for p in params for _ in range(2)] + [np.zeros(1)]
    rng = np.random.default_rng(1)
    return lambda: numpy_mlp_epoch(params, x, y, batch, lr, rng, state, dropout)


def numpy_forward(params: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """A bare forward pass: ReLU hidden layers, softmax output, all rows at once."""
    depth = len(params) // 2
    h = x
    for layer in range(depth):
        h = h @ params[2 * layer]
        h += params[2 * layer + 1]
        if layer < depth - 1:
            np.maximum(h, 0, out=h)
    h -= h.max(axis=1, keepdims=True)
    np.exp(h, out=h)
    h /= h.sum(axis=1, keepdims=True)
    return h


def prepare_numpy_moons(x: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.6) -> Run:
    """Tutorial 000 by hand, in its own layout: samples as columns, ``W1 @ X`` (float32)."""
    xt = np.ascontiguousarray(x.T)  # (2, N)
    yt = y.astype(np.float32)[None, :]  # (1, N)
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((3, 2)) * 0.01).astype(np.float32)
    b1 = np.zeros((3, 1), np.float32)
    w2 = (rng.standard_normal((1, 3)) * 0.01).astype(np.float32)
    b2 = np.zeros((1, 1), np.float32)
    m = np.float32(xt.shape[1])
    lr32 = np.float32(lr)

    def run() -> float:
        nonlocal w1, b1, w2, b2
        cost = 0.0
        for _ in range(steps):
            a1 = np.tanh(w1 @ xt + b1)  # (3, 2) @ (2, N) -> (3, N)
            a2 = 1 / (1 + np.exp(-(w2 @ a1 + b2)))  # (1, N)
            cost = float(-np.mean(yt * np.log(a2) + (1 - yt) * np.log(1 - a2)))
            dz2 = a2 - yt
            dw2 = dz2 @ a1.T / m
            db2 = np.sum(dz2, axis=1, keepdims=True) / m
            dz1 = (w2.T @ dz2) * (1 - a1 * a1)
            dw1 = dz1 @ xt.T / m
            db1 = np.sum(dz1, axis=1, keepdims=True) / m
            w1 -= lr32 * dw1
            b1 -= lr32 * db1
            w2 -= lr32 * dw2
            b2 -= lr32 * db2
        return cost

    return run


def prepare_numpy_moons_rows(x: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.6) -> Run:
    """The same network by hand in the layout of the libraries: samples as rows, ``X @ W1``."""
    yc = y.astype(np.float32)[:, None]  # (N, 1)
    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((2, 3)) * 0.01).astype(np.float32)
    b1 = np.zeros(3, np.float32)
    w2 = (rng.standard_normal((3, 1)) * 0.01).astype(np.float32)
    b2 = np.zeros(1, np.float32)
    m = np.float32(len(x))
    lr32 = np.float32(lr)

    def run() -> float:
        nonlocal w1, b1, w2, b2
        cost = 0.0
        for _ in range(steps):
            a1 = np.tanh(x @ w1 + b1)  # (N, 2) @ (2, 3) -> (N, 3)
            a2 = 1 / (1 + np.exp(-(a1 @ w2 + b2)))  # (N, 1)
            cost = float(-np.mean(yc * np.log(a2) + (1 - yc) * np.log(1 - a2)))
            dz2 = (a2 - yc) / m
            dw2 = a1.T @ dz2
            db2 = dz2.sum(axis=0)
            dz1 = (dz2 @ w2.T) * (1 - a1 * a1)
            dw1 = x.T @ dz1
            db1 = dz1.sum(axis=0)
            w1 -= lr32 * dw1
            b1 -= lr32 * db1
            w2 -= lr32 * dw2
            b2 -= lr32 * db2
        return cost

    return run


# ------------------------------------------------------------ hand-written NumPy convnet (f)
# Keras' "Simple MNIST convnet": Conv2D(32, 3, relu) -> MaxPooling2D(2) -> Conv2D(64, 3, relu)
# -> MaxPooling2D(2) -> Flatten -> Dropout(0.5) -> Dense(10, softmax), channels-last images.
# Shape legend for this section: B images, OH/OW output sizes, C/F channels in/out, KK = 9*C.


def init_numpy_convnet(seed: int = 0) -> list[np.ndarray]:
    """Glorot-uniform float32 kernels (Keras' default) and zero biases, Keras' layouts:
    ``[k1 (3, 3, 1, 32), b1, k2 (3, 3, 32, 64), b2, w3 (1600, 10), b3]``."""
    rng = np.random.default_rng(seed)
    params = []
    for shape, fan_in, fan_out in (((3, 3, 1, 32), 9, 288), ((3, 3, 32, 64), 288, 576),
                                   ((1600, 10), 1600, 10)):
        limit = np.sqrt(6 / (fan_in + fan_out))
        params.append(rng.uniform(-limit, limit, shape).astype(np.float32))
        params.append(np.zeros(shape[-1], np.float32))
    return params


def _im2col3(x: np.ndarray) -> np.ndarray:
    """``(B, H, W, C)`` -> ``(B*OH*OW, 9*C)``: the 3x3 windows ("valid", stride 1), one copy."""
    b, h, w, c = x.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (B,OH,OW,C,3,3)
    return win.transpose(0, 1, 2, 4, 5, 3).reshape(b * (h - 2) * (w - 2), 9 * c)


def _col2im3(dcols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse scatter of :func:`_im2col3`: add each window back, offset by offset."""
    b, h, w, c = shape
    d = dcols.reshape(b, h - 2, w - 2, 9, c)
    grad = np.zeros(shape, np.float32)
    for k in range(9):
        i, j = divmod(k, 3)
        grad[:, i : i + h - 2, j : j + w - 2] += d[:, :, :, k]
    return grad


def _maxpool2(x: np.ndarray) -> np.ndarray:
    """2x2 max-pooling, stride 2 (an odd last row/column is dropped)."""
    return np.maximum(np.maximum(x[:, 0:-1:2, 0:-1:2], x[:, 0:-1:2, 1::2]),
                      np.maximum(x[:, 1::2, 0:-1:2], x[:, 1::2, 1::2]))


def _maxpool2_backward(x: np.ndarray, out: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Gradient of :func:`_maxpool2`: each window's maximum gets ``g`` (ties share it, as in
    CS231n's reshape method)."""
    grad = np.zeros_like(x)
    oh, ow = out.shape[1:3]
    for i in range(2):
        for j in range(2):
            view = x[:, i : i + 2 * oh : 2, j : j + 2 * ow : 2]
            grad[:, i : i + 2 * oh : 2, j : j + 2 * ow : 2] = g * (view == out)
    return grad


def numpy_convnet_logits(params: list[np.ndarray], x: np.ndarray, rng: Any = None,
                         dropout: float = 0.0) -> tuple[np.ndarray, list[Any]]:
    """The forward pass on ``(B, 28, 28, 1)`` images: logits ``(B, 10)`` and what the backward
    needs."""
    k1, b1, k2, b2, w3, b3 = params
    n = len(x)
    cols1 = _im2col3(x)  # (B*676, 9)
    a1 = (cols1 @ k1.reshape(9, 32)).reshape(n, 26, 26, 32)
    a1 += b1
    np.maximum(a1, 0, out=a1)
    p1 = _maxpool2(a1)  # (B, 13, 13, 32)
    cols2 = _im2col3(p1)  # (B*121, 288)
    a2 = (cols2 @ k2.reshape(288, 64)).reshape(n, 11, 11, 64)
    a2 += b2
    np.maximum(a2, 0, out=a2)
    p2 = _maxpool2(a2)  # (B, 5, 5, 64)
    flat = p2.reshape(n, 1600)
    mask = None
    if dropout:
        mask = (rng.random(flat.shape, dtype=np.float32) >= dropout) * np.float32(
            1 / (1 - dropout))
        flat = flat * mask
    logits = flat @ w3 + b3  # (B, 1600) @ (1600, 10) -> (B, 10)
    return logits, [cols1, a1, p1, cols2, a2, p2, flat, mask]


def numpy_convnet_epoch(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, batch: int,
                        lr: float, rng: np.random.Generator, state: list[np.ndarray],
                        dropout: float = 0.5) -> float:
    """One shuffled epoch of the convnet with Adam, written by hand; returns the mean loss."""
    n = len(x)
    order = rng.permutation(n)
    total = 0.0
    for lo in range(0, n, batch):
        idx = order[lo : lo + batch]
        xb, labels = x.take(idx, axis=0), y.take(idx)
        b = len(idx)
        logits, (cols1, a1, p1, cols2, a2, p2, flat, mask) = numpy_convnet_logits(
            params, xb, rng, dropout)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        sums = e.sum(axis=1)
        rows = np.arange(b)
        total += float(np.log(sums).sum() - logits[rows, labels].sum())
        g = e / sums[:, None]
        g[rows, labels] -= 1
        g /= np.float32(b)  # d mean loss / d logits, (B, 10)
        k1, _, k2, _, w3, _ = params
        gw3, gb3 = flat.T @ g, g.sum(axis=0)
        gflat = g @ w3.T  # (B, 10) @ (10, 1600) -> (B, 1600)
        if mask is not None:
            gflat *= mask
        ga2 = np.zeros_like(a2)
        ga2[:, :10, :10] = _maxpool2_backward(a2[:, :10, :10], p2, gflat.reshape(p2.shape))
        ga2 *= a2 > 0
        g2 = ga2.reshape(-1, 64)  # (B*121, 64)
        gk2, gb2 = (cols2.T @ g2).reshape(k2.shape), g2.sum(axis=0)
        gp1 = _col2im3(g2 @ k2.reshape(288, 64).T, p1.shape)  # (B, 13, 13, 32)
        ga1 = _maxpool2_backward(a1, p1, gp1)
        ga1 *= a1 > 0
        g1 = ga1.reshape(-1, 32)  # (B*676, 32)
        gk1, gb1 = (cols1.T @ g1).reshape(k1.shape), g1.sum(axis=0)
        _numpy_adam(params, [gk1, gb1, gk2, gb2, gw3, gb3], state, lr)
    return total / n


def prepare_numpy_convnet_epoch(x: np.ndarray, y: np.ndarray, lr: float = 1e-3,
                                batch: int = 128) -> Run:
    """A hand-written convnet epoch on fresh weights and fresh Adam state."""
    params = init_numpy_convnet()
    state = [np.zeros_like(p) for p in params for _ in range(2)] + [np.zeros(1)]
    rng = np.random.default_rng(1)
    return lambda: numpy_convnet_epoch(params, x, y, batch, lr, rng, state)


def numpy_convnet_predict(params: list[np.ndarray], x: np.ndarray, batch: int) -> np.ndarray:
    """Softmax probabilities of ``x``, ``batch`` images at a time."""
    out = []
    for lo in range(0, len(x), batch):
        logits = numpy_convnet_logits(params, x[lo : lo + batch])[0]
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        out.append(logits / logits.sum(axis=1, keepdims=True))
    return np.concatenate(out)


# -------------------------------------------------------------------------------- scratchnn
def scratchnn_mlp(sizes: Sequence[int], dropout: float = 0.0, seed: int = 0) -> Any:
    """A scratchnn ``Sequential``: ReLU Dense layers (Dropout after each), softmax output."""
    from scratchnn import Sequential
    from scratchnn.layers import Dense, Dropout, Input

    layers: list[Any] = [Input((sizes[0],))]
    for units in sizes[1:-1]:
        layers.append(Dense(units, activation="relu"))
        if dropout:
            layers.append(Dropout(dropout))
    layers.append(Dense(sizes[-1], activation="softmax"))
    return Sequential(layers, seed=seed)


def prepare_scratchnn_epoch(
    x: np.ndarray, y: np.ndarray, sizes: Sequence[int], lr: float, batch: int = 128,
    adam: bool = False, dropout: float = 0.0,
) -> Run:
    """A fresh compiled model; the timed call is ``model.fit`` for one epoch."""
    from scratchnn import optimizers

    model = scratchnn_mlp(sizes, dropout)
    optimizer = optimizers.Adam(learning_rate=lr) if adam else optimizers.SGD(learning_rate=lr)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0)


def prepare_scratchnn_moons(
    x: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.6, metrics: Any = None
) -> Run:
    """Tutorial 000's network (``randn * 0.01`` weights) trained full-batch by ``fit``."""
    from scratchnn import Sequential, initializers, optimizers
    from scratchnn.layers import Dense, Input

    init = initializers.random_normal(stddev=0.01)
    model = Sequential(
        [
            Input((2,)),
            Dense(3, activation="tanh", kernel_initializer=init),
            Dense(1, activation="sigmoid", kernel_initializer=init),
        ],
        seed=0,
    )
    model.compile(
        optimizer=optimizers.SGD(learning_rate=lr), loss="binary_crossentropy", metrics=metrics
    )
    return lambda: model.fit(x, y, batch_size=None, epochs=steps, verbose=0)


def scratchnn_convnet(seed: int = 0) -> Any:
    """Keras' "Simple MNIST convnet" as a scratchnn ``Sequential``."""
    from scratchnn import Sequential
    from scratchnn.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D

    return Sequential([
        Input((28, 28, 1)),
        Conv2D(32, 3, activation="relu"), MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"), MaxPooling2D(2),
        Flatten(), Dropout(0.5), Dense(10, activation="softmax"),
    ], seed=seed)  # fmt: skip


def prepare_scratchnn_convnet_epoch(x: np.ndarray, y: np.ndarray, lr: float = 1e-3,
                                    batch: int = 128) -> Run:
    """A fresh compiled convnet; the timed call is ``model.fit`` for one epoch."""
    from scratchnn import optimizers

    model = scratchnn_convnet()
    model.compile(optimizer=optimizers.Adam(learning_rate=lr),
                  loss="sparse_categorical_crossentropy")
    return lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0)


# ----------------------------------------------------------------------------- scikit-learn
def sklearn_mlp(
    hidden: Sequence[int], activation: str, batch: int, lr: float, max_iter: int,
    solver: str = "sgd", shuffle: bool = True,
) -> Any:
    """An ``MLPClassifier`` that runs exactly ``max_iter`` epochs: no L2 term, no momentum,
    no early stop (its tolerance can never be met)."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=tuple(hidden),
        activation=activation,
        solver=solver,
        alpha=0.0,
        batch_size=batch,
        learning_rate_init=lr,
        max_iter=max_iter,
        shuffle=shuffle,
        momentum=0.0,
        nesterovs_momentum=False,
        tol=0.0,
        n_iter_no_change=max_iter + 1,
        random_state=0,
    )


def _quiet_fit(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x, y)


def prepare_sklearn_epoch(
    x: np.ndarray, y: np.ndarray, sizes: Sequence[int], lr: float, batch: int = 128,
    adam: bool = False,
) -> Run:
    """``MLPClassifier.fit`` for one epoch, float32 data (kept float32 by scikit-learn)."""
    model = sklearn_mlp(sizes[1:-1], "relu", batch, lr, 1, solver="adam" if adam else "sgd")
    return lambda: _quiet_fit(model, x, y)


def prepare_sklearn_moons(x: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.6) -> Run:
    """``MLPClassifier`` with one tanh layer of 3, full-batch SGD for ``steps`` epochs."""
    model = sklearn_mlp((3,), "tanh", len(x), lr, steps, shuffle=False)

    def run() -> Any:
        _quiet_fit(model, x, y)
        assert model.n_iter_ == steps, model.n_iter_
        return model

    return run


# ---------------------------------------------------------------------------------- PyTorch
def torch_mlp(sizes: Sequence[int], dropout: float = 0.0, out_activation: Any = None) -> Any:
    """``nn.Sequential`` of Linear + ReLU (+ Dropout) layers; logits out."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers: list[Any] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(out_activation() if out_activation else nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def prepare_torch_epoch(
    x: np.ndarray, y: np.ndarray, sizes: Sequence[int], lr: float, batch: int = 128,
    adam: bool = False, dropout: float = 0.0,
) -> Run:
    """A shuffled epoch with index batches (no DataLoader), as a PyTorch user writes it."""
    import torch

    net = torch_mlp(sizes, dropout)
    net.train()
    optimizer = (torch.optim.Adam if adam else torch.optim.SGD)(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def run() -> float:
        total = 0.0
        order = torch.randperm(len(xt))
        for lo in range(0, len(xt), batch):
            idx = order[lo : lo + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        return total / len(xt)

    return run


def prepare_torch_moons(x: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.6) -> Run:
    """Tutorial 000's network in PyTorch, full-batch, ``BCEWithLogitsLoss``."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y.astype(np.float32)[:, None])

    def run() -> float:
        value = 0.0
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt), yt)
            loss.backward()
            optimizer.step()
            value = loss.item()
        return value

    return run


def torch_convnet() -> Any:
    """The same convnet in PyTorch (channels-first, logits out)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10),
    )  # fmt: skip


def prepare_torch_convnet_epoch(x: np.ndarray, y: np.ndarray, lr: float = 1e-3,
                                batch: int = 128) -> Run:
    """A shuffled epoch with index batches (no DataLoader), NCHW tensors, as a PyTorch user
    writes it."""
    import torch

    net = torch_convnet()
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # (N, 1, 28, 28)
    yt = torch.from_numpy(y)

    def run() -> float:
        total = 0.0
        order = torch.randperm(len(xt))
        for lo in range(0, len(xt), batch):
            idx = order[lo : lo + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        return total / len(xt)

    return run


def convnet_predictors(batch: int) -> dict[str, Any]:
    """``name -> predict(images) -> probabilities`` for the convnet, ``batch`` images at a time
    (fresh weights; the values do not change the timing)."""
    import torch

    params = init_numpy_convnet()
    model = scratchnn_convnet()
    net = torch_convnet()
    net.eval()

    def torch_predict(images: np.ndarray) -> np.ndarray:
        xt = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        with torch.inference_mode():
            return torch.cat([net(xt[lo : lo + batch]).softmax(dim=1)
                              for lo in range(0, len(xt), batch)]).numpy()

    return {
        "numpy": lambda images: numpy_convnet_predict(params, images, batch),
        "scratchnn": lambda images: model.predict(images, batch_size=batch),
        "pytorch": torch_predict,
    }


# -------------------------------------------------------------------------------- inference
def predictors(x_fit: np.ndarray, y_fit: np.ndarray, sizes: Sequence[int]) -> dict[str, Any]:
    """``name -> predict(rows) -> probabilities`` for (a)'s network, one per competitor.

    Weights are drawn (scratchnn, NumPy, PyTorch) or fitted for one epoch on ``x_fit``
    (scikit-learn needs a fit before ``predict_proba``); the values do not change the timing.
    """
    import torch

    params = init_numpy_mlp(sizes)
    model = scratchnn_mlp(sizes)
    clf = sklearn_mlp(sizes[1:-1], "relu", 128, 0.01, 1)
    _quiet_fit(clf, x_fit, y_fit)
    net = torch_mlp(sizes)
    net.eval()

    def torch_predict(rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return net(torch.from_numpy(rows)).softmax(dim=1).numpy()

    return {
        "numpy": lambda rows: numpy_forward(params, rows),
        "scratchnn": model.predict,
        "scikit-learn": clf.predict_proba,
        "pytorch": torch_predict,
    }


# -------------------------------------------------------- (g) character-level LSTM language model
CHAR_EMBEDDING, CHAR_UNITS = 64, 256
"""Case (g)'s model: Embedding(V, 64) -> LSTM(256) -> Dense(V) on windows of 100 characters."""


def init_numpy_char_lstm(vocab: int, seed: int = 0) -> list[np.ndarray]:
    """``[table, W, U, b, Wd, bd]`` float32, Keras-like: uniform table, glorot kernels, forget 1."""
    rng = np.random.default_rng(seed)
    e, h = CHAR_EMBEDDING, CHAR_UNITS

    def glorot(fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)

    u = np.linalg.qr(rng.standard_normal((4 * h, h)))[0].T.astype(np.float32)  # (H, 4H)
    b = np.zeros(4 * h, np.float32)
    b[h:2 * h] = 1
    table = rng.uniform(-0.05, 0.05, (vocab, e)).astype(np.float32)
    return [table, glorot(e, 4 * h), u, b, glorot(h, vocab), np.zeros(vocab, np.float32)]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def numpy_char_lstm_step(params: list[np.ndarray], xb: np.ndarray, yb: np.ndarray,
                         adam: list[np.ndarray], lr: float) -> float:
    """One Adam step of the character LSTM on a batch, forward and BPTT written by hand.

    ``xb``, ``yb``: ``(B, T)`` ids. Time-major inside: ``x W + b`` for all steps in one product,
    one ``(B, H) @ (H, 4H)`` product per step, gates i, f, g, o.
    """
    table, w, u, b, wd, bd = params
    bsz, t = xb.shape
    h = u.shape[0]
    emb = table[xb.T]  # (T, B, E)
    flat_emb = emb.reshape(t * bsz, -1)
    gates = (flat_emb @ w + b).reshape(t, bsz, 4 * h)  # (T, B, 4H)
    hs = np.zeros((t + 1, bsz, h), np.float32)
    cs = np.zeros((t + 1, bsz, h), np.float32)
    tc = np.empty((t, bsz, h), np.float32)
    for s in range(t):
        z = gates[s]
        z += hs[s] @ u  # (B, H) @ (H, 4H)
        z[:, :2 * h] = _sigmoid(z[:, :2 * h])
        z[:, 3 * h:] = _sigmoid(z[:, 3 * h:])
        z[:, 2 * h:3 * h] = np.tanh(z[:, 2 * h:3 * h])
        cs[s + 1] = z[:, h:2 * h] * cs[s] + z[:, :h] * z[:, 2 * h:3 * h]
        tc[s] = np.tanh(cs[s + 1])
        hs[s + 1] = z[:, 3 * h:] * tc[s]
    flat_h = hs[1:].reshape(t * bsz, h)
    logits = flat_h @ wd + bd  # (T*B, V)
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    sums = logits.sum(axis=1)
    labels = yb.T.reshape(-1)
    rows = np.arange(t * bsz)
    loss = float(np.log(sums).sum() - np.log(logits[rows, labels]).sum()) / (t * bsz)
    logits /= sums[:, None]
    logits[rows, labels] -= 1
    logits /= np.float32(t * bsz)  # d loss / d logits
    d_wd = flat_h.T @ logits
    d_bd = logits.sum(axis=0)
    d_h_out = (logits @ wd.T).reshape(t, bsz, h)
    dh = np.zeros((bsz, h), np.float32)
    dc = np.zeros((bsz, h), np.float32)
    for s in range(t - 1, -1, -1):
        z = gates[s]
        i, f, g, o = z[:, :h], z[:, h:2 * h], z[:, 2 * h:3 * h], z[:, 3 * h:]
        dh = dh + d_h_out[s]
        do = dh * tc[s]
        dc = dc + dh * o * (1 - tc[s] ** 2)
        di, df, dg = dc * g, dc * cs[s], dc * i
        dc = dc * f
        z[:, :h] = di * i * (1 - i)
        z[:, h:2 * h] = df * f * (1 - f)
        z[:, 2 * h:3 * h] = dg * (1 - g**2)
        z[:, 3 * h:] = do * o * (1 - o)
        dh = z @ u.T  # (B, 4H) @ (4H, H)
    flat_g = gates.reshape(t * bsz, 4 * h)
    d_u = hs[:-1].reshape(t * bsz, h).T @ flat_g
    d_w = flat_emb.T @ flat_g
    d_b = flat_g.sum(axis=0)
    d_table = np.zeros_like(table)
    np.add.at(d_table, xb.T.reshape(-1), flat_g @ w.T)
    _numpy_adam(params, [d_table, d_w, d_u, d_b, d_wd, d_bd], adam, lr)
    return loss


def prepare_numpy_char_lstm(x: np.ndarray, y: np.ndarray, vocab: int, lr: float, batch: int,
                            batches: int | None = None) -> Run:
    """A shuffled epoch (or its first ``batches`` batches) of the hand-written LSTM."""
    params = init_numpy_char_lstm(vocab)
    adam = [np.zeros_like(p) for p in params for _ in range(2)] + [np.zeros(1)]
    rng = np.random.default_rng(1)

    def run() -> float:
        order = rng.permutation(len(x))
        starts = range(0, len(x), batch)[:batches]
        return sum(numpy_char_lstm_step(params, x[order[lo:lo + batch]], y[order[lo:lo + batch]],
                                        adam, lr) for lo in starts) / len(starts)

    return run


def scratchnn_char_lstm(vocab: int, steps: int, seed: int = 0) -> Any:
    """The scratchnn model of case (g) (the CLI's language-model recipe)."""
    from scratchnn import Sequential
    from scratchnn.layers import LSTM, Dense, Embedding, Input

    return Sequential([Input((steps,)), Embedding(vocab, CHAR_EMBEDDING),
                       LSTM(CHAR_UNITS, return_sequences=True),
                       Dense(vocab, activation="softmax")], seed=seed)  # fmt: skip


def prepare_scratchnn_char_lstm(x: np.ndarray, y: np.ndarray, vocab: int, lr: float, batch: int,
                                batches: int | None = None) -> Run:
    """``model.fit`` for one epoch (on the first ``batches * batch`` windows when given)."""
    from scratchnn import optimizers

    model = scratchnn_char_lstm(vocab, x.shape[1])
    model.compile(optimizer=optimizers.Adam(learning_rate=lr),
                  loss="sparse_categorical_crossentropy")
    rows = len(x) if batches is None else batches * batch
    return lambda: model.fit(x[:rows], y[:rows], batch_size=batch, epochs=1, verbose=0)


def torch_char_lstm(vocab: int) -> Any:
    """``nn.Embedding -> nn.LSTM -> nn.Linear``, the same sizes as scratchnn's; its forward
    ``(ids, state=None)`` returns ``(logits, final state)``."""
    import torch
    from torch import nn

    class CharLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab, CHAR_EMBEDDING)
            self.lstm = nn.LSTM(CHAR_EMBEDDING, CHAR_UNITS, batch_first=True)
            self.head = nn.Linear(CHAR_UNITS, vocab)

        def forward(self, ids: Any, state: Any = None) -> Any:
            out, state = self.lstm(self.embedding(ids), state)
            return self.head(out), state  # logits (B, T, V), the final (h, c)

    torch.manual_seed(0)
    return CharLSTM()


def prepare_torch_char_lstm(x: np.ndarray, y: np.ndarray, vocab: int, lr: float, batch: int,
                            batches: int | None = None) -> Run:
    """A shuffled epoch with index batches and ``F.cross_entropy`` on the logits."""
    import torch

    net = torch_char_lstm(vocab)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))

    def run() -> float:
        total, order = 0.0, torch.randperm(len(xt))
        starts = range(0, len(xt), batch)[:batches]
        for lo in starts:
            idx = order[lo:lo + batch]
            optimizer.zero_grad(set_to_none=True)
            logits = net(xt[idx])[0]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), yt[idx].reshape(-1))
            loss.backward()
            optimizer.step()
            total += loss.item()
        return total / len(starts)

    return run
