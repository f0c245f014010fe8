"""scratchnn against hand-written NumPy, scikit-learn and PyTorch: the one benchmark entry point.

Each case runs in its own process, with every competitor timed in that process, interleaved,
``--repeats`` times after one warm-up round; the table gives the median, min and max, the ratio of
medians to hand-written NumPy, and the achieved GFLOP/s of the matrix products against the best
GFLOP/s of a large float32 matrix product measured on this machine. Peak memory (case e) is
measured with each competitor alone in its own process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/run.py
    python benchmarks/run.py --cases a,c --repeats 5 --no-readme
    python benchmarks/run.py --threads 1     # one BLAS/PyTorch thread: steadier on a busy machine
    python benchmarks/run.py --cases g --threads 1   # the character LSTM (about 10 minutes)
    python benchmarks/run.py --cases f       # the MNIST convnet at 1 and default threads (8 min)
    python benchmarks/run.py --baseline /tmp/base/src --rounds 3   # against another checkout

With ``--baseline SRC`` (the ``src`` folder of another checkout, e.g. a git worktree of the
previous commit), each case's worker runs ``--rounds`` times with this code and with that one,
alternating, and the table compares scratchnn's medians (and its ratio to the hand-written NumPy
timed in the same process, which cancels a slow round).

Where OPENBLAS_CORETYPE is set (older OpenBLAS builds need it on some processors), it pins a
slower kernel; unset it for this command only, as above. The table says which kernel ran.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import cases
import common

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
BEGIN = "<!-- engine benchmarks: begin (written by benchmarks/run.py) -->"
END = "<!-- engine benchmarks: end -->"
CONV_BEGIN = "<!-- convnet benchmark: begin (written by benchmarks/run.py) -->"
CONV_END = "<!-- convnet benchmark: end -->"
BASELINE_BEGIN = "<!-- baseline comparison: begin (written by benchmarks/run.py --baseline) -->"
BASELINE_END = "<!-- baseline comparison: end -->"
TIMED = {"a": cases.case_a, "b": cases.case_b, "c": cases.case_c, "d": cases.case_d}
TIMED["g"] = cases.case_g
TIMED["f"] = cases.case_f
CASES = ("a", "b", "c", "d", "e", "f", "g")


def _worker(argv: list[str]) -> None:
    """Child process: run one case (or one memory measurement) and print JSON on the last line."""
    kind, name, repeats, steps, threads = argv[0], argv[1], int(argv[2]), int(argv[3]), argv[4]
    if threads != "default":
        common.limit_threads(int(threads))
    if kind == "--case":
        kwargs = {"steps": steps} if name == "b" else {}
        if name == "g":  # --lm-batches, 0 for a whole epoch
            kwargs = {"batches": int(argv[5]) or None}
        if name == "f":  # --images, --test-images
            kwargs = {"images": int(argv[6]), "test_images": int(argv[7]), "threads": threads}
        print(json.dumps(TIMED[name](repeats, **kwargs).as_dict()))
    else:
        case, competitor = name.split(":")
        print(json.dumps(cases.rss_worker(case, competitor, images=int(argv[6]))))


def _child(kind: str, name: str, repeats: int, steps: int, threads: int | None,
           lm_batches: int = 0, images: int = cases.CONVNET_IMAGES,
           test_images: int = cases.CONVNET_TEST, source: Path | None = None) -> Any:
    """Run one worker process; ``source``: import scratchnn from that ``src`` folder instead."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, name, str(repeats),
           str(steps), "default" if threads is None else str(threads), str(lm_batches),
           str(images), str(test_images)]
    env = None
    if source is not None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(source), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker {name} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def _table(result: dict[str, Any], peak: float) -> list[str]:
    lines = [f"**{result['title']}**", "",
             "| competitor | median | min | max | × numpy | GFLOP/s | % of peak | note |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for row in result["rows"]:
        unit = row["unit"]
        gf = row["gflops"]
        lines.append(
            f"| {row['name']} | {_fmt(row['median'])} {unit} | {_fmt(row['low'])} {unit} | "
            f"{_fmt(row['high'])} {unit} | {_fmt(row['ratio'])} | {_fmt(gf)} | "
            f"{'' if gf is None else f'{100 * gf / peak:.0f} %'} | {row['note']} |"
        )
    lines.append("")
    lines += [f"- {note.strip()}" if not note.startswith("  ") else f"  {note.strip()}"
              for note in result["notes"]]
    lines.append("")
    return lines


def _memory_table(results: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    lines = ["**(e) peak resident memory (RSS), one process per competitor, MiB**", "",
             "| case | competitor | peak RSS | × numpy | after imports and data | "
             "growth during the epoch |", "|---|---|---:|---:|---:|---:|"]
    notes = []
    for case, per in results.items():
        base = per["numpy"]["peak"]
        for name, m in per.items():
            lines.append(f"| ({case}) | {name} | {m['peak']:.0f} | {m['peak'] / base:.2f} | "
                         f"{m['before']:.0f} | {m['training']:.0f} |")
        if case == "a" and "scratchnn" in per:
            ratio = per["scratchnn"]["peak"] / base
            notes.append(f"- (a) scratchnn / numpy peak RSS: {ratio:.2f} (target <= 1.3) "
                         f"{'MET' if ratio <= 1.3 else 'NOT MET'}")
    return [*lines, "", *notes, ""]


def _convnet_memory_table(per: dict[str, dict[str, float]]) -> list[str]:
    """Peak RSS of case (f), each competitor alone in its process, against PyTorch's."""
    base = per["pytorch"]["peak"]
    lines = ["**(f) peak resident memory (RSS) of one convnet epoch, one process per competitor, "
             "MiB**", "",
             "| competitor | peak RSS | × pytorch | after imports and data | growth during the "
             "epoch |", "|---|---:|---:|---:|---:|"]
    for name, m in per.items():
        lines.append(f"| {name} | {m['peak']:.0f} | {m['peak'] / base:.2f} | {m['before']:.0f} "
                     f"| {m['training']:.0f} |")
    ratio = per["scratchnn"]["peak"] / base
    return [*lines, "", f"- scratchnn / pytorch peak RSS: {ratio:.2f} (target <= 2) "
            f"{'MET' if ratio <= 2 else 'NOT MET'}", ""]


def _row_median(results: list[dict[str, Any]], name: str) -> float:
    """The median over worker runs of row ``name``'s median."""
    return statistics.median(_row(result, name) for result in results)


def _to_first_row(results: list[dict[str, Any]], name: str) -> float:
    """The median over worker runs of row ``name`` / the NumPy row of the same run and section
    (case (c)'s rows are ``"1 row: scratchnn"``, ``"100000 rows: numpy"``, ...)."""
    prefix = name.rpartition("scratchnn")[0]
    return statistics.median(_row(result, name) / _row(result, f"{prefix}numpy")
                             for result in results)


def _row(result: dict[str, Any], name: str) -> float:
    return next(r["median"] for r in result["rows"] if r["name"] == name)


def _against_baseline(args: argparse.Namespace, chosen: list[str]) -> list[str]:
    """Each timed case with this code and with ``args.baseline``'s, alternating, in rounds."""
    lines = [f"**scratchnn against {args.baseline}** ({args.rounds} rounds of {args.repeats} "
             "repetitions each, the two alternating; seconds are medians over the rounds)", "",
             "| case | row | this code | baseline | this / baseline | this / numpy | "
             "baseline / numpy |", "|---|---|---:|---:|---:|---:|---:|"]
    for key in chosen:
        if key not in TIMED:
            continue
        runs: dict[str, list[dict[str, Any]]] = {"this": [], "baseline": []}
        for _ in range(args.rounds):
            for side, source in (("this", None), ("baseline", args.baseline)):
                runs[side].append(_child("--case", key, args.repeats, args.steps, args.threads,
                                         args.lm_batches, args.images, args.test_images, source))
        units = {row["name"]: row["unit"] for row in runs["this"][0]["rows"]
                 if "scratchnn" in row["name"]}
        for name, unit in units.items():
            this, base = _row_median(runs["this"], name), _row_median(runs["baseline"], name)
            lines.append(f"| ({key}) | {name} | {_fmt(this)} {unit} | {_fmt(base)} {unit} | "
                         f"{this / base:.3f} | {_to_first_row(runs['this'], name):.3f} | "
                         f"{_to_first_row(runs['baseline'], name):.3f} |")
        print(lines[-1], flush=True)
    return [*lines, "", "The ratios to NumPy divide by the first row of each case (hand-written "
            "NumPy, timed in the same worker process).", ""]


def _header(peak: float, command: str) -> list[str]:
    import scratchnn

    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return [
        f"Command: `{command}` — run {now}.", "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}, NumPy {np.__version__}, scratchnn "
        f"{scratchnn.__version__ if hasattr(scratchnn, '__version__') else ''}.",
        f"BLAS: {common.blas_info()}; PyTorch: {common.torch_threads()}.",
        f"Reference speed: {peak:.0f} GFLOP/s, the best of 7 float32 (2048, 2048) @ (2048, 2048) "
        "products. GFLOP/s columns count only the matrix products (forward, weight gradients, "
        "and input gradients past the first layer). Times are wall-clock, medians of the "
        "repetitions; the machine is shared, so min/max show the noise.", "",
    ]


def _write_readme(lines: list[str], begin: str = BEGIN, end: str = END,
                  heading: str = "## Engine benchmarks (issue 6): scratchnn vs NumPy, "
                                 "scikit-learn, PyTorch") -> None:
    """Replace the block between ``begin`` and ``end`` of README.md (or append one)."""
    block = "\n".join([begin, heading, "", *lines, end])
    if README.exists():
        text = README.read_text()
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = "# Benchmarks\n\n" + block + "\n"
    README.write_text(text)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, run the cases, print the tables and update the README."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        _worker(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="a,b,c,d,e",
                        help="comma-separated subset of a,b,c,d,e,f,g (f: the MNIST convnet, "
                             "g: the character LSTM)")
    parser.add_argument("--lm-batches", type=int, default=0,
                        help="case g: time only this many batches of the epoch (0: all)")
    parser.add_argument("--images", type=int, default=cases.CONVNET_IMAGES,
                        help="case f: training images (a smaller number for a quick check)")
    parser.add_argument("--test-images", type=int, default=cases.CONVNET_TEST,
                        help="case f: images predicted")
    parser.add_argument("--repeats", type=int, default=3, help="recorded rounds per case")
    parser.add_argument("--steps", type=int, default=cases.MOONS_STEPS, help="steps in case b")
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads (default: the libraries' own choice)")
    parser.add_argument("--no-readme", action="store_true", help="do not update README.md")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="the src folder of another checkout: compare scratchnn with it")
    parser.add_argument("--rounds", type=int, default=3,
                        help="with --baseline: worker runs per side, alternating")
    args = parser.parse_args(argv)
    chosen = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(chosen) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; choose from {','.join(CASES)}")
    if os.environ.get("OPENBLAS_CORETYPE"):
        print(f"note: OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} pins a slower kernel; "
              "for the machine's own, run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python "
              "benchmarks/run.py", file=sys.stderr)
    if args.threads is not None:
        common.limit_threads(args.threads)
    peak = common.matmul_gflops()
    command = "python benchmarks/run.py " + " ".join(argv)
    if not os.environ.get("OPENBLAS_CORETYPE"):
        command = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE " + command
    header = _header(peak, command.strip())
    print("\n".join(header), flush=True)
    lines, conv_lines = list(header), []
    if args.baseline is not None:
        part = _against_baseline(args, chosen)
        print("\n".join(part), flush=True)
        if not args.no_readme:
            _write_readme([*header, *part], BASELINE_BEGIN, BASELINE_END,
                          "## Against the previous engine (issue 9)")
        return
    for key in chosen:
        if key == "e":
            memory = {
                case: {
                    name: _child("--rss", f"{case}:{name}", 0, 0, args.threads)
                    for name in cases.RSS_COMPETITORS
                }
                for case in ("a", "d")
            }
            part = _memory_table(memory)
        elif key == "f":  # at one thread and at the libraries' default, unless --threads says
            part = []
            for threads in ([1, None] if args.threads is None else [args.threads]):
                result = _child("--case", key, args.repeats, args.steps, threads, 0, args.images,
                                args.test_images)
                if threads == 1 and args.threads is None:
                    with threadpool_limits(1):  # the reference speed of one thread
                        one = common.matmul_gflops()
                    part += [f"One-thread reference speed: {one:.0f} GFLOP/s.", ""]
                    part += _table(result, one)
                else:
                    part += _table(result, peak)
            part += _convnet_memory_table({
                name: _child("--rss", f"f:{name}", 0, 0, args.threads, 0, args.images)
                for name in ("numpy", "scratchnn", "pytorch")
            })
            conv_lines += part
            print("\n".join(part), flush=True)
            continue
        else:
            part = _table(_child("--case", key, args.repeats, args.steps, args.threads,
                                 args.lm_batches), peak)
        print("\n".join(part), flush=True)
        lines += part
    if not args.no_readme:
        if len(lines) > len(header):
            _write_readme(lines)
        if conv_lines:
            _write_readme([*header, *conv_lines], CONV_BEGIN, CONV_END,
                          "## Keras' simple MNIST convnet (issue 16, case f)")
        print(f"written to {README}")


if __name__ == "__main__":
    main()
