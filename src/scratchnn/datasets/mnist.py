"""MNIST from local files: a keras-layout ``mnist.npz`` or the four original IDX files.

scratchnn never downloads anything. :func:`load_mnist` looks in one directory, chosen as

1. the ``path`` argument (a directory, or the ``.npz`` file itself), else
2. the environment variable ``SCRATCHNN_DATA``, else
3. ``~/.scratchnn/data``,

and reads ``mnist.npz`` there if present, else the IDX files ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each plain
or gzipped with ``.gz``). IDX files are parsed with NumPy and ``gzip`` (:func:`read_idx`): magic
number, dimensions and data size are checked, and a damaged file raises ValueError naming it.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from scratchnn._memory import available_memory

DATA_ENV_VAR = "SCRATCHNN_DATA"
"""Environment variable naming the directory that holds local data files."""

DEFAULT_DATA_DIR = Path("~/.scratchnn/data")
"""Where data files are looked for when neither ``path`` nor ``SCRATCHNN_DATA`` is given."""

MNIST_NPZ = "mnist.npz"
MNIST_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
MNIST_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
"""keras array name -> IDX file name (a ``.gz`` suffix is also accepted)."""

_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"

MnistArrays = tuple[
    tuple[NDArray[np.uint8], NDArray[np.uint8]], tuple[NDArray[np.uint8], NDArray[np.uint8]]
]
"""``((x_train, y_train), (x_test, y_test))``, as ``keras.datasets.mnist.load_data()``."""


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The directory (or file) local data is read from: ``path``, ``$SCRATCHNN_DATA`` or default.

    Args:
        path: an explicit directory or file; wins over the environment.

    Returns:
        The resolved ``Path`` (``~`` expanded); it may not exist.

    Example:
        >>> str(data_dir("/tmp/mnist"))
        '/tmp/mnist'
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA_DIR.expanduser()


def read_idx(path: str | os.PathLike[str]) -> NDArray:
    """Read one IDX file (plain or gzipped) into a NumPy array.

    IDX layout: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), a byte giving the number of dimensions d, d big-endian uint32
    sizes, then the values, big-endian, row-major.

    Args:
        path: the file; gzip is detected from its first bytes, not its name.

    Returns:
        An array of the file's shape, in native byte order (``uint8`` for MNIST).

    Raises:
        ValueError: bad magic number, unknown type, truncated header, data size that does not
            match the header, or a corrupt gzip stream; the message names the file.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
        >>> _ = p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
        >>> read_idx(p).tolist()
        [7, 2, 1]
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        raw = _gunzip_idx(raw, path)
    if len(raw) < 4:
        raise ValueError(f"{path}: not an IDX file ({len(raw)} bytes, shorter than the header).")
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"{path}: bad IDX magic number 0x{magic:08X}; expected 0x000008nn (0x00000801 for "
            "labels, 0x00000803 for images). Is it the right file, and not damaged?"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header}).")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected} bytes of data) but the file "
            f"holds {len(raw) - header} bytes after the header; the file is truncated or damaged."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _gunzip_idx(raw: bytes, path: Path) -> bytes:
    """Decompress a gzipped IDX file, never more than its header says (no gzip bomb).

    The header (at most 4 + 4 * 255 bytes) comes first; the data size it gives must fit in a
    quarter of the memory this process may use, and the stream must hold exactly that much.
    """
    limit = available_memory()
    limit = limit // 4 if limit is not None else None
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            head = stream.read(4)
            ndim = head[3] if len(head) == 4 else 0
            head += stream.read(4 * ndim)
            if len(head) < 4 + 4 * ndim or head[2] not in _IDX_DTYPES:
                return head  # read_idx names the problem
            shape = [int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
            expected = math.prod(shape) * _IDX_DTYPES[head[2]].itemsize
            if limit is not None and expected > limit:
                raise ValueError(
                    f"{path}: the IDX header says shape {tuple(shape)}, {expected:,} bytes of "
                    f"data; more than the {limit:,} bytes this process can give it (a quarter "
                    "of its memory). The file is damaged, or not an MNIST file."
                )
            return head + stream.read(expected + 1)  # one byte more shows extra data
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc}).") from exc


def _missing_message(where: Path, reason: str, missing: list[str]) -> str:
    """The FileNotFoundError text: where to put which file, and how to look elsewhere."""
    names = ", ".join(MNIST_IDX_FILES.values())
    lines = [
        f"MNIST not found: {reason}",
        "scratchnn never downloads data. Put ONE of these in that directory:",
        f"  - {MNIST_NPZ} (keras layout: arrays x_train, y_train, x_test, y_test), or",
        f"  - the four IDX files {names} (each may be gzipped: name + '.gz').",
    ]
    if missing:
        lines.append(f"  Missing IDX files there: {', '.join(missing)}.")
    lines.append(
        f"To look elsewhere pass load_mnist(path=DIR_OR_NPZ) or set the environment variable "
        f"{DATA_ENV_VAR}=DIR (default directory: {DEFAULT_DATA_DIR})."
    )
    return "\n".join(lines)


def _check_pair(x: NDArray, y: NDArray, split: str, source: Path) -> None:
    """Images ``(n, rows, cols)`` and labels ``(n,)`` of one split must agree."""
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise ValueError(
            f"{source}: expected {split} images of shape (n, rows, cols) and labels (n,). "
            f"Received images {x.shape} and labels {y.shape}."
        )


def _load_npz(path: Path) -> MnistArrays:
    """Read a keras-layout ``mnist.npz`` (no pickles allowed; sizes checked before reading)."""
    _check_npz_sizes(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc}).") from exc
    if not hasattr(loaded, "files"):
        raise ValueError(f"{path}: holds a single array (.npy), not an .npz archive.")
    try:
        with loaded as npz:
            files = list(npz.files)
            arrays = {key: npz[key] for key in MNIST_NPZ_KEYS if key in files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: damaged .npz archive ({exc}).") from exc
    missing = [key for key in MNIST_NPZ_KEYS if key not in arrays]
    if missing:
        raise ValueError(
            f"{path}: missing arrays {missing}; a keras-layout mnist.npz holds "
            f"{list(MNIST_NPZ_KEYS)} (found {files})."
        )
    _check_pair(arrays["x_train"], arrays["y_train"], "train", path)
    _check_pair(arrays["x_test"], arrays["y_test"], "test", path)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _check_npz_sizes(path: Path) -> None:
    """Refuse an archive whose arrays claim more data than they hold, or than memory allows.

    ``numpy.load`` allocates an array from the shape in its header before reading the data, so
    a small crafted archive could ask for any amount; each header is read first and compared
    with the member's stored (uncompressed) size and a quarter of the available memory.
    """
    limit = available_memory()
    limit = limit // 4 if limit is not None else None
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(member)
                needed = math.prod(shape) * dtype.itemsize
                if needed > info.file_size or (limit is not None and needed > limit):
                    raise ValueError(
                        f"{path}: array {info.filename[:-4]!r} claims shape {shape} "
                        f"({needed:,} bytes) but the archive holds {info.file_size:,} bytes for "
                        "it" + ("" if needed <= info.file_size else "; the file is damaged")
                        + ("" if limit is None or needed <= limit else
                           f", and this process can give it at most {limit:,}") + "."
                    )
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc}).") from exc


def _find_idx(directory: Path) -> tuple[dict[str, Path], list[str]]:
    """Locate the four IDX files (plain preferred over .gz); return found and missing names."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for key, name in MNIST_IDX_FILES.items():
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            missing.append(f"{name}[.gz]")
    return found, missing


def load_mnist(path: str | os.PathLike[str] | None = None) -> MnistArrays:
    """Load MNIST from local files, never from the network.

    Args:
        path: a directory holding ``mnist.npz`` or the four IDX files, or an ``.npz`` file
            itself. None: ``$SCRATCHNN_DATA``, else ``~/.scratchnn/data``.

    Returns:
        ``((x_train, y_train), (x_test, y_test))`` as stored, uint8 for MNIST: images
        ``(60000, 28, 28)`` and ``(10000, 28, 28)`` with pixels 0..255, labels ``(60000,)`` and
        ``(10000,)`` in 0..9. Scale with ``x / 255.0`` and flatten with ``x.reshape(len(x), -1)``.

    Raises:
        FileNotFoundError: nothing usable there; the message says which files to put where.
        ValueError: a file is there but damaged (bad magic number, wrong size, bad archive).

    Example:
        >>> (x_train, y_train), (x_test, y_test) = load_mnist()  # doctest: +SKIP
        >>> x_train.shape, y_test.shape  # doctest: +SKIP
        ((60000, 28, 28), (10000,))
    """
    where = data_dir(path)
    if where.is_file():
        return _load_npz(where)
    if not where.is_dir():
        origin = (
            "the path argument" if path is not None
            else DATA_ENV_VAR if os.environ.get(DATA_ENV_VAR) else "the default"
        )
        raise FileNotFoundError(
            _missing_message(where, f"{where} (from {origin}) does not exist.", [])
        )
    if (where / MNIST_NPZ).is_file():
        return _load_npz(where / MNIST_NPZ)
    found, missing = _find_idx(where)
    if missing:
        raise FileNotFoundError(
            _missing_message(where, f"no {MNIST_NPZ} and no complete IDX set in {where}.",
                             missing)
        )
    arrays = {key: read_idx(file) for key, file in found.items()}
    _check_pair(arrays["x_train"], arrays["y_train"], "train", where)
    _check_pair(arrays["x_test"], arrays["y_test"], "test", where)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
