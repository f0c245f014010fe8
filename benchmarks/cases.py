"""The benchmark cases (a)-(g). Each returns a :class:`Result` of rows for the table.

(a) one epoch of 784-256-10 ReLU/softmax, float32, batch 128, SGD, on MNIST;
(b) tutorial 000's 2-3-1 tanh/sigmoid network, 10 000 full-batch steps on moons (N = 2000);
(c) ``predict`` latency on one row and throughput on 100 000 rows, (a)'s network;
(d) 784-512-512-256-10 with Adam and dropout 0.2, one epoch;
(e) peak memory (RSS) of (a) and (d), each competitor in its own process (see ``run.py``);
(f) Keras' "Simple MNIST convnet": one epoch of 54 000 images (Adam, batch 128), inference on
    10 000 test images, and each competitor's peak memory in its own process;
(g) one epoch of a character-level LSTM on Tiny Shakespeare (Embedding 64 -> LSTM 256 -> Dense 65,
    windows of 100, batch 64, Adam), and sampling 500 characters from it.
"""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import common
import competitors as comp

SIZES_A = (784, 256, 10)
SIZES_D = (784, 512, 512, 256, 10)
LR_SGD = 0.01
LR_ADAM = 0.001
DROPOUT = 0.2
MOONS_STEPS = 10_000
CONVNET_IMAGES = 54_000  # Keras' recipe: 60 000 training images less validation_split=0.1
CONVNET_TEST = 10_000
CONVNET_PREDICT_BATCHES = (128, 1_000)  # images per forward pass of predict
# Multiply-adds per image of the convnet's matrix products: conv1 (26*26 pixels, 9 -> 32),
# conv2 (11*11 pixels, 288 -> 64), dense (1600 -> 10).
CONVNET_MACS = (26 * 26 * 9 * 32, 11 * 11 * 288 * 64, 1600 * 10)


@dataclass
class Row:
    """One competitor's figures: seconds (median, min, max), ratio to NumPy, GFLOP/s."""

    name: str
    median: float
    low: float
    high: float
    ratio: float | None = None
    gflops: float | None = None
    unit: str = "s"
    note: str = ""


@dataclass
class Result:
    """A case's title, rows and notes (targets met or not, data used)."""

    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (for the worker process)."""
        return asdict(self)


def _rows(timings: common.Timings, base: str, flops: float | None, scale: float = 1.0,
          unit: str = "s", notes: dict[str, str] | None = None) -> list[Row]:
    reference = timings.median(base)
    rows = []
    for name in timings.seconds:
        med, low, high = (v * scale for v in timings.summary(name))
        rows.append(Row(
            name, med, low, high, ratio=timings.median(name) / reference,
            gflops=None if flops is None else flops / timings.median(name) / 1e9, unit=unit,
            note=(notes or {}).get(name, ""),
        ))
    return rows


def paired_ratio(timings: common.Timings, name: str, base: str) -> float:
    """Median over rounds of ``name / base`` in the same round (cancels slow rounds)."""
    pairs = zip(timings.seconds[name], timings.seconds[base], strict=True)
    return statistics.median(a / b for a, b in pairs)


def _check(label: str, value: float, limit: float, better: str = "lower") -> str:
    ok = value <= limit if better == "lower" else value >= limit
    sign = "<=" if better == "lower" else ">="
    return f"{label}: {value:.3g} (target {sign} {limit:g}) {'MET' if ok else 'NOT MET'}"


def case_a(repeats: int) -> Result:
    """(a) one epoch of 784-256-10, SGD, batch 128."""
    x, y, source = common.load_mnist()
    args = (x, y, SIZES_A, LR_SGD)
    timings = common.alternate(
        {
            "numpy": lambda: comp.prepare_numpy_epoch(*args),
            "scratchnn": lambda: comp.prepare_scratchnn_epoch(*args),
            "scikit-learn": lambda: comp.prepare_sklearn_epoch(*args),
            "pytorch": lambda: comp.prepare_torch_epoch(*args),
        },
        repeats,
    )
    result = Result("a", f"(a) one epoch, 784-256-10 ReLU/softmax, float32, batch 128, SGD; "
                         f"{source}")
    result.rows = _rows(timings, "numpy", common.training_flops(SIZES_A, len(x)))
    sn = timings.median("scratchnn")
    result.notes = [
        _check("scratchnn / numpy", sn / timings.median("numpy"), 1.10),
        f"  (median of per-round ratios {paired_ratio(timings, 'scratchnn', 'numpy'):.3f})",
        _check("scikit-learn / scratchnn", timings.median("scikit-learn") / sn, 1.3, "higher"),
        _check("pytorch / scratchnn", timings.median("pytorch") / sn, 1.15, "higher"),
    ]
    return result


def case_b(repeats: int, steps: int = MOONS_STEPS) -> Result:
    """(b) tutorial 000's 2-3-1 network, full-batch steps on moons."""
    x, y = common.load_moons()
    timings = common.alternate(
        {
            "numpy": lambda: comp.prepare_numpy_moons(x, y, steps),
            "numpy (rows)": lambda: comp.prepare_numpy_moons_rows(x, y, steps),
            "scratchnn": lambda: comp.prepare_scratchnn_moons(x, y, steps),
            "scratchnn +accuracy": lambda: comp.prepare_scratchnn_moons(
                x, y, steps, metrics=["accuracy"]
            ),
            "scikit-learn": lambda: comp.prepare_sklearn_moons(x, y, steps),
            "pytorch": lambda: comp.prepare_torch_moons(x, y, steps),
        },
        repeats,
    )
    result = Result("b", f"(b) tutorial 000's 2-3-1 tanh/sigmoid net, {steps} full-batch SGD "
                         f"steps, moons N={len(x)}, float32")
    notes = {
        "numpy": "tutorial's layout (samples as columns)",
        "numpy (rows)": "samples as rows, like the libraries",
        "scratchnn +accuracy": "metrics=['accuracy'] every epoch",
    }
    result.rows = _rows(timings, "numpy", common.training_flops((2, 3, 1), len(x)) * steps,
                        notes=notes)
    sn = timings.median("scratchnn")
    result.notes = [
        _check("scratchnn / numpy", sn / timings.median("numpy"), 1.5),
        _check("scratchnn / numpy (rows)", sn / timings.median("numpy (rows)"), 1.5),
        _check("scratchnn +accuracy / numpy", timings.median("scratchnn +accuracy")
               / timings.median("numpy"), 1.5),
        _check("scikit-learn / scratchnn", timings.median("scikit-learn") / sn, 2.0, "higher"),
        _check("pytorch / scratchnn", timings.median("pytorch") / sn, 2.0, "higher"),
    ]
    return result


def case_c(repeats: int, calls: int = 200, rows: int = 100_000) -> Result:
    """(c) predict: one row (latency) and 100 000 rows (throughput)."""
    x, y, source = common.load_mnist()
    predict = comp.predictors(x[:2000], y[:2000], SIZES_A)
    one = x[:1].copy()
    many = np.resize(x, (rows, x.shape[1]))  # MNIST repeated up to `rows`
    for fn in predict.values():  # warm up
        fn(one)

    def latency(fn: Any) -> Any:
        def run() -> None:
            for _ in range(calls):
                fn(one)
        return run

    lat = common.alternate(
        {name: (lambda fn=fn: latency(fn)) for name, fn in predict.items()}, repeats * 5
    )
    thr = common.alternate(
        {name: (lambda fn=fn: (lambda: fn(many))) for name, fn in predict.items()}, repeats
    )
    result = Result("c", f"(c) predict with (a)'s network: one row (µs per call, {calls} calls "
                         f"per repetition) and {rows} rows (s); {source}")
    single = _rows(lat, "numpy", common.forward_flops(SIZES_A, 1) * calls, 1e6 / calls, "µs")
    for row in single:
        row.name = f"1 row: {row.name}"
    bulk = _rows(thr, "numpy", common.forward_flops(SIZES_A, rows))
    for row in bulk:
        row.name = f"{rows} rows: {row.name}"
    result.rows = single + bulk
    result.notes = [
        _check("scratchnn single-row predict (µs)", lat.median("scratchnn") / calls * 1e6, 30),
        _check(f"scratchnn / numpy on {rows} rows", thr.median("scratchnn")
               / thr.median("numpy"), 1.2),
    ]
    return result


def case_d(repeats: int) -> Result:
    """(d) 784-512-512-256-10, Adam, dropout 0.2, one epoch."""
    x, y, source = common.load_mnist()
    args = (x, y, SIZES_D, LR_ADAM)
    timings = common.alternate(
        {
            "numpy": lambda: comp.prepare_numpy_epoch(*args, adam=True, dropout=DROPOUT),
            "scratchnn": lambda: comp.prepare_scratchnn_epoch(*args, adam=True, dropout=DROPOUT),
            "scikit-learn": lambda: comp.prepare_sklearn_epoch(*args, adam=True),
            "pytorch": lambda: comp.prepare_torch_epoch(*args, adam=True, dropout=DROPOUT),
        },
        repeats,
    )
    result = Result("d", f"(d) one epoch, 784-512-512-256-10 ReLU/softmax, Adam, dropout "
                         f"{DROPOUT}, float32, batch 128; {source}")
    result.rows = _rows(timings, "numpy", common.training_flops(SIZES_D, len(x)),
                        notes={"scikit-learn": "no dropout (MLPClassifier has none)"})
    result.notes = [
        f"scratchnn / numpy: {timings.median('scratchnn') / timings.median('numpy'):.3f} "
        f"(median of per-round ratios {paired_ratio(timings, 'scratchnn', 'numpy'):.3f}; "
        "no target set)"
    ]
    return result


def convnet_flops(images: int, training: bool = True) -> float:
    """Floating-point operations of the convnet's products: forward, and in training the
    kernel gradients and the input gradients of all but the first layer (its input is data)."""
    c1, c2, d = CONVNET_MACS
    macs = c1 + c2 + d if not training else 2 * c1 + 3 * c2 + 3 * d
    return 2.0 * images * macs


def load_mnist_images(rows: int, test: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
    """``(x, y, source)``: MNIST as ``(rows, 28, 28, 1)`` float32 images in [0, 1]."""
    if test and common.MNIST.exists():
        with np.load(common.MNIST) as data:
            x = data["x_test"][:rows].astype(np.float32) / np.float32(255)
            y = data["y_test"][:rows].astype(np.int64)
        return x.reshape(-1, 28, 28, 1), y, f"MNIST test images ({len(x)})"
    x, y, source = common.load_mnist(rows)
    return x.reshape(-1, 28, 28, 1), y, source


def case_f(repeats: int, images: int = CONVNET_IMAGES, test_images: int = CONVNET_TEST,
           threads: str = "default") -> Result:
    """(f) the Keras MNIST convnet: one epoch, and inference on the test images."""
    x, y, source = load_mnist_images(images)
    timings = common.alternate(
        {
            "numpy": lambda: comp.prepare_numpy_convnet_epoch(x, y),
            "scratchnn": lambda: comp.prepare_scratchnn_convnet_epoch(x, y),
            "pytorch": lambda: comp.prepare_torch_convnet_epoch(x, y),
        },
        repeats,
    )
    x_test, _, test_source = load_mnist_images(test_images, test=True)
    inference = {}
    for batch in CONVNET_PREDICT_BATCHES:
        predict = comp.convnet_predictors(batch)
        inference[batch] = common.alternate(
            {name: (lambda fn=fn: (lambda: fn(x_test))) for name, fn in predict.items()},
            repeats,
        )
    result = Result("f", f"(f) Keras' simple MNIST convnet, float32, {threads} threads: one "
                         f"epoch (Adam, batch 128, dropout 0.5) on {len(x)} images of {source}; "
                         f"predict on {len(x_test)} {test_source}")
    train_rows = _rows(timings, "numpy", convnet_flops(len(x)),
                       notes={"numpy": "hand-written im2col + matmul, Adam"})
    for row in train_rows:
        row.name = f"epoch: {row.name}"
    result.rows = train_rows
    for batch, times in inference.items():
        rows = _rows(times, "numpy", convnet_flops(len(x_test), training=False))
        for row in rows:
            row.name = f"predict, batches of {batch}: {row.name}"
        result.rows += rows
    sn, pt = timings.median("scratchnn"), timings.median("pytorch")
    result.notes = [
        _check("epoch: scratchnn / pytorch", sn / pt, 1.5),
        f"  (median of per-round ratios {paired_ratio(timings, 'scratchnn', 'pytorch'):.3f})",
        _check("epoch: scratchnn / numpy", sn / timings.median("numpy"), 1.1),
        f"  (median of per-round ratios {paired_ratio(timings, 'scratchnn', 'numpy'):.3f})",
        *(_check(f"predict, batches of {batch}: scratchnn / pytorch",
                 times.median("scratchnn") / times.median("pytorch"), 1.5)
          for batch, times in inference.items()),
    ]
    return result


# ------------------------------------------------------------------- (g) character-level LSTM
CHAR_STEPS, CHAR_BATCH, CHAR_LR, SAMPLE_CHARS = 100, 64, 0.002, 500


def load_char_windows() -> tuple[np.ndarray, np.ndarray, int, Any]:
    """Tiny Shakespeare's training characters as non-overlapping windows of 100 (views)."""
    from scratchnn import datasets, text

    corpus = datasets.load_tinyshakespeare()
    vocab = text.CharVocabulary.from_text(corpus.text)
    x, y = text.windows(vocab.encode(corpus.train), CHAR_STEPS)
    return x, y, vocab.size, vocab


def char_lstm_flops(vocab: int, tokens: int) -> float:
    """Matrix-product FLOPs of a training pass: 3x the forward (the weight and input grads)."""
    e, h = comp.CHAR_EMBEDDING, comp.CHAR_UNITS
    return 3 * 2.0 * tokens * (e * 4 * h + h * 4 * h + h * vocab)


def case_g(repeats: int, batches: int | None = None) -> Result:
    """(g) one epoch (or ``batches`` batches) of the character LSTM; sampling 500 characters."""
    from scratchnn import text

    x, y, vocab, chars = load_char_windows()
    args = (x, y, vocab, CHAR_LR, CHAR_BATCH, batches)
    timings = common.alternate(
        {
            "numpy": lambda: comp.prepare_numpy_char_lstm(*args),
            "scratchnn": lambda: comp.prepare_scratchnn_char_lstm(*args),
            "pytorch": lambda: comp.prepare_torch_char_lstm(*args),
        },
        repeats,
    )
    n_batches = -(-len(x) // CHAR_BATCH) if batches is None else batches
    scope = "one epoch" if batches is None else f"the first {batches} batches of an epoch"
    result = Result("g", f"(g) character LSTM, Tiny Shakespeare: {scope} ({n_batches} batches of "
                         f"{CHAR_BATCH} windows of {CHAR_STEPS}), Embedding {comp.CHAR_EMBEDDING}"
                         f" -> LSTM {comp.CHAR_UNITS} -> Dense {vocab}, Adam, float32")
    tokens = min(len(x), n_batches * CHAR_BATCH) * CHAR_STEPS
    result.rows = _rows(timings, "numpy", char_lstm_flops(vocab, tokens),
                        notes={"numpy": "hand-written forward and BPTT",
                               "pytorch": "nn.LSTM"})  # fmt: skip
    model = comp.scratchnn_char_lstm(vocab, CHAR_STEPS)
    sample = common.alternate({"sample": lambda: (lambda: text.generate(
        model, chars, "ROMEO:", SAMPLE_CHARS, 0.8, rng=np.random.default_rng(0)))}, repeats)
    sn = timings.median("scratchnn")
    result.notes = [
        _check("scratchnn / pytorch", sn / timings.median("pytorch"), 1.5),
        f"  (median of per-round ratios {paired_ratio(timings, 'scratchnn', 'pytorch'):.3f})",
        _check("scratchnn / numpy", sn / timings.median("numpy"), 1.1),
        f"  (median of per-round ratios {paired_ratio(timings, 'scratchnn', 'numpy'):.3f})",
        _check(f"scratchnn sampling {SAMPLE_CHARS} characters (s)", sample.median("sample"), 1.0),
    ]
    return result


# --------------------------------------------------------------------------- (e) memory
RSS_COMPETITORS = ("numpy", "scratchnn", "scikit-learn", "pytorch")


def rss_worker(case: str, competitor: str, images: int = CONVNET_IMAGES) -> dict[str, float]:
    """Run one epoch of case ``a``, ``d`` or ``f`` for one competitor in this process; report
    memory.

    ``images``: training images of case ``f``.

    Returns MiB: ``before`` (resident after imports and data), ``peak`` (the process's peak RSS,
    data included) and ``training`` (peak during the epoch minus ``before``; Linux resets the
    peak through ``/proc/self/clear_refs``).
    """
    if case == "f":
        prepare = {
            "numpy": comp.prepare_numpy_convnet_epoch,
            "scratchnn": comp.prepare_scratchnn_convnet_epoch,
            "pytorch": comp.prepare_torch_convnet_epoch,
        }[competitor]
    else:
        prepare = {
            "numpy": comp.prepare_numpy_epoch,
            "scratchnn": comp.prepare_scratchnn_epoch,
            "scikit-learn": comp.prepare_sklearn_epoch,
            "pytorch": comp.prepare_torch_epoch,
        }[competitor]
    if competitor == "scratchnn":
        import scratchnn  # noqa: F401
    elif competitor == "scikit-learn":
        import sklearn.neural_network  # noqa: F401
    elif competitor == "pytorch":
        import torch  # noqa: F401
    if case == "f":
        x, y, _ = load_mnist_images(images)
        args: tuple[Any, ...] = (x, y)
    else:
        x, y, _ = common.load_mnist()
        args, prepare = _mlp_args(prepare, case, competitor, x, y)
    whole_peak_before = common.peak_rss_mb()
    before = _status_mb("VmRSS")
    reset = _reset_peak()
    t0 = time.perf_counter()
    prepare(*args)()  # build the model, then train one epoch
    seconds = time.perf_counter() - t0
    peak_during = _status_mb("VmHWM") if reset else common.peak_rss_mb()
    return {
        "before": before,
        "peak": max(whole_peak_before, peak_during),
        "training": peak_during - before,
        "seconds": seconds,
    }


def _mlp_args(prepare: Any, case: str, competitor: str, x: np.ndarray, y: np.ndarray
              ) -> tuple[tuple[Any, ...], Any]:
    """``(arguments, prepare)`` of the epoch of case (a) or (d) for one competitor."""
    kwargs: dict[str, Any] = {}
    sizes, lr = SIZES_A, LR_SGD
    if case == "d":
        sizes, lr = SIZES_D, LR_ADAM
        kwargs = {"adam": True} if competitor == "scikit-learn" else {
            "adam": True, "dropout": DROPOUT
        }
    return (x, y, sizes, lr), functools.partial(prepare, **kwargs)


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return common.peak_rss_mb()


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
