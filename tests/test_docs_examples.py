"""Every Python example of the README and of docs/ runs as written, as a script.

A reader copies a page's ```python blocks into a file and runs it, so each page's blocks are
joined in order into one script and run with ``python`` in a fresh process (worker processes
that import the script, as a sweep's do, behave as they would for the reader), from a scratch
folder that holds a link to the repository's ``examples/`` (the pages speak from the
repository's root). A block that cannot run as written says why in a comment on the line just
before its fence: ``<!-- not run: REASON -->``. ``docs/training-loop.md`` is run, with checks
on its results, by ``tests/test_sequential.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_ELSEWHERE = {"training-loop.md": "tests/test_sequential.py"}
BLOCK = re.compile(r"(?:^<!--\s*not run:(?P<why>[^>]*)-->\n)?^```python\n(?P<code>.*?)^```",
                   re.M | re.S)  # fmt: skip


def blocks(page: Path) -> list[tuple[str, str | None]]:
    """``(code, reason it is not run or None)`` for each ```python block of a page."""
    return [(m["code"], m["why"]) for m in BLOCK.finditer(page.read_text(encoding="utf-8"))]


def test_every_page_with_examples_is_covered_and_every_skip_says_why():
    with_code = [p.name for p in PAGES if blocks(p)]
    assert {"README.md", "sweeps.md", "studies.md", "model-files.md"} <= set(with_code)
    for page in PAGES:
        for _code, why in blocks(page):
            assert why is None or why.strip(), f"{page.name}: a skipped block needs a reason"


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if p.name not in RUN_ELSEWHERE],
                         ids=lambda p: p.name)  # fmt: skip
def test_the_examples_of_a_page_run_as_a_script(page, tmp_path):
    runnable = [code for code, why in blocks(page) if why is None]
    if not runnable:
        pytest.skip(f"{page.name} has no Python example to run")
    script = tmp_path / f"{page.stem}_examples.py"
    script.write_text("\n".join(runnable), encoding="utf-8")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {**os.environ, "SCRATCHNN_RUNS": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"}  # fmt: skip
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, f"{page.name}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-4000:]
