"""The five tutorials' figures, reproduced: one module each, one ``run`` each, and a report.

Each ``scratchnn.studies.seedNNN`` module has

    run(out_dir, quick=False, seed=0, progress=None) -> StudyResult

which trains what its tutorial trained, writes its PNGs under ``out_dir`` and returns the
tutorial's figures beside ours (:class:`Figure`), without printing anything: progress goes to the
``progress`` callback. :func:`scratchnn.studies.report.write_report` turns a list of results into
one Markdown or HTML report.

    >>> from scratchnn import studies
    >>> sorted(studies.STUDIES)
    ['000', '001', '002', '003', '004']
"""

from __future__ import annotations

from collections.abc import Callable

from scratchnn.studies import seed000, seed001, seed002, seed003, seed004
from scratchnn.studies._common import VERDICTS, Figure, StudyResult, verdict

STUDIES: dict[str, Callable[..., StudyResult]] = {
    "000": seed000.run,
    "001": seed001.run,
    "002": seed002.run,
    "003": seed003.run,
    "004": seed004.run,
}
"""Study number -> its ``run`` function."""

TITLES: dict[str, str] = {
    "000": seed000.TITLE,
    "001": seed001.TITLE,
    "002": seed002.TITLE,
    "003": seed003.TITLE,
    "004": seed004.TITLE,
}
"""Study number -> a one-line title."""

__all__ = ["STUDIES", "TITLES", "VERDICTS", "Figure", "StudyResult", "verdict"]
