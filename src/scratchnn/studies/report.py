"""One report for several studies: a table of every figure, then a section per study.

:func:`write_report` writes ``report.md`` (Markdown) or ``report.html`` (one self-contained page,
styles inline, the PNGs linked by relative paths) into ``out_dir``. The table has one row per
figure: study, figure, the tutorial's value, ours and the verdict. Each study's section says
which tutorial it reproduces, gives each figure in full (where the tutorial states its value, and
how a measured tolerance was found), then its PNGs and its notes. Files are written atomically
(temporary file, then ``os.replace``).

    >>> import tempfile
    >>> from pathlib import Path
    >>> from scratchnn.studies import Figure, StudyResult
    >>> fig = Figure("003 perceptron plateau", "~4.17", "4.149", "matched", 4.149, 4.17, 0.1)
    >>> result = StudyResult("003", "Adding a hidden layer", [fig], [], "Notes.", 1.0)
    >>> path = write_report([result], Path(tempfile.mkdtemp()))
    >>> "| 003 | 003 perceptron plateau | ~4.17 | 4.149 | matched |" in path.read_text()
    True
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import os
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from scratchnn.studies._common import VERDICTS, Figure, StudyResult
from scratchnn.studies.tutorials import FIGURE_SOURCES, TUTORIALS

FORMATS = ("md", "html")
"""The report formats :func:`write_report` writes."""

_VERDICT_MARK = {"matched": "✅", "beaten": "🏆", "not matched": "❌", "shown": "🖼"}
_VERDICT_COLOR = {
    "matched": "#1a7f37", "beaten": "#0550ae", "not matched": "#cf222e", "shown": "#57606a",
}


def write_report(results: Sequence[StudyResult], out_dir: Path, fmt: str = "md") -> Path:
    """Write the report of ``results`` into ``out_dir`` and return its path.

    Args:
        results: the studies' results, in the order to show them.
        out_dir: the folder of the report (created when missing); image paths are written
            relative to it.
        fmt: ``"md"`` for ``report.md`` or ``"html"`` for ``report.html``.

    Returns:
        The path of the written report.

    Raises:
        ValueError: an unknown ``fmt``, or no results.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}; received fmt={fmt!r}.")
    results = list(results)
    if not results:
        raise ValueError("write_report needs at least one StudyResult; received none.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = _markdown(results, out_dir) if fmt == "md" else _html(results, out_dir)
    return _write_atomically(out_dir / f"report.{fmt}", text)


def _write_atomically(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _relative(image: Path, out_dir: Path) -> str:
    return Path(os.path.relpath(Path(image).resolve(), out_dir.resolve())).as_posix()


def _counts(results: Sequence[StudyResult]) -> str:
    counts = Counter(f.verdict for r in results for f in r.figures)
    return ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS)


def _header_lines(results: Sequence[StudyResult]) -> list[str]:
    from scratchnn._version import __version__

    total = sum(r.seconds for r in results)
    when = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return [
        f"scratchnn {__version__}, {when}; studies {', '.join(r.study for r in results)} in "
        f"{total:.0f} s.",
        f"Figures: {_counts(results)}. *matched*: within the stated tolerance of the "
        "tutorial's value (where a figure moves with the data split or the draw, the "
        "tolerance is the spread we measured over splits or draws); *beaten*: better than it "
        "beyond the tolerance; *not matched*: neither; *shown*: a qualitative figure (a plot, "
        "a table, a prediction, an exercise the tutorial gives no number for).",
    ]


def _tutorial_line(study: str) -> str:
    """``Tutorial: *title* (language; origin). summary`` for a study, or ``""``."""
    found = TUTORIALS.get(study)
    if found is None:
        return ""
    return (f"Tutorial: *{found.title}* ({found.language}; {found.origin}). {found.summary}")


def _figure_line(f: Figure) -> str:
    """One figure in full: the tutorial's value and where it says so, ours, the verdict."""
    source = FIGURE_SOURCES.get(f.name)
    tutorial = f"{f.tutorial} ({source})" if source else f.tutorial
    why = f": {f.note}" if f.note else ""
    return f"**{f.name}**: tutorial {tutorial}; ours {f.ours} (*{f.verdict}*{why})"


# --- Markdown ---------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _markdown(results: Sequence[StudyResult], out_dir: Path) -> str:
    lines = ["# scratchnn: the tutorials' figures reproduced", ""]
    for line in _header_lines(results):
        lines += [line, ""]
    lines += ["| Study | Figure | Tutorial | Ours | Verdict |", "|---|---|---|---|---|"]
    for r in results:
        for f in r.figures:
            lines.append(
                f"| {r.study} | {_cell(f.name)} | {_cell(f.tutorial)} | {_cell(f.ours)} | "
                f"{f.verdict} |"
            )
    for r in results:
        lines += ["", f"## {r.study}: {r.title}", "", f"*{r.seconds:.1f} s.*", ""]
        if _tutorial_line(r.study):
            lines += [_tutorial_line(r.study), ""]
        for f in r.figures:
            lines.append(f"- {_VERDICT_MARK[f.verdict]} {_figure_line(f)}")
        lines.append("")
        for image in r.images:
            lines += [f"![{Path(image).stem}]({_relative(image, out_dir)})", ""]
        lines += [r.notes.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


# --- HTML -------------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #1f2328; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.verdict { font-weight: 600; white-space: nowrap; }
code { background: #f6f8fa; padding: 0 0.2rem; border-radius: 3px; }
img { max-width: 100%; border: 1px solid #d0d7de; margin: 0.5rem 0; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: 0.3rem; margin-top: 2.5rem; }
"""


def _inline(text: str) -> str:
    """Escape ``text`` and render Markdown's inline code, bold and italics."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) >= 2:
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        s = html.escape(part)
        s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
        s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", s)
        out.append(s)
    return "".join(out)


def _table_html(rows: list[str]) -> str:
    cells = [
        [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]
        for row in rows
    ]
    body = [c for c in cells[1:] if not all(re.fullmatch(r":?-+:?", x) for x in c)]
    head = "".join(f"<th>{_inline(c)}</th>" for c in cells[0])
    trs = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>"
                  for row in body)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table>"


def markdown_to_html(text: str) -> str:
    """The small Markdown of study notes as HTML: paragraphs, ``- `` lists, ``|`` tables,
    inline code, bold and italics. Everything else is escaped.

    Example:
        >>> markdown_to_html("A `x < 1` **b**.")
        '<p>A <code>x &lt; 1</code> <strong>b</strong>.</p>'
    """
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    out = []
    for block in blocks:
        lines = block.splitlines()
        if all(line.lstrip().startswith("|") for line in lines):
            out.append(_table_html(lines))
        elif all(line.lstrip().startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line.lstrip()[2:])}</li>" for line in lines)
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{_inline(' '.join(line.strip() for line in lines))}</p>")
    return "\n".join(out)


def _verdict_cell(verdict: str) -> str:
    return (f'<td class="verdict" style="color:{_VERDICT_COLOR[verdict]}">'
            f"{_VERDICT_MARK[verdict]} {html.escape(verdict)}</td>")


def _html(results: Sequence[StudyResult], out_dir: Path) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>scratchnn: the tutorials' figures reproduced</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>scratchnn: the tutorials' figures reproduced</h1>",
        *(f"<p>{_inline(line)}</p>" for line in _header_lines(results)),
        "<table><thead><tr><th>Study</th><th>Figure</th><th>Tutorial</th><th>Ours</th>"
        "<th>Verdict</th></tr></thead><tbody>",
    ]
    for r in results:
        for f in r.figures:
            parts.append(
                f'<tr><td><a href="#study-{esc(r.study)}">{esc(r.study)}</a></td>'
                f"<td>{esc(f.name)}</td><td>{esc(f.tutorial)}</td><td>{esc(f.ours)}</td>"
                f"{_verdict_cell(f.verdict)}</tr>"
            )
    parts.append("</tbody></table>")
    for r in results:
        parts += [
            f'<h2 id="study-{esc(r.study)}">{esc(r.study)}: {esc(r.title)}</h2>',
            f"<p><em>{r.seconds:.1f} s.</em></p>",
            *([f"<p>{_inline(_tutorial_line(r.study))}</p>"] if _tutorial_line(r.study) else []),
            "<ul>",
            *(f'<li><span style="color:{_VERDICT_COLOR[f.verdict]}">{_VERDICT_MARK[f.verdict]}'
              f"</span> {_inline(_figure_line(f))}</li>" for f in r.figures),
            "</ul>",
        ]
        for image in r.images:
            src = esc(_relative(image, out_dir), quote=True)
            parts.append(f'<figure><img src="{src}" alt="{esc(Path(image).stem)}"></figure>')
        parts.append(markdown_to_html(r.notes))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
