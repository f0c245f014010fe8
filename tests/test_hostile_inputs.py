"""Sweep specs, CSV files and run stores from someone else: one clear error, bounded memory.

Model files have their own file (``test_model_file_checks.py``); the fuzzing of all three loaders
is in ``test_fuzz.py``. Cases that would exhaust memory or hang without the checks run in a child
process with an address-space limit and a timeout, so a regression fails instead of taking the
machine down.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import sqlite3
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from _hostile import run_limited
from scratchnn.cli._data import read_csv
from scratchnn.cli.sweep import sweep
from scratchnn.runs import DatabaseLockedError, RunStore, RunStoreError, SchemaTooNewError
from scratchnn.sweep import SpecError, load_spec
from scratchnn.sweep import spec as spec_module

needs_rlimit = pytest.mark.skipif(
    sys.platform == "win32", reason="needs POSIX resource limits (RLIMIT_AS)"
)

BASE_SPEC = """\
[data]
name = "moons"
n_samples = 60
[model]
layers = [{ class_name = "Dense", units = 2, activation = "tanh" },
          { class_name = "Dense", units = 1, activation = "sigmoid" }]
[compile]
optimizer = "sgd"
loss = "binary_crossentropy"
[fit]
epochs = 2
"""


def spec_with(params: str = "", replace: dict[str, str] | None = None) -> str:
    text = BASE_SPEC
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    return text + ("[params]\n" + params if params else "")


def wide(units: int) -> str:
    return spec_with(replace={"units = 2": f"units = {units}", "units = 1,": f"units = {units},"})


# ------------------------------------------------------------------------------- sweep specs
def test_too_many_trials_are_refused_with_the_count_and_the_way_around() -> None:
    grid = "a = { path = \"fit.epochs\", values = [1, 2, 3, 4] }\n"
    text = spec_with(grid)
    with pytest.raises(SpecError) as info:
        load_spec(text, max_trials=3)
    message = str(info.value)
    assert "4 trials (4 a x 1 seed)" in message and "more than max_trials = 3" in message
    assert "--max-trials 4" in message and "max_trials=4" in message
    assert "[params]" in text.splitlines()[info.value.line - 1]  # points at the grid
    assert len(load_spec(text, max_trials=4).trials) == 4
    assert len(load_spec(text, max_trials=None).trials) == 4


def test_random_search_samples_count_too() -> None:
    text = spec_with("lr = { path = \"compile.optimizer.learning_rate\", distribution = "
                     "\"uniform\", low = 0.01, high = 1.0 }\n").replace(
        "[data]", "[sweep]\nmethod = \"random\"\nsamples = 6\nseeds = [0, 1]\n[data]")
    with pytest.raises(SpecError, match=r"12 trials \(6 samples x 2 seeds\)"):
        load_spec(text, max_trials=11)


CHILD_HUGE_GRID = textwrap.dedent(
    """
    import sys
    from scratchnn.sweep import SpecError, load_spec
    try:
        load_spec(sys.argv[1])
    except SpecError as exc:
        print(exc)
    """
)


@needs_rlimit
def test_an_astronomical_grid_is_refused_before_it_is_expanded(tmp_path: Path) -> None:
    """10**12 trials (and a 20,000-value list): expanding, or comparing values pairwise,
    would never end; the refusal comes at once, within 768 MiB."""
    values = ", ".join(str(v) for v in range(1, 101))
    params = "".join(f"p{i} = {{ path = \"fit.epochs\", values = [{values}] }}\n"
                     for i in range(5))
    batches = ", ".join(str(v) for v in range(1, 20_001))
    params += f"q = {{ path = \"fit.batch_size\", values = [{batches}] }}\n"
    path = tmp_path / "huge.toml"
    path.write_text(spec_with(params))
    done = run_limited(["-c", CHILD_HUGE_GRID, str(path)], mib=768, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "200,000,000,000,000 trials" in done.stdout
    assert "--max-trials 200000000000000" in done.stdout


CHILD_LOAD = textwrap.dedent(
    """
    import sys
    from scratchnn.sweep import SpecError, load_spec
    for path in sys.argv[1:]:
        try:
            load_spec(path)
            print("loaded")
        except SpecError as exc:
            print(exc)
    """
)


@needs_rlimit
def test_a_trial_estimated_above_the_memory_limit_is_refused_before_loading_data(
    tmp_path: Path,
) -> None:
    rows, wide_model = tmp_path / "rows.toml", tmp_path / "wide.toml"
    rows.write_text(spec_with(replace={"n_samples = 60": "n_samples = 4000000000"}))
    wide_model.write_text(wide(100_000))
    done = run_limited(["-c", CHILD_LOAD, str(rows), str(wide_model)], mib=768, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first.startswith(f"{rows}:1: one trial needs about 268.2 GiB of memory (data "
                            "268.2 GiB")
    assert "more than the 768.0 MiB this process can use" in first
    assert "--max-memory 269G" in first and "max_memory=288000" in first
    assert second.startswith(f"{wide_model}:4: one trial needs about")
    assert "weights 186.3 GiB" in second


def test_max_memory_is_a_limit_of_its_own() -> None:
    with pytest.raises(SpecError, match="more than the 1000 B allowed"):
        load_spec(BASE_SPEC, max_memory=1000)
    assert load_spec(BASE_SPEC, max_memory=2**30).trials


CHILD_OVERRIDE = textwrap.dedent(
    """
    import math, sys
    from scratchnn.sweep import SpecError, load_spec
    try:
        load_spec(sys.argv[1], max_memory=math.inf)
    except SpecError as exc:
        print(exc)
    """
)


@needs_rlimit
def test_overriding_the_estimate_ends_in_a_clear_error_when_memory_runs_out(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wide.toml"
    path.write_text(wide(20_000))  # 20,000 x 20,000 weights: 1.6 GB and their copies
    done = run_limited(["-c", CHILD_OVERRIDE, str(path)], mib=768, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "out of memory building the model" in done.stdout


def test_the_memory_estimate_counts_each_part() -> None:
    config = {"data": {"dev_size": 0.5}, "fit": {"batch_size": None},
              "model": {"dtype": "float64", "layers": [{"class_name": "Dense", "units": 10}]}}
    parts = spec_module.estimate_trial_memory(config, 100, (3,), 24.0)
    assert parts == {"data": 100 * 24 * 3, "weights": (3 * 10 + 10) * 8 * 5,
                     "activations": 50 * 10 * 8 * 3}


def test_cli_max_trials_and_max_memory(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(spec_with("a = { path = \"fit.epochs\", values = [1, 2, 3] }\n"))
    runner = CliRunner()
    refused = runner.invoke(sweep, ["run", str(path), "--check", "--max-trials", "2"])
    assert refused.exit_code == 1 and "--max-trials 3" in refused.output
    accepted = runner.invoke(sweep, ["run", str(path), "--check", "--max-trials", "3"])
    assert accepted.exit_code == 0, accepted.output
    assert "3 trials" in accepted.output
    small = runner.invoke(sweep, ["run", str(path), "--check", "--max-memory", "1K"])
    assert small.exit_code == 1 and "more than the 1.0 KiB allowed" in small.output
    bad = runner.invoke(sweep, ["run", str(path), "--check", "--max-memory", "lots"])
    assert bad.exit_code == 2 and "'lots' is not a size" in bad.output


def test_spec_files_that_are_not_utf8_text_or_too_large_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(BASE_SPEC.replace("moons", "mo\xe9ns").encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}:2: not UTF-8 text: byte 17 (0xe9)")
    big = tmp_path / "big.toml"
    big.write_text(BASE_SPEC + "# padding\n" * (spec_module.MAX_SPEC_BYTES // 10))
    with pytest.raises(SpecError, match="specs are at most 1,048,576 bytes"):
        load_spec(big)
    deep = tmp_path / "deep.toml"
    deep.write_text(BASE_SPEC + "x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(SpecError, match=str(deep)):
        load_spec(deep)


CHILD_EXPRESSIONS = textwrap.dedent(
    """
    from scratchnn.sweep.expr import compile_expression
    for text in ("9**9**9**9 > 1", "'x' * 10**12", "10**10**10 * dev_acc", "log(-1) < 0",
                 "exp(dev_acc * 10**6) > 1", "dev_acc // 0", "(-8) ** 0.5 > 0", "dev_acc * 2"):
        print(repr(compile_expression(text, ["dev_acc"])({"dev_acc": 0.5})))
    """
)


@needs_rlimit
def test_filter_expressions_cannot_build_huge_numbers_or_strings() -> None:
    """A spec's [report] filter is evaluated per row: integer powers and string repetition
    would hang or exhaust memory; arithmetic is done in floating point instead."""
    done = run_limited(["-c", CHILD_EXPRESSIONS], mib=512, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "nan", "nan", "False", "False", "nan", "False", "1.0"]


# ---------------------------------------------------------------------------------------- CSV
def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_invalid_utf8_names_the_byte_and_line(tmp_path: Path) -> None:
    rows = b"a,b\n" + b"1,2\n" * 30_000 + b"3,\xff\n"  # past the first 64 KiB chunk
    path = write(tmp_path / "latin.csv", rows)
    with pytest.raises(ValueError) as info:
        read_csv(path)
    assert str(info.value) == (
        f"{path}: not UTF-8 text: byte {len(rows) - 2} (0xff) on line 30002 cannot be decoded. "
        "Save the file as UTF-8 (CSV files are read as UTF-8)."
    )


def test_binary_data_is_refused_with_its_row(tmp_path: Path) -> None:
    path = write(tmp_path / "nul.csv", b"a,b\n1,2\n3,\x004\n")
    with pytest.raises(ValueError, match=r"row 2 \(line 3\) holds a NUL byte: this is binary"):
        read_csv(path)
    header = write(tmp_path / "nul_header.csv", b"a\x00,b\n1,2\n")
    with pytest.raises(ValueError, match=r"the header row .* NUL byte"):
        read_csv(header)
    png = write(tmp_path / "image.csv", b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(ValueError, match=f"^{png}: "):
        read_csv(png)


def test_an_unclosed_quote_stops_at_the_field_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "quote.csv", b'a,b\n1,"2\n' + b"3,4\n" * 100_000)
    with pytest.raises(ValueError, match=r"line \d+ is not valid CSV \(field larger than field"):
        read_csv(path)


def test_non_finite_cells_are_named(tmp_path: Path) -> None:
    path = write(tmp_path / "inf.csv", b"a,b\n1,2\n1e999,4\n")
    with pytest.raises(ValueError, match=r"row 2 \(line 3\), column 'a' holds inf, not a finite"):
        read_csv(path)


def test_numbers_beyond_the_memory_budget_are_refused_at_their_row(tmp_path: Path) -> None:
    path = write(tmp_path / "rows.csv", b"a,b\n" + b"1,2\n" * 1000)
    with pytest.raises(ValueError, match=r"up to row 251 \(line 252\) already take 4,016 bytes"):
        read_csv(path, max_memory=4000)
    assert read_csv(path)[1].shape == (1000, 2)


CHILD_BIG_CSV = textwrap.dedent(
    """
    import sys
    from scratchnn.cli._data import read_csv
    try:
        header, data = read_csv(sys.argv[1])
        print("read", data.shape)
    except ValueError as exc:
        print(exc)
    """
)


@needs_rlimit
@pytest.mark.slow
def test_a_csv_too_big_for_memory_ends_in_one_error_not_memory_error(tmp_path: Path) -> None:
    """32 MB of one-digit cells: 16 million numbers (128 MB) where 75 MB may be used. Held as
    text, as before streaming, they took ~1 GB."""
    path = tmp_path / "big.csv"
    with path.open("wb") as fh:
        fh.write(b"a,b,c,d,e,f,g,h\n")
        block = b"1,2,3,4,5,6,7,8\n" * 10_000
        for _ in range(200):
            fh.write(block)
    done = run_limited(["-c", CHILD_BIG_CSV, str(path)], mib=300, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{path}: the numbers up to row"), done.stdout
    assert "a quarter of the memory this process may use" in done.stdout


# ------------------------------------------------------------------------------ data set files
CHILD_MNIST = textwrap.dedent(
    """
    import sys
    from scratchnn.datasets import mnist
    for path in sys.argv[1:]:
        try:
            loaded = mnist.read_idx(path) if path.endswith(".gz") else mnist.load_mnist(path)
            print("loaded")
        except ValueError as exc:
            print(exc)
    """
)


@needs_rlimit
def test_mnist_files_cannot_ask_for_more_memory_than_they_hold(tmp_path: Path) -> None:
    """A gzipped IDX file whose 200 MB of zeros compress to 200 KB, and an .npz whose header
    claims 10**12 bytes: refused from their headers, in a process of 512 MiB."""
    head = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (1000, 1000, 200))
    bomb = tmp_path / "images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(head + bytes(200_000_000), compresslevel=1))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6)})
    claims = tmp_path / "mnist.npz"
    with zipfile.ZipFile(claims, "w", zipfile.ZIP_DEFLATED) as archive:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            archive.writestr(f"{key}.npy", header.getvalue() + bytes(100))
    done = run_limited(["-c", CHILD_MNIST, str(bomb), str(claims)], mib=512, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first.startswith(f"{bomb}: the IDX header says shape (1000, 1000, 200), 200,000,000 "
                            "bytes of data; more than the")
    assert second.startswith(f"{claims}: array 'x_train' claims shape (1000000, 1000000)")
    assert "the file is damaged" in second


def test_a_huge_or_malformed_preprocess_file_is_one_value_error(tmp_path: Path) -> None:
    from scratchnn.cli._data import MAX_PREPROCESS_BYTES, Preprocess

    path = tmp_path / "preprocess.json"
    for text in ('{"format": "scratchnn.preprocess", "version": 1, "feature_names": ["a"], '
                 '"target": "y", "task": "binary", "classes": [0, 1], '
                 '"scaler": {"mean": [1e999999], "scale": [1]}}',
                 "[" * 100_000 + "]" * 100_000, "\udcff", " " * (MAX_PREPROCESS_BYTES + 1)):
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        with pytest.raises(ValueError, match=f"^{path} (is not a preprocessing file|is "
                           "inconsistent: its scaler holds a non-finite mean)"):
            Preprocess.load(path)


# ---------------------------------------------------------------------------------- run store
def snapshot(directory: Path) -> dict[str, str]:
    """Every file of ``directory`` by name, with the SHA-256 of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir())}


def filled_store(directory: Path) -> Path:
    store = RunStore(directory / "runs.sqlite")
    for i in range(100):
        with store.run({"i": i, "padding": "x" * 3000}, name=f"run{i}") as run:
            run.log_epoch(0, {"loss": 1.0 / (i + 1)})
    store.close()
    return directory / "runs.sqlite"


def test_a_newer_schema_leaves_every_byte_as_it_was(tmp_path: Path) -> None:
    path = filled_store(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = snapshot(tmp_path)
    with pytest.raises(SchemaTooNewError, match="schema 99"):
        RunStore(path)
    assert snapshot(tmp_path) == before


def test_a_corrupt_page_is_reported_and_the_file_left_alone(tmp_path: Path) -> None:
    path = filled_store(tmp_path)
    raw = bytearray(path.read_bytes())
    page = 4096
    assert len(raw) > 20 * page
    for offset in range(10 * page, 12 * page, 5):  # the middle of the runs table
        raw[offset] ^= 0x5A
    path.write_bytes(bytes(raw))
    before = snapshot(tmp_path)
    with pytest.raises(RunStoreError) as info:
        RunStore(path)  # refused at once: nothing may write into a damaged file
    message = str(info.value)
    assert message.startswith(f"{path} is damaged (SQLite: database disk image is malformed")
    assert ".recover" in message
    assert snapshot(tmp_path) == before


def test_an_exclusively_locked_store_is_a_clear_error_and_unchanged(tmp_path: Path) -> None:
    path = filled_store(tmp_path)
    before = snapshot(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")  # readers are locked out too
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseLockedError, match=f"{path} stayed locked"):
            RunStore(path, timeout=0.2).list_runs()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert snapshot(tmp_path) == before
    assert len(RunStore(path).list_runs()) == 100


CHILD_MEMORY = "from scratchnn._memory import available_memory; print(available_memory())"


@needs_rlimit
def test_available_memory_is_the_address_space_limit_when_lower() -> None:
    from scratchnn._memory import available_memory

    assert available_memory() is None or available_memory() > 2**20
    done = run_limited(["-c", CHILD_MEMORY], mib=700, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 700 * 2**20


def test_a_language_model_text_refuses_binary_and_oversized_files(tmp_path: Path) -> None:
    from scratchnn.datasets.text import load_text

    binary = tmp_path / "binary.txt"
    binary.write_bytes("ab\ncdé\n".encode() + b"\x00\x01")
    with pytest.raises(ValueError, match=r"holds a NUL byte at byte 8 \(line 3\): this is binary"):
        load_text(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"abc\xe9")
    with pytest.raises(ValueError, match=r"is not UTF-8 text \(.* at byte 3\)"):
        load_text(latin)


CHILD_TEXT = textwrap.dedent(
    """
    import sys
    from scratchnn.datasets.text import load_text
    try:
        load_text(sys.argv[1])
        print("loaded")
    except ValueError as exc:
        print(exc)
    """
)


@needs_rlimit
def test_a_text_corpus_larger_than_memory_allows_is_refused_before_reading(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:  # 64 MB: more than an eighth of 400 MiB
        fh.truncate(64 * 2**20)
    done = run_limited(["-c", CHILD_TEXT, str(big)], mib=400, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{big} is 67,108,864 bytes; a text corpus is read whole")


def test_a_hostile_vocabulary_file_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "model.snn").write_bytes(b"not read: the vocabulary fails first")
    vocab = tmp_path / "vocab.json"
    for content, fragment in ((b"[" * 100_000, "maximum recursion depth"),
                              (b"\xff\xfe", "can't decode byte 0xff")):
        vocab.write_bytes(content)
        done = run_limited(["-m", "scratchnn.cli", "generate", str(tmp_path / "model.snn")],
                           mib=768, timeout=60)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 1 and len(lines) == 1, done.stderr
        assert lines[0].startswith(f"Error: {vocab} is not a vocabulary file (")
        assert fragment in lines[0]
