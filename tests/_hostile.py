"""Helpers for the hostile-input tests: crafted model files and memory-limited child processes.

Not a test module (no ``test_`` prefix): ``test_model_file_checks.py``, ``test_fuzz.py`` and the
fuzz targets in ``_fuzz_targets.py`` import it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy
from safetensors import safe_open

from scratchnn import io as snio

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"
MIB = 2**20


def read_file(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A scratchnn file's JSON header and tensors, read with safetensors directly."""
    with safe_open(str(path), framework="numpy") as f:
        header = json.loads(f.metadata()["scratchnn"])
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    return header, tensors


def write_file(
    out: Path, header: dict[str, Any], tensors: dict[str, np.ndarray], rehash: bool = True
) -> None:
    """Write a (crafted) scratchnn file; ``rehash`` recomputes its SHA-256, as a forger would."""
    if rehash:
        header = {k: v for k, v in header.items() if k != "sha256"}
        header["sha256"] = snio._digest(tensors, header)
    out.write_bytes(safetensors.numpy.save(tensors, metadata={"scratchnn": json.dumps(header)}))


def rewrite(
    path: Path,
    out: Path,
    edit_header: Callable[[dict[str, Any]], Any] | None = None,
    edit_tensors: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
    rehash: bool = True,
) -> None:
    """Copy a scratchnn file with its JSON header and/or tensors changed (a crafted file).

    ``rehash`` recomputes the checksum, as a deliberate forger would; without it the edit looks
    like damage.
    """
    header, tensors = read_file(path)
    if edit_tensors is not None:
        tensors = edit_tensors(tensors)
    if edit_header is not None:
        edit_header(header)
    write_file(out, header, tensors, rehash=rehash)


def limit_address_space(mib: int) -> Callable[[], None]:
    """A ``preexec_fn`` that caps the child's address space (``RLIMIT_AS``) at ``mib`` MiB."""

    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (mib * MIB, mib * MIB))

    return apply


def run_limited(
    args: list[str], mib: int, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` with this checkout's ``src`` first on the path, under ``mib`` MiB."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SRC), environment.get("PYTHONPATH", "")) if p
    )
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout,
        env=environment, preexec_fn=limit_address_space(mib), check=False,
    )


def refused(path: Path, *fragments: str) -> str:
    """The message of the one ValueError ``load_model(path)`` raises: it starts with the file's
    path and holds every fragment."""
    import pytest

    from scratchnn.models import saving

    with pytest.raises(ValueError) as info:
        saving.load_model(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message
