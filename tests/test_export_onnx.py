"""ONNX export, checked by running the files: onnxruntime's outputs against ``model.predict``.

Every supported layer and every activation of the registry, random models drawn by hypothesis,
several batch sizes through one file (the batch dimension is dynamic), ``onnx.checker`` on what
was written, the scaler and class labels of the CLI's ``preprocess.json``, and the errors.
The CLI end to end (``scratchnn train`` -> ``export`` -> onnxruntime vs ``scratchnn predict``)
runs in real processes on a CSV file.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scratchnn import Sequential, activations
from scratchnn.export import (
    ACTIVATION_CONVERTERS,
    IR_VERSION,
    LAYER_CONVERTERS,
    OPSET,
    register_layer,
    to_onnx,
)
from scratchnn.layers import LAYERS, Activation, Dense, Dropout, Flatten, Input, Layer

onnx = pytest.importorskip("onnx", reason="ONNX export tests need onnx (the 'onnx' extra)")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests run files with onnxruntime")

ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
BATCH_SIZES = (1, 3, 17)
TOL = {"rtol": 1e-5, "atol": 1e-5}


def session(proto_or_path):
    """An onnxruntime session on one CPU thread (the machine is shared)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    source = proto_or_path.SerializeToString() if hasattr(proto_or_path, "graph") else str(
        proto_or_path
    )
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def assert_runs_like_predict(model, proto, rng, sample_shape, scale=2.0):
    run = session(proto)
    for n in BATCH_SIZES:
        x = (rng.normal(size=(n, *sample_shape)) * scale).astype(model.dtype)
        (got,) = run.run(["output"], {"input": x})
        assert got.shape == (n, *model.output_shape)
        assert got.dtype == model.dtype
        np.testing.assert_allclose(got, model.predict(x), **TOL)


# --- every layer and activation -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_every_activation_in_dense_and_activation_layers_matches_predict(name, tmp_path):
    model = Sequential(
        [Dense(7, activation=name, input_dim=5), Activation(name), Dense(3, activation=name)],
        seed=len(name),
    )
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx")
    onnx.checker.check_model(str(path), full_check=True)
    assert_runs_like_predict(model, path, np.random.default_rng(0), (5,))


def test_every_registered_activation_and_core_layer_has_a_converter():
    assert set(activations.ACTIVATIONS) <= set(ACTIVATION_CONVERTERS)
    core = {LAYERS[name] for name in ("Activation", "Dense", "Dropout", "Flatten", "Input")}
    assert core <= set(LAYER_CONVERTERS)


def test_flatten_input_dropout_and_a_bias_free_dense_match_predict():
    model = Sequential(
        [Input((4, 3)), Flatten(), Dense(6, activation="relu", use_bias=False), Dropout(0.5),
         Dense(2, activation="softmax")],
        seed=2,
    )  # fmt: skip
    proto = to_onnx(model)
    assert_runs_like_predict(model, proto, np.random.default_rng(1), (4, 3))


def test_dense_on_rank_3_inputs_acts_on_the_last_axis_like_predict():
    model = Sequential([Input((5, 4)), Dense(3, activation="tanh"), Flatten(), Dense(1)], seed=3)
    assert_runs_like_predict(model, to_onnx(model), np.random.default_rng(2), (5, 4))


LAYER_KINDS = ("dense", "activation", "dropout")


@st.composite
def random_models(draw):
    """A Sequential of 1-5 layers drawn from every supported kind and activation."""
    names = sorted(activations.ACTIVATIONS)
    dims = draw(st.integers(1, 6))
    layers: list[Layer] = []
    if draw(st.booleans()):  # a 2-D sample flattened first
        rows = draw(st.integers(1, 3))
        layers += [Input((rows, dims)), Flatten()]
        sample = (rows, dims)
    else:
        layers.append(Input((dims,)))
        sample = (dims,)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(LAYER_KINDS))
        if kind == "dense":
            layers.append(
                Dense(draw(st.integers(1, 8)), activation=draw(st.sampled_from(names)),
                      use_bias=draw(st.booleans()))
            )  # fmt: skip
        elif kind == "activation":
            layers.append(Activation(draw(st.sampled_from(names))))
        else:
            layers.append(Dropout(draw(st.floats(0.0, 0.9))))
    layers.append(Dense(draw(st.integers(1, 4)), activation=draw(st.sampled_from(names))))
    return Sequential(layers, seed=draw(st.integers(0, 2**16))), sample


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_models(), st.integers(0, 2**16))
def test_random_models_run_in_onnxruntime_like_predict(drawn, seed):
    model, sample = drawn
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    assert_runs_like_predict(model, proto, np.random.default_rng(seed), sample, scale=1.5)


FLOAT64_IN_ONNXRUNTIME = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "gelu_tanh",
                          "swish", "softmax", "log_softmax")  # fmt: skip
"""onnxruntime's CPU kernels of Elu, Selu, Erf (GELU) and Softplus are float32 only: float64
graphs using them are valid ONNX (the checker passes) but onnxruntime cannot run them."""


@pytest.mark.parametrize("name", sorted(activations.ACTIVATIONS))
def test_float64_models_export_as_float64_graphs(name):
    model = Sequential([Dense(4, activation=name, input_dim=3), Dense(2)], dtype="float64", seed=5)
    proto = to_onnx(model)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    if name in FLOAT64_IN_ONNXRUNTIME:
        assert_runs_like_predict(model, proto, np.random.default_rng(3), (3,))


# --- the file -----------------------------------------------------------------------------------


def test_the_file_states_its_opset_dynamic_batch_and_names(tmp_path):
    model = Sequential([Dense(3, activation="relu", input_dim=11), Dense(1, "sigmoid")], seed=0)
    path = tmp_path / "churn.onnx"
    model.export(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", OPSET)]
    assert proto.ir_version == IR_VERSION and proto.producer_name == "scratchnn"
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "input" and out.name == "output"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 11]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["N", 1]
    props = {p.key: p.value for p in proto.metadata_props}
    assert '"Dense"' in props["scratchnn_model_config"]


def test_export_writes_atomically_and_a_failed_export_leaves_the_old_file(tmp_path):
    path = tmp_path / "m.onnx"
    good = Sequential([Dense(2, input_dim=2)], seed=0)
    to_onnx(good, path)
    before = path.read_bytes()
    bad = Sequential([Dense(2, input_dim=2), Dense(2, activation=lambda t: t)], seed=0)
    with pytest.raises(ValueError, match="activation"):
        to_onnx(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left
    with pytest.raises(FileNotFoundError, match="does not exist"):
        to_onnx(good, tmp_path / "missing" / "m.onnx")


# --- errors -------------------------------------------------------------------------------------


class Scale(Layer):
    """A layer with no converter: y = 2 x."""

    def call(self, x, training=False):
        return x * 2.0


def test_an_unsupported_layer_is_a_value_error_naming_it():
    model = Sequential([Dense(3, input_dim=2), Scale(name="doubler")])
    with pytest.raises(ValueError, match=r"'doubler' \(Scale\).*Supported layers: Activation"):
        to_onnx(model)


def test_a_sequential_nested_as_a_layer_exports_as_its_layers():
    inner = Sequential([Dense(5, activation="tanh"), Dense(4, activation="gelu")], name="block")
    model = Sequential([Input((3,)), inner, Dense(2, activation="softmax")], seed=4)
    assert_runs_like_predict(model, to_onnx(model), np.random.default_rng(6), (3,))


def test_models_that_are_not_a_plain_chain_of_layers_are_refused_by_kind():
    from scratchnn import Model

    a = Input((3,), name="a")
    functional = Model(inputs=a, outputs=Dense(2)(Dense(4, activation="relu")(a)), seed=0)
    with pytest.raises(ValueError, match=r"Functional model .* converts Sequential models"):
        to_onnx(functional)

    class Doubled(Sequential):
        def call(self, x, training=False, mask=None):
            return super().call(x, training=training) * 2.0

    with pytest.raises(ValueError, match="Doubled model"):
        to_onnx(Doubled([Dense(2, input_dim=3)]))


def test_a_subclass_of_a_supported_layer_needs_its_own_converter():
    class MyDense(Dense):
        pass

    with pytest.raises(ValueError, match="MyDense"):
        to_onnx(Sequential([MyDense(2, input_dim=2)]))


def test_a_registered_converter_exports_a_new_layer(tmp_path):
    @register_layer(Scale)
    def _scale(g, layer, x):
        return g.node("Mul", [x, g.constant(2.0)], hint=layer.name)

    try:
        model = Sequential([Dense(3, input_dim=2), Scale()], seed=0)
        assert_runs_like_predict(model, to_onnx(model), np.random.default_rng(0), (2,))
    finally:
        del LAYER_CONVERTERS[Scale]


def test_custom_activation_functions_are_refused_by_name():
    def my_act(t):
        return t

    with pytest.raises(ValueError, match=r"activation 'my_act' of layer 'dense_x'"):
        to_onnx(Sequential([Dense(2, activation=my_act, input_dim=2, name="dense_x")]))


def test_an_unbuilt_model_and_an_unknown_format_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        to_onnx(Sequential([Dense(2)]))
    with pytest.raises(ValueError, match=r"Unknown export format 'tflite'.*onnx"):
        Sequential([Dense(2, input_dim=2)]).export(tmp_path / "m.tflite", format="tflite")


def test_without_onnx_installed_export_names_the_extra(tmp_path):
    code = (
        "import sys; sys.modules['onnx'] = None\n"  # as if onnx were not installed
        "from scratchnn import Sequential\n"
        "from scratchnn.layers import Dense\n"
        "m = Sequential([Dense(1, input_dim=2)])\n"
        "try:\n"
        "    m.export('m.onnx')\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    assert "pip install 'scratchnn[onnx]'" in done.stdout
    assert not (tmp_path / "m.onnx").exists()


# --- preprocessing and labels -------------------------------------------------------------------


def test_a_standard_scaler_runs_inside_the_graph_on_raw_rows():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(4)
    raw = rng.normal(loc=[50.0, -3.0, 1e4], scale=[10.0, 0.5, 3e3], size=(40, 3))
    scaler = StandardScaler().fit(raw)
    model = Sequential([Dense(5, "tanh", input_dim=3), Dense(3, "softmax")], seed=1)
    for form in (scaler, (scaler.mean_, scaler.scale_)):
        run = session(to_onnx(model, scaler=form))
        (got,) = run.run(["output"], {"input": raw.astype(np.float32)})
        np.testing.assert_allclose(got, model.predict(scaler.transform(raw)), **TOL)


def test_a_scaler_before_a_multi_axis_input_reshapes_after_scaling():
    model = Sequential([Input((2, 3)), Flatten(), Dense(2)], seed=0)
    mean, scale = np.arange(6.0), np.arange(1.0, 7.0)
    run = session(to_onnx(model, scaler=(mean, scale)))
    raw = np.random.default_rng(0).normal(size=(5, 6)) * 4
    (got,) = run.run(["output"], {"input": raw.astype(np.float32)})
    expected = model.predict(((raw - mean) / scale).reshape(5, 2, 3))
    np.testing.assert_allclose(got, expected, **TOL)


def test_a_scaler_of_the_wrong_length_is_refused():
    model = Sequential([Dense(2, input_dim=3)])
    with pytest.raises(ValueError, match="2 means and 2 scales; the model takes 3"):
        to_onnx(model, scaler=(np.zeros(2), np.ones(2)))
    with pytest.raises(ValueError, match="scale non-zero"):
        to_onnx(model, scaler=(np.zeros(3), np.zeros(3)))


@pytest.mark.parametrize(
    ("classes", "dtype"),
    [([3, 7, 9], np.int64), ([0.5, 1.5, 2.5], np.float64), (["cat", "dog", "emu"], object)],
)
def test_class_labels_are_the_argmax_of_the_output(classes, dtype):
    model = Sequential([Dense(3, "softmax", input_dim=4)], seed=6)
    run = session(to_onnx(model, classes=classes))
    x = np.random.default_rng(5).normal(size=(30, 4)).astype(np.float32) * 3
    _, labels = run.run(None, {"input": x})
    assert labels.dtype == dtype
    expected = np.asarray(classes, dtype=dtype)[model.predict(x).argmax(axis=1)]
    assert labels.tolist() == expected.tolist()
    assert len(set(labels.tolist())) > 1  # the test sees more than one class


def test_binary_labels_threshold_the_sigmoid_at_one_half_as_predict_does():
    model = Sequential([Dense(1, "sigmoid", input_dim=1, use_bias=False)], seed=0)
    model.set_weights([np.array([[1.0]])])  # p = sigmoid(x): exactly 0.5 at x = 0
    run = session(to_onnx(model, classes=["stay", "leave"]))
    x = np.array([[-2.0], [0.0], [1e-3], [3.0]], dtype=np.float32)
    _, labels = run.run(None, {"input": x})
    assert labels.tolist() == ["stay", "stay", "leave", "leave"]  # a tie goes to class 0


def test_classes_that_do_not_fit_the_output_are_refused():
    with pytest.raises(ValueError, match="classes has 2 labels"):
        to_onnx(Sequential([Dense(3, "softmax", input_dim=2)]), classes=[0, 1])


# --- the CLI end to end -------------------------------------------------------------------------


def cli(*args, cwd):
    done = subprocess.run(
        [sys.executable, "-m", "scratchnn.cli", *map(str, args)], cwd=cwd, capture_output=True,
        text=True, timeout=300, env={**os.environ, **ONE_THREAD},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def read_rows(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_cli_trained_model_exported_with_its_scaler_gives_the_cli_predictions(task, tmp_path):
    rng = np.random.default_rng(7)
    n = 120
    X = np.column_stack([rng.normal(600, 90, n), rng.normal(40, 10, n), rng.normal(7e4, 3e4, n)])
    z = (X[:, 0] - 600) / 90 + (X[:, 2] - 7e4) / 3e4
    y = {
        "binary": (z > 0).astype(int) * 5 + 2,  # labels 2 and 7, not 0/1
        "multiclass": np.digitize(z, [-0.7, 0.7]) + 1,
        "regression": z * 3.5 + 10,
    }[task]
    data = tmp_path / "data.csv"
    with open(data, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["score", "age", "salary", "target"])
        writer.writerows([[*map(repr, row), repr(t)] for row, t in zip(X.tolist(), y.tolist(),
                                                                         strict=True)])
    cli("train", data, "--epochs", "15", "--layers", "6", "--quiet", "--runs-dir",
        tmp_path / "runs", "--out", tmp_path / "run", cwd=tmp_path)  # fmt: skip
    done = cli("export", tmp_path / "run" / "model.snn", tmp_path / "m.onnx", cwd=tmp_path)
    assert "with the scaler of preprocess.json" in done.stderr

    _, rows = read_rows(data)
    raw = np.array([[float(v) for v in row[:3]] for row in rows], dtype=np.float32)  # raw rows
    outputs = session(tmp_path / "m.onnx").run(None, {"input": raw})
    cli("predict", tmp_path / "run" / "model.snn", data, "-o", tmp_path / "pred.csv", cwd=tmp_path)
    _, predicted = read_rows(tmp_path / "pred.csv")
    if task == "regression":
        assert len(outputs) == 1  # no label output
        expected = np.array([float(r[0]) for r in predicted])
        np.testing.assert_allclose(outputs[0][:, 0], expected, **TOL)
        return
    labels = outputs[1].tolist()
    assert labels == [int(r[0]) for r in predicted]
    assert len(set(labels)) > 1
    cli("predict", tmp_path / "run" / "model.snn", data, "--proba", "-o", tmp_path / "p.csv",
        cwd=tmp_path)  # fmt: skip
    _, proba = read_rows(tmp_path / "p.csv")
    expected = np.array([[float(v) for v in r] for r in proba])
    probs = outputs[0] if task == "multiclass" else np.hstack([1 - outputs[0], outputs[0]])
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-5)  # CSV keeps 6 digits


def test_cli_export_without_preprocessing_and_its_errors(tmp_path):
    model = Sequential([Dense(2, "softmax", input_dim=3)], seed=0)
    model.save(tmp_path / "m.snn")
    done = cli("export", tmp_path / "m.snn", tmp_path / "m.onnx", cwd=tmp_path)
    assert "input input (N, 3); outputs output (N, 2)" in done.stderr
    x = np.ones((2, 3), dtype=np.float32)
    (got,) = session(tmp_path / "m.onnx").run(["output"], {"input": x})
    np.testing.assert_allclose(got, model.predict(x), **TOL)
    bad = subprocess.run(
        [sys.executable, "-m", "scratchnn.cli", "export", tmp_path / "none.snn", "o.onnx"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: No such model file")
    assert not Path(tmp_path / "o.onnx").exists()
