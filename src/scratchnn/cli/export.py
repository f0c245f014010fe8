"""``scratchnn export``: a saved model, with the preprocessing recorded beside it, as ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from scratchnn.cli._data import PREPROCESS_FILE, Preprocess


@click.command("export")
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.argument("output", metavar="OUT.onnx", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--preprocess/--no-preprocess", default=True, show_default=True,
              help="Include the scaler and class labels of preprocess.json (beside MODEL).")
def export(model_path: Path, output: Path, preprocess: bool) -> None:
    """Write MODEL (a model.snn) as an ONNX file, OUT.onnx, for onnxruntime and other runtimes.

    If preprocess.json lies next to MODEL ('scratchnn train' writes it), its scaling runs first in
    the graph, so raw rows of the training CSV's feature columns (in its order) go straight in,
    and classifiers get a second output, 'label', with the label 'scratchnn predict' would write.
    The graph's input is 'input' (N rows, dynamic), its output 'output' (the model's
    predictions); ONNX opset 17. Needs the onnx package (pip install 'scratchnn[onnx]').
    """
    from scratchnn import export as exporting
    from scratchnn import load_model

    model = load_model(model_path)
    prep_file = model_path.parent / PREPROCESS_FILE
    prep = Preprocess.load(prep_file) if preprocess and prep_file.is_file() else None
    options: dict[str, Any] = {}
    if prep is not None:
        options = {"scaler": prep, "feature_names": prep.feature_names}
        if prep.task != "regression":
            options["classes"] = prep.classes
    proto = exporting.to_onnx(model, output, **options)
    graph = proto.graph
    inputs = ", ".join(f"{v.name} {_shape(v)}" for v in graph.input)
    outputs = ", ".join(f"{v.name} {_shape(v)}" for v in graph.output)
    with_prep = f", with the scaler of {prep_file.name}" if prep is not None else ""
    click.echo(
        f"Wrote {output} (ONNX opset {exporting.OPSET}{with_prep}): input {inputs}; "
        f"outputs {outputs}",
        err=True,
    )


def _shape(value: object) -> str:
    """``(N, 11)`` from an ONNX value description."""
    dims = value.type.tensor_type.shape.dim  # type: ignore[attr-defined]
    return "(" + ", ".join(d.dim_param or str(d.dim_value) for d in dims) + ")"
