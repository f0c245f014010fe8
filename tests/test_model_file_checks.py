"""Crafted model files are checked against their tensors before anything is allocated.

Each file here is written by hand with its SHA-256 recomputed (as any forger can), so the checksum
lets it through and only :mod:`scratchnn.io_checks` stands between it and the allocator.
"""

from __future__ import annotations

import copy
import doctest
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _hostile import read_file, refused, rewrite, run_limited
from scratchnn import io_checks, models
from scratchnn.layers import (
    GRU,
    LAYERS,
    LSTM,
    Add,
    Bidirectional,
    Concatenate,
    Dense,
    Dropout,
    Embedding,
    Input,
    Layer,
)
from scratchnn.models import Model, Sequential, saving

needs_rlimit = pytest.mark.skipif(
    sys.platform == "win32", reason="needs POSIX resource limits (RLIMIT_AS)"
)


def small_model(compiled: bool = True, trained: bool = True) -> Sequential:
    model = Sequential([Input((3,), name="in"), Dense(4, activation="relu", name="dense"),
                        Dropout(0.1, name="drop"), Dense(2, name="out")], seed=0)
    if compiled:
        model.compile(optimizer="adam", loss="mse")
        if trained:
            rng = np.random.default_rng(0)
            model.fit(rng.normal(size=(8, 3)), rng.normal(size=(8, 2)), epochs=1, verbose=0)
    return model


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.snn"
    small_model().save(path)
    return path


def layer_config(header: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e["config"] for e in header["model"]["layers"] if e["config"]["name"] == name)


# ------------------------------------------------------------------------------ the done-when
CHILD_HUGE_UNITS = textwrap.dedent(
    """
    import sys
    import numpy as np
    from scratchnn.models import saving
    try:
        saving.load_model(sys.argv[1])
    except ValueError as exc:
        print("ValueError:", exc)
    # The limit is real: what the config asks for cannot be allocated in this process.
    try:
        np.ones((3, 4_000_000_000), dtype="float32")
    except MemoryError:
        print("limit holds")
    """
)


@needs_rlimit
def test_huge_units_over_a_small_kernel_is_refused_in_512_mib(tmp_path: Path) -> None:
    """The issue's file: Dense(units=4e9) over a stored (3, 4) kernel, checksum recomputed."""
    source, crafted = tmp_path / "source.snn", tmp_path / "huge.snn"
    Sequential([Dense(4, input_dim=3, name="dense")], seed=0).save(source)
    rewrite(source, crafted,
            edit_header=lambda h: layer_config(h, "dense").update(units=4_000_000_000))
    done = run_limited(["-c", CHILD_HUGE_UNITS, str(crafted)], mib=512, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first.startswith(f"ValueError: {crafted}: layer 1 ('dense', Dense)"), first
    assert "(3, 4000000000)" in first and "shape (3, 4)" in first
    assert second == "limit holds"


# ------------------------------------------------------------------------ weights vs the config
def test_every_shape_change_in_the_config_is_caught_before_building(good: Path,
                                                                    tmp_path: Path) -> None:
    bad = tmp_path / "bad.snn"
    rewrite(good, bad, edit_header=lambda h: layer_config(h, "out").update(units=3))
    refused(bad, "layer 3 ('out', Dense)", "'out/kernel' of shape (4, 3)", "shape (4, 2)")

    def wider_input(h: dict[str, Any]) -> None:
        layer_config(h, "in")["shape"] = [5]

    rewrite(good, bad, edit_header=wider_input)
    refused(bad, "'dense/kernel' of shape (5, 4)", "for inputs of shape (None, 5)")


def test_missing_extra_and_retyped_weights_are_refused(good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.snn"
    rewrite(good, bad, edit_header=lambda h: layer_config(h, "out").update(use_bias=False))
    refused(bad, "in the file but not in the architecture: 'out/bias'")
    rewrite(good, bad, edit_tensors=lambda t: {k: v for k, v in t.items() if "out/bias" not in k})
    refused(bad, "Missing from the file: 'out/bias'")
    rewrite(good, bad, edit_tensors=lambda t: {**t, "weights/drop/kernel": np.zeros(2, "float32")})
    refused(bad, "in the file but not in the architecture: 'drop/kernel'")
    rewrite(good, bad, edit_tensors=lambda t: {
        k: v.astype("float64") if k.startswith("weights/") else v for k, v in t.items()})
    refused(bad, "of dtype float32; the file stores it as float64")


def test_names_the_config_cannot_store_weights_under_are_refused(good: Path,
                                                                tmp_path: Path) -> None:
    bad = tmp_path / "bad.snn"
    for name, fragment in ((None, "has name None"), ("a/b", "without '/'"),
                           ("out", "two layers are named 'out'")):
        rewrite(good, bad, edit_header=lambda h, n=name: layer_config(h, "dense").update(name=n))
        refused(bad, fragment)


def test_a_layer_that_cannot_take_its_input_is_refused(good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.snn"

    def scalar_input(h: dict[str, Any]) -> None:
        h["model"]["layers"][0]["config"]["shape"] = []

    rewrite(good, bad, edit_header=scalar_input)
    refused(bad)


def test_input_only_first_and_bounded_rank(good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.snn"

    def input_last(h: dict[str, Any]) -> None:
        h["model"]["layers"].append({"class_name": "Input", "config": {"name": "x", "shape": [2]}})

    rewrite(good, bad, edit_header=input_last)
    refused(bad, "an Input may only come first")

    def many_axes(h: dict[str, Any]) -> None:
        layer_config(h, "in")["shape"] = [1] * (io_checks.MAX_RANK + 1)

    rewrite(good, bad, edit_header=many_axes)
    refused(bad, f"{io_checks.MAX_RANK + 1} axes")


# --------------------------------------------------------------------------------- the bounds
def test_integers_above_the_bound_are_refused_naming_the_field(tmp_path: Path) -> None:
    # No weights depend on the input width here, so only the bound stands in the way.
    source, bad = tmp_path / "source.snn", tmp_path / "bad.snn"
    Sequential([Input((3,), name="in"), Dropout(0.5, seed=2**40, name="drop")]).save(source)
    assert saving.load_model(source).layers[0].seed == 2**40  # seeds are exempt
    huge = io_checks.MAX_CONFIG_INT + 1
    rewrite(source, bad, edit_header=lambda h: layer_config(h, "in").update(shape=[huge]))
    message = refused(bad, f"layer 0 ('in', Input): shape[0]={huge}", "16,777,216",
                      "MAX_CONFIG_INT")
    assert "raise scratchnn.io_checks.MAX_CONFIG_INT" in message


def test_too_many_layers_and_too_deep_configs_are_refused(good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.snn"

    def many_layers(h: dict[str, Any]) -> None:
        h["model"]["layers"] += [
            {"class_name": "Dropout", "config": {"name": f"d{i}", "rate": 0.0}}
            for i in range(io_checks.MAX_LAYERS)
        ]

    rewrite(good, bad, edit_header=many_layers)
    refused(bad, f"{io_checks.MAX_LAYERS + 4:,} layers", f"at most {io_checks.MAX_LAYERS:,}")

    def deep(h: dict[str, Any]) -> None:
        nested: Any = 1
        for _ in range(io_checks.MAX_CONFIG_DEPTH + 5):
            nested = [nested]
        layer_config(h, "drop")["rate"] = nested

    rewrite(good, bad, edit_header=deep)
    refused(bad, "nested", f"at most {io_checks.MAX_CONFIG_DEPTH}")


def test_a_header_longer_than_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.snn"
    bad.write_bytes((io_checks.MAX_HEADER_BYTES + 1).to_bytes(8, "little") + b"{" * 64)
    refused(bad, "header of 16,777,217 bytes", "truncated or corrupt")


# --------------------------------------------------------------------------- optimizer state
@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda t: {**t, "optimizer/m.999999999999": np.zeros(1, "float32")},
         "is for parameter 999999999999; the model has 4 parameters"),
        (lambda t: {**t, "optimizer/m.0": np.zeros((4, 3), "float32")},
         "'m.0' has shape (4, 3) and dtype float32; parameter 0 ('dense/kernel') has shape "
         "(3, 4)"),
        (lambda t: {**t, "optimizer/v.1": t["optimizer/v.1"].astype("float64")},
         "'v.1' has shape (4,) and dtype float64"),
        (lambda t: {**t, "optimizer/iterations": np.array([-3])}, "'iterations' must be"),
        (lambda t: {**t, "optimizer/step.2": np.zeros((2, 2), "int64")}, "'step.2' must be"),
        (lambda t: {**t, "optimizer/velocity.0": np.zeros((3, 4), "float32")},
         "unknown optimizer state entry 'velocity.0'"),
        (lambda t: {k: v for k, v in t.items() if k != "optimizer/iterations"},
         "no 'iterations' entry"),
    ],
)
def test_optimizer_state_is_checked_against_the_parameters(good: Path, tmp_path: Path, edit,
                                                           fragment: str) -> None:
    bad = tmp_path / "bad.snn"
    rewrite(good, bad, edit_tensors=edit)
    refused(bad, fragment)


def test_optimizer_state_flag_must_be_a_boolean(good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.snn"
    rewrite(good, bad, edit_header=lambda h: h.update(optimizer_state="yes"))
    refused(bad, "'optimizer_state' is 'yes'")


# ------------------------------------------------------------------------ weights-only loading
def test_load_weights_into_an_unbuilt_model_checks_before_building(tmp_path: Path) -> None:
    path = tmp_path / "w.snn"
    Sequential([Dense(4, input_dim=3, name="a"), Dense(2, name="b")]).save_weights(path)
    huge = Sequential([Dense(4, name="a"), Dense(4_000_000_000, name="b")])
    with pytest.raises(ValueError, match=r"'b/kernel' of shape \(4, 4000000000\)") as info:
        huge.load_weights(path)
    assert str(info.value).startswith(f"{path}: ")
    assert not huge.built  # nothing was allocated


def test_load_weights_refuses_non_float_tensors(tmp_path: Path) -> None:
    path, bad = tmp_path / "w.snn", tmp_path / "bad.snn"
    Sequential([Dense(4, input_dim=3, name="a")]).save_weights(path)
    rewrite(path, bad, edit_tensors=lambda t: {k: v.astype("int32") for k, v in t.items()})
    with pytest.raises(ValueError, match="stored as int32; weights are floating-point"):
        Sequential([Dense(4, input_dim=3, name="a")]).load_weights(bad)


def test_load_weights_survives_a_malformed_architecture_entry(tmp_path: Path) -> None:
    """The architecture of a weights file is for information; its shape must not crash."""
    path, bad = tmp_path / "w.snn", tmp_path / "bad.snn"
    source = Sequential([Dense(4, input_dim=3, name="a")], seed=1)
    source.save_weights(path)
    for model_entry in ([1, 2], {"layers": "x"}, {"layers": [3, {"config": 4}]}, None):
        rewrite(path, bad, edit_header=lambda h, m=model_entry: h.update(model=m))
        target = Sequential([Dense(4, input_dim=3, name="a")], seed=2)
        target.load_weights(bad)
        assert np.array_equal(target.get_weights()[0], source.get_weights()[0])
        renamed = Sequential([Dense(4, input_dim=3, name="b")], seed=2)  # tries by position
        with pytest.raises(ValueError, match="neither matched") as info:
            renamed.load_weights(bad)
        assert str(info.value).startswith(f"{bad}: ")


# --------------------------------------------------------------------- generic over layer classes
class Window(Layer):
    """A toy layer with a kernel-size-like field, to check the checks need no per-class code."""

    def __init__(self, size: Any = (2, 2), filters: int = 3, name: str | None = None,
                 trainable: bool = True, dtype: Any = None, consistent: bool = True) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype)
        self.size = [int(s) for s in size]
        self.filters = int(filters)
        self.consistent = consistent

    def weight_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        return {"kernel": (*self.size, int(input_shape[-1]), self.filters)}

    def build(self, input_shape, rng=None, dtype=None) -> None:
        super().build(input_shape, rng, dtype)
        shape = self.weight_shapes(self.input_shape)["kernel"]
        if not self.consistent:
            shape = (*shape[:-1], shape[-1] + 1)
        self.add_weight("kernel", shape, "zeros", rng or np.random.default_rng(0))

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*input_shape[:-1], self.filters)

    def call(self, x, training: bool = False):
        return x

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "filters": self.filters,
                "consistent": self.consistent}


@pytest.fixture
def window_layer(monkeypatch: pytest.MonkeyPatch) -> type[Window]:
    monkeypatch.setitem(LAYERS, "Window", Window)
    return Window


def test_a_new_layer_class_is_checked_through_its_weight_shapes(window_layer,
                                                                tmp_path: Path) -> None:
    good, bad = tmp_path / "good.snn", tmp_path / "bad.snn"
    model = Sequential([Input((5, 5, 2), name="in"), Window((3, 3), 4, name="win")], seed=0)
    model.save(good)
    assert saving.load_model(good).weight_dict()["win/kernel"].shape == (3, 3, 2, 4)

    rewrite(good, bad, edit_header=lambda h: layer_config(h, "win").update(size=[3, 40_000]))
    refused(bad, "layer 1 ('win', Window)", "'win/kernel' of shape (3, 40000, 2, 4)",
            "shape (3, 3, 2, 4)")



def test_a_layer_whose_build_disagrees_with_weight_shapes_is_a_bug_report(window_layer,
                                                                          tmp_path: Path) -> None:
    good, bad = tmp_path / "good.snn", tmp_path / "bad.snn"
    Sequential([Input((4, 4, 1), name="in"), Window(name="win")], seed=0).save(good)
    rewrite(good, bad, edit_header=lambda h: layer_config(h, "win").update(consistent=False))
    with pytest.raises(RuntimeError, match="build\\(\\) and weight_shapes\\(\\) disagree"):
        saving.load_model(bad)


def test_nested_integer_fields_are_named_in_the_bound_message() -> None:
    plan = io_checks.ModelPlan(None, entries=[
        (2, "Window", "win", {"size": [3, 3], "init": {"config": {"lengths": [1, -2**30]}}}),
    ])
    with pytest.raises(ValueError, match=r"layer 2 \('win', Window\): "
                       r"init\.config\.lengths\[1\]=-1073741824 is above"):
        io_checks.check_config_bounds(plan, "m.snn")


def test_an_unbuilt_model_file_holds_no_weights(tmp_path: Path) -> None:
    source, bad = tmp_path / "unbuilt.snn", tmp_path / "bad.snn"
    Sequential([Dense(3, name="a")]).save(source)
    assert not saving.load_model(source).built
    rewrite(source, bad, edit_tensors=lambda t: {"weights/a/kernel": np.zeros((2, 3), "float32")})
    refused(bad, "in the file but not in the architecture: 'a/kernel'")


def test_plan_matches_what_sequential_builds() -> None:
    model = small_model(compiled=False)
    plan = io_checks.plan_model_config(json.loads(json.dumps(model.get_config())), "m")
    assert [(w.key, w.shape, w.dtype) for w in plan.weights] == [
        (name, w.shape, w.dtype.name) for name, w in model.weight_dict().items()
    ]
    assert plan.n_params == model.count_params()


def test_docstring_examples_run() -> None:
    result = doctest.testmod(io_checks, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [  # found by the long fuzz run: registries given JSON of the wrong kind
        (lambda h: h["compile"]["loss"].update(name=None), "cannot restore the compile settings"),
        (lambda h: layer_config(h, "dense").update(kernel_regularizer={"config": None}),
         "A regularizer config must be a dict"),
    ],
)
def test_registry_lookups_of_the_wrong_json_kind_are_value_errors(good: Path, tmp_path: Path,
                                                                  edit, fragment: str) -> None:
    bad = tmp_path / "bad.snn"
    rewrite(good, bad, edit_header=edit)
    refused(bad, fragment)


# --------------------------------------------------------------------------- functional graphs
def graph_model() -> Model:
    """Two inputs, a shared layer called twice, a nested Sequential, merges, one output."""
    a, b = Input((3,), name="a"), Input((2,), name="b")
    shared = Dense(4, name="shared")
    inner = Sequential([Dense(5, name="i1"), Dense(4, name="i2")], name="inner")
    joined = Concatenate(name="cat")([shared(a), inner(Dense(3, name="pre")(b)),
                                      shared(Dense(3, name="pre2")(b))])
    out = Dense(2, name="out")(Add(name="add")([joined, joined]))
    model = Model(inputs=[a, b], outputs=out, name="graph")
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    model.fit([rng.normal(size=(6, 3)), rng.normal(size=(6, 2))], rng.normal(size=(6, 2)),
              epochs=1, verbose=0)
    return model


@pytest.fixture
def graph_file(tmp_path: Path) -> Path:
    path = tmp_path / "graph.snn"
    graph_model().save(path)
    return path


def graph_entry(header: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in header["model"]["layers"] if e["name"] == name)


def rename(entry: dict[str, Any], name: str) -> None:
    entry["name"] = entry["config"]["name"] = name


def test_a_graph_round_trips_with_shared_and_nested_layers(graph_file: Path) -> None:
    model = saving.load_model(graph_file)
    assert type(model).__name__ == "Functional"
    assert list(model.weight_dict())[:6] == ["shared/kernel", "shared/bias", "pre/kernel",
                                             "pre/bias", "inner/i1/kernel", "inner/i1/bias"]
    header = read_file(graph_file)[0]
    plan = io_checks.plan_model_config(header["model"], "g", "Functional")
    assert [(w.key, w.shape) for w in plan.weights] == [
        (k, v.shape) for k, v in model.weight_dict().items()]
    assert plan.outputs == [(2,)]


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda h: graph_entry(h, "out")["config"].update(units=4_000_000_000),
         "layer 8 ('out', Dense) of the architecture implies weight 'out/kernel' of shape "
         "(12, 4000000000)"),
        (lambda h: graph_entry(h, "inner")["config"]["layers"][1]["config"].update(units=10**9),
         "'inner/i1/kernel' of shape (3, 1000000000)"),
        (lambda h: graph_entry(h, "pre")["inbound_nodes"][0].update(inputs=[["out", 0, 0]]),
         "the calls of ['add', 'cat', 'inner', 'out', 'pre'] wait on each other's outputs (a "
         "cycle)"),
        (lambda h: graph_entry(h, "pre")["inbound_nodes"][0].update(inputs=[["ghost", 0, 0]]),
         "calls read [['ghost', 0, 0]], which no layer makes (a dangling reference)"),
        (lambda h: h["model"].update(output_layers=[["add", 3, 0]]),
         "the graph refers to ['add', 3, 0]"),
        (lambda h: graph_entry(h, "add")["inbound_nodes"][0].update(
            inputs=[["cat", 0, 0]] * (io_checks.MAX_FAN + 1)), "a call is {'inputs': [1 to"),
        (lambda h: graph_entry(h, "shared")["inbound_nodes"][1].update(inputs=[["b", 0, 0]]),
         "is called on inputs of shape (2,) after (3,), which would give it other weights"),
        (lambda h: graph_entry(h, "pre").update(name="other"),
         "is named 'other' in the graph but 'pre' in its config"),
        (lambda h: graph_entry(h, "inner")["config"]["layers"][0]["config"].update(shape=[7]),
         "a Sequential model nested in the graph takes inputs of shape (7,); it is called "
         "with [(3,)]"),
        (lambda h: h["model"]["layers"].append({**copy.deepcopy(graph_entry(h, "out"))}),
         "the graph names layer 'out' twice"),
    ],
)
def test_a_crafted_graph_is_refused_before_building(graph_file: Path, tmp_path: Path, edit,
                                                    fragment: str) -> None:
    bad = tmp_path / "bad.snn"
    rewrite(graph_file, bad, edit_header=edit)
    refused(bad, fragment)


def test_a_fanned_out_graph_is_refused(graph_file: Path, tmp_path: Path) -> None:
    def fan_out(h: dict[str, Any]) -> None:
        template = graph_entry(h, "cat")
        for i in range(io_checks.MAX_FAN + 1):
            entry = copy.deepcopy(template)
            rename(entry, f"copy{i}")
            entry["inbound_nodes"] = [{"inputs": [["a", 0, 0], ["a", 0, 0]], "single": False}]
            h["model"]["layers"].append(entry)

    bad = tmp_path / "bad.snn"
    rewrite(graph_file, bad, edit_header=fan_out)
    refused(bad, "graph tensor ['a', 0, 0] is read by more than 1,000 calls")


def test_load_weights_into_a_graph_checks_names_and_shapes(graph_file: Path,
                                                           tmp_path: Path) -> None:
    source = saving.load_model(graph_file)
    target = graph_model()
    target.load_weights(graph_file)
    for key, value in source.weight_dict().items():
        assert np.array_equal(value, target.weight_dict()[key]), key
    bad = tmp_path / "bad.snn"
    rewrite(graph_file, bad, edit_tensors=lambda t: {
        k: (np.zeros((3, 5), "float32") if k == "weights/shared/kernel" else v)
        for k, v in t.items()}, edit_header=lambda h: h.update(optimizer_state=False))
    with pytest.raises(ValueError, match=r"'shared/kernel' of shape \(3, 4\); the file stores "
                       r"it with shape \(3, 5\)"):
        target.load_weights(bad)


@models.register(name="TwoDense")
class TwoDense(Model):
    """A registered subclass: its own layers as attributes and its own call."""

    def __init__(self, units: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.first = Dense(units, activation="relu", name="first")
        self.second = Dense(1, name="second")

    def call(self, x: Any, training: bool = False) -> Any:
        return self.second(self.first(x))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


def test_a_registered_custom_model_is_compared_after_it_builds_itself(tmp_path: Path) -> None:
    model = TwoDense(units=3, seed=0)
    model.build((2,))
    path, bad = tmp_path / "custom.snn", tmp_path / "bad.snn"
    model.save(path)
    loaded = saving.load_model(path)
    assert type(loaded) is TwoDense
    for key, value in model.weight_dict().items():
        assert np.array_equal(value, loaded.weight_dict()[key]), key
    rewrite(path, bad, edit_header=lambda h: h["model"].update(units=5))
    refused(bad, "'first/kernel' of shape (2, 5); the file stores it with shape (2, 3)")
    rewrite(path, bad, edit_header=lambda h: h["model"].update(units=2**30))
    refused(bad, "units=1073741824 is above 16,777,216")  # bounded before its code runs


# -------------------------------------------------------------------------- recurrent layers
@pytest.fixture
def recurrent_file(tmp_path: Path) -> Path:
    model = Sequential([
        Input((6,), name="tokens"), Embedding(20, 4, mask_zero=True, name="emb"),
        Bidirectional(GRU(3, return_sequences=True), name="bi"), LSTM(5, name="lstm"),
        Dense(1, name="out"),
    ], seed=0)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).integers(0, 20, size=(4, 6))
    model.fit(x, np.zeros((4, 1)), epochs=1, verbose=0)
    path = tmp_path / "recurrent.snn"
    model.save(path)
    return path


def test_recurrent_models_round_trip_through_the_checks(recurrent_file: Path) -> None:
    model = saving.load_model(recurrent_file)
    assert list(model.weight_dict())[:3] == ["emb/embeddings", "bi/forward/kernel",
                                             "bi/forward/recurrent_kernel"]


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda h: layer_config(h, "lstm").update(units=4_000_000_000),
         "layer 3 ('lstm', LSTM) of the architecture implies weight 'lstm/kernel' of shape "
         "(6, 16000000000) for inputs of shape (None, 6, 6); the file stores it with shape "
         "(6, 20)"),
        (lambda h: layer_config(h, "emb").update(input_dim=4_000_000_000),
         "'emb/embeddings' of shape (4000000000, 4)"),
        (lambda h: layer_config(h, "bi")["layer"]["config"].update(units=10**6),
         "'bi/forward/kernel' of shape (4, 3000000)"),
        (lambda h: layer_config(h, "tokens").update(shape=[2**25]),
         "layer 0 ('tokens', Input): shape[0]=33554432 is above 16,777,216"),
    ],
)
def test_crafted_recurrent_configs_are_refused_before_building(recurrent_file: Path,
                                                                tmp_path: Path, edit,
                                                                fragment: str) -> None:
    bad = tmp_path / "bad.snn"
    rewrite(recurrent_file, bad, edit_header=edit)
    refused(bad, fragment)
