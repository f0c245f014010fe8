"""Model files (scratchnn.io): round trips, refusal of foreign or damaged files, atomic writes.

Everything runs on real files in ``tmp_path``; the crash tests kill real processes.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open

import scratchnn
from _hostile import rewrite
from scratchnn import io as snio
from scratchnn.layers import LAYERS, Activation, Dense, Dropout, Flatten, Input
from scratchnn.models import Sequential, saving

INJECTION = "__import__('os').system('touch marker')"


# ------------------------------------------------------------------------------------ helpers
def make_model(dtype: str = "float32", seed: int = 0) -> Sequential:
    """Input (2, 3) -> Flatten -> Dense -> Dropout -> Dense -> Activation."""
    return Sequential(
        [
            Input((2, 3), name="input"),
            Flatten(name="flatten"),
            Dense(5, activation="tanh", name="hidden"),
            Dropout(0.25, name="dropout"),
            Dense(3, name="logits"),
            Activation("softmax", name="probs"),
        ],
        dtype=dtype,
        seed=seed,
    )


def data(dtype: str = "float32", n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(123)
    x = rng.normal(size=(n, 2, 3)).astype(dtype)
    y = np.eye(3, dtype=dtype)[rng.integers(0, 3, size=n)]
    return x, y


def assert_same_weights(a: Sequential, b: Sequential) -> None:
    wa, wb = a.weight_dict(), b.weight_dict()
    assert list(wa) == list(wb)
    for name in wa:
        assert wa[name].dtype == wb[name].dtype, name
        assert np.array_equal(wa[name], wb[name]), name


class Payload:
    """Unpickling this creates ``marker`` (the classic pickle attack, made harmless)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# --------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_gives_bit_identical_predictions(tmp_path: Path, dtype: str) -> None:
    model = make_model(dtype)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, _ = data(dtype)
    path = tmp_path / "model.snn"

    model.save(path)
    loaded = scratchnn.load_model(path)

    assert loaded.built
    assert loaded.get_config() == model.get_config()
    assert_same_weights(model, loaded)
    before, after = model.predict(x), loaded.predict(x)
    assert after.dtype == np.dtype(dtype)
    assert np.array_equal(before, after)


def test_file_layout_is_plain_safetensors_with_json_metadata(tmp_path: Path) -> None:
    model = make_model()
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "model.snn"
    saving.save_model(model, path)

    with safe_open(str(path), framework="numpy") as f:
        header = json.loads(f.metadata()["scratchnn"])
        names = set(f.keys())
    assert header["format"] == "scratchnn.model"
    assert header["format_version"] == snio.FORMAT_VERSION == 1
    assert header["scratchnn_version"] == scratchnn.__version__
    assert header["model"] == model.get_config()
    assert header["compile"] == model.compile_config()
    assert header["optimizer_state"] is True
    weights = {f"weights/{name}" for name in model.weight_dict()}
    assert weights == {
        "weights/hidden/kernel", "weights/hidden/bias", "weights/logits/kernel",
        "weights/logits/bias",
    }
    assert weights <= names
    assert all(n.startswith("optimizer/") for n in names - weights)


def test_compile_settings_are_restored(tmp_path: Path) -> None:
    from scratchnn import losses, optimizers

    model = make_model()
    model.compile(
        optimizer=optimizers.Adam(learning_rate=0.0123, beta_1=0.8, clipnorm=2.0),
        loss=losses.CategoricalCrossentropy(from_logits=False, reduction="sum"),
        metrics=["accuracy"],
        loss_weights=0.5,
    )
    path = tmp_path / "model.snn"
    model.save(path)
    loaded = saving.load_model(path)

    assert type(loaded.optimizer) is optimizers.Adam
    assert type(loaded.loss) is losses.CategoricalCrossentropy
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.get_config()["learning_rate"] == 0.0123
    assert loaded.optimizer.get_config()["beta_1"] == 0.8
    assert loaded.optimizer.clipnorm == 2.0
    assert loaded.loss.get_config() == model.loss.get_config()
    assert loaded.loss.reduction == "sum"
    assert loaded.compile_config() == model.compile_config()
    assert loaded.compile_config()["metrics"] == ["accuracy"]
    assert loaded.loss_weights == 0.5


def test_schedules_regularizers_and_initializers_round_trip(tmp_path: Path) -> None:
    from scratchnn import initializers, optimizers

    model = Sequential(
        [
            Dense(4, input_dim=3, kernel_initializer=initializers.random_normal(stddev=0.3),
                  kernel_regularizer="l2", bias_regularizer="l1", name="a"),
            Dense(1, kernel_initializer="he_normal", name="b"),
        ],
        dtype="float64",
        seed=4,
    )
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    model.compile(optimizer=optimizers.SGD(learning_rate=schedule, momentum=0.9), loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3))
    y = x.sum(axis=1, keepdims=True)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "m.snn")
    loaded = saving.load_model(tmp_path / "m.snn")

    assert loaded.get_config() == model.get_config()
    assert loaded.compile_config() == model.compile_config()
    assert loaded.optimizer.learning_rate == schedule
    assert loaded.optimizer.current_learning_rate == model.optimizer.current_learning_rate
    assert loaded.optimizer.iterations == model.optimizer.iterations == 8
    for m in (model, loaded):
        m.fit(x, y, epochs=1, batch_size=4, seed=1, verbose=0)
    assert_same_weights(model, loaded)


def test_uncompiled_model_loads_uncompiled(tmp_path: Path) -> None:
    model = make_model()
    path = tmp_path / "model.snn"
    model.save(path)
    loaded = saving.load_model(path)
    assert loaded.compile_config() is None
    assert loaded.optimizer is None
    assert_same_weights(model, loaded)


def test_optimizer_state_is_restored_and_training_continues_identically(tmp_path: Path) -> None:
    x, y = data("float64", n=48)

    def trained() -> Sequential:
        model = make_model("float64", seed=7)
        model.compile(optimizer="adam", loss="categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        return model

    never_saved = trained()
    saved = trained()
    path = tmp_path / "model.snn"
    saved.save(path)
    loaded = saving.load_model(path)

    state, restored = saved.optimizer.get_state(), loaded.optimizer.get_state()
    assert state["iterations"] == 6
    assert sorted(state) == sorted(restored)
    for key in state:
        assert np.array_equal(state[key], restored[key]), key

    # One more epoch, shuffled and with dropout, from the same seed: the never-saved model and
    # the loaded one agree bit for bit.
    for model in (never_saved, loaded):
        model.fit(x, y, epochs=1, batch_size=8, seed=99, verbose=0)
    assert_same_weights(never_saved, loaded)
    assert np.array_equal(never_saved.predict(x), loaded.predict(x))


def test_include_optimizer_false_stores_no_state(tmp_path: Path) -> None:
    model = make_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "model.snn"
    model.save(path, include_optimizer=False)

    with safe_open(str(path), framework="numpy") as f:
        assert not [n for n in f.keys() if n.startswith("optimizer/")]
        assert json.loads(f.metadata()["scratchnn"])["optimizer_state"] is False
    loaded = saving.load_model(path)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == 0


def test_save_weights_then_load_weights(tmp_path: Path) -> None:
    source, target = make_model(seed=1), make_model(seed=2)
    assert not np.array_equal(source.weight_dict()["hidden/kernel"],
                              target.weight_dict()["hidden/kernel"])
    path = tmp_path / "model.weights.snn"
    source.save_weights(path)
    target.load_weights(path)
    assert_same_weights(source, target)

    with safe_open(str(path), framework="numpy") as f:
        assert json.loads(f.metadata()["scratchnn"])["format"] == "scratchnn.weights"
        assert not [n for n in f.keys() if not n.startswith("weights/")]


def test_load_weights_accepts_a_full_model_file(tmp_path: Path) -> None:
    source, target = make_model(seed=1), make_model(seed=2)
    source.compile(optimizer="adam", loss="categorical_crossentropy")
    source.save(tmp_path / "model.snn")
    saving.load_weights(target, tmp_path / "model.snn")
    assert_same_weights(source, target)


def test_load_weights_builds_an_unbuilt_dense_first_model(tmp_path: Path) -> None:
    source = Sequential([Dense(4, input_dim=3, name="a"), Dense(2, name="b")], seed=0)
    source.save_weights(tmp_path / "w.snn")
    target = Sequential([Dense(4, name="a"), Dense(2, name="b")], seed=5)
    assert not target.built
    target.load_weights(tmp_path / "w.snn")
    assert target.built
    assert_same_weights(source, target)


def test_automatic_names_do_not_depend_on_what_the_process_built_before(tmp_path: Path) -> None:
    def build(seed: int) -> Sequential:  # no names: the model names them dense, dropout, ...
        return Sequential([Dense(4, activation="relu", input_dim=3), Dropout(0.2), Dense(2)],
                          seed=seed)

    source, target = build(1), build(2)
    assert [layer.name for layer in source.layers] == ["dense", "dropout", "dense_1"]
    assert [layer.name for layer in target.layers] == ["dense", "dropout", "dense_1"]
    source.save_weights(tmp_path / "w.snn")
    target.load_weights(tmp_path / "w.snn")
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_load_weights_matches_by_position_when_names_differ(tmp_path: Path) -> None:
    def build(seed: int, prefix: str) -> Sequential:
        return Sequential([Dense(4, activation="relu", input_dim=3, name=f"{prefix}_a"),
                           Dropout(0.2, name=f"{prefix}_drop"), Dense(2, name=f"{prefix}_b")],
                          seed=seed)

    source, target = build(1, "one"), build(2, "two")
    source.save_weights(tmp_path / "w.snn")
    target.load_weights(tmp_path / "w.snn")
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        assert np.array_equal(a, b)

    unbuilt = Sequential([Dense(4, activation="relu"), Dropout(0.2), Dense(2)])
    unbuilt.load_weights(tmp_path / "w.snn")
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    assert np.array_equal(unbuilt.predict(x), source.predict(x))


def test_load_weights_by_position_still_refuses_other_shapes(tmp_path: Path) -> None:
    Sequential([Dense(4, input_dim=3), Dense(2)], seed=0).save_weights(tmp_path / "w.snn")
    wider = Sequential([Dense(5, input_dim=3), Dense(2)], seed=0)
    before = [w.copy() for w in wider.get_weights()]
    with pytest.raises(ValueError, match=r"weight 'dense/kernel' of shape \(3, 5\); the file "
                       r"stores it with shape \(3, 4\)"):
        wider.load_weights(tmp_path / "w.snn")
    assert all(np.array_equal(a, b) for a, b in zip(before, wider.get_weights(), strict=True))


def test_load_model_refuses_a_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "w.snn"
    make_model().save_weights(path)
    with pytest.raises(ValueError, match="weights-only") as info:
        saving.load_model(path)
    assert str(path) in str(info.value)


def test_save_weights_of_unbuilt_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="built"):
        saving.save_weights(Sequential([Dense(2)]), tmp_path / "w.snn")
    assert not list(tmp_path.iterdir())


def test_weight_shape_mismatch_names_weight_and_shapes(tmp_path: Path) -> None:
    path = tmp_path / "w.snn"
    Sequential([Dense(4, input_dim=3, name="a"), Dense(2, name="b")]).save_weights(path)
    other = Sequential([Dense(5, input_dim=3, name="a"), Dense(2, name="b")])
    kept = other.weight_dict()
    with pytest.raises(ValueError) as info:
        other.load_weights(path)
    message = str(info.value)
    assert str(path) in message
    assert "'a/kernel'" in message and "(3, 4)" in message and "(3, 5)" in message
    assert_same_weights_dict(kept, other.weight_dict())  # nothing half-loaded


def assert_same_weights_dict(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_weight_name_mismatch_lists_missing_and_unexpected(tmp_path: Path) -> None:
    path = tmp_path / "w.snn"
    Sequential([Dense(4, input_dim=3, name="a"), Dense(2, name="b")]).save_weights(path)
    other = Sequential([Dense(4, input_dim=3, name="a"), Dense(3, name="c")])  # no positional match
    with pytest.raises(ValueError) as info:
        other.load_weights(path)
    message = str(info.value)
    assert "c/kernel" in message and "b/kernel" in message and str(path) in message


def test_unbuilt_model_round_trips_its_architecture(tmp_path: Path) -> None:
    model = Sequential([Dense(3, activation="relu"), Dense(1)], seed=3)
    assert not model.built
    model.save(tmp_path / "m.snn")
    loaded = saving.load_model(tmp_path / "m.snn")
    assert not loaded.built
    assert loaded.get_config() == model.get_config()


def test_any_suffix_and_str_or_path(tmp_path: Path) -> None:
    model = make_model()
    for name in ("model.safetensors", "model", "model.bin"):
        model.save(str(tmp_path / name))
        assert_same_weights(model, saving.load_model(str(tmp_path / name)))


# ------------------------------------------------------------------------------ missing files
def test_missing_file_raises_file_not_found_with_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.snn"
    with pytest.raises(FileNotFoundError) as info:
        saving.load_model(path)
    assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        saving.load_weights(make_model(), path)


def test_save_into_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_model().save(tmp_path / "no" / "such" / "model.snn")


# -------------------------------------------------------------- pickles and injected metadata
def test_renamed_pickle_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "model.snn"
    path.write_bytes(pickle.dumps({"weights": Payload(marker)}))

    with pytest.raises(ValueError, match="pickle") as info:
        saving.load_model(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError):
        saving.load_weights(make_model(), path)
    assert not marker.exists()

    # Control: the payload is live; unpickling the same bytes does create the marker.
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Payload(control)))
    assert control.exists()


@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
def test_pickles_of_every_protocol_are_refused(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "model.snn"
    path.write_bytes(pickle.dumps(Payload(marker), protocol=protocol))
    with pytest.raises(ValueError, match=str(path).replace("\\", "\\\\")):
        saving.load_model(path)
    assert not marker.exists()


def test_npz_with_object_array_is_refused_and_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    npz = tmp_path / "weights.npz"
    np.savez(npz, w=np.array([Payload(marker)], dtype=object))
    path = tmp_path / "model.snn"
    npz.rename(path)

    with pytest.raises(ValueError, match="zip") as info:
        saving.load_model(path)
    assert str(path) in str(info.value)
    with pytest.raises(ValueError):
        saving.load_weights(make_model(), path)
    assert not marker.exists()

    # Control: loading it with NumPy's allow_pickle runs the payload.
    with np.load(path, allow_pickle=True) as archive:
        archive["w"]
    assert marker.exists()


def test_code_in_a_layer_class_name_is_refused_not_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    good, bad = tmp_path / "good.snn", tmp_path / "bad.snn"
    make_model().save(good)

    def edit(header):
        header["model"]["layers"][2]["class_name"] = INJECTION

    rewrite(good, bad, edit_header=edit)
    with pytest.raises(ValueError, match="unknown layer class") as info:
        saving.load_model(bad)
    message = str(info.value)
    assert str(bad) in message
    assert all(name in message for name in LAYERS)
    assert not (tmp_path / "marker").exists()


def test_code_and_pickles_in_string_fields_load_as_plain_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    pickled = base64.b64encode(pickle.dumps(Payload(tmp_path / "marker"))).decode()
    good, crafted = tmp_path / "good.snn", tmp_path / "crafted.snn"
    model = make_model()
    model.save(good)

    def edit_header(header):
        header["model"]["name"] = pickled
        header["model"]["layers"][2]["config"]["name"] = INJECTION
        header["scratchnn_version"] = pickled

    def edit_tensors(tensors):
        return {k.replace("/hidden/", f"/{INJECTION}/"): v for k, v in tensors.items()}

    rewrite(good, crafted, edit_header=edit_header, edit_tensors=edit_tensors)
    loaded = saving.load_model(crafted)
    assert loaded.get_config()["name"] == pickled
    assert loaded.get_config()["layers"][2]["config"]["name"] == INJECTION
    assert np.array_equal(loaded.weight_dict()[f"{INJECTION}/kernel"],
                          model.weight_dict()["hidden/kernel"])
    assert not (tmp_path / "marker").exists()


def test_code_in_compile_settings_is_refused_not_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    model = make_model()
    model.compile(optimizer="sgd", loss="mse")
    good, bad = tmp_path / "good.snn", tmp_path / "bad.snn"
    model.save(good)

    for field in ("loss", "optimizer"):
        def edit(header, field=field):
            header["compile"][field]["name"] = INJECTION

        rewrite(good, bad, edit_header=edit)
        with pytest.raises(ValueError) as info:
            saving.load_model(bad)
        assert str(bad) in str(info.value)
    assert not (tmp_path / "marker").exists()


def test_unexpected_tensor_names_are_refused(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.snn", tmp_path / "bad.snn"
    make_model().save(good)
    rewrite(good, bad, edit_tensors=lambda t: {**t, "extra": np.zeros(2, "float32")})
    with pytest.raises(ValueError, match="unexpected tensor 'extra'"):
        saving.load_model(bad)


# ------------------------------------------------------------------- damaged or foreign files
@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, bytes, int]:
    """A model file, its bytes, and the length of its JSON header."""
    model = make_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    path = tmp_path / "good.snn"
    model.save(path)
    raw = path.read_bytes()
    return path, raw, int.from_bytes(raw[:8], "little")


def load_error(path: Path) -> str:
    with pytest.raises(ValueError) as info:
        saving.load_model(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    with pytest.raises(ValueError):
        saving.load_weights(make_model(), path)
    return message


@pytest.mark.parametrize(
    "where", ["in_length", "after_length", "in_header", "end_of_header", "in_data", "last_byte"]
)
def test_truncated_file_is_refused(tmp_path: Path, saved, where: str) -> None:
    _, raw, n = saved
    cut = {
        "in_length": 4,
        "after_length": 8,
        "in_header": 8 + n // 2,
        "end_of_header": 8 + n,
        "in_data": 8 + n + (len(raw) - 8 - n) // 2,
        "last_byte": len(raw) - 1,
    }[where]
    path = tmp_path / "cut.snn"
    path.write_bytes(raw[:cut])
    message = load_error(path)
    assert "truncated or corrupt" in message


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.snn"
    path.write_bytes(b"")
    assert "empty file" in load_error(path)


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_are_refused(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "random.snn"
    path.write_bytes(np.random.default_rng(seed).bytes(1000 + 997 * seed))
    load_error(path)


def test_random_bytes_behind_a_plausible_length_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "random.snn"
    path.write_bytes((200).to_bytes(8, "little") + rng.bytes(400))
    assert "truncated or corrupt" in load_error(path)


def test_png_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.snn"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert "PNG" in load_error(path)


def test_flipped_data_byte_is_detected(tmp_path: Path, saved) -> None:
    _, raw, _ = saved
    damaged = bytearray(raw)
    damaged[-5] ^= 0x01
    path = tmp_path / "flipped.snn"
    path.write_bytes(bytes(damaged))
    assert "checksum" in load_error(path)


def test_damaged_header_json_is_refused(tmp_path: Path, saved) -> None:
    _, raw, _ = saved
    damaged = bytearray(raw)
    damaged[8] = ord("[")  # the header's opening brace
    path = tmp_path / "damaged.snn"
    path.write_bytes(bytes(damaged))
    assert "truncated or corrupt" in load_error(path)


def test_header_edited_without_new_checksum_is_detected(tmp_path: Path, saved) -> None:
    good, _, _ = saved
    path = tmp_path / "edited.snn"

    def edit(header):
        header["compile"]["optimizer"]["learning_rate"] = 0.5

    rewrite(good, path, edit_header=edit, rehash=False)
    assert "SHA-256" in load_error(path)
    rewrite(good, path, edit_tensors=lambda t: {k: v * 2 for k, v in t.items()}, rehash=False)
    assert "SHA-256" in load_error(path)


@functools.cache
def good_file() -> tuple[bytes, Sequential]:
    model = make_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "m.snn")
        return (Path(tmp) / "m.snn").read_bytes(), model


@settings(max_examples=60, deadline=None)
@given(damage=st.data())
def test_damaged_bytes_are_refused_or_harmless(damage) -> None:
    raw, model = good_file()
    damaged = bytearray(raw)
    for _ in range(damage.draw(st.integers(1, 3), label="flips")):
        position = damage.draw(st.integers(0, len(raw) - 1), label="position")
        damaged[position] ^= damage.draw(st.integers(1, 255), label="xor")
    if damage.draw(st.booleans(), label="truncate"):
        damaged = damaged[: damage.draw(st.integers(0, len(raw) - 1), label="length")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.snn"
        path.write_bytes(bytes(damaged))
        try:
            loaded = saving.load_model(path)
        except ValueError as exc:
            assert str(exc).startswith(f"{path}: ")
            return
    # Loaded: the damage hit bytes without meaning (e.g. header padding); the model is intact.
    assert loaded.get_config() == model.get_config()
    assert loaded.compile_config() == model.compile_config()
    assert_same_weights(model, loaded)
    state = loaded.optimizer.get_state()
    assert all(np.array_equal(v, state[k]) for k, v in model.optimizer.get_state().items())


def test_damaged_metadata_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.snn"
    tensors = {"weights/a/kernel": np.zeros((2, 2), "float32")}
    path.write_bytes(safetensors.numpy.save(tensors, metadata={"scratchnn": '{"format": '}))
    assert "not valid JSON" in load_error(path)


def test_foreign_safetensors_without_our_metadata_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    tensors = {"hidden.weight": np.ones((3, 3), "float32")}
    for metadata in (None, {"format": "pt"}):
        path.write_bytes(safetensors.numpy.save(tensors, metadata=metadata))
        message = load_error(path)
        assert "no 'scratchnn' metadata" in message and "model.save()" in message


def test_header_length_that_looks_like_pickle_magic_is_not_taken_for_a_pickle(
    tmp_path: Path,
) -> None:
    # The first 8 bytes are the header length; 0x280 = 640 starts with pickle's b"\x80\x02".
    path = tmp_path / "model.safetensors"
    for k in range(400, 700):
        raw = safetensors.numpy.save({}, metadata={"pad": "x" * k})
        if raw.startswith(b"\x80\x02"):
            break
    assert raw.startswith(b"\x80\x02")
    path.write_bytes(raw)
    assert "no 'scratchnn' metadata" in load_error(path)


def test_newer_format_version_is_refused(tmp_path: Path, saved) -> None:
    good, _, _ = saved
    path = tmp_path / "future.snn"

    def edit(header):
        header["format_version"] = 3
        header["scratchnn_version"] = "9.0.0"

    rewrite(good, path, edit_header=edit)
    message = load_error(path)
    assert "format version 3" in message
    assert "reads up to 1" in message and "upgrade scratchnn" in message


@pytest.mark.parametrize("version", ["1", 0, -1, 1.0, True, None])
def test_invalid_format_version_is_refused(tmp_path: Path, saved, version) -> None:
    good, _, _ = saved
    path = tmp_path / "odd.snn"
    rewrite(good, path, edit_header=lambda header: header.update(format_version=version))
    assert "format_version" in load_error(path)


def test_unknown_format_name_is_refused(tmp_path: Path, saved) -> None:
    good, _, _ = saved
    path = tmp_path / "odd.snn"
    rewrite(good, path, edit_header=lambda header: header.update(format="other.thing"))
    assert "unknown file format" in load_error(path)


# ------------------------------------------------------------------------------ atomic writes
CHILD_SAVE_KILLED_BEFORE_RENAME = textwrap.dedent(
    """
    import sys, time
    from scratchnn import io
    from scratchnn.models import saving
    from scratchnn.layers import Dense
    from scratchnn.models import Sequential

    def stop_here(tmp, target):
        print("before rename", tmp, flush=True)  # only printed at that point
        while True:  # wait there for the SIGKILL
            time.sleep(60)

    io._before_replace = stop_here
    new = Sequential([Dense(64, input_dim=32, name="a"), Dense(8, name="b")], seed=1)
    saving.save_model(new, sys.argv[1])
    print("renamed", flush=True)  # never reached
    """
)


def crash_model(seed: int) -> Sequential:
    """The child's model: seed 0 is the file on disk before the crash, seed 1 the one saved."""
    return Sequential([Dense(64, input_dim=32, name="a"), Dense(8, name="b")], seed=seed)


def test_sigkill_between_write_and_rename_leaves_the_old_file(tmp_path: Path) -> None:
    """SIGKILL a save stopped after its temporary file is complete, just before the rename.

    The child stops at that point through ``io._before_replace`` and says so; the test checks it is
    there (the temporary file holds the whole new model, the target still the old bytes), kills
    it, and checks the target is the old model, byte for byte, with the new one left beside it.
    """
    path = tmp_path / "model.snn"
    old, new = crash_model(0), crash_model(1)
    old.save(path)
    before = path.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SAVE_KILLED_BEFORE_RENAME, str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("before rename "), line + child.stderr.read()
        tmp = Path(line.removeprefix("before rename ").strip())
        # the kill lands at the named point: temporary file complete, target untouched
        assert tmp.parent == tmp_path and tmp.name.startswith(".model.snn.")
        assert_same_weights(new, saving.load_model(tmp))
        assert path.read_bytes() == before
        assert child.poll() is None
    finally:
        child.kill()  # SIGKILL
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert child.stdout.read() == ""  # it never got past the rename
    assert path.read_bytes() == before
    assert_same_weights(old, saving.load_model(path))
    assert sorted(tmp_path.iterdir()) == sorted([path, tmp])  # the stray temporary file only
    assert_same_weights(new, saving.load_model(tmp))


CHILD_FILE_SIZE_LIMIT = textwrap.dedent(
    """
    import errno, resource, signal, sys
    from scratchnn.layers import Dense
    from scratchnn.models import Sequential
    from scratchnn.models.saving import save_model

    big = Sequential([Dense(256, input_dim=256, name="a")], dtype="float64", seed=1)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # exceeding the limit: EFBIG, not a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
    try:
        save_model(big, sys.argv[1])
    except OSError as exc:
        print("OSError", errno.errorcode.get(exc.errno), flush=True)
    else:
        print("saved", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file-size limits")
def test_failed_write_keeps_old_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "model.snn"
    small = Sequential([Dense(2, input_dim=2, name="a")], seed=0)
    small.save(path)
    before = path.read_bytes()

    result = subprocess.run(
        [sys.executable, "-c", CHILD_FILE_SIZE_LIMIT, str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.stdout.strip() == "OSError EFBIG", result.stdout + result.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.snn"]
    assert_same_weights(small, saving.load_model(path))


def test_unserialisable_config_raises_before_touching_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.snn"
    make_model().save(path)
    before = path.read_bytes()
    model = make_model()
    model.compile(optimizer="sgd", loss="mse")
    model.compile_config = lambda: {"optimizer": object()}  # what a plug-in might return
    with pytest.raises(TypeError, match="not JSON"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.snn"]


def test_overwrite_keeps_permissions_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "model.snn"
    model = make_model()
    model.save(path)
    os.chmod(path, 0o640)
    for _ in range(3):
        model.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.snn"]


def test_new_file_gets_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        make_model().save(tmp_path / "model.snn")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "model.snn").st_mode) == 0o640


# --------------------------------------------------------------------------- property-based
ACTIVATIONS = ["linear", "relu", "tanh", "sigmoid", "softmax", "elu", "gelu", None]


@st.composite
def layer_stacks(draw):
    n_in = draw(st.integers(1, 8))
    dense = st.builds(
        lambda units, act, bias: ("dense", units, act, bias),
        st.integers(1, 8), st.sampled_from(ACTIVATIONS), st.booleans(),
    )
    other = st.one_of(
        st.builds(lambda r: ("dropout", r), st.sampled_from([0.0, 0.1, 0.5])),
        st.builds(lambda a: ("activation", a), st.sampled_from(ACTIVATIONS[:-1])),
    )
    first = draw(dense)
    rest = draw(st.lists(st.one_of(dense, other), max_size=5))
    return n_in, [first, *rest], draw(st.sampled_from(["float32", "float64"]))


def build_stack(n_in: int, spec: list, dtype: str, seed: int) -> Sequential:
    layers = []
    for i, entry in enumerate(spec):
        name = f"l{i}"
        if entry[0] == "dense":
            _, units, act, bias = entry
            extra = {"input_dim": n_in} if i == 0 else {}
            layers.append(Dense(units, activation=act, use_bias=bias, name=name, **extra))
        elif entry[0] == "dropout":
            layers.append(Dropout(entry[1], name=name))
        else:
            layers.append(Activation(entry[1], name=name))
    return Sequential(layers, dtype=dtype, seed=seed)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stack=layer_stacks(), seed=st.integers(0, 2**32 - 1))
def test_random_stacks_round_trip(stack, seed: int) -> None:
    n_in, spec, dtype = stack
    model = build_stack(n_in, spec, dtype, seed)
    x = np.random.default_rng(seed).normal(size=(4, n_in)).astype(dtype)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.snn"
        model.save(path)
        loaded = saving.load_model(path)
        assert loaded.get_config() == model.get_config()
        assert_same_weights(model, loaded)
        assert np.array_equal(model.predict(x), loaded.predict(x))

        other = build_stack(n_in, spec, dtype, seed + 1)
        model.save_weights(Path(tmp) / "w.snn")
        other.load_weights(Path(tmp) / "w.snn")
        assert_same_weights(model, other)
