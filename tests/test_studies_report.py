"""Fast checks of the studies' building blocks and of the report writer (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from scratchnn.studies import (
    Figure,
    StudyResult,
    seed000,
    seed001,
    seed002,
    seed003,
    seed004,
    verdict,
)
from scratchnn.studies._common import compared, plot_bars, plot_curves, shown
from scratchnn.studies.report import markdown_to_html, write_report

# --- verdicts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "tolerance", "higher", "expected"),
    [
        (93.4, 93.6, 1.5, True, "matched"),
        (95.2, 93.6, 1.5, True, "beaten"),
        (91.0, 93.6, 1.5, True, "not matched"),
        (1.2, 1.5, 0.1, False, "beaten"),
        (1.8, 1.5, 0.1, False, "not matched"),
        (4.5, 4.17, 0.1, None, "not matched"),
        (3.8, 4.17, 0.1, None, "not matched"),
        (4.149, 4.17, 0.1, None, "matched"),
    ],
)
def test_verdict_rule(value, target, tolerance, higher, expected):
    assert verdict(value, target, tolerance, higher) == expected


def test_figure_rejects_unknown_verdicts_and_helpers_fill_fields():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Figure("x", "1", "1", "ok")
    f = compared("x", "86 %", "97.5 %", 97.5, 86.0, 5.0)
    assert (f.verdict, f.value, f.target, f.tolerance, f.higher_is_better) == (
        "beaten", 97.5, 86.0, 5.0, True)
    assert shown("plot", "a plot", "p.png").verdict == "shown"


# --- the report -------------------------------------------------------------------------------


def _results(tmp_path):
    image = tmp_path / "plots" / "000_x.png"
    plot_bars(["a", "b"], [1.0, 2.0], image, "bars")
    return [
        StudyResult(
            "000", "First", [compared("000 a | b", "93.6 %", "93.4 %", 93.4, 93.6, 1.5)],
            [image], "Para with `x < 1` and **bold**.\n\n| a | b |\n|---|---|\n| 1 | 2 |", 1.5,
        ),
        StudyResult("001", "Second <b>", [shown("001 plot", "a plot", "<img>")], [], "- one\n"
                    "- two", 0.5),
    ]


def test_write_report_markdown(tmp_path):
    path = write_report(_results(tmp_path), tmp_path / "out")
    text = path.read_text(encoding="utf-8")
    assert path.name == "report.md"
    assert "| 000 | 000 a \\| b | 93.6 % | 93.4 % | matched |" in text
    assert "| 001 | 001 plot | a plot | <img> | shown |" in text
    assert "](../plots/000_x.png)" in text
    assert "1 matched, 0 beaten, 0 not matched, 1 shown" in text


def test_write_report_html_escapes_and_converts_notes(tmp_path):
    path = write_report(_results(tmp_path), tmp_path, fmt="html")
    text = path.read_text(encoding="utf-8")
    assert path.name == "report.html"
    assert "<td>000 a | b</td>" in text
    assert "&lt;img&gt;" in text and "Second &lt;b&gt;" in text
    assert "<code>x &lt; 1</code>" in text and "<strong>bold</strong>" in text
    assert "<table><thead><tr><th>a</th><th>b</th></tr></thead>" in text
    assert "<ul><li>one</li><li>two</li></ul>" in text
    assert 'src="plots/000_x.png"' in text


def test_write_report_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="fmt must be one of"):
        write_report(_results(tmp_path), tmp_path, fmt="pdf")
    with pytest.raises(ValueError, match="at least one"):
        write_report([], tmp_path)


def test_markdown_to_html_italics_and_plain_asterisks():
    assert markdown_to_html("*a* b") == "<p><em>a</em> b</p>"
    assert markdown_to_html("2 * 3 * 4") == "<p>2 * 3 * 4</p>"


def test_plot_curves_writes_a_png(tmp_path):
    path = plot_curves({"a": [3.0, 2.0, 1.0], "b": [2.0, 1.5, 1.2]}, tmp_path / "c.png", "t",
                       logy=True, markers={"best": 2}, styles={"b": ("C3", "--")})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the studies' pieces ----------------------------------------------------------------------


def test_000_grid_configs_and_filter():
    configs = seed000.grid_configs(seed000.GRID_QUICK)
    assert len(configs) == 16 and seed000.CHOSEN in configs
    row = {"train_acc": 95.6, "dev_acc": 95.2, "fit_time": 1.0}
    assert seed000.passes_filter(row)
    assert not seed000.passes_filter({**row, "train_acc": 96.5})  # gap 1.3 points
    assert not seed000.passes_filter({**row, "dev_acc": 95.0, "train_acc": 95.0})
    assert not seed000.passes_filter({**row, "fit_time": 31.0})


def test_000_full_grid_is_the_tutorials_420_runs():
    configs = seed000.grid_configs(seed000.GRID_FULL)
    assert len(configs) == 420 and len(set(configs)) == 420 and seed000.CHOSEN in configs
    assert sorted({c.n_h for c in configs}) == [1, 2, 3, 4, 5, 10, 50]
    assert sorted({c.activation for c in configs}) == ["relu", "sigmoid", "tanh"]
    assert sorted({c.learning_rate for c in configs}) == [0.001, 0.01, 0.1, 0.6, 1.2]
    assert sorted({c.iterations for c in configs}) == [100, 1000, 10_000, 100_000]


def test_000_full_spec_on_split_4_is_the_example_sweep():
    """The study's grid and examples/sweeps/tutorial000.toml cannot drift apart."""
    from pathlib import Path

    from scratchnn.sweep import load_spec

    example = load_spec(Path(__file__).parents[1] / "examples" / "sweeps" / "tutorial000.toml")
    study = load_spec(seed000.spec_text(seed000.GRID_FULL, [4, 5]))
    on_split_4 = [t.config for t in study.trials if t.params["split"] == 4]
    assert len(study.trials) == 840 and len(on_split_4) == 420
    assert sorted(map(repr, on_split_4)) == sorted(repr(t.config) for t in example.trials)


def test_000_runs_its_grid_through_the_sweep_engine_on_every_split(tmp_path, monkeypatch):
    tiny = {"n_h": (2, 3), "activation": ("tanh",), "learning_rate": (0.6,), "iterations": (50,)}
    monkeypatch.setattr(seed000, "GRID_DEFAULT", tiny)  # the wiring, not minutes of training
    monkeypatch.setattr(seed000, "SPLITS", 3)
    lines: list[str] = []
    result = seed000.run(tmp_path, progress=lines.append)
    assert any("grid of 2 configurations on each of 3 splits (6 trials" in line for line in lines)
    from scratchnn.runs import RunStore

    with RunStore(tmp_path / "000_sweep") as store:  # recorded by the sweep engine
        trials = store.list_runs("finished", sweep_id="study000")
    assert sorted((r.config["params"]["split"], r.config["params"]["n_h"]) for r in trials) == [
        (s, n) for s in range(3) for n in (2, 3)]
    above = next(f for f in result.figures if f.name == "000 grid configs above 95 %")
    assert above.ours.startswith("split 0: 0 of 2") and "over 3 splits" in above.ours
    assert "split-to-split spread" in above.note
    assert "reduced default grid" in result.notes
    with pytest.raises(ValueError, match="quick or full"):
        seed000.run(tmp_path, quick=True, full=True)


def test_001_three_moons_has_three_interleaved_classes():
    X, y = seed001.three_moons(300, 0.1, seed=0)
    assert X.shape == (300, 2) and np.bincount(y).tolist() == [100, 100, 100]
    centers = [X[y == k].mean(axis=0) for k in range(3)]
    assert centers[0][0] < centers[1][0] < centers[2][0]


def test_002_looped_and_vectorised_passes_agree_and_descent_finds_the_minimum():
    rng = np.random.default_rng(0)
    weights = [rng.random((3, 4)), rng.random((2, 3))]
    biases = [rng.random(3), rng.random(2)]
    x = rng.random(4)
    np.testing.assert_allclose(seed002.looped_forward(x, weights, biases),
                               seed002.vectorised_forward(x, weights, biases))
    x_min, path = seed002.gradient_descent_on_f()
    assert f"{x_min:.6f}" == "2.249965" and len(path) > 10


def test_003_tutorial_weights_are_the_scripts_numbers():
    w = seed003.tutorial_weights(0)
    r42 = np.random.RandomState(42)
    np.testing.assert_array_equal(w["perceptron"][0], r42.rand(2, 1))
    np.testing.assert_array_equal(w["perceptron"][1], r42.rand(1))
    assert w["hidden"][0].shape == (2, 4) and w["hidden"][1].shape == (4, 1)
    assert np.all((w["hidden"][0] >= 0) & (w["hidden"][0] < 1))


def test_004_graph_forward_passes_and_shifts():
    assert seed004.computational_graph() == {
        "p": 4.0, "g": -12.0, "dg/dz": 4.0, "dg/dp": -3.0, "dg/dx": -3.0, "dg/dy": -3.0}
    assert seed004.forward_exercises() == (-3.0, 364.0)
    img = np.arange(9.0).reshape(1, 3, 3)
    np.testing.assert_array_equal(seed004.shift_images(img, 1, 0)[0],
                                  [[0, 0, 0], [0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(seed004.shift_images(img, 0, -1)[0],
                                  [[1, 2, 0], [4, 5, 0], [7, 8, 0]])
    moved = seed004.random_shifts(np.ones((50, 8, 8)), 1, np.random.default_rng(0))
    assert np.all(moved.reshape(50, -1).sum(axis=1) < 64)  # every image moved
