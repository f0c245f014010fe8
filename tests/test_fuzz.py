"""Fuzzing of every loader of files from someone else: model files, sweep specs, CSV files.

Each target (``_fuzz_targets.py``: model files, deep-architecture model files, sweep specs, CSV
files) mutates valid inputs with Hypothesis, from a fixed seed, and
requires each case to end in a load or one ``ValueError`` naming the file, within
``CASE_SECONDS``, in a child process whose address space is limited to a few hundred MiB: an
allocation the input asks for fails the run instead of slowing the machine.

The default run is CI's (well under a minute in all). A longer one::

    SCRATCHNN_FUZZ_EXAMPLES=20000 python -m pytest -q tests/test_fuzz.py

``SCRATCHNN_FUZZ_EXAMPLES`` is read by this test only; ``SCRATCHNN_FUZZ_SEED`` changes the seed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from _hostile import TESTS, run_limited

SEED = int(os.environ.get("SCRATCHNN_FUZZ_SEED", "20240515"))
LONG = int(os.environ.get("SCRATCHNN_FUZZ_EXAMPLES", "0"))
# deep: RBM, DBN, GAN and autoencoder files. 700 cases from the fixed seed include a DBN whose
# first hidden size is 2**24 (a 640 MiB kernel over a stored (5, 4) one), which the checks
# before issue 15's deep-architecture follow-up let through to a MemoryError.
CI_EXAMPLES = {"model": 400, "deep": 700, "spec": 300, "csv": 800}
MEMORY_MIB = {"model": 512, "deep": 512, "spec": 768, "csv": 512}  # spec imports scikit-learn


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX resource limits (RLIMIT_AS)")
@pytest.mark.parametrize("target", sorted(CI_EXAMPLES))
def test_every_mutation_loads_or_is_one_value_error(target: str, tmp_path: Path) -> None:
    examples = LONG or CI_EXAMPLES[target]
    done = run_limited(
        [str(TESTS / "_fuzz_targets.py"), target, str(examples), str(SEED), str(tmp_path)],
        mib=MEMORY_MIB[target], timeout=120 + examples,
    )
    assert done.returncode == 0, f"{target} fuzzing failed:\n{done.stdout}\n{done.stderr}"
    summary = json.loads(done.stdout.splitlines()[-1])
    print(f"fuzz {target}: {summary}")  # shown with -s, and in the long run's log
    assert summary["target"] == target
    assert summary["cases"] >= examples
    assert summary["loaded"] > 0 and summary["refused"] > 0  # both ends are exercised
    assert summary["cases"] == summary["loaded"] + summary["refused"]
