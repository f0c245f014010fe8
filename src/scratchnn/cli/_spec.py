"""Models from a file: the ``--model SPEC`` of ``scratchnn train``.

A spec is the layer list that ``Sequential.get_config()`` writes, as TOML or JSON: a list of
``{"class_name": ..., "config": {...}}`` entries, either at the top level (JSON) or under a
``layers`` key (TOML, or a whole JSON ``get_config()`` dump). An ``Input`` entry first (or an
``input_shape`` on the first layer) declares the shape of one sample, e.g. ``[28, 28, 1]`` for
MNIST images; the data's rows are reshaped to it.

.. code-block:: toml

    [[layers]]
    class_name = "Input"
    config = { shape = [28, 28, 1] }

    [[layers]]
    class_name = "Conv2D"
    config = { filters = 32, kernel_size = 3, activation = "relu" }
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def read_model_spec(path: Path) -> list[dict[str, Any]]:
    """The ``{"class_name", "config"}`` entries of a TOML or JSON model spec.

    Raises:
        ValueError: a file that does not parse, has no layer list, or holds an entry that is not
            ``{"class_name": <a known layer>, "config": {...}}`` (the message names the entry).

    Example:
        >>> spec = Path("net.json")
        >>> _ = spec.write_text('[{"class_name": "Dense", "config": {"units": 2}}]')
        >>> read_model_spec(spec)
        [{'class_name': 'Dense', 'config': {'units': 2}}]
        >>> model_from_spec(spec, seed=0).layers[0].units
        2
    """
    from scratchnn.layers import LAYERS

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ValueError("the file name must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise ValueError(f"model spec {path}: {exc}") from None
    layers = data.get("layers") if isinstance(data, dict) else data
    if not isinstance(layers, list) or not layers:
        raise ValueError(
            f"model spec {path}: expected a list of layers ([[layers]] tables in TOML, a JSON "
            "list or {\"layers\": [...]}), each {class_name = ..., config = {...}}."
        )
    entries = []
    for i, entry in enumerate(layers, start=1):
        name = entry.get("class_name") if isinstance(entry, dict) else None
        config = entry.get("config", {}) if isinstance(entry, dict) else None
        if name not in LAYERS or not isinstance(config, dict):
            raise ValueError(
                f"model spec {path}: layer {i} must be {{class_name = <layer>, config = {{...}}}} "
                f"with a known layer ({', '.join(sorted(LAYERS))}); received {entry!r}."
            )
        entries.append({"class_name": name, "config": config})
    return entries


def model_from_spec(path: Path, seed: int) -> Any:
    """A ``Sequential`` built from the spec at ``path`` (see :func:`read_model_spec`).

    Raises:
        ValueError: a bad spec or layer arguments, named with the file.
    """
    from scratchnn.models import Sequential

    entries = read_model_spec(path)
    try:
        return Sequential.from_config({"layers": entries, "seed": seed})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model spec {path}: {exc}") from None
