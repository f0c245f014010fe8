"""Crafted RBM, DBN, GAN and autoencoder files: checked against their tensors before building.

Each crafted file has its SHA-256 recomputed (as any forger can), so only the planning of
:meth:`scratchnn.models.Model.plan_config` (RBM, DBN, GAN) and :mod:`scratchnn.io_checks` (the
autoencoder's graphs) stands between the file and the allocator. Cases that would exhaust memory
without the checks run in a child process limited to 512 MiB of address space.
"""

from __future__ import annotations

import copy
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from _hostile import read_file, refused, rewrite, run_limited
from scratchnn import io_checks
from scratchnn.io_checks import MAX_NESTED_MODELS
from scratchnn.layers import Dense
from scratchnn.models import DBN, GAN, RBM, Model, Sequential, dense_autoencoder, register, saving
from scratchnn.models.config import plan_from_config

needs_rlimit = pytest.mark.skipif(
    sys.platform == "win32", reason="needs POSIX resource limits (RLIMIT_AS)"
)

Edit = Callable[[dict[str, Any]], Any]
TensorEdit = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def small_gan() -> GAN:
    generator = Sequential([Dense(4, activation="relu", input_dim=2, name="g1"),
                            Dense(3, name="g2")], name="generator", seed=0)
    discriminator = Sequential([Dense(4, activation="relu", input_dim=3, name="d1"),
                                Dense(1, name="d2")], name="discriminator", seed=1)
    gan = GAN(generator, discriminator, seed=2)
    gan.compile(d_optimizer="adam", g_optimizer="sgd")
    return gan


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Valid files: a trained RBM with momentum (optimizer slots), a DBN, a GAN, an autoencoder."""
    folder = tmp_path_factory.mktemp("deep")
    rows = (np.random.default_rng(0).random((12, 5)) < 0.4).astype("float32")
    rbm = RBM(3, n_visible=5, momentum=0.5, seed=0)
    rbm.fit(rows, batch_size=6, epochs=1, verbose=0)
    parts = dense_autoencoder(5, code_size=2, hidden=(3,), seed=0)
    parts.model.compile(optimizer="adam", loss="mse")
    parts.model.fit(rows, rows, epochs=1, batch_size=6, verbose=0)
    paths = {name: folder / f"{name}.snn" for name in ("rbm", "dbn", "gan", "ae")}
    rbm.save(paths["rbm"])
    DBN((4, 3), n_visible=5, seed=0).save(paths["dbn"])
    small_gan().save(paths["gan"])
    parts.model.save(paths["ae"])
    return paths


def crafted(files: dict[str, Path], tmp_path: Path, base: str, edit: Edit | None = None,
            tensors: TensorEdit | None = None) -> Path:
    out = tmp_path / f"crafted_{base}.snn"
    rewrite(files[base], out, edit_header=edit, edit_tensors=tensors)
    return out


def model(header: dict[str, Any]) -> dict[str, Any]:
    return header["model"]


def net(header: dict[str, Any], key: str = "generator") -> dict[str, Any]:
    return header["model"][key]


def net_layer(header: dict[str, Any], name: str, key: str = "generator") -> dict[str, Any]:
    return next(e["config"] for e in net(header, key)["config"]["layers"]
                if e["config"]["name"] == name)


def graph_entry(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in config["layers"] if e["name"] == name)


# ------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("base", ["rbm", "dbn", "gan", "ae"])
def test_valid_files_load_with_their_weights_and_their_plan(files: dict[str, Path],
                                                            base: str) -> None:
    header, tensors = read_file(files[base])
    loaded = saving.load_model(files[base])
    assert {k: v.shape for k, v in loaded.weight_dict().items()} == {
        k.split("/", 1)[1]: v.shape for k, v in tensors.items() if k.startswith("weights/")}
    for key, value in loaded.weight_dict().items():
        np.testing.assert_array_equal(value, tensors[f"weights/{key}"])
    plan = plan_from_config(header["model"], header["model_class"], "f.snn")
    assert plan is not None
    assert [(w.key, w.shape, w.dtype) for w in plan.weights] == [
        (k, tuple(w.shape), w.dtype.name) for k, w in loaded.weights.items()]


def test_an_unbuilt_rbm_plans_no_weights_and_loads_unbuilt(tmp_path: Path) -> None:
    path = tmp_path / "unbuilt.snn"
    RBM(4, seed=0).save(path)
    assert not saving.load_model(path).built
    plan = RBM.plan_config({"n_hidden": 4, "n_visible": None}, "f.snn")
    assert plan.weights == [] and plan.input_shape is None


def test_a_dbn_without_n_visible_plans_the_rbms_it_builds_at_once() -> None:
    """The RBMs above the first know their visible units from the sizes below."""
    dbn = DBN((4, 3, 2), seed=0)
    plan = DBN.plan_config(dbn.get_config(), "f.snn")
    assert [(w.key, w.shape) for w in plan.weights] == [
        (k, tuple(w.shape)) for k, w in dbn.weights.items()]
    assert plan.weights[0].key == "rbm_1/rbm/kernel" and plan.weights[0].shape == (4, 3)


# -------------------------------------------------------------------- no allocation first
CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from scratchnn.models import saving
    for path in sys.argv[1:]:
        try:
            saving.load_model(path)
            print("loaded")
        except ValueError as exc:
            print("ValueError:", str(exc).splitlines()[0])
    # The limit is real: a (5, 2**24) float64 kernel cannot be allocated in this process.
    try:
        np.ones((5, 2**24))
    except MemoryError:
        print("limit holds")
    """
)

HUGE: dict[str, tuple[str, Edit, str]] = {
    "rbm": ("rbm", lambda h: model(h).update(n_hidden=2**24, n_visible=2**24),
            "'rbm/kernel' of shape (16777216, 16777216)"),
    "rbm_hidden": ("rbm", lambda h: model(h).update(n_hidden=2**24),
                   "'rbm/kernel' of shape (5, 16777216)"),
    "dbn": ("dbn", lambda h: model(h).update(hidden=[2**24, 2**24]),
            "'rbm_0/rbm/kernel' of shape (5, 16777216)"),
    "dbn_layers": ("dbn", lambda h: model(h).update(hidden=[3] * 10**6),
                   "the DBN's 'hidden' must list 1 to 10,000 layer sizes; received 1,000,000"),
    "gan": ("gan", lambda h: (net_layer(h, "g1").update(units=2**24)),
            "'generator/g1/kernel' of shape (2, 16777216)"),
    "gan_rbm": ("gan", lambda h: model(h).update(generator={"class_name": "RBM", "config": {
        "name": "generator", "n_hidden": 2**24, "n_visible": 2**24}}),
        "Missing from the file: 'generator/rbm/kernel'"),
    "ae": ("ae", lambda h: (graph_entry(model(h), "image")["config"].update(shape=[2**24]),
                            graph_entry(graph_entry(model(h), "encoder")["config"],
                                        "encoder_input")["config"].update(shape=[2**24])),
           "'encoder/dense/kernel' of shape (16777216, 3)"),
}


@needs_rlimit
def test_huge_sizes_are_refused_before_allocating_in_512_mib(files: dict[str, Path],
                                                             tmp_path: Path) -> None:
    paths = []
    for name, (base, edit, _) in HUGE.items():
        paths.append(tmp_path / f"{name}.snn")
        rewrite(files[base], paths[-1], edit_header=edit)
    done = run_limited(["-c", CHILD, *map(str, paths)], mib=512, timeout=180)
    assert done.returncode == 0, done.stderr
    *lines, last = done.stdout.splitlines()
    assert last == "limit holds"
    for path, line, (_, _, fragment) in zip(paths, lines, HUGE.values(), strict=True):
        assert line.startswith(f"ValueError: {path}: "), line
        assert fragment in line, line


# ------------------------------------------------------------------------ crafted configs
CONFIGS: dict[str, tuple[str, Edit, tuple[str, ...]]] = {
    "rbm string size": ("rbm", lambda h: model(h).update(n_hidden="3"),
                        ("the RBM cannot be made", "n_hidden must be an integer >= 1",
                         "n_hidden='3'", "corrupt or was edited")),
    "rbm negative size": ("rbm", lambda h: model(h).update(n_visible=-5),
                          ("n_visible must be an integer >= 1", "n_visible=-5")),
    "rbm NaN learning rate": ("rbm", lambda h: model(h).update(learning_rate=float("nan")),
                              ("learning_rate must be a number > 0", "learning_rate=nan")),
    "rbm NaN momentum": ("rbm", lambda h: model(h).update(momentum=float("nan")),
                         ("momentum must be a number in [0.0, 1.0)",)),
    "rbm string bool": ("rbm", lambda h: model(h).update(persistent="yes"),
                        ("persistent must be True or False", "persistent='yes'")),
    "rbm unknown visible": ("rbm", lambda h: model(h).update(visible="binary"),
                            ("visible must be one of ('bernoulli', 'gaussian')",)),
    "rbm unknown field": ("rbm", lambda h: model(h).update(evil=1),
                          ("unexpected keyword argument 'evil'",)),
    "rbm size above the bound": ("rbm", lambda h: model(h).update(n_hidden=2**40),
                                 ("n_hidden=1099511627776 is above 16,777,216",)),
    "rbm list name": ("rbm", lambda h: model(h).update(name=["x"]),
                      ("a RBM model is named ['x']; a model's name is a string",)),
    "dbn string sizes": ("dbn", lambda h: model(h).update(hidden="abc"),
                         ("the DBN's 'hidden' must list 1 to 10,000 layer sizes",)),
    "dbn empty": ("dbn", lambda h: model(h).update(hidden=[]),
                  ("the DBN's 'hidden' must list", "received 0 sizes")),
    "dbn nested lists": ("dbn", lambda h: model(h).update(hidden=[[4], [3]]),
                         ("RBM 0 of the DBN cannot be made", "n_hidden=[4]")),
    "dbn NaN decay": ("dbn", lambda h: model(h).update(weight_decay=float("nan")),
                      ("weight_decay must be a number", "weight_decay=nan")),
    "dbn more layers": ("dbn", lambda h: model(h).update(hidden=[4, 3, 2]),
                        ("Missing from the file: 'rbm_2/rbm/kernel'",)),
    "gan missing generator": ("gan", lambda h: model(h).pop("generator"),
                              ("the GAN's 'generator' entry must be", "received None")),
    "gan generator config not an object": (
        "gan", lambda h: net(h).update(config="x"), ("the GAN's 'generator' entry must be",)),
    "gan unknown class": ("gan", lambda h: net(h).update(class_name="os.system"),
                          ("Unknown model class 'os.system'", "known: DBN, Functional, GAN")),
    "gan class of the wrong kind": ("gan", lambda h: net(h).update(class_name=["GAN"]),
                                    ("Unknown model class ['GAN']",)),
    "gan generator name with a slash": (
        "gan", lambda h: net(h)["config"].update(name="a/b"),
        ("a Sequential model is named 'a/b'", "without / (its weights are stored under it)")),
    "gan networks of one name": (
        "gan", lambda h: net(h)["config"].update(name="discriminator"),
        ("generator and discriminator are both named 'discriminator'",)),
    "gan generator of another size": ("gan", lambda h: net_layer(h, "g2").update(units=4),
                                      ("'generator/g2/kernel' of shape (4, 4)",
                                       "stores it with shape (4, 3)")),
    "gan NaN smoothing": ("gan", lambda h: model(h).update(label_smoothing=float("nan")),
                          ("label_smoothing must be a number in [0, 1)",)),
    "gan compile settings": ("gan", lambda h: h.update(compile={"d_optimizer": "adam"}),
                             ("'d_optimizer' and 'g_optimizer'; ['g_optimizer'] missing",)),
    "ae nested unknown class": (
        "ae", lambda h: graph_entry(model(h), "encoder").update(class_name="RBM"),
        ("unknown layer class 'RBM' (layer 1)",)),
    "ae cycle": ("ae", lambda h: graph_entry(graph_entry(model(h), "encoder")["config"],
                                             "dense").update(inbound_nodes=[
                                                 {"inputs": [["code", 0, 0]], "single": True}]),
                 ("wait on each other's outputs (a cycle)",)),
    "ae code of another size": (
        "ae", lambda h: graph_entry(graph_entry(model(h), "encoder")["config"],
                                    "code")["config"].update(units=3),
        ("a Functional model nested in the graph takes inputs of shapes [(2,)]",)),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_crafted_configs_are_one_value_error_naming_the_problem(
        files: dict[str, Path], tmp_path: Path, case: str) -> None:
    base, edit, fragments = CONFIGS[case]
    refused(crafted(files, tmp_path, base, edit), *fragments)


def nest_gans(header: dict[str, Any], depth: int) -> None:
    """The GAN's generator replaced by a GAN whose generator is a GAN ... ``depth`` deep."""
    gan = copy.deepcopy(model(header))
    for _ in range(depth):
        gan = {**copy.deepcopy(model(header)), "name": "generator",
               "generator": {"class_name": "GAN", "config": gan}}
    model(header)["generator"] = {"class_name": "GAN", "config": gan}


def test_models_nested_too_deep_are_refused(files: dict[str, Path], tmp_path: Path) -> None:
    path = crafted(files, tmp_path, "gan", lambda h: nest_gans(h, MAX_NESTED_MODELS + 1))
    refused(path, f"models are nested more than {MAX_NESTED_MODELS} deep")
    # Shallower nesting is planned: the file's tensors are then what is missing.
    path = crafted(files, tmp_path, "gan", lambda h: nest_gans(h, 2))
    refused(path, "Missing from the file: 'generator/generator/gan/generator/g1/kernel'")


# ------------------------------------------------------------------------ crafted tensors
TENSORS: dict[str, tuple[str, TensorEdit, tuple[str, ...]]] = {
    "rbm kernel shape": ("rbm", lambda t: {**t, "weights/rbm/kernel": np.zeros((5, 4), "float32")},
                         ("layer 0 ('rbm', RBMLayer)", "'rbm/kernel' of shape (5, 3)",
                          "stores it with shape (5, 4)")),
    "rbm kernel dtype": ("rbm", lambda t: {**t, "weights/rbm/kernel": t[
        "weights/rbm/kernel"].astype("int32")}, ("of dtype float32", "stores it as int32")),
    "rbm missing bias": ("rbm", lambda t: {k: v for k, v in t.items()
                                           if k != "weights/rbm/visible_bias"},
                         ("Missing from the file: 'rbm/visible_bias'",)),
    "rbm extra tensor": ("rbm", lambda t: {**t, "weights/rbm/evil": np.zeros(2, "float32")},
                         ("in the file but not in the architecture: 'rbm/evil'",)),
    "rbm optimizer slot": ("rbm", lambda t: {**t, "optimizer/velocity.0": np.zeros(
        (2, 2), "float32")}, ("optimizer state entry 'velocity.0' has shape (2, 2)",
                              "parameter 0 ('rbm/kernel') has shape (5, 3)")),
    "dbn upper kernel": ("dbn", lambda t: {**t, "weights/rbm_1/rbm/kernel": np.zeros(
        (4, 4), "float32")}, ("'rbm_1/rbm/kernel' of shape (4, 3)",)),
    "gan discriminator missing": ("gan", lambda t: {k: v for k, v in t.items()
                                                    if "discriminator" not in k},
                                  ("Missing from the file: 'discriminator/d1/kernel'",)),
    "gan float64": ("gan", lambda t: {**t, "weights/generator/g1/bias": t[
        "weights/generator/g1/bias"].astype("float64")}, ("stores it as float64",)),
    "ae kernel shape": ("ae", lambda t: {**t, "weights/encoder/code/kernel": np.zeros(
        (3, 3), "float32")}, ("'encoder/code/kernel' of shape (3, 2)",)),
}


@pytest.mark.parametrize("case", sorted(TENSORS))
def test_crafted_tensors_are_one_value_error_naming_the_weight(
        files: dict[str, Path], tmp_path: Path, case: str) -> None:
    base, edit, fragments = TENSORS[case]
    refused(crafted(files, tmp_path, base, tensors=edit), *fragments)


def test_a_registered_class_without_a_plan_is_still_built_then_compared() -> None:
    """The default ``plan_config`` plans nothing, so such classes keep issue 15's path."""
    assert Model.plan_config({}, "f.snn") is None
    assert io_checks.CORRUPT.startswith("The file is corrupt")


@register(name="SelfBuiltCritic")
class SelfBuiltCritic(Model):
    """A registered class without a plan_config that builds itself: a GAN discriminator."""

    def __init__(self, input_dim: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.out = Dense(1, name="out")
        self.build((input_dim,))

    def call(self, x: Any, training: bool = False) -> Any:
        return self.out(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim}


def test_a_gan_with_a_network_that_builds_itself_is_compared_once_built(tmp_path: Path) -> None:
    generator = Sequential([Dense(3, input_dim=2, name="g")], name="generator", seed=0)
    gan = GAN(generator, SelfBuiltCritic(name="discriminator", seed=1), seed=2)
    path = tmp_path / "gan.snn"
    gan.save(path)
    header, _ = read_file(path)
    assert plan_from_config(header["model"], "GAN", str(path)) is None  # built by its own code
    loaded = saving.load_model(path)
    np.testing.assert_array_equal(loaded.weight_dict()["discriminator/out/kernel"],
                                  gan.weight_dict()["discriminator/out/kernel"])
    extra = tmp_path / "extra.snn"
    rewrite(path, extra, edit_tensors=lambda t: {**t, "weights/discriminator/x": np.zeros(1)})
    refused(extra, "in the file but not in the architecture: 'discriminator/x'")
