"""Safe model files: named arrays in a safetensors file, everything else as JSON metadata.

One model is one file (suggested suffix ``.snn``; any name is accepted). It is a plain
`safetensors <https://huggingface.co/docs/safetensors>`_ file:

* tensors ``weights/<layer>/<weight>`` (e.g. ``weights/dense/kernel``) hold the weights, and, in a
  full model file saved with its optimizer, tensors ``optimizer/<key>`` (e.g. ``optimizer/m.0``)
  hold the optimizer state from ``Optimizer.get_state()``;
* the string metadata has one entry, ``"scratchnn"``, a JSON object with the format name
  (``"scratchnn.model"`` or ``"scratchnn.weights"``), the format version, the scratchnn version
  that wrote it, the architecture (``model.get_config()``), the compile settings
  (``model.compile_config()``), whether optimizer state is included, and a SHA-256 of the
  header and tensors (``"sha256"``), checked on load.

Safety: loading parses JSON and reads raw arrays; nothing in a file is ever executed. There is no
pickle, no ``eval``, no import of a name read from a file: layer classes come from the registry
:data:`scratchnn.layers.LAYERS`, losses and optimizers from their registries.

Writes are atomic: the bytes go to a temporary file in the target's directory, which is flushed,
``fsync``-ed and then renamed onto the target with :func:`os.replace`. A crash mid-save leaves the
previous file intact (at worst a stray ``.<name>.*.tmp`` file beside it).

This module is the file format only; turning models into files and back is
:mod:`scratchnn.models.saving` (``model.save``, ``scratchnn.load_model``)::

    >>> import os, tempfile
    >>> import numpy as np
    >>> path = os.path.join(tempfile.mkdtemp(), "w.snn")
    >>> header = {"format": WEIGHTS_FORMAT, "format_version": FORMAT_VERSION, "model": None,
    ...           "compile": None, "optimizer_state": False}
    >>> write_file(path, {"weights/dense/kernel": np.ones((2, 3), "float32")}, header)
    >>> read_file(path).weights["dense/kernel"].shape
    (2, 3)
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import safetensors
import safetensors.numpy

from scratchnn import backend, io_checks

FORMAT_VERSION = 1  # the newest file format this module writes and reads
MODEL_FORMAT = "scratchnn.model"
WEIGHTS_FORMAT = "scratchnn.weights"
METADATA_KEY = "scratchnn"
WEIGHTS_PREFIX = "weights/"
OPTIMIZER_PREFIX = "optimizer/"

PathLike: TypeAlias = "str | os.PathLike[str]"

_before_replace: Callable[[str, str], None] | None = None
"""Test seam, ``None`` outside tests: called as ``(temporary file, target)`` once the temporary
file is complete and fsync-ed, just before the rename. The crash test sets it in a child process
to stop there and be killed at that very point."""

# First bytes of formats people mistake for model files, to say what a foreign file is.
_FOREIGN_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a zip archive (e.g. a NumPy .npz, which may hold pickles)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (e.g. a Keras .h5 model)"),
    (b"\x1f\x8b", "a gzip file"),
    *((bytes([0x80, proto]), "a Python pickle") for proto in range(2, 6)),
)


@dataclass
class StoredFile:
    """What :func:`read_file` found in a valid file: the header and the tensors by kind."""

    header: dict[str, Any]
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ writing
def as_stored(value: Any) -> np.ndarray:
    """An array as a file stores it: NumPy, C-contiguous."""
    return np.ascontiguousarray(backend.to_numpy(value))


def library_version() -> str:
    """The version of scratchnn writing the file."""
    from scratchnn._version import __version__

    return __version__


def _digest(tensors: dict[str, np.ndarray], header: dict[str, Any]) -> str:
    """SHA-256 of the header (canonical JSON, without its ``"sha256"``) and of the tensors.

    Tensors enter by name order as name, dtype, shape and little-endian bytes. The digest detects
    damage (a flipped bit, a cut, an edit by a tool that knows safetensors but not scratchnn); it
    is not a signature: whoever crafts a file can compute it too.
    """
    h = hashlib.sha256()
    rest = {key: value for key, value in header.items() if key != "sha256"}
    h.update(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(tensors):
        array = tensors[name]
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        h.update(f"\0{name}\0{little.dtype.str}\0{list(array.shape)}\0".encode())
        h.update(np.ascontiguousarray(little).tobytes())
    return h.hexdigest()


def write_file(
    path: PathLike, tensors: dict[str, np.ndarray], header: dict[str, Any]
) -> None:
    try:
        header = {**header, "sha256": _digest(tensors, header)}
        text = json.dumps(header)
    except TypeError as exc:
        raise TypeError(
            f"Cannot save to {os.fspath(path)}: the model's configuration is not JSON: {exc}. "
            "Custom functions (activations, schedules, ...) cannot be stored; use registered "
            "names."
        ) from exc
    data = safetensors.numpy.save(tensors, metadata={METADATA_KEY: text})
    atomic_write(os.fspath(path), data)


def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either its old or its new bytes.

    The bytes go to a temporary file in the same directory, which is flushed, ``fsync``-ed and
    renamed onto ``path`` (the directory is ``fsync``-ed too); an existing file keeps its
    permissions, a new one gets the umask's. Used for model files and ONNX exports.

    Raises:
        FileNotFoundError: the directory of ``path`` does not exist.
    """
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise FileNotFoundError(
            errno.ENOENT, "Cannot save: this directory does not exist", directory
        )
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):  # POSIX; mkstemp's files are private (0o600)
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        if _before_replace is not None:
            _before_replace(tmp, target)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it (Linux); 0o022 when unknown."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


# ------------------------------------------------------------------------------------ reading
def read_file(path: str) -> StoredFile:
    """Open, validate and read a scratchnn file; every problem is a ValueError naming ``path``."""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No such model file", path)
    with open(path, "rb") as f:
        head = f.read(16)
    if not head:
        raise ValueError(
            f"{path}: empty file (0 bytes), not a scratchnn model file. Was a save interrupted "
            "by something that did not use model.save()?"
        )
    declared = int.from_bytes(head[:8], "little")
    if len(head) >= 8 and declared > io_checks.MAX_HEADER_BYTES:
        raise _foreign_or(path, head, ValueError(
            f"{path}: not a valid scratchnn model file: its first 8 bytes give a header of "
            f"{declared:,} bytes, above the {io_checks.MAX_HEADER_BYTES:,} bytes model files may "
            "have. The file is truncated or corrupt, or was not written by scratchnn."
        ))
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            metadata = f.metadata()
            names = list(f.keys())
            tensors = {name: f.get_tensor(name) for name in names}
    except safetensors.SafetensorError as exc:
        # Only now look at the first bytes: a valid header length can look like a magic number.
        raise _foreign_or(path, head, ValueError(
            f"{path}: not a valid safetensors file ({exc}). The file is truncated or corrupt, "
            "or was not written by scratchnn."
        )) from exc
    header = _parse_header(metadata, path)
    if _digest(tensors, header) != header["sha256"]:
        raise ValueError(
            f"{path}: the content does not match the SHA-256 checksum written with it; the file "
            "is corrupt (or was edited by hand)."
        )
    found = StoredFile(header)
    for name, array in tensors.items():
        if name.startswith(WEIGHTS_PREFIX):
            found.weights[name[len(WEIGHTS_PREFIX):]] = array
        elif name.startswith(OPTIMIZER_PREFIX):
            found.optimizer[name[len(OPTIMIZER_PREFIX):]] = array
        else:
            raise ValueError(
                f"{path}: unexpected tensor {name!r}; scratchnn files hold only "
                f"'{WEIGHTS_PREFIX}...' and '{OPTIMIZER_PREFIX}...' tensors."
            )
    return found


def _foreign_or(path: str, head: bytes, error: ValueError) -> ValueError:
    """The error for a file starting with ``head``: what it looks like if known, else ``error``."""
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            return ValueError(
                f"{path}: not a scratchnn model file; it looks like {what}. scratchnn reads "
                "only the safetensors files written by model.save() / model.save_weights(), "
                "and never unpickles."
            )
    return error


def _parse_header(metadata: dict[str, str] | None, path: str) -> dict[str, Any]:
    if not metadata or METADATA_KEY not in metadata:
        keys = sorted(metadata or {})
        raise ValueError(
            f"{path}: not a scratchnn model file (no '{METADATA_KEY}' metadata; metadata keys: "
            f"{keys}); was it written by model.save()? It is a safetensors file from another "
            "program."
        )
    try:
        header = json.loads(metadata[METADATA_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(
            f"{path}: the '{METADATA_KEY}' metadata is not valid JSON ({exc}); the file is "
            "corrupt."
        ) from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: the '{METADATA_KEY}' metadata is not a JSON object.")
    fmt = header.get("format")
    if fmt not in (MODEL_FORMAT, WEIGHTS_FORMAT):
        raise ValueError(
            f"{path}: unknown file format {fmt!r}; expected {MODEL_FORMAT!r} or "
            f"{WEIGHTS_FORMAT!r}."
        )
    version = header.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"{path}: invalid format_version {version!r}; expected a positive integer."
        )
    if version > FORMAT_VERSION:
        writer = header.get("scratchnn_version", "unknown")
        raise ValueError(
            f"{path}: written by scratchnn format version {version} (scratchnn {writer}); this "
            f"scratchnn reads up to {FORMAT_VERSION} — upgrade scratchnn."
        )
    if not isinstance(header.get("sha256"), str):
        raise ValueError(f"{path}: the metadata has no 'sha256' checksum; the file is corrupt.")
    return header


def stored_shapes(weights: dict[str, np.ndarray]) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{name: (shape, dtype name)}`` of the file's tensors, for :mod:`scratchnn.io_checks`."""
    return {name: (tuple(array.shape), array.dtype.name) for name, array in weights.items()}
