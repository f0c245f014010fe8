"""scikit-learn estimators: every ``check_estimator`` check, and scikit-learn's tools end to end.

``parametrize_with_checks`` runs scikit-learn's whole battery of API checks over both estimators,
with a small network and few epochs so that it stays quick. Checks expected to fail would be
listed in :data:`EXPECTED_FAILED_CHECKS` with their reason (none are today). One check is skipped
by scikit-learn itself inside this process, ``check_array_api_input`` ("SCIPY_ARRAY_API is not
set": SciPy reads that variable once, at import); it runs in a fresh process with the variable set
(:func:`test_array_api_dispatch_check_in_a_process_with_scipy_array_api`).

Then: ``clone``, ``cross_val_score``, ``GridSearchCV`` over ``hidden_layer_sizes`` and
``learning_rate``, and a ``Pipeline`` with a ``ColumnTransformer`` on the churn table's mixed
columns (a pandas DataFrame of the packaged CSV), each end to end; string and integer labels,
multi-output regression, ``partial_fit``, early stopping, custom architectures, pickling and the
safe model file.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import scratchnn
from scratchnn import Sequential
from scratchnn.layers import Dense, Dropout
from scratchnn.sklearn import NeuralNetClassifier, NeuralNetRegressor

SMALL = {"hidden_layer_sizes": (16,), "epochs": 30, "learning_rate": 0.01, "batch_size": 32}
"""A network small enough for scikit-learn's checks to run in seconds; they still train it to
the accuracy and R² they ask for."""

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "NeuralNetClassifier": {},
    "NeuralNetRegressor": {},
}
"""check name -> reason, per estimator. Empty: every check passes."""


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS[type(estimator).__name__]


@parametrize_with_checks(
    [NeuralNetClassifier(**SMALL), NeuralNetRegressor(**SMALL)],
    expected_failed_checks=expected_failed_checks,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_array_api_dispatch_check_in_a_process_with_scipy_array_api():
    code = (
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        "from scratchnn.sklearn import NeuralNetClassifier, NeuralNetRegressor\n"
        f"for est in (NeuralNetClassifier(**{SMALL!r}), NeuralNetRegressor(**{SMALL!r})):\n"
        "    est.set_params(random_state=0)\n"
        "    check_array_api_input(type(est).__name__, est, array_namespace='numpy',\n"
        "                          expect_only_array_outputs=False)\n"
        "print('passed')\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "passed"


# --- data ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def blobs():
    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, n_classes=3,
                               random_state=0)  # fmt: skip
    return StandardScaler().fit_transform(X), y


# --- scikit-learn's tools -----------------------------------------------------------------------


def test_clone_copies_parameters_and_drops_what_was_learnt(blobs):
    X, y = blobs
    layers = [Dense(8, activation="tanh")]
    est = NeuralNetClassifier(model=layers, epochs=3, random_state=1).fit(X, y)
    twin = clone(est)
    assert twin.get_params().keys() == est.get_params().keys()
    assert twin.get_params()["epochs"] == 3 and twin.random_state == 1
    assert not hasattr(twin, "model_") and not hasattr(twin, "classes_")
    with pytest.raises(NotFittedError):
        twin.predict(X)
    assert not layers[0].built  # the layer given as a parameter is never trained itself


def test_cross_val_score_on_digits(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(
        hidden_layer_sizes=(32,), epochs=20, learning_rate=0.01, batch_size=64, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.85, scores


def test_grid_search_over_hidden_layer_sizes_and_learning_rate(blobs):
    X, y = blobs
    grid = GridSearchCV(
        NeuralNetClassifier(epochs=15, batch_size=32, random_state=0),
        {"hidden_layer_sizes": [(4,), (16, 8)], "learning_rate": [1e-4, 0.02]},
        cv=3,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    scores = dict(zip(map(str, grid.cv_results_["params"]), grid.cv_results_["mean_test_score"],
                      strict=True))  # fmt: skip
    assert grid.best_params_["learning_rate"] == 0.02  # 1e-4 barely moves in 15 epochs
    assert grid.best_score_ == max(scores.values()) > 0.7
    assert isinstance(grid.best_estimator_.model_, Sequential)
    assert grid.best_estimator_.hidden_layer_sizes == grid.best_params_["hidden_layer_sizes"]
    assert grid.score(X, y) > 0.8


@pytest.fixture(scope="module")
def churn_frame():
    pytest.importorskip("pandas", reason="the churn DataFrame needs pandas (test extra)")
    return scratchnn.datasets.load_churn(return_frame=True).frame


def test_pipeline_with_a_column_transformer_on_the_churn_csv(churn_frame):
    frame = churn_frame
    categorical = ["Geography", "Gender"]
    numeric = ["CreditScore", "Age", "Tenure", "Balance", "NumOfProducts", "HasCrCard",
               "IsActiveMember", "EstimatedSalary"]  # fmt: skip
    X = frame[categorical + numeric]  # mixed: strings and numbers, as in the CSV
    y = frame["Exited"].map({0: "stays", 1: "leaves"})
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0,
                                                        stratify=y)  # fmt: skip
    pipe = Pipeline([
        ("columns", ColumnTransformer([
            ("onehot", OneHotEncoder(drop="first"), categorical),
            ("scale", StandardScaler(), numeric),
        ])),
        ("net", NeuralNetClassifier(hidden_layer_sizes=(6, 6), epochs=15, batch_size=32,
                                    learning_rate=0.01, random_state=0)),
    ])  # fmt: skip
    pipe.fit(X_train, y_train)
    net = pipe.named_steps["net"]
    assert net.n_features_in_ == 11  # 2 + 1 dummies, 8 numbers
    assert net.classes_.tolist() == ["leaves", "stays"]
    accuracy = pipe.score(X_test, y_test)
    assert accuracy > 0.83  # the tutorial's network reaches about 0.86; always "stays" is 0.80
    assert set(pipe.predict(X_test.iloc[:50])) <= {"leaves", "stays"}
    assert pipe.predict_proba(X_test.iloc[:5]).shape == (5, 2)
    assert len(net.loss_curve_) == 15 and net.loss_curve_[-1] < net.loss_curve_[0]


def test_dataframes_give_feature_names_and_are_checked_by_name(churn_frame):
    numeric = ["CreditScore", "Age", "Balance", "EstimatedSalary"]
    X = churn_frame[numeric].iloc[:300]
    y = churn_frame["Exited"].iloc[:300]
    est = make_pipeline(StandardScaler(), NeuralNetClassifier(epochs=2, random_state=0))
    est.fit(X, y)
    net = NeuralNetClassifier(epochs=2, random_state=0).fit(X, y)
    assert net.feature_names_in_.tolist() == numeric
    with pytest.raises(ValueError, match="feature names"):
        net.predict(X[numeric[::-1]])  # same columns, another order


# --- labels and targets -------------------------------------------------------------------------


def test_string_labels_and_integer_labels_come_back_as_given(blobs):
    X, y = blobs
    names = np.array(["ant", "bee", "cat"])[y]
    est = NeuralNetClassifier(**SMALL, random_state=0).fit(X, names)
    assert est.classes_.tolist() == ["ant", "bee", "cat"]
    assert set(est.predict(X)) <= {"ant", "bee", "cat"}
    assert est.score(X, names) > 0.8
    sparse_ints = np.array([3, 7, 11])[y]
    est = NeuralNetClassifier(**SMALL, random_state=0).fit(X, sparse_ints)
    assert est.classes_.tolist() == [3, 7, 11]
    assert est.predict(X).dtype == sparse_ints.dtype
    proba = est.predict_proba(X)
    assert proba.shape == (300, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])


def test_binary_uses_one_sigmoid_unit_and_two_probability_columns(blobs):
    X, y = blobs
    yb = np.where(y == 0, "no", "yes")
    est = NeuralNetClassifier(**SMALL, random_state=0).fit(X, yb)
    assert est.model_.output_shape == (1,)
    assert est.model_.layers[-1].get_config()["activation"] == "sigmoid"
    proba = est.predict_proba(X)
    p_yes = est.model_.predict(X.astype(np.float32))[:, 0]
    np.testing.assert_allclose(proba[:, 1], p_yes, rtol=1e-6)
    np.testing.assert_allclose(proba[:, 0], 1 - p_yes, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), proba, rtol=1e-10)


def test_multi_output_regression_and_one_d_targets():
    X, Y = make_regression(n_samples=300, n_features=5, n_targets=3, noise=0.1, random_state=0)
    X = StandardScaler().fit_transform(X)
    Y = Y / Y.std(axis=0)
    reg = NeuralNetRegressor((32,), learning_rate=0.01, epochs=60, batch_size=32,
                             random_state=0).fit(X, Y)  # fmt: skip
    assert reg.n_outputs_ == 3 and reg.model_.output_shape == (3,)
    pred = reg.predict(X)
    assert pred.shape == (300, 3) and pred.dtype == np.float64
    assert reg.score(X, Y) > 0.95
    one = NeuralNetRegressor(**SMALL, random_state=0).fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,)
    column = NeuralNetRegressor(**SMALL, random_state=0).fit(X, Y[:, :1])
    assert column.predict(X).shape == (300, 1)  # a (N, 1) target predicts (N, 1)


def test_bad_targets_are_refused_with_reasons(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="one class only"):
        NeuralNetClassifier(**SMALL).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        NeuralNetClassifier(**SMALL).fit(X, np.linspace(0, 1, len(X)))  # continuous
    with pytest.raises(ValueError):
        NeuralNetClassifier(**SMALL).fit(X, np.eye(3)[y])  # multilabel indicator: not supported


# --- parameters ---------------------------------------------------------------------------------


def test_constructor_stores_parameters_as_given_and_fit_checks_them(blobs):
    X, y = blobs
    est = NeuralNetClassifier(hidden_layer_sizes=[0], epochs=-1, learning_rate="fast")
    assert est.hidden_layer_sizes == [0] and est.epochs == -1  # no validation in __init__
    with pytest.raises(ValueError, match="hidden layer size"):
        est.fit(X, y)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        NeuralNetClassifier(epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        NeuralNetClassifier(learning_rate=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        NeuralNetClassifier(optimizer="adamm", epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="validation_fraction"):
        NeuralNetClassifier(early_stopping=True, validation_fraction=1.5, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="random_state"):
        NeuralNetClassifier(random_state="seed", epochs=1).fit(X, y)
    with pytest.raises(TypeError, match="float32 or float64"):
        NeuralNetClassifier(dtype="int8", epochs=1).fit(X, y)


def test_architecture_and_optimizer_follow_the_parameters(blobs):
    X, y = blobs
    est = NeuralNetClassifier(hidden_layer_sizes=(7, 5), activation="tanh", optimizer="sgd",
                              learning_rate=0.05, epochs=1, dtype="float64").fit(X, y)  # fmt: skip
    units = [layer.units for layer in est.model_.layers]
    assert units == [7, 5, 3]
    assert [layer.get_config()["activation"] for layer in est.model_.layers] == [
        "tanh", "tanh", "softmax"]  # fmt: skip
    assert type(est.model_.optimizer).__name__ == "SGD"
    assert est.model_.optimizer.learning_rate == pytest.approx(0.05)
    assert est.model_.dtype == np.float64
    logistic = NeuralNetClassifier(hidden_layer_sizes=(), epochs=1).fit(X, y)
    assert [layer.units for layer in logistic.model_.layers] == [3]


def test_random_state_makes_fits_repeatable(blobs):
    X, y = blobs
    a = NeuralNetClassifier(**SMALL, random_state=3).fit(X, y).predict_proba(X)
    b = NeuralNetClassifier(**SMALL, random_state=3).fit(X, y).predict_proba(X)
    c = NeuralNetClassifier(**SMALL, random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    rs = np.random.RandomState(0)
    d = NeuralNetClassifier(**SMALL, random_state=rs).fit(X, y).predict_proba(X)
    e = NeuralNetClassifier(**SMALL, random_state=np.random.RandomState(0)).fit(X, y)
    np.testing.assert_array_equal(d, e.predict_proba(X))


def test_training_stops_on_a_loss_plateau_as_mlp_does(blobs):
    X, y = blobs
    est = NeuralNetClassifier(epochs=500, tol=10.0, n_iter_no_change=3, random_state=0)
    est.fit(X, y)  # no epoch improves the loss by 10: stop after 1 + 3 epochs
    assert est.n_iter_ == 4 == len(est.loss_curve_)
    full = NeuralNetClassifier(epochs=12, tol=0.0, n_iter_no_change=100, random_state=0)
    assert full.fit(X, y).n_iter_ == 12


def test_early_stopping_holds_out_rows_and_keeps_the_best_epoch(blobs):
    X, y = blobs
    est = NeuralNetClassifier(hidden_layer_sizes=(64,), epochs=300, learning_rate=0.05,
                              early_stopping=True, validation_fraction=0.2, n_iter_no_change=5,
                              random_state=0).fit(X, y)  # fmt: skip
    val = est.history_["val_loss"]
    assert len(val) == est.n_iter_ == len(est.loss_curve_) < 300
    best = int(np.argmin(val))
    assert est.n_iter_ - 1 - best >= 5  # stopped after 5 epochs without improvement
    # The held-out rows are a stratified split seeded by random_state; the weights kept are the
    # best epoch's: their loss on those rows is the smallest val_loss.
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    assert est.model_.evaluate(X_val, y_val) == pytest.approx(min(val), rel=1e-5)
    assert est.model_.evaluate(X_val, y_val) < val[-1]
    with pytest.raises(ValueError, match="leaves 2 for validation and 0 for training"):
        NeuralNetClassifier(early_stopping=True, validation_fraction=0.9).fit(
            X[:2], np.array([0, 1]))  # fmt: skip


def test_partial_fit_continues_training_one_epoch_per_call(blobs):
    X, y = blobs
    est = NeuralNetClassifier(**SMALL, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X[:50], y[:50])
    est.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    weights = est.model_.get_weights()
    for _ in range(9):
        est.partial_fit(X, y)
    assert est.n_iter_ == 10 == len(est.loss_curve_)
    assert est.loss_curve_[-1] < est.loss_curve_[1]
    assert not np.array_equal(weights[0], est.model_.get_weights()[0])  # the same network, on
    with pytest.raises(ValueError, match="not in classes_"):
        est.partial_fit(X[:5], np.array([0, 1, 5, 1, 0]))
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :3], y)
    reg = NeuralNetRegressor(**SMALL, random_state=0)
    target = X[:, 0] - X[:, 1]
    reg.partial_fit(X, target)
    first = reg.loss_curve_[0]
    for _ in range(5):
        reg.partial_fit(X, target)
    assert reg.n_iter_ == 6 and reg.loss_curve_[-1] < first


def test_model_parameter_takes_layer_configs_layers_or_a_builder(blobs):
    X, y = blobs
    configs = [{"class_name": "Dense", "config": {"units": 12, "activation": "elu"}},
               {"class_name": "Dropout", "config": {"rate": 0.1}}]  # fmt: skip
    est = NeuralNetClassifier(model=configs, epochs=2, random_state=0).fit(X, y)
    assert [type(layer).__name__ for layer in est.model_.layers] == ["Dense", "Dropout", "Dense"]
    assert configs[0]["config"] == {"units": 12, "activation": "elu"}  # not consumed

    est = NeuralNetClassifier(model=[Dense(9, activation="relu"), Dropout(0.2)], epochs=2).fit(
        X, y)  # fmt: skip
    assert est.model_.layers[0].units == 9

    def builder(n_features_in, n_outputs):
        return Sequential([Dense(10, activation="tanh", input_dim=n_features_in),
                           Dense(n_outputs, activation="softmax")], seed=0)  # fmt: skip

    est = NeuralNetClassifier(model=builder, epochs=10, learning_rate=0.02, batch_size=32)
    est.fit(X, y)
    assert est.model_.layers[0].units == 10 and est.score(X, y) > 0.8

    def two_softmax_units(n_features_in, n_outputs):
        return Sequential([Dense(2, activation="softmax", input_dim=n_features_in)])

    binary = NeuralNetClassifier(model=two_softmax_units, epochs=3).fit(X, y == 0)
    assert binary.predict_proba(X).shape == (300, 2)

    def wrong(n_features_in, n_outputs):
        return Sequential([Dense(5, activation="softmax", input_dim=n_features_in)])

    with pytest.raises(ValueError, match=r"gives outputs \(5,\).*\(K,\) with a softmax"):
        NeuralNetClassifier(model=wrong, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"model\[0\] must be a Layer or a dict"):
        NeuralNetClassifier(model=[{"class_name": "Conv9D"}], epochs=1).fit(X, y)


# --- storing ------------------------------------------------------------------------------------


def test_pickling_the_fitted_estimator_keeps_its_predictions(blobs):
    X, y = blobs
    est = NeuralNetClassifier(**SMALL, random_state=0).fit(X, np.array(["a", "b", "c"])[y])
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    assert again.classes_.tolist() == ["a", "b", "c"]
    again.partial_fit(X, np.array(["a", "b", "c"])[y])  # and it can train on
    assert again.n_iter_ == est.n_iter_ + 1


def test_the_network_saved_as_a_safe_file_rebuilds_a_fitted_estimator(blobs, tmp_path):
    X, y = blobs
    labels = np.array(["ant", "bee", "cat"])[y]
    est = NeuralNetClassifier(**SMALL, random_state=0).fit(X, labels)
    path = tmp_path / "net.snn"
    est.model_.save(path)
    with open(path, "rb") as fh:
        assert not fh.read(2).startswith(b"\x80")  # not a pickle
    again = NeuralNetClassifier.from_model(path, classes=est.classes_, feature_names=None)
    np.testing.assert_allclose(again.predict_proba(X), est.predict_proba(X), rtol=1e-6)
    assert again.predict(X).tolist() == est.predict(X).tolist()
    assert again.n_features_in_ == 6 and again.score(X, labels) == est.score(X, labels)
    again.partial_fit(X, labels)  # a compiled model file trains on
    assert again.n_iter_ == 1
    with pytest.raises(ValueError, match="classes has 2 labels"):
        NeuralNetClassifier.from_model(path, classes=["x", "y"])
    default = NeuralNetClassifier.from_model(est.model_)
    assert default.classes_.tolist() == [0, 1, 2]

    reg = NeuralNetRegressor(**SMALL, random_state=0).fit(X, X[:, 0])
    reg.model_.save(tmp_path / "reg.snn")
    back = NeuralNetRegressor.from_model(tmp_path / "reg.snn")
    np.testing.assert_allclose(back.predict(X), reg.predict(X), rtol=1e-6)
    assert back.predict(X).shape == (300,)


def test_the_estimators_are_reachable_from_the_package():
    assert scratchnn.sklearn.NeuralNetClassifier is NeuralNetClassifier
