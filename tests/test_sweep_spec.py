"""Sweep specs: parsing, grid and random expansion, and errors that name the spec's line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scratchnn.sweep.spec import SpecError, key_lines, load_spec, parse_path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "sweeps"

BASE = """\
[sweep]
name = "t"
seeds = [0]

[data]
name = "moons"
n_samples = 60
noise = 0.2
seed = 0

[model]
dtype = "float64"

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
optimizer = { name = "sgd", learning_rate = 0.5 }
loss = "binary_crossentropy"
metrics = ["accuracy"]

[fit]
epochs = 5
batch_size = "full"
shuffle = false

[params]
n_h = { path = "model.layers[0].units", values = [1, 2] }
lr = { path = "compile.optimizer.learning_rate", values = [0.1, 0.5, 1.0] }
"""


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the spec")


def error_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec(text)
    return info.value


# ------------------------------------------------------------------------------- expansion
def test_grid_expands_every_combination_with_readable_unique_keys():
    spec = load_spec(BASE)
    assert spec.name == "t" and spec.method == "grid"
    assert len(spec.trials) == 6
    assert [t.params for t in spec.trials][:2] == [{"n_h": 1, "lr": 0.1}, {"n_h": 1, "lr": 0.5}]
    keys = [t.key for t in spec.trials]
    assert len(set(keys)) == 6
    assert keys[0].startswith("n_h=1,lr=0.1,seed=0#")
    first = spec.trials[0].config
    assert first["model"]["layers"][0]["units"] == 1
    assert first["compile"]["optimizer"] == {"name": "sgd", "learning_rate": 0.1}
    assert first["fit"]["batch_size"] is None  # "full" is Sequential.fit's full batch
    assert first["model"]["seed"] == 0
    # the same spec gives the same keys (resuming depends on it)
    assert [t.key for t in load_spec(BASE).trials] == keys


def test_seeds_multiply_the_trials_and_change_the_keys():
    spec = load_spec(BASE.replace("seeds = [0]", "seeds = [0, 7]"))
    assert len(spec.trials) == 12
    assert {t.seed for t in spec.trials} == {0, 7}
    assert {t.config["model"]["seed"] for t in spec.trials} == {0, 7}


def test_changing_a_fixed_setting_changes_the_keys():
    a = load_spec(BASE).trials[0].key
    b = load_spec(BASE.replace("noise = 0.2", "noise = 0.3")).trials[0].key
    assert a.split("#")[0] == b.split("#")[0] and a != b


def test_random_search_draws_reproducibly_within_bounds():
    text = BASE.replace('name = "t"', 'name = "t"\nmethod = "random"\nsamples = 12\n'
                        'random_seed = 3').replace(
        'lr = { path = "compile.optimizer.learning_rate", values = [0.1, 0.5, 1.0] }',
        'lr = { path = "compile.optimizer.learning_rate", distribution = "log_uniform", '
        "low = 0.001, high = 1.0 }\n"
        'noise = { path = "data.noise", distribution = "uniform", low = 0.1, high = 0.3 }\n'
        'epochs = { path = "fit.epochs", distribution = "int", low = 2, high = 4 }')
    spec = load_spec(text)
    again = load_spec(text)
    assert [t.key for t in spec.trials] == [t.key for t in again.trials]
    assert 1 <= len(spec.trials) <= 12
    for t in spec.trials:
        assert 0.001 <= t.params["lr"] <= 1.0
        assert 0.1 <= t.params["noise"] <= 0.3 and t.config["data"]["noise"] == t.params["noise"]
        assert t.params["epochs"] in (2, 3, 4) and t.config["fit"]["epochs"] == t.params["epochs"]
        assert t.params["n_h"] in (1, 2)


def test_the_shipped_specs_load():
    full = load_spec(EXAMPLES / "tutorial000.toml")
    assert full.name == "tutorial000"
    assert len(full.trials) == 420  # 7 x 3 x 5 x 4
    assert {t.params["iterations"] for t in full.trials} == {100, 1000, 10000, 100000}
    layer = full.trials[0].config["model"]["layers"][0]
    assert layer["kernel_initializer"] == {"class_name": "RandomNormal",
                                           "config": {"stddev": 0.01}}
    small = load_spec(EXAMPLES / "tutorial000_small.toml")
    assert 0 < len(small.trials) < 100
    random = load_spec(EXAMPLES / "moons_random.toml")
    assert random.method == "random" and len(random.trials) == 48  # 24 draws x 2 seeds
    assert all(3e-4 <= t.params["lr"] <= 0.3 and 2 <= t.params["n_h"] <= 32
               for t in random.trials)


def test_paths_parse_both_spellings():
    assert parse_path("model.layers[0].units") == ("model", "layers", 0, "units")
    assert parse_path("model.layers.1.activation") == ("model", "layers", 1, "activation")
    assert parse_path("fit.epochs") == ("fit", "epochs")
    with pytest.raises(ValueError):
        parse_path("model..units")


def test_key_lines_know_tables_arrays_of_tables_and_inline_tables():
    lines = key_lines(BASE)
    assert lines[("model", "layers", 1, "activation")] == line_of(BASE, 'activation = "sigmoid"')
    assert lines[("params", "lr", "values")] == line_of(BASE, "lr = {")
    assert lines[("compile", "optimizer", "learning_rate")] == line_of(BASE, "optimizer = {")
    text = 'a = """\n[not]\nx = 1\n"""\nb = [\n  1,\n  2,\n]\n[t]\nc = 2'
    lines = key_lines(text)
    assert ("not",) not in lines and lines[("b",)] == 5 and lines[("t", "c")] == 10


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("[fit]", "[fitt]", "[fitt]", "unknown table [fitt]"),
        ('activation = "tanh"', 'activation = "tanh"\nunitz = 4', "unitz", "no parameter 'unitz'"),
        ("values = [1, 2] }", "values = [] }", "n_h = {", "values is empty"),
        ('path = "model.layers[0].units"', 'path = "model.layers[0].unitz"', "n_h = {",
         "Dense has no parameter 'unitz'"),
        ('path = "model.layers[0].units"', 'path = "model.layers[5].units"', "n_h = {",
         "the model has 2 layers"),
        ("epochs = 5", 'epochs = "five"', "epochs =", "epochs must be an integer"),
        ("values = [1, 2] }", 'values = [1, "two"] }', "n_h = {", "units"),
        ("values = [1, 2] }", "values = [1, 0] }", "n_h = {", "units must be a positive"),
        ('optimizer = { name = "sgd", learning_rate = 0.5 }',
         'optimizer = { name = "sgd", learnin_rate = 0.5 }', "optimizer =",
         "SGD has no parameter 'learnin_rate'"),
        ("values = [0.1, 0.5, 1.0] }", 'values = [0.1, "fast"] }', "lr = {", "learning_rate"),
        ('loss = "binary_crossentropy"', 'loss = "binary_crossentropie"', "n_h = {",
         "Unknown loss"),
        ("seeds = [0]", "seeds = []", "seeds =", "seeds must be a non-empty list"),
        ("n_samples = 60", "n_sample = 60", "n_sample", "unknown key 'n_sample' in [data]"),
        ('n_h = { path', 'seed = { path', "seed = {", "not usable as a column name"),
        ("values = [1, 2] }", 'distribution = "uniform", low = 1, high = 2 }', "n_h = {",
         'needs method = "random"'),
    ],
)
def test_bad_specs_fail_naming_the_line(old, new, needle, words):
    text = BASE.replace(old, new, 1)
    assert text != BASE
    err = error_of(text)
    assert words in str(err), str(err)
    if needle == "n_h = {" and "loss" in new:  # a bad loss is reported at its own line
        assert err.line == line_of(text, "loss =")
    else:
        assert err.line == line_of(text, needle), str(err)
    assert str(err).startswith(f"<spec>:{err.line}: ")


def test_invalid_toml_names_its_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BASE.replace('units = 3', 'units = = 3'))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}:{line_of(path.read_text(), 'units = = 3')}:")
    assert "invalid TOML" in str(info.value)


def test_missing_tables_and_random_without_samples_fail():
    err = error_of(BASE.split("[compile]")[0])
    assert "no [compile] table" in str(err)
    err = error_of(BASE.replace('name = "t"', 'name = "t"\nmethod = "random"'))
    assert "samples" in str(err) and err.line == line_of(BASE, "[sweep]") + 2


def test_report_filter_is_checked_before_running():
    text = BASE + '\n[report]\nfilter = "dev_acc > 0.9 and __import__(\'os\')"\n'
    err = error_of(text)
    assert "[report] filter" in str(err) and err.line == line_of(text, "filter =")
    text = BASE + '\n[report]\nfilter = "dev_accuracy > 0.9"\n'
    assert "unknown column" in str(error_of(text))
    text = BASE + '\n[report]\nsort = ["-dev_acc", "nope"]\n'
    assert "not a column" in str(error_of(text))


def test_spec_file_name_is_the_default_sweep_id(tmp_path):
    path = tmp_path / "my-study.toml"
    path.write_text(textwrap.dedent(BASE).replace('name = "t"\n', ""))
    assert load_spec(path).name == "my-study"
    assert load_spec(path, name="other").name == "other"
