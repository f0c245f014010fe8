"""Engine overhead: one epoch of a 784-256-10 MLP, scratchnn tensors vs the same net in plain NumPy.

Both sides do the same arithmetic in float32 (ReLU hidden layer, softmax cross-entropy, plain SGD,
batch 128, 60 000 random rows, the first layer's input gradient skipped) in one process, alternating
repetitions so that machine noise hits both alike. Prints median/min/max per side and the ratio.

    python benchmarks/bench_engine.py            # 5 repetitions (the issue's figure)
    python benchmarks/bench_engine.py --repeats 3 --rows 20000
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import scratchnn as sn
from competitors import init_numpy_mlp  # benchmarks/ is on sys.path when run as a script
from scratchnn import ops

D, H, K = 784, 256, 10


def make_data(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 rows in [0, 1) and integer labels."""
    rng = np.random.default_rng(seed)
    return rng.random((rows, D), dtype=np.float32), rng.integers(0, K, rows)


def epoch_numpy(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, batch: int, lr: float):
    """One epoch written by hand: forward, softmax cross-entropy, backward, in-place SGD."""
    w1, b1, w2, b2 = params
    lr = np.float32(lr)
    for start in range(0, len(x), batch):
        xb, yb = x[start : start + batch], y[start : start + batch]
        n = len(xb)
        h = xb @ w1 + b1  # (N, D) @ (D, H) -> (N, H)
        np.maximum(h, 0, out=h)
        logits = h @ w2 + b2  # (N, H) @ (H, K) -> (N, K)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(n), yb] -= 1
        p /= n  # d loss / d logits
        gw2 = h.T @ p
        gb2 = p.sum(axis=0)
        dh = p @ w2.T
        dh *= h > 0
        gw1 = xb.T @ dh
        gb1 = dh.sum(axis=0)
        w1 -= lr * gw1
        b1 -= lr * gb1
        w2 -= lr * gw2
        b2 -= lr * gb2


def epoch_scratchnn(
    params: list[sn.Tensor], x: np.ndarray, y: np.ndarray, batch: int, lr: float,
    fused: bool = False,
):
    """One epoch with scratchnn tensors and ops: forward, cost, backward, update.

    ``fused=False`` composes one op per step (linear, relu, cross-entropy, mean); ``fused=True``
    uses the one-node forms Sequential uses (linear with its activation, cross-entropy with its
    mean).
    """
    w1, b1, w2, b2 = params
    lr = np.float32(lr)
    for start in range(0, len(x), batch):
        xb = sn.Tensor(x[start : start + batch])
        yb = y[start : start + batch]
        if fused:
            h = ops.linear(xb, w1, b1, activation="relu")
            loss = ops.sparse_softmax_crossentropy(ops.linear(h, w2, b2), yb, reduction="mean")
        else:
            h = ops.relu(ops.linear(xb, w1, b1))
            loss = ops.mean(ops.sparse_softmax_crossentropy(ops.linear(h, w2, b2), yb))
        loss.backward()
        for p in params:
            p.data -= lr * p.grad
            p.grad = None


def main() -> None:
    """Run both sides alternately and print the timing table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()

    x, y = make_data(args.rows)
    times: dict[str, list[float]] = {"numpy": [], "scratchnn": [], "scratchnn fused": []}
    for _ in range(args.repeats + 1):  # the first round warms caches and is dropped
        for side in times:
            params = init_numpy_mlp((D, H, K), seed=1)  # He-scaled, zero biases
            t0 = time.perf_counter()
            if side == "numpy":
                epoch_numpy(params, x, y, args.batch, 0.01)
            else:
                tensors = [sn.Tensor(p, requires_grad=True) for p in params]
                epoch_scratchnn(tensors, x, y, args.batch, 0.01, fused=side.endswith("fused"))
            times[side].append(time.perf_counter() - t0)
    for side in times:
        times[side] = times[side][1:]

    print(f"784-256-10 ReLU/softmax, float32, batch {args.batch}, {args.rows} rows, plain SGD; "
          f"{args.repeats} repetitions")
    print(f"{'side':<16}{'median s':>10}{'min s':>10}{'max s':>10}")
    for side, ts in times.items():
        print(f"{side:<16}{statistics.median(ts):>10.3f}{min(ts):>10.3f}{max(ts):>10.3f}")
    for side in ("scratchnn", "scratchnn fused"):
        ratio = statistics.median(times[side]) / statistics.median(times["numpy"])
        rounds = zip(times[side], times["numpy"], strict=True)
        paired = statistics.median(s / n for s, n in rounds)
        print(f"ratio {side} / hand-written NumPy: {ratio:.3f} (median of per-round ratios "
              f"{paired:.3f}); target <= 1.15")


if __name__ == "__main__":
    main()
