"""The character-level LSTM on Tiny Shakespeare: scratchnn for a time budget, PyTorch beside it.

The recipe (issue 10's figure): characters as ids (65), windows of 100 with next-character
targets (the first 90 % of the text trains, the last 10 % validates), Embedding 64 (initialised
N(0, 1), as PyTorch's) -> LSTM 256 (Keras' initialisers) -> Dense 65 softmax, Adam at 0.002
(epsilon 1e-7), batches of 64, float32, no dropout, no clipping. scratchnn trains with
``Sequential.fit`` until ``--minutes`` have passed (or ``--max-steps`` steps, or ``--patience``
evaluations without a better validation loss); PyTorch then trains the same network from the same
initial weights on the same batches in the same order (``fit`` draws one permutation of the
windows per epoch from ``default_rng(seed)``) for the same number of steps, evaluated after the
same steps: what differs is the engine.
Validation cross-entropy is in nats per character. The script prints a table, the targets (<= 1.60
within the budget; PyTorch within 0.03 at the same steps), and a sample of each model; with
``--out`` it also writes the curves as JSON and a PNG.

    python benchmarks/shakespeare_lstm.py --threads 1                    # 30 min + PyTorch's time
    python benchmarks/shakespeare_lstm.py --minutes 2 --max-steps 200 --eval-every 50  # a check

Shape legend: N windows, T = 100 steps, V = 65 characters.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

import common
import competitors

SEQ, BATCH, LR = 100, 64, 0.002
EMBEDDING, UNITS = competitors.CHAR_EMBEDDING, competitors.CHAR_UNITS  # 64, 256
TARGET_NATS, TORCH_GAP = 1.60, 0.03


def load() -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vocabulary and ``(x, y)`` windows of the training and validation characters."""
    from scratchnn import datasets, text

    corpus = datasets.load_tinyshakespeare()
    vocab = text.CharVocabulary.from_text(corpus.text)
    x, y = text.windows(vocab.encode(corpus.train), SEQ)
    xv, yv = text.windows(vocab.encode(corpus.validation), SEQ)
    return vocab, x, y, xv, yv


def train_scratchnn(data: tuple[Any, ...], minutes: float, max_steps: int | None,
                    eval_every: int, patience: int, seed: int) -> dict[str, Any]:
    """``Sequential.fit`` with a callback that evaluates every ``eval_every`` steps and stops."""
    from scratchnn import Sequential, callbacks, initializers, text
    from scratchnn.layers import LSTM, Dense, Embedding, Input
    from scratchnn.optimizers import Adam

    vocab, x, y, xv, yv = data
    table = initializers.RandomNormal(stddev=1.0)
    model = Sequential([Input((SEQ,)), Embedding(vocab.size, EMBEDDING, table),
                        LSTM(UNITS, return_sequences=True),
                        Dense(vocab.size, activation="softmax")], seed=seed)  # fmt: skip
    model.compile(optimizer=Adam(learning_rate=LR), loss="sparse_categorical_crossentropy")
    initial = model.get_weights()
    curve: list[tuple[int, float, float]] = []  # (step, seconds of training, val loss)

    class Budget(callbacks.Callback):
        """Evaluate every ``eval_every`` steps; stop at the budget or without progress."""

        def __init__(self) -> None:
            super().__init__()
            self.steps, self.train_seconds, self.best, self.stale = 0, 0.0, math.inf, 0
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.steps += 1
            over = time.perf_counter() - self.start + self.train_seconds > minutes * 60
            if self.steps % eval_every == 0 or over or self.steps == max_steps:
                self.train_seconds += time.perf_counter() - self.start
                loss = float(model.evaluate(xv, yv, batch_size=256))
                curve.append((self.steps, self.train_seconds, loss))
                print(f"  scratchnn step {self.steps:6d}  {self.train_seconds / 60:6.1f} min  "
                      f"val {loss:.4f}", flush=True)
                self.stale = 0 if loss < self.best else self.stale + 1
                self.best = min(self.best, loss)
                if over or self.steps == max_steps or self.stale >= patience:
                    model.stop_training = True
                self.start = time.perf_counter()  # evaluation time is not training time

    budget = Budget()
    model.fit(x, y, batch_size=BATCH, epochs=10_000, callbacks=[budget], verbose=0, seed=seed)
    start = time.perf_counter()
    sample = text.generate(model, vocab, "ROMEO:", 500, temperature=0.8,
                           rng=np.random.default_rng(seed))
    return {"curve": curve, "steps": budget.steps, "sample": sample,
            "sample_seconds": time.perf_counter() - start, "initial": initial}


def train_torch(data: tuple[Any, ...], initial: list[np.ndarray], steps: int,
                checkpoints: list[int], seed: int) -> dict[str, Any]:
    """The same network in PyTorch from scratchnn's ``initial`` weights, on the same batches."""
    import torch
    from torch import nn

    vocab, x, y, xv, yv = data
    v = vocab.size
    torch.manual_seed(seed)

    net = competitors.torch_char_lstm(v)
    table, kernel, recurrent, bias, head, head_bias = (torch.from_numpy(w) for w in initial)
    with torch.no_grad():  # Keras layouts -> PyTorch's (see scratchnn.ops.recurrent)
        net.embedding.weight.copy_(table)
        net.lstm.weight_ih_l0.copy_(kernel.T)
        net.lstm.weight_hh_l0.copy_(recurrent.T)
        net.lstm.bias_ih_l0.copy_(bias)
        net.lstm.bias_hh_l0.zero_()
        net.head.weight.copy_(head.T)
        net.head.bias.copy_(head_bias)
    optimizer = torch.optim.Adam(net.parameters(), lr=LR, eps=1e-7)
    xt, yt = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y))
    xvt, yvt = torch.from_numpy(np.array(xv)), torch.from_numpy(np.array(yv))
    rng = np.random.default_rng(seed)  # fit's shuffling: one permutation per epoch
    curve, done, train_seconds = [], 0, 0.0
    wanted = set(checkpoints)
    while done < steps:
        order = torch.from_numpy(rng.permutation(len(xt)))
        for lo in range(0, len(xt), BATCH):
            start = time.perf_counter()
            idx = order[lo:lo + BATCH]
            optimizer.zero_grad(set_to_none=True)
            logits, _ = net(xt[idx])
            loss = nn.functional.cross_entropy(logits.reshape(-1, v), yt[idx].reshape(-1))
            loss.backward()
            optimizer.step()
            train_seconds += time.perf_counter() - start
            done += 1
            if done in wanted:
                with torch.no_grad():
                    logits, _ = net(xvt)
                    val = float(nn.functional.cross_entropy(logits.reshape(-1, v),
                                                            yvt.reshape(-1)))
                curve.append((done, train_seconds, val))
                print(f"  pytorch   step {done:6d}  {train_seconds / 60:6.1f} min  val {val:.4f}",
                      flush=True)
            if done >= steps:
                break
    # a sample, feeding the state forward as scratchnn's generate does
    rng = np.random.default_rng(seed)
    ids, state, out = torch.from_numpy(vocab.encode("ROMEO:")[None]), None, []
    with torch.no_grad():
        for _ in range(500):
            logits, state = net(ids, state)
            p = torch.softmax(logits[0, -1].double() / 0.8, dim=-1).numpy()
            out.append(int(rng.choice(v, p=p / p.sum())))
            ids = torch.tensor([[out[-1]]])
    return {"curve": curve, "sample": vocab.decode(out)}


def main() -> None:
    """Parse the options, train both, print the comparison (and write it with ``--out``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="scratchnn's training budget")
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--eval-every", type=int, default=500, help="steps between evaluations")
    parser.add_argument("--patience", type=int, default=6,
                        help="evaluations without a better validation loss before stopping")
    parser.add_argument("--threads", type=int, default=None, help="BLAS and PyTorch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch run")
    parser.add_argument("--out", type=Path, default=None, help="folder for JSON and PNG results")
    args = parser.parse_args()
    if args.threads is not None:
        common.limit_threads(args.threads)
    print(f"BLAS: {common.blas_info()}; PyTorch: {common.torch_threads()}", flush=True)
    data = load()
    print(f"Tiny Shakespeare: {len(data[1])} training and {len(data[3])} validation windows of "
          f"{SEQ}; {data[0].size} characters", flush=True)
    ours = train_scratchnn(data, args.minutes, args.max_steps, args.eval_every, args.patience,
                           args.seed)
    steps = [step for step, _, _ in ours["curve"]]
    initial = ours.pop("initial")
    theirs = None if args.no_torch else train_torch(data, initial, ours["steps"], steps, args.seed)

    print("\n| step | scratchnn min | scratchnn val | pytorch min | pytorch val | difference |")
    print("|---:|---:|---:|---:|---:|---:|")
    pairs = dict((s, (t, v)) for s, t, v in (theirs or {"curve": []})["curve"])
    for step, seconds, val in ours["curve"]:
        t_sec, t_val = pairs.get(step, (math.nan, math.nan))
        print(f"| {step} | {seconds / 60:.1f} | {val:.4f} | {t_sec / 60:.1f} | {t_val:.4f} | "
              f"{val - t_val:+.4f} |")
    best_step, best_seconds, best = min(ours["curve"], key=lambda c: c[2])
    print(f"\nscratchnn best validation loss {best:.4f} nats/char at step {best_step} "
          f"({best_seconds / 60:.1f} min of training): target <= {TARGET_NATS} "
          f"{'MET' if best <= TARGET_NATS and best_seconds <= 30 * 60 else 'NOT MET'}")
    if theirs and best_step in pairs:
        gap = best - pairs[best_step][1]
        print(f"PyTorch at step {best_step}: {pairs[best_step][1]:.4f}; difference {gap:+.4f} "
              f"(target within {TORCH_GAP}) {'MET' if abs(gap) <= TORCH_GAP else 'NOT MET'}")
        ratio = best_seconds / pairs[best_step][0]
        print(f"training time per step, scratchnn / pytorch: {ratio:.2f}")
    print(f"\nscratchnn sample (temperature 0.8, {ours['sample_seconds']:.2f} s for 500 "
          f"characters):\nROMEO:{ours['sample']}")
    if theirs:
        print(f"\npytorch sample (temperature 0.8):\nROMEO:{theirs['sample']}")
    if args.out is not None:
        write_results(args.out, ours, theirs)


def write_results(folder: Path, ours: dict[str, Any], theirs: dict[str, Any] | None) -> None:
    """``shakespeare_lstm.json`` (curves and samples) and ``shakespeare_lstm.png``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shakespeare_lstm.json").write_text(
        json.dumps({"scratchnn": ours, "pytorch": theirs}, indent=1) + "\n")
    fig = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, result in (("scratchnn", ours), ("pytorch", theirs)):
        if result:
            steps, _, vals = zip(*result["curve"], strict=True)
            ax.plot(steps, vals, marker="o", label=name)
    ax.axhline(TARGET_NATS, color="gray", linestyle="--", label=f"target {TARGET_NATS}")
    ax.set(xlabel="training step (batches of 64 windows)",
           ylabel="validation cross-entropy (nats/char)",
           title="Character LSTM on Tiny Shakespeare")
    ax.legend()
    fig.savefig(folder / "shakespeare_lstm.png")
    print(f"written to {folder}")


if __name__ == "__main__":
    main()
