"""``scratchnn reproduce``: run the studies of the five tutorials and write one report.

The studies live in :mod:`scratchnn.studies`: ``STUDIES`` maps "000".."004" to a function
``run(out_dir, quick=False, seed=0, progress=None) -> StudyResult``, and
``scratchnn.studies.report.write_report(results, out_dir, fmt)`` writes the report.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

REPORT_FORMATS = ("md", "html")


def load_studies() -> tuple[Any, Any]:
    """The :mod:`scratchnn.studies` package and its ``report`` module.

    Imported on use, so that the other commands start without loading every study.
    """
    return (
        importlib.import_module("scratchnn.studies"),
        importlib.import_module("scratchnn.studies.report"),
    )


TABLE_WIDTHS = {"study": 5, "figure": 29, "tutorial": 18, "ours": 29, "verdict": 11}
"""Column widths of the closing table: with two spaces between columns, 100 characters."""


def figure_table(results: list[Any]) -> str:
    """Every figure of every study as a table at most 100 characters wide: study, figure,
    tutorial, ours, verdict; long cells wrap onto further lines of their row."""
    import textwrap

    rows = [list(TABLE_WIDTHS)]
    for result in results:
        for fig in result.figures:
            name = str(fig.name).removeprefix(f"{result.study} ")
            rows.append([str(result.study), name, str(fig.tutorial), str(fig.ours),
                         str(fig.verdict)])  # fmt: skip
    lines = []
    for row in rows:
        cells = [textwrap.wrap(text, width, break_long_words=True) or [""]
                 for text, width in zip(row, TABLE_WIDTHS.values(), strict=True)]  # fmt: skip
        for i in range(max(len(cell) for cell in cells)):
            parts = [(cell[i] if i < len(cell) else "").ljust(width)
                     for cell, width in zip(cells, TABLE_WIDTHS.values(), strict=True)]
            lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


FULL_STUDIES = ("000", "004")
"""Studies with a longer ``full`` version (``--full``)."""


@click.command()
@click.argument("study", default="all")
@click.option("--quick", is_flag=True,
              help="Smaller grids and fewer steps: a minute or two for all five on 2 cores.")
@click.option("--full", is_flag=True,
              help="Study 000 trains the tutorial's whole 420-run grid on each of its 10 splits "
                   "(the grid alone takes about 100 s on 2 cores: a quarter of an hour); study "
                   "004 trains its character LSTM for 15 epochs (about 5 minutes).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              default=Path("scratchnn-report"), show_default=True,
              help="Folder for the report and its images.")
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), default="md",
              show_default=True, help="Report format: Markdown or HTML.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of every study.")
def reproduce(study: str, quick: bool, full: bool, out: Path, fmt: str, seed: int) -> None:
    """Reproduce the tutorials' figures: STUDY is 000, 001, 002, 003, 004 or all (default).

    Prints each figure beside the tutorial's as it is computed, then a table of all of them,
    and writes a report (with the plots) into --out.
    """
    studies, report = load_studies()
    known = list(studies.STUDIES)
    if study != "all" and study not in studies.STUDIES:
        raise ValueError(f"unknown study {study!r}. Known studies: {', '.join(known)}, all.")
    if full and quick:
        raise ValueError("--full and --quick exclude each other: --full is study 000's whole grid "
                         "and study 004's long LSTM run.")
    if full and study not in (*FULL_STUDIES, "all"):
        raise ValueError(f"--full applies to studies {' and '.join(FULL_STUDIES)} (000's 420-run "
                         f"grid, 004's character LSTM), not to {study}.")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for key in known if study == "all" else [study]:
        click.echo(f"== Study {key}{' (quick)' if quick else ''}")
        extra = {"full": True} if full and key in FULL_STUDIES else {}
        result = studies.STUDIES[key](
            out_dir=out, quick=quick, seed=seed, progress=click.echo, **extra
        )
        click.echo(f"== {key} {result.title}: {len(result.figures)} figures, "
                   f"{result.seconds:.1f} s")  # fmt: skip
        results.append(result)
    path = report.write_report(results, out, fmt)
    click.echo("")
    click.echo(figure_table(results))
    click.echo(f"Report: {path}")
