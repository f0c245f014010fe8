"""``scratchnn predict``: predictions of a saved model for the rows of a CSV file.

Shape legend: N rows, D features, K output units.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from scratchnn.cli._data import PREPROCESS_FILE, Preprocess, plain_label, read_labelled_csv


def select_features(
    header: list[str], data: np.ndarray, n_inputs: int, prep: Preprocess | None, source: Path
) -> np.ndarray:
    """The model's ``(N, D)`` inputs from a CSV table.

    With ``preprocess.json``, columns are matched by name (the target column is ignored). A
    table that shares no name with the training data is taken by position if it has exactly
    ``D`` columns.

    Raises:
        ValueError: missing, unexpected or too many columns (the message lists the expected ones).
    """
    if prep is not None and set(header) & {*prep.feature_names, prep.target}:
        missing = [name for name in prep.feature_names if name not in header]
        extra = [name for name in header if name not in prep.feature_names and name != prep.target]
        if missing or extra:
            problem = f"lacks {missing}" if missing else f"has columns the model lacks {extra}"
            raise ValueError(
                f"{source} {problem}; the model takes the columns "
                f"{', '.join(prep.feature_names)} (a {prep.target!r} column is ignored)."
            )
        return data[:, [header.index(name) for name in prep.feature_names]]
    if len(header) != n_inputs:
        expected = ", ".join(prep.feature_names) if prep is not None else f"{n_inputs} features"
        raise ValueError(
            f"{source} has {len(header)} columns; the model takes {n_inputs} inputs ({expected}). "
            "Drop the target and any other column."
        )
    return data


def infer_output(model: Any) -> tuple[str, tuple[Any, ...]]:
    """``(task, classes)`` of a model saved without ``preprocess.json``, from its last layer.

    K > 1 outputs: multi-class ``0..K-1``; one sigmoid output: binary ``0, 1``; else regression.
    """
    units = int(model.output_shape[-1])
    activation = model.layers[-1].get_config().get("activation")
    if units > 1:
        return "multiclass", tuple(range(units))
    if activation == "sigmoid":
        return "binary", (0, 1)
    return "regression", ()


def prediction_table(
    outputs: np.ndarray, task: str, classes: tuple[Any, ...], proba: bool, target: str
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the predictions CSV.

    Args:
        outputs: the model's ``(N, K)`` outputs.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        classes: the label of each class index.
        proba: one probability column per class (``proba_<label>``) instead of the label.
        target: the name of the label column.

    Raises:
        ValueError: ``proba`` for a regression model.
    """
    outputs = outputs.reshape(len(outputs), -1)  # (N, K)
    if task == "regression":
        if proba:
            raise ValueError("--proba applies to classifiers; this model predicts real values.")
        return [target], [[float(v)] for v in outputs[:, 0]]
    if task == "binary":
        p1 = outputs[:, 0]  # (N,) probability of class 1
        probs = np.stack([1.0 - p1, p1], axis=1)  # (N, 2)
    else:
        probs = outputs  # (N, K)
    if proba:
        header = [f"proba_{plain_label(c)}" for c in classes]
        return header, [[float(f"{p:.6g}") for p in row] for row in probs]
    labels = probs.argmax(axis=1)  # (N,)
    return [target], [[plain_label(classes[i])] for i in labels]


@click.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.argument("input_csv", metavar="INPUT.csv", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="CSV file to write (default: standard output).")
@click.option("--proba", is_flag=True, help="Write class probabilities instead of labels.")
def predict(model_path: Path, input_csv: Path, output: Path | None, proba: bool) -> None:
    """Predict with MODEL (a model.snn from 'scratchnn train') for the rows of INPUT.csv.

    INPUT.csv has a header row and the model's feature columns (a target column is ignored).
    If preprocess.json lies next to MODEL, its scaling and class labels are applied.
    Writes one row per input row: the predicted label (or value), or with --proba one
    probability column per class.
    """
    from scratchnn import load_model

    model = load_model(model_path)
    prep_file = model_path.parent / PREPROCESS_FILE
    prep = Preprocess.load(prep_file) if prep_file.is_file() else None
    header, data, _ = read_labelled_csv(input_csv, None if prep is None else prep.target)
    shape = tuple(model.input_shape or ())
    n_inputs = math.prod(shape) if shape else data.shape[1]
    X = select_features(header, data, n_inputs, prep, input_csv)  # (N, D)
    if prep is not None:
        X = prep.transform(X)
        task, classes, target = prep.task, prep.classes, prep.target
    else:
        (task, classes), target = infer_output(model), "prediction"
    outputs = model.predict(X.reshape(len(X), *shape) if shape else X)
    columns, rows = prediction_table(outputs, task, classes, proba, target)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    if output is None:
        sys.stdout.write(text.getvalue())
        return
    output.write_text(text.getvalue(), encoding="utf-8")
    click.echo(f"Wrote {len(rows)} predictions to {output}", err=True)
