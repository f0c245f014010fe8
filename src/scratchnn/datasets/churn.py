"""The bank-churn table of seed 004 (Keras quick guide), shipped inside the package.

``data/churn_modelling.csv`` is the public Kaggle "Churn Modelling" table, 10,000 customers and 14
columns (origin, licence note and sha256 in ``data/ORIGIN.md``). It is read with
``importlib.resources`` and the standard ``csv`` module: no pandas needed.

The features are encoded exactly as the tutorial did::

    X = dataset.iloc[:, 3:13].values                  # CreditScore .. EstimatedSalary
    X[:, 1] = LabelEncoder().fit_transform(X[:, 1])   # Geography: France 0, Germany 1, Spain 2
    X[:, 2] = LabelEncoder().fit_transform(X[:, 2])   # Gender: Female 0, Male 1
    X = OneHotEncoder(categorical_features=[1]).fit_transform(X).toarray()
    X = X[:, 1:]                                      # drop the France dummy -> 11 columns

``categorical_features`` is gone from scikit-learn; the same columns come from a
``OneHotEncoder(drop="first")`` fitted on the Geography codes, placed first. The result, in order
(:data:`CHURN_FEATURE_NAMES`)::

    0 Geography_Germany  1 Geography_Spain  2 CreditScore  3 Gender (Male=1)  4 Age  5 Tenure
    6 Balance  7 NumOfProducts  8 HasCrCard  9 IsActiveMember  10 EstimatedSalary

The fitted encoders come back with the data, so a new customer is encoded the same way
(:func:`encode_churn_customer`). The tutorial's one-customer prediction has two readings
(:func:`tutorial_customer`): its words describe a Spanish woman, but the vector its code fed,
``[0.0, 0, 500, 1, 40, 3, 50000, 2, 1, 1, 40000]``, decodes to a French man — that vector is what
the tutorial's model saw.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:  # scikit-learn is imported when the table is loaded, not with the package.
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder

CHURN_SHA256 = "3996cd1fa372e0db0cd9c0ebac35bbd4e8e3c65fb942bb010c826e7b1eeef0a0"
"""sha256 of the packaged ``data/churn_modelling.csv`` (bytes as published, CRLF line ends)."""

CHURN_COLUMNS: tuple[str, ...] = (
    "RowNumber", "CustomerId", "Surname", "CreditScore", "Geography", "Gender", "Age", "Tenure",
    "Balance", "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary", "Exited",
)
"""The 14 columns of the CSV, in file order."""

CHURN_RAW_FEATURES: tuple[str, ...] = CHURN_COLUMNS[3:13]
"""Columns 3..12, the tutorial's ``dataset.iloc[:, 3:13]``: the 10 raw features of a customer."""

CHURN_TARGET = "Exited"
"""The target column (1 = the customer left the bank)."""

CHURN_FEATURE_NAMES: tuple[str, ...] = (
    "Geography_Germany", "Geography_Spain", "CreditScore", "Gender", "Age", "Tenure", "Balance",
    "NumOfProducts", "HasCrCard", "IsActiveMember", "EstimatedSalary",
)
"""The 11 encoded inputs, in the tutorial's order. France is the dropped dummy (both zero);
``Gender`` is LabelEncoder's code: Female 0, Male 1."""

TUTORIAL_CUSTOMER: Mapping[str, Any] = MappingProxyType({
    "CreditScore": 500, "Geography": "Spain", "Gender": "Female", "Age": 40, "Tenure": 3,
    "Balance": 50000, "NumOfProducts": 2, "HasCrCard": 1, "IsActiveMember": 1,
    "EstimatedSalary": 40000,
})
"""Seed 004's new customer as its words describe her (the salary, which the words omit, is taken
from the code's vector)."""

TUTORIAL_CUSTOMER_VECTOR: tuple[float, ...] = (
    0.0, 0.0, 500.0, 1.0, 40.0, 3.0, 50000.0, 2.0, 1.0, 1.0, 40000.0,
)
"""The literal vector seed 004's code fed to the model (before scaling). In the encoding above it
reads France (both dummies 0) and Male (1): not the words' Spanish woman."""

_INT_COLUMNS = frozenset({
    "RowNumber", "CustomerId", "CreditScore", "Age", "Tenure", "NumOfProducts", "HasCrCard",
    "IsActiveMember", "Exited",
})
_FLOAT_COLUMNS = frozenset({"Balance", "EstimatedSalary"})


@dataclass(frozen=True, eq=False)
class ChurnEncoders:
    """The fitted scikit-learn encoders that turn a raw customer into the 11 inputs.

    Attributes:
        geography: ``LabelEncoder`` of Geography (classes France, Germany, Spain -> 0, 1, 2).
        gender: ``LabelEncoder`` of Gender (classes Female, Male -> 0, 1).
        geography_onehot: ``OneHotEncoder(drop="first")`` fitted on the Geography codes; gives the
            Germany and Spain dummies (France dropped).
    """

    geography: LabelEncoder
    gender: LabelEncoder
    geography_onehot: OneHotEncoder


@dataclass(frozen=True, eq=False)
class ChurnData:
    """What :func:`load_churn` returns.

    Attributes:
        X: float64 ``(10000, 11)``, the encoded inputs in :data:`CHURN_FEATURE_NAMES` order
            (not scaled: the tutorial fits ``StandardScaler`` on the training split).
        y: int64 ``(10000,)``, ``Exited`` (1 = left the bank).
        feature_names: the 11 names of ``X``'s columns.
        raw: the raw table, one dict per CSV row keyed by column name, values as the strings in
            the file (``csv.DictReader``'s output).
        encoders: the fitted encoders (see :func:`encode_churn_customer`).
        columns: the 14 CSV column names in file order.
        frame: a pandas ``DataFrame`` of the typed table when ``return_frame=True``, else None.
    """

    X: NDArray[np.float64]
    y: NDArray[np.int64]
    feature_names: tuple[str, ...]
    raw: list[dict[str, str]]
    encoders: ChurnEncoders
    columns: tuple[str, ...] = CHURN_COLUMNS
    frame: Any = field(default=None, repr=False)

    def encode(self, customer: Mapping[str, Any] | Sequence[Any]) -> NDArray[np.float64]:
        """Encode one new customer with this table's encoders; see :func:`encode_churn_customer`.

        Example:
            >>> load_churn().encode(TUTORIAL_CUSTOMER).shape
            (1, 11)
        """
        return encode_churn_customer(customer, self.encoders)

    def decode(self, x: ArrayLike) -> dict[str, Any]:
        """Read 11 encoded inputs back as raw features; see :func:`decode_churn_features`.

        Example:
            >>> load_churn().decode(TUTORIAL_CUSTOMER_VECTOR)["Geography"]
            'France'
        """
        return decode_churn_features(x, self.encoders)


def _read_packaged_csv() -> list[dict[str, str]]:
    """Read ``data/churn_modelling.csv`` from the installed package, checking its header."""
    source = resources.files("scratchnn.datasets") / "data" / "churn_modelling.csv"
    with source.open("rb") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != CHURN_COLUMNS:
            raise ValueError(
                f"the packaged churn CSV has header {reader.fieldnames}, expected "
                f"{list(CHURN_COLUMNS)}. The file is damaged: reinstall scratchnn."
            )
        rows = list(reader)
    for line, row in enumerate(rows, start=2):
        if None in row or None in row.values() or "" in row.values():
            raise ValueError(
                f"the packaged churn CSV has a short or empty row at line {line}: {row}. "
                "The file is damaged: reinstall scratchnn."
            )
    return rows


def _typed(column: str, values: Iterable[Any]) -> NDArray:
    """Convert one column's values to int64, float64 or str, by column."""
    if column in _INT_COLUMNS:
        return np.array([int(float(v)) for v in values], dtype=np.int64)
    if column in _FLOAT_COLUMNS:
        return np.array([float(v) for v in values], dtype=np.float64)
    return np.array([str(v) for v in values])


def _numbers(column: str, values: Iterable[Any]) -> NDArray[np.float64]:
    """One numeric feature column as float64; a value that is not a number raises naming it."""
    values = list(values)
    try:
        out = np.array(values, dtype=np.float64)  # numeric strings such as "619" convert too
    except (TypeError, ValueError):
        out = None
    if out is None or out.shape != (len(values),) or not np.isfinite(out).all():
        for value in values:
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            if not np.isfinite(number):
                raise ValueError(f"{column} must be a finite number. Received: {value!r}.")
        raise ValueError(f"{column} must hold one number per customer. Received: {values!r}.")
    return out


def _raw_feature_rows(
    customers: Iterable[Mapping[str, Any] | Sequence[Any]],
) -> list[tuple[Any, ...]]:
    """Each customer as a tuple of the 10 raw features in :data:`CHURN_RAW_FEATURES` order."""
    rows = []
    for customer in customers:
        if isinstance(customer, Mapping):
            missing = [name for name in CHURN_RAW_FEATURES if name not in customer]
            if missing:
                raise ValueError(
                    f"customer is missing {missing}; it needs all of {list(CHURN_RAW_FEATURES)}."
                )
            rows.append(tuple(customer[name] for name in CHURN_RAW_FEATURES))
        else:
            row = tuple(customer)
            if len(row) != len(CHURN_RAW_FEATURES):
                hint = (
                    " It looks already encoded (11 values); feed it to the model as is."
                    if len(row) == len(CHURN_FEATURE_NAMES) else ""
                )
                raise ValueError(
                    f"a customer row needs the {len(CHURN_RAW_FEATURES)} raw features "
                    f"{list(CHURN_RAW_FEATURES)}. Received {len(row)} values: {row}.{hint}"
                )
            rows.append(row)
    return rows


def _label_codes(encoder: LabelEncoder, column: str, values: NDArray) -> NDArray[np.int64]:
    """LabelEncoder codes of ``values``; unknown labels raise naming the accepted ones."""
    unknown = sorted(set(values.tolist()) - set(encoder.classes_.tolist()))
    if unknown:
        raise ValueError(
            f"unknown {column} {unknown}; the encoder knows {encoder.classes_.tolist()}."
        )
    return encoder.transform(values).astype(np.int64)


def encode_churn(
    customers: Iterable[Mapping[str, Any] | Sequence[Any]], encoders: ChurnEncoders
) -> NDArray[np.float64]:
    """Encode raw customers into the tutorial's 11 inputs with fitted encoders.

    Args:
        customers: dicts with (at least) the 10 keys of :data:`CHURN_RAW_FEATURES` — a raw CSV
            row works — or sequences of those 10 values in that order. Geography and Gender are
            the words ("Spain", "Female"); the rest are numbers or numeric strings.
        encoders: ``load_churn().encoders``.

    Returns:
        float64 ``(M, 11)``, columns :data:`CHURN_FEATURE_NAMES` (unscaled).

    Example:
        >>> enc = load_churn().encoders
        >>> encode_churn([TUTORIAL_CUSTOMER], enc)[0, :4].tolist()
        [0.0, 1.0, 500.0, 0.0]
    """
    rows = _raw_feature_rows(customers)
    if not rows:
        return np.zeros((0, len(CHURN_FEATURE_NAMES)), dtype=np.float64)
    columns = dict(zip(CHURN_RAW_FEATURES, zip(*rows, strict=True), strict=True))  # name -> M
    geo = np.array([str(v) for v in columns["Geography"]])
    gender = np.array([str(v) for v in columns["Gender"]])
    geo_codes = _label_codes(encoders.geography, "Geography", geo)  # (M,)
    gender_codes = _label_codes(encoders.gender, "Gender", gender)  # (M,)
    dummies = encoders.geography_onehot.transform(geo_codes.reshape(-1, 1))  # (M, 2)
    rest = [gender_codes if name == "Gender" else _numbers(name, columns[name])
            for name in CHURN_RAW_FEATURES if name != "Geography"]  # 9 x (M,)
    return np.column_stack([np.asarray(dummies, dtype=np.float64), *rest]).astype(np.float64)


def encode_churn_customer(
    customer: Mapping[str, Any] | Sequence[Any], encoders: ChurnEncoders
) -> NDArray[np.float64]:
    """Encode one new customer the way the training table was encoded.

    Args:
        customer: a dict with the 10 keys of :data:`CHURN_RAW_FEATURES`, or those 10 values in
            order (Geography and Gender as words).
        encoders: ``load_churn().encoders``.

    Returns:
        float64 ``(1, 11)``, ready for ``scaler.transform`` and ``model.predict``.

    Example:
        >>> enc = load_churn().encoders
        >>> encode_churn_customer(TUTORIAL_CUSTOMER, enc).tolist()
        [[0.0, 1.0, 500.0, 0.0, 40.0, 3.0, 50000.0, 2.0, 1.0, 1.0, 40000.0]]
    """
    return encode_churn([customer], encoders)


def decode_churn_features(x: ArrayLike, encoders: ChurnEncoders) -> dict[str, Any]:
    """Read one encoded 11-vector back as the 10 raw features (Geography, Gender as words).

    Args:
        x: 11 encoded values, shape ``(11,)`` or ``(1, 11)``, unscaled.
        encoders: ``load_churn().encoders``.

    Returns:
        dict keyed by :data:`CHURN_RAW_FEATURES`.

    Example:
        >>> d = decode_churn_features(TUTORIAL_CUSTOMER_VECTOR, load_churn().encoders)
        >>> d["Geography"], d["Gender"]
        ('France', 'Male')
    """
    vec = np.asarray(x, dtype=np.float64).reshape(-1)
    if vec.shape != (len(CHURN_FEATURE_NAMES),):
        raise ValueError(
            f"expected {len(CHURN_FEATURE_NAMES)} encoded values {list(CHURN_FEATURE_NAMES)}. "
            f"Received shape {np.shape(x)}."
        )
    dummies, gender = vec[:2], vec[3]
    if not (np.isin(dummies, (0.0, 1.0)).all() and dummies.sum() <= 1):
        raise ValueError(
            f"Geography dummies must be (0, 0), (1, 0) or (0, 1). Received {dummies.tolist()}."
        )
    if gender not in (0.0, 1.0):
        raise ValueError(f"Gender code must be 0 or 1. Received {gender}.")
    geo_code = encoders.geography_onehot.inverse_transform(dummies.reshape(1, -1))[0, 0]
    out: dict[str, Any] = {}
    numeric = dict(zip(CHURN_FEATURE_NAMES, vec.tolist(), strict=True))
    for name in CHURN_RAW_FEATURES:
        if name == "Geography":
            out[name] = str(encoders.geography.inverse_transform([int(geo_code)])[0])
        elif name == "Gender":
            out[name] = str(encoders.gender.inverse_transform([int(gender)])[0])
        else:
            out[name] = numeric[name]
    return out


def tutorial_customer(encoders: ChurnEncoders) -> dict[str, NDArray[np.float64]]:
    """Both readings of seed 004's one-customer prediction, each as a ``(1, 11)`` vector.

    Args:
        encoders: ``load_churn().encoders``.

    Returns:
        ``{"words": ..., "literal": ...}``: ``"words"`` encodes :data:`TUTORIAL_CUSTOMER` (Spain,
        Female: ``[0, 1, 500, 0, 40, ...]``); ``"literal"`` is :data:`TUTORIAL_CUSTOMER_VECTOR`,
        the vector the tutorial's model saw (France, Male).

    Example:
        >>> both = tutorial_customer(load_churn().encoders)
        >>> both["literal"][0, :4].tolist(), both["words"][0, :4].tolist()
        ([0.0, 0.0, 500.0, 1.0], [0.0, 1.0, 500.0, 0.0])
    """
    return {
        "words": encode_churn_customer(TUTORIAL_CUSTOMER, encoders),
        "literal": np.array([TUTORIAL_CUSTOMER_VECTOR], dtype=np.float64),
    }


def load_churn(return_frame: bool = False) -> ChurnData:
    """Load the packaged bank-churn table, encoded as in seed 004.

    Args:
        return_frame: also build a pandas ``DataFrame`` of the typed table in ``.frame``. pandas
            is not a dependency of scratchnn; without it this raises ImportError.

    Returns:
        :class:`ChurnData` with ``X`` float64 ``(10000, 11)``, ``y`` int64 ``(10000,)``,
        ``feature_names``, ``raw`` (list of 10000 dicts of strings), ``encoders``, ``columns``
        and ``frame``.

    Example:
        >>> data = load_churn()
        >>> data.X.shape, data.y.shape, int(data.y.sum())
        ((10000, 11), (10000,), 2037)
    """
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder

    raw = _read_packaged_csv()
    geography = LabelEncoder().fit([row["Geography"] for row in raw])
    gender = LabelEncoder().fit([row["Gender"] for row in raw])
    geo_codes = geography.transform([row["Geography"] for row in raw]).reshape(-1, 1)  # (N, 1)
    onehot = OneHotEncoder(drop="first", sparse_output=False, dtype=np.float64).fit(geo_codes)
    encoders = ChurnEncoders(geography=geography, gender=gender, geography_onehot=onehot)
    X = encode_churn(raw, encoders)  # (N, 11)
    y = _typed(CHURN_TARGET, (row[CHURN_TARGET] for row in raw))  # (N,)
    frame = None
    if return_frame:
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "load_churn(return_frame=True) needs pandas, which scratchnn does not depend "
                "on. Install it (pip install pandas) or use the returned .raw rows instead."
            ) from exc
        frame = pd.DataFrame(
            {name: _typed(name, (row[name] for row in raw)) for name in CHURN_COLUMNS}
        )
    return ChurnData(
        X=X, y=y, feature_names=CHURN_FEATURE_NAMES, raw=raw, encoders=encoders, frame=frame
    )
