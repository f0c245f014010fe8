"""Tests for scratchnn.datasets: synthetic sets, loaders, preparation helpers, registry."""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import importlib.util
import inspect
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_moons
from sklearn.preprocessing import LabelEncoder, OneHotEncoder

from scratchnn import datasets
from scratchnn.datasets import mnist as mnist_module

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
MNIST_NPZ = SHARED / "mnist.npz"
PACKAGE_DIR = Path(datasets.__file__).resolve().parent
CHURN_SHA256 = "3996cd1fa372e0db0cd9c0ebac35bbd4e8e3c65fb942bb010c826e7b1eeef0a0"

CLASSIFIERS = {
    "moons": datasets.moons,
    "circles": datasets.circles,
    "xor": datasets.xor,
    "blobs": datasets.blobs,
    "spiral": datasets.spiral,
}
ALL_SYNTHETIC = {**CLASSIFIERS, "plane": datasets.regression_plane}
# Generators whose classes get exactly N // 2 and N - N // 2 points (at noise 0 for circles).
BALANCED = ["moons", "circles", "blobs", "spiral"]


# --------------------------------------------------------------------------- synthetic: contract


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
@pytest.mark.parametrize("n", [1, 2, 101, 500])
def test_classifier_shapes_and_dtypes(name: str, n: int) -> None:
    X, y = CLASSIFIERS[name](n, noise=0.1, seed=0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert set(np.unique(y).tolist()) <= {0, 1}
    assert np.isfinite(X).all()


@pytest.mark.parametrize("name", BALANCED)
@pytest.mark.parametrize("n", [2, 7, 100, 301])
def test_class_balance_is_exact(name: str, n: int) -> None:
    _, y = CLASSIFIERS[name](n, noise=0.0, seed=1)
    counts = np.bincount(y, minlength=2)
    assert sorted(counts.tolist()) == [n // 2, n - n // 2]


def test_xor_is_balanced_on_average() -> None:
    _, y = datasets.xor(4000, noise=0.0, seed=0)
    assert 0.45 < y.mean() < 0.55


@pytest.mark.parametrize("name", sorted(ALL_SYNTHETIC))
def test_same_seed_same_data_different_seed_different_data(name: str) -> None:
    make = ALL_SYNTHETIC[name]
    X1, y1 = make(200, noise=0.1, seed=7)
    X2, y2 = make(200, noise=0.1, seed=7)
    X3, _ = make(200, noise=0.1, seed=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("name", sorted(ALL_SYNTHETIC))
def test_generator_seed_is_used_as_is_and_global_state_untouched(name: str) -> None:
    make = ALL_SYNTHETIC[name]
    state = np.random.get_state()  # noqa: NPY002 (checking the legacy global state is untouched)
    X_int, y_int = make(50, noise=0.2, seed=3)
    X_gen, y_gen = make(50, noise=0.2, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(X_int, X_gen)
    np.testing.assert_array_equal(y_int, y_gen)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


@pytest.mark.parametrize("name", sorted(ALL_SYNTHETIC))
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10", None])
def test_bad_n_samples_is_named(name: str, bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"n_samples=") as info:
        ALL_SYNTHETIC[name](bad, noise=0.1, seed=0)
    assert repr(bad) in str(info.value) or str(bad) in str(info.value)


@pytest.mark.parametrize("name", sorted(ALL_SYNTHETIC))
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "0.1", None])
def test_bad_noise_is_named(name: str, bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"noise=") as info:
        ALL_SYNTHETIC[name](10, noise=bad, seed=0)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize("bad", [-1, 1.5, "0"])
def test_bad_seed_is_named(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"seed="):
        datasets.xor(10, seed=bad)


# --------------------------------------------------------------------------- synthetic: geometry


def test_moons_noise_free_points_lie_on_the_two_half_circles() -> None:
    X, y = datasets.moons(301, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_moons_noise_free_matches_sklearn_up_to_order() -> None:
    ours, y_ours = datasets.moons(123, noise=0.0, seed=0)
    ref, y_ref = make_moons(123, noise=0.0, random_state=0)
    a = np.lexsort((ours[:, 1], ours[:, 0]))
    b = np.lexsort((ref[:, 1], ref[:, 0]))
    np.testing.assert_allclose(ours[a], ref[b], atol=1e-12)
    np.testing.assert_array_equal(y_ours[a], y_ref[b])


def test_moons_noise_is_gaussian_with_the_given_std() -> None:
    clean, y0 = datasets.moons(20000, noise=0.0, seed=0, shuffle=False)
    noisy, y1 = datasets.moons(20000, noise=0.2, seed=0, shuffle=False)
    np.testing.assert_array_equal(y0, y1)
    residual = noisy - clean
    assert abs(residual.mean()) < 0.01
    assert abs(residual.std() - 0.2) < 0.01


@pytest.mark.parametrize("noise", [0.0, 0.25])
def test_moons_sklearn_source_reproduces_make_moons(noise: float) -> None:
    X, y = datasets.moons(200, noise=noise, seed=5, source="sklearn")
    X_ref, y_ref = make_moons(200, noise=noise, random_state=5)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_moons_source_errors() -> None:
    with pytest.raises(ValueError, match=r"source='torch'"):
        datasets.moons(10, source="torch")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"int or None"):
        datasets.moons(10, seed=np.random.default_rng(0), source="sklearn")


def test_circles_noise_free_radii() -> None:
    X, y = datasets.circles(1000, noise=0.0, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert (r[y == 1] < 2.5).all()
    assert ((r[y == 0] >= 3.5) & (r[y == 0] <= 5.0)).all()


def test_circles_noise_flips_labels_but_keeps_points_in_their_bands() -> None:
    X, y = datasets.circles(2000, noise=0.5, seed=0, shuffle=False)
    r = np.hypot(X[:, 0], X[:, 1])
    disc = np.arange(2000) < 1000  # unshuffled: the disc's points first
    assert (r[disc] < 2.5).all() and (r[~disc] >= 3.5).all()
    wrong = (y == 1) != disc
    assert 0 < wrong.mean() < 0.5


def test_xor_noise_free_quadrants_and_padding() -> None:
    X, y = datasets.xor(2000, noise=0.0, seed=0)
    assert ((np.abs(X) >= 0.3) & (np.abs(X) <= 5.3)).all()
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(np.int64))


def test_xor_noise_flips_some_labels() -> None:
    X, y = datasets.xor(2000, noise=0.5, seed=0)
    quadrant = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    assert 0 < (y != quadrant).mean() < 0.5


@pytest.mark.parametrize(("noise", "variance"), [(0.0, 0.5), (0.5, 4.0)])
def test_blobs_playground_centres_and_variance(noise: float, variance: float) -> None:
    X, y = datasets.blobs(20000, noise=noise, seed=0)
    np.testing.assert_allclose(X[y == 0].mean(axis=0), [-2.0, -2.0], atol=0.1)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [2.0, 2.0], atol=0.1)
    for k in (0, 1):
        np.testing.assert_allclose(X[y == k].var(axis=0), variance, rtol=0.05)


def test_blobs_more_classes_and_explicit_centres() -> None:
    X, y = datasets.blobs(301, seed=0, n_classes=3)
    assert np.bincount(y).tolist() == [101, 100, 100]
    assert datasets.blobs(30, seed=0, centers=3)[1].max() == 2
    centres = np.array([[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0], [0.0, -10.0]])
    X, y = datasets.blobs(4000, seed=0, centers=centres)
    for k in range(4):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centres[k], atol=0.1)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n_classes": 0}, r"n_classes"),
        ({"centers": [[0.0, 0.0, 0.0]]}, r"shape \(K, 2\)"),
        ({"centers": [[0.0, 0.0]], "n_classes": 2}, r"does not match"),
        ({"centers": 3, "n_classes": 2}, r"disagree"),
        ({"centers": [[0.0, np.nan]]}, r"finite"),
    ],
)
def test_blobs_bad_centres(kwargs: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        datasets.blobs(10, seed=0, **kwargs)


def test_spiral_noise_free_geometry() -> None:
    n = 400
    X, y = datasets.spiral(n, noise=0.0, seed=0, shuffle=False)
    arm1, arm0 = X[y == 1], X[y == 0]
    np.testing.assert_allclose(arm0, -arm1, atol=1e-12)  # delta = pi: reflection
    i = np.arange(n // 2)
    np.testing.assert_allclose(np.hypot(arm1[:, 0], arm1[:, 1]), 5.0 * i / (n // 2))
    t = 1.75 * 2 * np.pi * i / (n // 2)
    np.testing.assert_allclose(arm1, np.stack([5.0 * i / (n // 2) * np.sin(t),
                                               5.0 * i / (n // 2) * np.cos(t)], axis=1))


def test_spiral_noise_is_bounded_uniform() -> None:
    clean, _ = datasets.spiral(1000, noise=0.0, seed=0, shuffle=False)
    noisy, _ = datasets.spiral(1000, noise=0.3, seed=0, shuffle=False)
    offset = noisy - clean
    assert np.abs(offset).max() <= 0.3 and np.abs(offset).max() > 0.25


def test_regression_plane() -> None:
    X, y = datasets.regression_plane(1000, noise=0.0, seed=0)
    assert X.shape == (1000, 2) and y.shape == (1000,) and y.dtype == np.float64
    assert (np.abs(X) <= 6.0).all()
    np.testing.assert_allclose(y, X.sum(axis=1) / 10.0)
    Xn, yn = datasets.regression_plane(5000, noise=0.5, seed=0)
    residual = yn - Xn.sum(axis=1) / 10.0
    assert residual.std() > 0.1 and abs(residual.mean()) < 0.05


# --------------------------------------------------------------------------- digits


def test_load_digits() -> None:
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16 and np.array_equal(X, np.round(X))
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


# --------------------------------------------------------------------------- churn


@pytest.fixture(scope="module")
def churn() -> datasets.ChurnData:
    return datasets.load_churn()


def _packaged_csv_bytes() -> bytes:
    return (resources.files("scratchnn.datasets") / "data" / "churn_modelling.csv").read_bytes()


def test_packaged_churn_csv_hash_and_origin() -> None:
    data = _packaged_csv_bytes()
    assert len(data) == 684858
    assert hashlib.sha256(data).hexdigest() == CHURN_SHA256 == datasets.CHURN_SHA256
    origin = (PACKAGE_DIR / "data" / "ORIGIN.md").read_text(encoding="utf-8")
    assert CHURN_SHA256 in origin and "23f9b04cd905f9fc14907236bafa793d445c0087" in origin
    if (SHARED / "churn_modelling.csv").exists():
        assert (SHARED / "churn_modelling.csv").read_bytes() == data


def test_churn_shapes_and_counts(churn: datasets.ChurnData) -> None:
    assert churn.X.shape == (10000, 11) and churn.X.dtype == np.float64
    assert churn.y.shape == (10000,) and churn.y.dtype == np.int64
    assert np.bincount(churn.y).tolist() == [7963, 2037]
    geo = [row["Geography"] for row in churn.raw]
    assert (geo.count("France"), geo.count("Germany"), geo.count("Spain")) == (5014, 2509, 2477)
    dummies = churn.X[:, :2]
    assert dummies.sum(axis=0).tolist() == [2509.0, 2477.0]
    assert int((dummies.sum(axis=1) == 0).sum()) == 5014  # France: the dropped dummy
    assert len(churn.raw) == 10000 and tuple(churn.raw[0]) == datasets.CHURN_COLUMNS


def test_churn_feature_order(churn: datasets.ChurnData) -> None:
    assert churn.feature_names == (
        "Geography_Germany", "Geography_Spain", "CreditScore", "Gender", "Age", "Tenure",
        "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
    )
    assert churn.encoders.geography.classes_.tolist() == ["France", "Germany", "Spain"]
    assert churn.encoders.gender.classes_.tolist() == ["Female", "Male"]


def test_churn_row_one_against_the_raw_csv(churn: datasets.ChurnData) -> None:
    lines = _packaged_csv_bytes().decode("ascii").split("\r\n")
    header, first = lines[0].split(","), lines[1].split(",")
    row = dict(zip(header, first, strict=True))
    assert first[:3] == ["1", "15634602", "Hargrave"]
    expected = [
        float(row["Geography"] == "Germany"), float(row["Geography"] == "Spain"),
        float(row["CreditScore"]), float(row["Gender"] == "Male"), float(row["Age"]),
        float(row["Tenure"]), float(row["Balance"]), float(row["NumOfProducts"]),
        float(row["HasCrCard"]), float(row["IsActiveMember"]), float(row["EstimatedSalary"]),
    ]
    assert expected == [0, 0, 619, 0, 42, 2, 0, 1, 1, 1, 101348.88]
    assert churn.X[0].tolist() == expected
    assert churn.y[0] == int(row["Exited"]) == 1


def test_churn_matches_the_tutorial_pipeline(churn: datasets.ChurnData) -> None:
    """Seed 004's steps, redone independently with today's scikit-learn."""
    with (PACKAGE_DIR / "data" / "churn_modelling.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    X = np.array([r[3:13] for r in rows], dtype=object)  # dataset.iloc[:, 3:13].values
    for j in (0, 3, 4, 6, 7, 8):  # pandas reads these as ints ...
        X[:, j] = X[:, j].astype(int)
    for j in (5, 9):  # ... and Balance, EstimatedSalary as floats
        X[:, j] = X[:, j].astype(float)
    X[:, 1] = LabelEncoder().fit_transform(X[:, 1])
    X[:, 2] = LabelEncoder().fit_transform(X[:, 2])
    # OneHotEncoder(categorical_features=[1]): encoded column first, the rest passed through.
    ct = ColumnTransformer([("geo", OneHotEncoder(), [1])], remainder="passthrough",
                           sparse_threshold=0)
    X = ct.fit_transform(X).astype(np.float64)[:, 1:]
    np.testing.assert_array_equal(churn.X, X)
    np.testing.assert_array_equal(churn.y, np.array([int(r[13]) for r in rows]))


def test_churn_new_customer_both_readings(churn: datasets.ChurnData) -> None:
    both = datasets.tutorial_customer(churn.encoders)
    assert both["words"].tolist() == [[0, 1, 500, 0, 40, 3, 50000, 2, 1, 1, 40000]]
    assert both["literal"].tolist() == [[0.0, 0, 500, 1, 40, 3, 50000, 2, 1, 1, 40000]]
    assert both["words"].shape == both["literal"].shape == (1, 11)
    literal = churn.decode(both["literal"])
    assert (literal["Geography"], literal["Gender"]) == ("France", "Male")
    words = churn.decode(both["words"][0])
    assert (words["Geography"], words["Gender"]) == ("Spain", "Female")
    assert words == {k: (v if isinstance(v, str) else float(v))
                     for k, v in datasets.TUTORIAL_CUSTOMER.items()}
    as_row = [datasets.TUTORIAL_CUSTOMER[k] for k in datasets.CHURN_RAW_FEATURES]
    np.testing.assert_array_equal(churn.encode(as_row), both["words"])


def test_churn_encode_decode_round_trip_on_the_table(churn: datasets.ChurnData) -> None:
    picks = [0, 1, 2, 777, 4242, 9999]
    np.testing.assert_array_equal(
        datasets.encode_churn([churn.raw[i] for i in picks], churn.encoders), churn.X[picks]
    )
    for i in picks:
        decoded = churn.decode(churn.X[i])
        for name in datasets.CHURN_RAW_FEATURES:
            raw = churn.raw[i][name]
            assert decoded[name] == (raw if name in ("Geography", "Gender") else float(raw))


@pytest.mark.parametrize(
    ("customer", "pattern"),
    [
        ({"CreditScore": 500}, r"missing \['Geography'"),
        (list(datasets.TUTORIAL_CUSTOMER_VECTOR), r"already encoded"),
        ({**datasets.TUTORIAL_CUSTOMER, "Geography": "Italy"}, r"Italy.*France"),
        ({**datasets.TUTORIAL_CUSTOMER, "Age": "forty"}, r"Age .*'forty'"),
    ],
)
def test_churn_encode_errors(churn: datasets.ChurnData, customer: object, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        churn.encode(customer)  # type: ignore[arg-type]


def test_churn_decode_rejects_bad_vectors(churn: datasets.ChurnData) -> None:
    with pytest.raises(ValueError, match=r"11 encoded values"):
        churn.decode([0.0] * 10)
    with pytest.raises(ValueError, match=r"dummies"):
        churn.decode([1.0, 1.0, 500, 0, 40, 3, 0, 1, 1, 1, 1])


def test_churn_return_frame() -> None:
    if importlib.util.find_spec("pandas") is None:
        with pytest.raises(ImportError, match=r"pandas"):
            datasets.load_churn(return_frame=True)
    else:
        frame = datasets.load_churn(return_frame=True).frame
        assert frame.shape == (10000, 14) and int(frame["Exited"].sum()) == 2037


# --------------------------------------------------------------------------- mnist

needs_mnist = pytest.mark.skipif(
    not MNIST_NPZ.exists(), reason=f"MNIST test data not found at {MNIST_NPZ}"
)
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist() -> datasets.mnist.MnistArrays:
    if not MNIST_NPZ.exists():
        pytest.skip(f"MNIST test data not found at {MNIST_NPZ}")
    return datasets.load_mnist(MNIST_NPZ)


@needs_mnist
def test_mnist_npz_shapes_and_label_counts(mnist: datasets.mnist.MnistArrays) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert x_train.max() == 255 and x_train.min() == 0


@needs_mnist
def test_mnist_from_directory_and_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mnist: datasets.mnist.MnistArrays
) -> None:
    (tmp_path / "mnist.npz").symlink_to(MNIST_NPZ)
    monkeypatch.setenv("SCRATCHNN_DATA", str(tmp_path))
    for loaded in (datasets.load_mnist(tmp_path), datasets.load_mnist()):
        np.testing.assert_array_equal(loaded[1][1], mnist[1][1])


def _idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file, written independently of the reader."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_idx_set(directory: Path, arrays: dict[str, np.ndarray], gz: set[str]) -> None:
    for key, name in mnist_module.MNIST_IDX_FILES.items():
        data = _idx_bytes(arrays[key])
        if key in gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)


@needs_mnist
@pytest.mark.parametrize("gz", [set(), set(mnist_module.MNIST_IDX_FILES), {"x_train", "y_test"}])
def test_mnist_idx_round_trip(
    tmp_path: Path, mnist: datasets.mnist.MnistArrays, gz: set[str]
) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    arrays = {"x_train": x_train[:300], "y_train": y_train[:300],
              "x_test": x_test[:100], "y_test": y_test[:100]}
    _write_idx_set(tmp_path, arrays, gz)
    (a, b), (c, d) = datasets.load_mnist(tmp_path)
    for got, want in zip((a, b, c, d), arrays.values(), strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.uint8


@settings(max_examples=25, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
        elements={"allow_nan": False},
    ),
    st.booleans(),
)
def test_read_idx_round_trip_any_type(array: np.ndarray, zipped: bool) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x-idx"
        data = _idx_bytes(array)
        path.write_bytes(gzip.compress(data) if zipped else data)
        got = datasets.read_idx(path)
    assert got.shape == array.shape and got.dtype == array.dtype
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    ("damage", "pattern"),
    [
        (lambda b: b"\x08\x03" + b[2:], r"bad IDX magic number 0x08030803"),
        (lambda b: b[:2] + b"\x07" + b[3:], r"bad IDX magic number"),
        (lambda b: b[:-5], r"truncated or damaged"),
        (lambda b: b + b"\x00", r"truncated or damaged"),
        (lambda b: b[:6], r"truncated IDX header"),
        (lambda b: b[:2], r"not an IDX file"),
        (lambda b: gzip.compress(b)[:-10], r"corrupt or truncated gzip"),
    ],
)
def test_read_idx_rejects_damaged_files(tmp_path: Path, damage, pattern: str) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(_idx_bytes(np.zeros((2, 3, 3), dtype=np.uint8))))
    with pytest.raises(ValueError, match=pattern) as info:
        datasets.read_idx(path)
    assert str(path) in str(info.value)


def test_mnist_idx_wrong_layout_is_reported(tmp_path: Path) -> None:
    arrays = {"x_train": np.zeros((4, 2, 2), np.uint8), "y_train": np.zeros(3, np.uint8),
              "x_test": np.zeros((2, 2, 2), np.uint8), "y_test": np.zeros(2, np.uint8)}
    _write_idx_set(tmp_path, arrays, set())
    with pytest.raises(ValueError, match=r"images \(4, 2, 2\) and labels \(3,\)"):
        datasets.load_mnist(tmp_path)


def _assert_guidance(message: str) -> None:
    assert "mnist.npz" in message and "SCRATCHNN_DATA" in message
    assert "x_train, y_train, x_test, y_test" in message
    for name in mnist_module.MNIST_IDX_FILES.values():
        assert name in message
    assert ".gz" in message and "never downloads" in message


def test_mnist_missing_everything_says_where_to_put_what(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_mnist(tmp_path)
    _assert_guidance(str(info.value))
    assert str(tmp_path) in str(info.value)

    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="does not exist") as info:
        datasets.load_mnist(missing)
    _assert_guidance(str(info.value))

    monkeypatch.delenv("SCRATCHNN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_mnist()
    assert str(tmp_path / "home" / ".scratchnn" / "data") in str(info.value)
    _assert_guidance(str(info.value))

    monkeypatch.setenv("SCRATCHNN_DATA", str(missing))
    with pytest.raises(FileNotFoundError, match=r"from SCRATCHNN_DATA"):
        datasets.load_mnist()


def test_mnist_partial_idx_set_names_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_mnist(tmp_path)
    missing_line = next(ln for ln in str(info.value).splitlines() if "Missing" in ln)
    assert "train-labels-idx1-ubyte" in missing_line and "t10k-images-idx3-ubyte" in missing_line
    assert "train-images" not in missing_line and "t10k-labels" not in missing_line


def test_mnist_bad_npz(tmp_path: Path) -> None:
    partial = tmp_path / "partial.npz"
    np.savez(partial, x_train=np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"missing arrays \['y_train', 'x_test', 'y_test'\]"):
        datasets.load_mnist(partial)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        datasets.load_mnist(junk)


# --------------------------------------------------------------------------- to_categorical


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda k: st.tuples(
            st.just(k), hnp.arrays(np.int64, st.integers(0, 40), elements=st.integers(0, k - 1))
        )
    )
)
def test_to_categorical_properties(case: tuple[int, np.ndarray]) -> None:
    k, y = case
    onehot = datasets.to_categorical(y, num_classes=k)
    assert onehot.shape == (len(y), k) and onehot.dtype == np.float32
    assert set(np.unique(onehot).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.argmax(onehot, axis=-1), y)  # the inverse
    if len(y):
        inferred = datasets.to_categorical(y)
        assert inferred.shape == (len(y), int(y.max()) + 1)
        np.testing.assert_array_equal(inferred, onehot[:, : int(y.max()) + 1])
        np.testing.assert_array_equal(datasets.to_categorical(y.reshape(-1, 1), k), onehot)
        np.testing.assert_array_equal(datasets.to_categorical(y.astype(float), k), onehot)


@settings(max_examples=30, deadline=None)
@given(st.integers(-1000, -1), st.integers(0, 20))
def test_to_categorical_negative_label_is_named(bad: int, position: int) -> None:
    y = np.zeros(21, dtype=np.int64)
    y[position] = bad
    with pytest.raises(ValueError, match=rf"label {bad}\b"):
        datasets.to_categorical(y, num_classes=3)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 10), st.integers(0, 50))
def test_to_categorical_out_of_range_label_is_named(k: int, extra: int) -> None:
    bad = k + extra
    with pytest.raises(ValueError, match=rf"num_classes={k}\. Received the label {bad}\b"):
        datasets.to_categorical([0, bad], num_classes=k)


def test_to_categorical_other_errors_and_dtype() -> None:
    with pytest.raises(ValueError, match=r"non-integer label 1\.5"):
        datasets.to_categorical([0.0, 1.5])
    with pytest.raises(TypeError, match=r"dtype <U1"):
        datasets.to_categorical(["a", "b"])
    with pytest.raises(ValueError, match=r"num_classes=0"):
        datasets.to_categorical([0], num_classes=0)
    with pytest.raises(ValueError, match=r"empty"):
        datasets.to_categorical([])
    assert datasets.to_categorical([], num_classes=3).shape == (0, 3)
    assert datasets.to_categorical([1, 0], dtype="int64").dtype == np.int64
    assert datasets.to_categorical(np.array([[0, 1], [2, 1]])).shape == (2, 2, 3)


def test_train_test_split_is_sklearn() -> None:
    from sklearn.model_selection import train_test_split as ref

    X, y = datasets.moons(50, noise=0.1, seed=0)
    ours = datasets.train_test_split(X, y, test_size=0.2, random_state=3, stratify=y)
    theirs = ref(X, y, test_size=0.2, random_state=3, stratify=y)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- registry


def test_registry_names_and_get() -> None:
    assert set(datasets.DATASETS) == {
        "moons", "circles", "xor", "blobs", "spiral", "plane", "digits", "churn", "mnist"
    }
    for name in ("moons", "circles", "xor", "blobs", "spiral", "plane"):
        X, _ = datasets.get(name, n_samples=20, noise=0.1, seed=0)
        np.testing.assert_array_equal(X, ALL_SYNTHETIC[name](20, noise=0.1, seed=0)[0])
    assert datasets.get("digits")[0].shape == (1797, 64)


def test_registry_errors() -> None:
    with pytest.raises(ValueError, match=r"unknown data set 'moon'") as info:
        datasets.get("moon")
    for name in datasets.DATASETS:
        assert name in str(info.value)
    with pytest.raises(TypeError, match=r"'xor'.*\['samples'\].*n_samples, noise, seed"):
        datasets.get("xor", samples=3)
    with pytest.raises(TypeError):
        datasets.DATASETS["new"] = datasets.moons  # type: ignore[index]


# --------------------------------------------------------------------------- code hygiene


def test_datasets_package_imports_no_tensor_ops_layers_or_models() -> None:
    """datasets works on plain arrays: it imports nothing of scratchnn outside itself but
    ``scratchnn._memory`` (standard library only: how much memory the process may use)."""
    forbidden = ("scratchnn.tensor", "scratchnn.ops", "scratchnn.layers", "scratchnn.models")
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
        ours = {name for name in imported if name.split(".")[0] == "scratchnn"}
        assert all(name.startswith(("scratchnn.datasets.", "scratchnn._memory."))
                   for name in ours), (path, ours)
        assert not any(name.startswith(forbidden) for name in imported), path


def test_public_functions_are_documented_and_typed() -> None:
    for name in datasets.__all__:
        obj = getattr(datasets, name)
        if not inspect.isfunction(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        assert "Returns:" in doc and "Example:" in doc, name
        sig = inspect.signature(obj)
        assert sig.return_annotation is not inspect.Signature.empty, name
        for param in sig.parameters.values():
            assert param.annotation is not inspect.Parameter.empty, (name, param.name)
