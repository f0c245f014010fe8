"""``scratchnn train TEXT --task language-model`` and ``scratchnn generate``, run as a user would:
real processes (the helpers of ``test_cli``), the run store and the files read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scratchnn import datasets
from scratchnn.runs import RunStore
from test_cli import assert_one_line_error, assert_png, scratchnn_cli

TINY = ["--layers", "24", "--embedding-dim", "8", "--seq-length", "40", "--epochs", "2",
        "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    cwd = tmp_path_factory.mktemp("lm")
    (cwd / "play.txt").write_text(datasets.load_tinyshakespeare().text[:20_000], encoding="utf-8")
    result = scratchnn_cli("train", "play.txt", "--task", "language-model", *TINY, cwd=cwd,
                           runs=cwd / "runs")
    assert result.returncode == 0, result.stderr
    return cwd, cwd / "runs", result.stdout


def test_language_model_run_is_recorded_with_its_files(lm_run):
    _, runs, stdout = lm_run
    [run] = RunStore(runs).list_runs()
    assert run.status == "finished" and run.config["task"] == "language-model"
    assert run.config["vocab_size"] == len(set(datasets.load_tinyshakespeare().text[:20_000]))
    assert run.epochs == (0, 1) and {"loss", "val_loss"} <= set(run.history)
    folder = Path(run.model_path).parent
    assert {p.name for p in folder.iterdir()} >= {"model.snn", "vocab.json", "history.png",
                                                   "sample.txt"}
    assert json.loads((folder / "vocab.json").read_text())["kind"] == "char"
    assert_png(folder / "history.png", (400, 1000))
    assert "validation  loss" in stdout and "nats/char" in stdout


def test_generate_prints_the_prime_and_a_seeded_sample(lm_run):
    cwd, runs, _ = lm_run
    [run] = RunStore(runs).list_runs()
    args = ["generate", run.model_path, "--prime", "ROMEO:", "--length", "80",
            "--temperature", "0.8"]  # fmt: skip
    first, again = (scratchnn_cli(*args, cwd=cwd) for _ in range(2))
    other = scratchnn_cli(*args, "--seed", "5", cwd=cwd)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("ROMEO:") and len(first.stdout) == len("ROMEO:") + 80 + 1
    assert first.stdout == again.stdout != other.stdout
    greedy = scratchnn_cli("generate", run.model_path, "--length", "20", "--temperature", "0",
                           "--seed", "9", cwd=cwd)
    assert greedy.stdout == scratchnn_cli("generate", run.model_path, "--length", "20",
                                          "--temperature", "0", cwd=cwd).stdout


def test_bad_language_model_input_ends_with_one_error_line(lm_run, tmp_path):
    cwd, runs, _ = lm_run
    [run] = RunStore(runs).list_runs()
    result = scratchnn_cli("generate", run.model_path, "--prime", "ROMEO é", cwd=cwd)
    assert_one_line_error(result, "--prime", "outside the vocabulary", "'é'")
    result = scratchnn_cli("train", "play.txt", "--task", "language-model", "--target", "x",
                           cwd=cwd, runs=tmp_path / "runs")
    assert_one_line_error(result, "--target", "does not apply", code=2)
    (tmp_path / "model.snn").write_bytes(Path(run.model_path).read_bytes())
    result = scratchnn_cli("generate", tmp_path / "model.snn", cwd=cwd)
    assert_one_line_error(result, "no vocabulary", "vocab.json")
