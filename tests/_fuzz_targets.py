"""Fuzz targets: hostile mutations of valid inputs, each load ending in a load or one ValueError.

Run by ``test_fuzz.py`` in a child process whose address space is limited (``RLIMIT_AS``), so that
an allocation the input asks for shows up as a failure, not as a slow machine::

    python tests/_fuzz_targets.py TARGET EXAMPLES SEED WORKDIR

``TARGET`` is ``model``, ``deep`` (RBM, DBN, GAN and autoencoder files), ``spec`` or ``csv``.
Hypothesis draws ``EXAMPLES`` cases from ``SEED``
(no example database: the run is the same every time). A case passes when the loader returns or
raises one ``ValueError`` whose message starts with the file's path; any other exception, or a
case running longer than :data:`CASE_SECONDS`, fails the run with Hypothesis' smallest failing
example on stderr. The last line on stdout is a JSON summary: the target, the number of cases and
how they ended (``{"loaded": ..., "refused": ...}``).
"""

from __future__ import annotations

import contextlib
import copy
import json
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from _hostile import read_file, write_file

CASE_SECONDS = 30
"""Longest a single case may take before it counts as a hang."""

INJECTION = "__import__('os').system('touch marker')"
INTERESTING_INTS = [0, 1, -1, 2, 3, 2**24, 2**24 + 1, 2**31, 2**63, 4_000_000_000, 10**30]
HOSTILE_SIZES = [2**24, 2**24, 2**23, 10**6, 0, -1, 2**24 + 1, 2**31]
"""What the ``size`` edit puts in place of an integer: mostly the largest sizes allowed."""
DEEP_NAMES = ["RBM", "DBN", "GAN", "Sequential", "Functional", "Model", "bernoulli", "gaussian",
              "generator", "discriminator", "d_optimizer", "g_optimizer"]
DEEP_KEYS = ["n_hidden", "n_visible", "hidden", "k", "visible", "generator", "discriminator",
             "learning_rate", "label_smoothing", "from_logits", "persistent"]


class Hang(BaseException):
    """A case ran longer than :data:`CASE_SECONDS` (BaseException: nothing may swallow it)."""


@contextlib.contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def fire(signum: int, frame: Any) -> None:
        raise Hang(f"a case ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def expect_load_or_value_error(path: Path, load: Callable[[], Any], outcomes: Counter) -> Any:
    """Run ``load``; a ValueError must name ``path`` first. Anything else propagates."""
    try:
        with time_limit(CASE_SECONDS):
            result = load()
    except ValueError as exc:
        message = str(exc)
        if not message.startswith(f"{path}"):
            raise AssertionError(f"the ValueError does not name the file: {message}") from exc
        outcomes["refused"] += 1
        return None
    outcomes["loaded"] += 1
    return result


def run_cases(case: Callable[[st.DataObject], None], examples: int, seed_value: int) -> None:
    """Run ``case`` on ``examples`` Hypothesis draws from ``seed_value`` (no example database)."""
    settings(max_examples=examples, deadline=None, database=None, print_blob=True,
             suppress_health_check=list(HealthCheck))(seed(seed_value)(given(data=st.data())(
                 case)))()


# ----------------------------------------------------------------------------------- JSON edits
def json_values() -> st.SearchStrategy[Any]:
    """Values an attacker may put anywhere in a JSON header."""
    from scratchnn import initializers, losses, optimizers
    from scratchnn.layers import LAYERS

    names = sorted({*LAYERS, *optimizers.OPTIMIZERS, *DEEP_NAMES, "relu", "softmax", "linear",
                    "mse",
                    "binary_crossentropy", "float16", "float64", "int32", INJECTION,
                    *getattr(initializers, "INITIALIZERS", {}), *getattr(losses, "LOSSES", {})})
    scalars = st.one_of(
        st.none(), st.booleans(), st.sampled_from(INTERESTING_INTS),
        st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12), st.sampled_from(names),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(st.sampled_from(["class_name", "config", "name", "units",
                                                       "shape", "layers", "rate", *DEEP_KEYS]),
                                      st.text(max_size=6)), inner, max_size=4),
        ),
        max_leaves=8,
    )


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (dict keys and list indices)."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            paths += json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            paths += json_paths(child, (*prefix, i))
    return paths


def _at(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


def edit_json(data: st.DataObject, document: dict[str, Any]) -> dict[str, Any]:
    """One hostile edit somewhere in ``document`` (a copy): replace, delete, duplicate, insert,
    scale an integer, or set an integer of the architecture (a size) to one of
    :data:`HOSTILE_SIZES`."""
    document = copy.deepcopy(document)
    paths = [p for p in json_paths(document) if p]
    path = data.draw(st.sampled_from(paths), label="path")
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = data.draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate",
                                        "insert", "scale", "size"]), label="action")
    sizes = [p for p in paths if type(_at(document, p)) is int and p[0] == "model"
             and not str(p[-1]).endswith("seed")]
    if action == "size" and sizes:  # any integer (units, n_hidden, a shape...) made hostile
        path = data.draw(st.sampled_from(sizes), label="size path")
        parent, key = _at(document, path[:-1]), path[-1]
        parent[key] = data.draw(st.sampled_from(HOSTILE_SIZES), label="size")
    elif action == "replace":
        parent[key] = data.draw(json_values(), label="value")
    elif action == "delete":
        del parent[key]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    elif action == "insert":
        new = data.draw(json_values(), label="inserted")
        if isinstance(parent, list):
            parent.insert(key, new)
        else:
            parent[data.draw(st.text(max_size=8), label="new key")] = new
    elif action == "scale" and isinstance(parent[key], int) and not isinstance(parent[key], bool):
        parent[key] = parent[key] * data.draw(st.sampled_from([0, -1, 2, 1000, 2**32]),
                                              label="factor")
    return document


# ----------------------------------------------------------------------------------- model files
def model_bases(workdir: Path) -> dict[str, Path]:
    """Valid files to mutate: a trained full model, a weights file, an image model, an unbuilt
    model, a functional graph (two inputs, a shared layer, a nested Sequential) and a sequence
    model (Embedding, Bidirectional GRU, TimeDistributed Dense, LSTM)."""
    from scratchnn.layers import (
        GRU,
        LSTM,
        Activation,
        Bidirectional,
        Concatenate,
        Dense,
        Dropout,
        Embedding,
        Flatten,
        Input,
        TimeDistributed,
    )
    from scratchnn.models import Model, Sequential

    rng = np.random.default_rng(0)
    full = Sequential([Input((3,), name="in"), Dense(4, activation="relu", name="hidden"),
                       Dropout(0.2, name="drop"), Dense(2, name="out"),
                       Activation("softmax", name="probs")], seed=0)
    full.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    full.fit(rng.normal(size=(8, 3)), np.eye(2)[rng.integers(0, 2, 8)], epochs=1, verbose=0)
    image = Sequential([Input((2, 3), name="img"), Flatten(name="flat"),
                        Dense(3, activation="tanh", name="d")], dtype="float64", seed=1)
    image.compile(optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}, loss="mse")
    image.fit(rng.normal(size=(4, 2, 3)), rng.normal(size=(4, 3)), epochs=1, verbose=0)
    a, b = Input((3,), name="a"), Input((2,), name="b")
    shared = Dense(4, name="shared")
    inner = Sequential([Dense(3, activation="tanh", name="i1")], name="inner")
    joined = Concatenate(name="cat")([shared(a), shared(Dense(3, name="pre")(b)), inner(a)])
    graph = Model(inputs=[a, b], outputs=Dense(2, name="out")(joined), name="graph", seed=2)
    graph.compile(optimizer="rmsprop", loss="mse")
    graph.fit([rng.normal(size=(4, 3)), rng.normal(size=(4, 2))], rng.normal(size=(4, 2)),
              epochs=1, verbose=0)
    sequence = Sequential([Input((5,), name="tokens"), Embedding(12, 3, name="emb"),
                           Bidirectional(GRU(2, return_sequences=True), name="bi"),
                           TimeDistributed(Dense(2), name="td"), LSTM(3, name="lstm"),
                           Dense(1, activation="sigmoid", name="out")], seed=3)
    sequence.compile(optimizer="adam", loss="binary_crossentropy")
    sequence.fit(rng.integers(0, 12, size=(4, 5)), rng.integers(0, 2, size=(4, 1)), epochs=1,
                 verbose=0)
    names = ("full", "weights", "image", "unbuilt", "graph", "sequence")
    paths = {name: workdir / f"{name}.snn" for name in names}
    graph.save(paths["graph"])
    sequence.save(paths["sequence"])
    full.save(paths["full"])
    full.save_weights(paths["weights"])
    image.save(paths["image"])
    Sequential([Dense(3, name="a"), Dense(1, name="b")]).save(paths["unbuilt"])
    return paths


def mutate_tensors(data: st.DataObject, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Reshape, retype, drop, add or rename one tensor."""
    tensors = dict(tensors)
    action = data.draw(st.sampled_from(["reshape", "retype", "drop", "add", "rename"]),
                       label="tensor action")
    names = sorted(tensors)
    if action == "add" or not names:
        name = data.draw(st.one_of(
            st.sampled_from(["weights/hidden/kernel2", "weights/x/kernel", "optimizer/m.7",
                             "optimizer/m.99999999999", "optimizer/iterations", "weights/a/kernel",
                             "weights/d/bias", "extra"]),
            st.text(max_size=10)), label="new tensor")
        shape = tuple(data.draw(st.lists(st.integers(0, 5), max_size=3), label="shape"))
        tensors[name] = np.zeros(shape, "float32")
        return tensors
    name = data.draw(st.sampled_from(names), label="tensor")
    array = tensors[name]
    if action == "reshape":
        shape = tuple(data.draw(st.lists(st.integers(0, 6), max_size=4), label="new shape"))
        tensors[name] = np.resize(array, shape).astype(array.dtype)
    elif action == "retype":
        dtype = data.draw(st.sampled_from(["float16", "float32", "float64", "int32", "int64",
                                           "uint8", "bool"]), label="dtype")
        tensors[name] = array.astype(dtype)
    elif action == "drop":
        del tensors[name]
    else:
        others = ["weights/in/kernel", "optimizer/v.0", "optimizer/step.1", "weights/z"]
        tensors[data.draw(st.sampled_from([*names, *others]), label="new name")] = tensors.pop(name)
    return tensors


def deep_bases(workdir: Path) -> dict[str, Path]:
    """Valid files of the deep architectures to mutate: a trained RBM (SGD with momentum, so
    with optimizer slots), an unbuilt RBM, a DBN, a Dense GAN (compiled) and a Dense
    autoencoder (a graph of two nested graphs, trained)."""
    from scratchnn.layers import Dense
    from scratchnn.models import DBN, GAN, RBM, Sequential, dense_autoencoder

    rng = np.random.default_rng(0)
    rows = (rng.random((12, 5)) < 0.4).astype("float32")
    rbm = RBM(3, n_visible=5, momentum=0.5, persistent=True, seed=0)
    rbm.fit(rows, batch_size=6, epochs=1, verbose=0)
    generator = Sequential([Dense(4, activation="relu", input_dim=2), Dense(3)],
                           name="generator", seed=0)
    discriminator = Sequential([Dense(4, activation="relu", input_dim=3), Dense(1)],
                               name="discriminator", seed=1)
    gan = GAN(generator, discriminator, label_smoothing=0.1, seed=2)
    gan.compile(d_optimizer="adam", g_optimizer={"name": "sgd", "learning_rate": 0.01})
    parts = dense_autoencoder(5, code_size=2, hidden=(3,), seed=0)
    parts.model.compile(optimizer="adam", loss="mse")
    parts.model.fit(rows, rows, epochs=1, batch_size=6, verbose=0)
    paths = {name: workdir / f"{name}.snn" for name in ("rbm", "rbm_unbuilt", "dbn", "gan", "ae")}
    rbm.save(paths["rbm"])
    RBM(4, visible="gaussian", seed=0).save(paths["rbm_unbuilt"])
    DBN((4, 3), n_visible=5, k=2, seed=0).save(paths["dbn"])
    gan.save(paths["gan"])
    parts.model.save(paths["ae"])
    return paths


def fuzz_deep(examples: int, seed_value: int, workdir: Path) -> Counter:
    """Mutate RBM, DBN, GAN and autoencoder files; each loads or raises one ValueError."""
    bases = deep_bases(workdir)
    return fuzz_files(bases, {name: name for name in bases}, examples, seed_value, workdir)


def fuzz_model(examples: int, seed_value: int, workdir: Path) -> Counter:
    """Mutate valid model files; ``load_model`` and ``load_weights`` load or raise ValueError."""
    bases = model_bases(workdir)
    targets = {name: "graph" if name == "graph" else "full" for name in bases}
    return fuzz_files(bases, targets, examples, seed_value, workdir)


def fuzz_files(bases: dict[str, Path], targets: dict[str, str], examples: int, seed_value: int,
               workdir: Path) -> Counter:
    """Mutate the ``bases`` files; ``load_model``, and ``load_weights`` into a model made from
    the config of base ``targets[base]``, load or raise ValueError."""
    from scratchnn.models import model_from_config, saving

    originals = {name: read_file(path) for name, path in bases.items()}
    raws = {name: path.read_bytes() for name, path in bases.items()}
    configs = {name: header["model"] for name, (header, _) in originals.items()}
    classes = {name: header.get("model_class") for name, (header, _) in originals.items()}
    outcomes: Counter = Counter()

    def case(data: st.DataObject) -> None:
        base = data.draw(st.sampled_from(sorted(bases)), label="base")
        header, tensors = copy.deepcopy(originals[base])
        kind = data.draw(st.sampled_from(["header", "header", "tensors", "both", "truncate",
                                          "flip"]), label="kind")
        path = workdir / "case.snn"
        if kind in ("header", "tensors", "both"):
            for _ in range(data.draw(st.integers(1, 3), label="edits")):
                if kind in ("header", "both"):
                    header = edit_json(data, header)
                if kind in ("tensors", "both"):
                    tensors = mutate_tensors(data, tensors)
            write_file(path, header, tensors, rehash=data.draw(st.booleans(), label="rehash")
                       or kind != "both")
        else:
            raw = bytearray(raws[base])
            if kind == "truncate":
                raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
            else:
                for _ in range(data.draw(st.integers(1, 4), label="flips")):
                    raw[data.draw(st.integers(0, len(raw) - 1), label="at")] ^= data.draw(
                        st.integers(1, 255), label="xor")
            path.write_bytes(bytes(raw))
        model = expect_load_or_value_error(path, lambda: saving.load_model(path), outcomes)
        if model is not None and model.built:  # zeros: valid token ids too
            xs = [np.zeros((2, *shape), dtype=model.dtype) for shape in model.input_shapes]
            model.predict(xs[0] if len(xs) == 1 else xs)  # a model that loads also runs
        kind = targets[base]
        target = model_from_config(copy.deepcopy(configs[kind]), classes[kind])
        expect_load_or_value_error(path, lambda: saving.load_weights(target, path), outcomes)

    run_cases(case, examples, seed_value)
    return outcomes


# ------------------------------------------------------------------------------------ sweep specs
BASE_SPEC = """\
[sweep]
name = "fuzz"
seeds = [0]
[data]
name = "moons"
n_samples = 60
noise = 0.1
dev_size = 0.25
[model]
dtype = "float32"
[[model.layers]]
class_name = "Dense"
units = 3
activation = "tanh"
input_dim = 2
[[model.layers]]
class_name = "Dense"
units = 1
activation = "sigmoid"
[compile]
optimizer = { name = "sgd", learning_rate = 0.1 }
loss = "binary_crossentropy"
metrics = ["accuracy"]
[fit]
epochs = 3
batch_size = 16
[params]
units = { path = "model.layers[0].units", values = [2, 4] }
lr = { path = "compile.optimizer.learning_rate", values = [0.1, 0.5] }
[report]
sort = ["-dev_acc"]
"""

TOML_VALUES = [
    "0", "-1", "1", "3", "4000000000", "9223372036854775807", "100000", "1e308", "inf", "nan",
    "-0.5", "true", "false", '""', '"relu"', '"full"', '"random"', '"grid"', '"moons"',
    '"Dense"', '"mnist"', f'"{INJECTION}"', "[]", "[0, 1, 2]", "[1, 1]", '["a", "b"]',
    "{ class_name = \"Dense\", units = 3 }", "{ path = \"fit.epochs\", values = [1, 2] }",
    "[" + ", ".join(str(i) for i in range(1, 400)) + "]", "[[[[[[[[[[1]]]]]]]]]]",
    '"model.layers[0].units"', "{ name = \"adam\", learning_rate = -1 }",
]
EXTRA_LINES = [
    'method = "random"', "samples = 100000", "samples = 5", "seeds = [0, 1, 2, 3]",
    "[params]", "[sweep]", "[[model.layers]]", 'class_name = "Dropout"', "rate = 0.5",
    'grid = { path = "fit.batch_size", values = [' + ", ".join(map(str, range(1, 300))) + "] }",
    'big = { path = "model.layers[1].units", values = [100000000, 3] }',
    'rows = { path = "data.n_samples", values = [4000000000] }',
    'deep = { path = "model.layers[7].units", values = [1] }', "x = 1", "[report.holdout]",
    'name = "moons"', "n_samples = 1000000000000",
]


def mutate_text(data: st.DataObject, text: str) -> bytes:
    """Edit lines and values of a TOML text; sometimes cut it or add raw bytes."""
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        action = data.draw(st.sampled_from(["value", "value", "delete", "duplicate", "insert",
                                            "swap"]), label="action")
        if action == "value" and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {data.draw(st.sampled_from(TOML_VALUES), label='value')}"
        elif action == "delete" and len(lines) > 1:
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "insert":
            lines.insert(i, data.draw(st.sampled_from(EXTRA_LINES), label="inserted"))
        elif action == "swap":
            j = data.draw(st.integers(0, len(lines) - 1), label="other line")
            lines[i], lines[j] = lines[j], lines[i]
    raw = ("\n".join(lines) + "\n").encode()
    tail = data.draw(st.sampled_from(["none", "none", "cut", "bytes"]), label="raw edit")
    if tail == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw)), label="cut")]
    elif tail == "bytes":
        at = data.draw(st.integers(0, len(raw)), label="at")
        raw = raw[:at] + data.draw(st.binary(min_size=1, max_size=8), label="bytes") + raw[at:]
    return raw


def fuzz_spec(examples: int, seed_value: int, workdir: Path) -> Counter:
    """Mutate a valid sweep spec; ``load_spec`` loads it or raises one SpecError (a ValueError)."""
    from scratchnn.sweep import load_spec

    load_spec(BASE_SPEC)  # the base is valid, and imports are warm before the cases
    outcomes: Counter = Counter()

    def case(data: st.DataObject) -> None:
        path = workdir / "case.toml"
        path.write_bytes(mutate_text(data, BASE_SPEC))
        expect_load_or_value_error(path, lambda: load_spec(path), outcomes)

    run_cases(case, examples, seed_value)
    return outcomes


# -------------------------------------------------------------------------------------------- CSV
BASE_CSV = b"x1,x2,x3,y\n" + b"".join(
    f"{i * 0.5},{-i},{i % 3}.25,{i % 2}\n".encode() for i in range(20))
CSV_PIECES = [
    b"\x00", b"\xff", b"\xc3", b"\xe2\x82", b"\xef\xbb\xbf", b'"', b'""', b",", b"\n", b"\r\n",
    b"\r", b"nan", b"inf", b"-inf", b"1e999", b"1_000", b" ", b"\t", b";", b"abc", b"\xc3\xa9",
    b"0x10", b"1,2,3,4,5,6,7,8\n", b"," * 5000, b"9" * 200_000, b'"' + b"x" * 200_000,
    b"\x89PNG\r\n\x1a\n", b"PK\x03\x04",
]


def mutate_csv(data: st.DataObject, raw: bytes) -> bytes:
    """Insert, replace, delete or repeat bytes of a CSV file."""
    raw = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 5), label="edits")):
        at = data.draw(st.integers(0, len(raw)), label="at")
        action = data.draw(st.sampled_from(["insert", "insert", "replace", "delete", "repeat",
                                            "random"]), label="action")
        if action in ("insert", "replace"):
            piece = data.draw(st.sampled_from(CSV_PIECES), label="piece")
            end = at + len(piece) if action == "replace" else at
            raw[at:end] = piece
        elif action == "delete":
            del raw[at: at + data.draw(st.integers(1, 40), label="length")]
        elif action == "repeat":
            line_end = raw.find(b"\n", at)
            line = raw[at: line_end + 1 if line_end >= 0 else len(raw)]
            times = data.draw(st.integers(1, 2000), label="times")
            raw[at:at] = bytes(line) * min(times, 4_000_000 // max(len(line), 1))  # <= 4 MB
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=64), label="random bytes")
    return bytes(raw)


def fuzz_csv(examples: int, seed_value: int, workdir: Path) -> Counter:
    """Mutate a valid CSV; the CLI's readers load it or raise one ValueError naming the file."""
    from scratchnn.cli._data import load_table, read_csv

    outcomes: Counter = Counter()

    def case(data: st.DataObject) -> None:
        path = workdir / "case.csv"
        path.write_bytes(mutate_csv(data, BASE_CSV))
        table = expect_load_or_value_error(path, lambda: read_csv(path), outcomes)
        if table is not None:
            expect_load_or_value_error(path, lambda: load_table(str(path)), outcomes)

    run_cases(case, examples, seed_value)
    return outcomes


TARGETS: dict[str, Callable[[int, int, Path], Counter]] = {
    "model": fuzz_model, "deep": fuzz_deep, "spec": fuzz_spec, "csv": fuzz_csv,
}


def main(argv: list[str]) -> int:
    target, examples, seed_value, workdir = argv[1], int(argv[2]), int(argv[3]), Path(argv[4])
    outcomes = TARGETS[target](examples, seed_value, workdir)
    print(json.dumps({"target": target, "cases": sum(outcomes.values()), **outcomes}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
