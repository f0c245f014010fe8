"""Data sets for scratchnn: synthetic 2-D sets and loaders for real ones, on plain NumPy.

Nothing here imports ``Tensor``, ops, layers or models: data sets are arrays.

Synthetic (``(X, y)`` with ``X`` float64 ``(N, 2)``): :func:`moons` (scikit-learn's recipe, or
``source="sklearn"`` for the tutorials' exact points), and the TensorFlow Playground's
:func:`circles`, :func:`xor`, :func:`blobs`, :func:`spiral` (int64 labels) and
:func:`regression_plane` (float64 target).

Real: :func:`load_digits` (scikit-learn's bundled digits), :func:`load_churn` (the bank-churn table
of seed 004, shipped inside the package), :func:`load_mnist` (local files only; never downloads).

Text: :func:`load_tinyshakespeare` (shipped inside the package) and :func:`load_text` (a UTF-8
file), each split 90 % / 10 % into training and validation characters.

Preparation: scikit-learn's ``train_test_split`` (re-exported), ``StandardScaler``,
``OneHotEncoder`` and ``LabelEncoder`` used as they are; :func:`to_categorical` for one-hot labels.

Registry: :data:`DATASETS` and :func:`get` map names to the functions above.

    >>> from scratchnn import datasets
    >>> X, y = datasets.get("moons", n_samples=100, noise=0.1, seed=0)
    >>> X_train, X_test, y_train, y_test = datasets.train_test_split(
    ...     X, y, test_size=0.2, random_state=0)
    >>> X_train.shape, datasets.to_categorical(y_train).shape
    ((80, 2), (80, 2))
"""

from scratchnn.datasets.churn import (
    CHURN_COLUMNS,
    CHURN_FEATURE_NAMES,
    CHURN_RAW_FEATURES,
    CHURN_SHA256,
    TUTORIAL_CUSTOMER,
    TUTORIAL_CUSTOMER_VECTOR,
    ChurnData,
    ChurnEncoders,
    decode_churn_features,
    encode_churn,
    encode_churn_customer,
    load_churn,
    tutorial_customer,
)
from scratchnn.datasets.digits import load_digits
from scratchnn.datasets.mnist import DATA_ENV_VAR, data_dir, load_mnist, read_idx
from scratchnn.datasets.prep import to_categorical, train_test_split
from scratchnn.datasets.registry import DATASETS, get
from scratchnn.datasets.synthetic import blobs, circles, moons, regression_plane, spiral, xor
from scratchnn.datasets.text import (
    TINYSHAKESPEARE_SHA256,
    TextCorpus,
    load_text,
    load_tinyshakespeare,
    split_text,
)

__all__ = [
    "CHURN_COLUMNS",
    "CHURN_FEATURE_NAMES",
    "CHURN_RAW_FEATURES",
    "CHURN_SHA256",
    "DATASETS",
    "DATA_ENV_VAR",
    "TUTORIAL_CUSTOMER",
    "TUTORIAL_CUSTOMER_VECTOR",
    "ChurnData",
    "ChurnEncoders",
    "blobs",
    "circles",
    "data_dir",
    "decode_churn_features",
    "encode_churn",
    "encode_churn_customer",
    "get",
    "load_churn",
    "load_digits",
    "load_mnist",
    "moons",
    "read_idx",
    "regression_plane",
    "spiral",
    "to_categorical",
    "train_test_split",
    "tutorial_customer",
    "xor",
]
__all__ += ["TINYSHAKESPEARE_SHA256", "TextCorpus", "load_text", "load_tinyshakespeare",
            "split_text"]
