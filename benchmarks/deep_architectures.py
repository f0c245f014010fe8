"""Tutorial 004's deep architectures, each figure beside its reference in one run (issue 11).

Runs the sections of study 004's deep-architectures part (``scratchnn.studies._deep004`` and
``_gan004``: the same code as ``scratchnn reproduce 004``) at one size, prints each figure with
its target, writes the PNGs (and the DCGAN's GIF) into ``--out`` and a ``results.json``:

* ``rbm`` — scikit-learn's "RBM features for digit classification" recipe with its
  ``BernoulliRBM`` and with scratchnn's RBM: accuracy (target >= scikit-learn's - 1 point, and
  above logistic regression on raw pixels), pseudo-likelihood per iteration, fit time (target
  <= scikit-learn's);
* ``dbn`` — DBN 784-500-500-10 pretrained on 60 000 unlabelled MNIST images, fine-tuned on
  1 000 labels, vs the same network from random weights, 3 seeds;
* ``autoencoders`` — dense and convolutional autoencoders vs PCA(32), test MSE (target: both
  below PCA);
* ``gan`` — a CNN digit classifier (target >= 99 %), a dense GAN and a DCGAN: classifier score
  (target >= 8.5 for the DCGAN), every digit >= 5 % of the samples, Fréchet distance;
* ``vanishing`` — 10-layer sigmoid vs ReLU + He vs DBN-initialised: gradient norm per layer.

Modes: ``short`` (MNIST subsets, one epoch of everything: to check the script and time the
steps), ``quick`` (scikit-learn's digits: seconds), ``default`` (MNIST subsets), ``full`` (the
figures' sizes)::

    python benchmarks/deep_architectures.py --mode short     # every section: about 15 s
    python benchmarks/deep_architectures.py rbm --mode full  # the RBM recipe: under a minute
    python benchmarks/deep_architectures.py all --mode full --out deep-full   # see the docs

Durations of the full sections: docs/deep-architectures.md.

Every run uses one BLAS thread (the networks are small; see ``studies._common``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import common

SECTIONS = ("rbm", "dbn", "autoencoders", "gan", "vanishing")


def run(sections: list[str], mode: str, seed: int, out: Path, mnist: Path | None,
        gan_overrides: dict | None = None) -> list[dict]:
    """Run ``sections`` at ``mode`` sizes; print and return their figures.

    ``gan_overrides`` replaces fields of the mode's ``_gan004.GanSizes`` (``dcgan_epochs``,
    ``dcgan_filters``, ``dcgan_d_filters``, ...).
    """
    import dataclasses

    from scratchnn.studies import _deep004, _gan004
    from scratchnn.studies._common import Reporter, single_threaded_blas

    out.mkdir(parents=True, exist_ok=True)
    say = Reporter("004", lambda line: print(line, flush=True))
    sizes = _deep004.SIZES[mode]
    gan_sizes = dataclasses.replace(_gan004.GAN_SIZES[mode], **(gan_overrides or {}))
    rows: list[dict] = []
    with single_threaded_blas():
        data = None
        if set(sections) - {"rbm"}:
            data = _deep004.load_data(sizes, seed, say, mnist)
            print(f"data: {data.name}, {len(data.x_train)} training and {len(data.x_test)} test "
                  "images", flush=True)
        for name in sections:
            start, cpu = time.perf_counter(), time.process_time()
            if name == "rbm":
                figures = [_deep004.rbm_section(sizes, seed, out, say)[0]]
            elif name == "dbn":
                figures = _deep004.dbn_section(data, sizes, seed, out, say)[0]
            elif name == "autoencoders":
                figures = _deep004.autoencoder_section(data, sizes, seed, out, say)[0]
            elif name == "gan":
                figures = _gan004.gan_section(data, gan_sizes, seed, out, say)[0]
            else:
                figures = [_deep004.vanishing_section(data, sizes, seed, out, say)[0]]
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"== {name} ({mode}): {seconds:.1f} s wall, {cpu:.1f} s CPU", flush=True)
            for f in figures:
                print(f"   {f.name}\n      ours: {f.ours}\n      reference: {f.tutorial}\n"
                      f"      verdict: {f.verdict}{' (' + f.note + ')' if f.note else ''}")
                rows.append({"section": name, "mode": mode, "figure": f.name, "ours": f.ours,
                             "reference": f.tutorial, "verdict": f.verdict, "value": f.value,
                             "target": f.target, "seconds": round(seconds, 1),
                             "cpu_seconds": round(cpu, 1)})
    (out / "results.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    return rows


def _pair(text: str) -> tuple[int, int]:
    first, second = (int(v) for v in text.split(","))
    return first, second


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", nargs="?", default="all", choices=(*SECTIONS, "all"))
    parser.add_argument("--mode", default="short", choices=("short", "quick", "default", "full"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("deep-architectures"),
                        help="folder for the PNGs, the GIF and results.json")
    parser.add_argument("--mnist", type=Path, default=common.MNIST,
                        help="mnist.npz (default: the shared copy)")
    parser.add_argument("--dcgan-epochs", type=int, help="override the mode's DCGAN epochs")
    parser.add_argument("--dcgan-filters", type=_pair,
                        help="the generator's channels, e.g. 64,32 (override)")
    parser.add_argument("--dcgan-d-filters", type=_pair,
                        help="the discriminator's channels, e.g. 64,128 (override)")
    args = parser.parse_args(argv)
    overrides = {key: value for key, value in (
        ("dcgan_epochs", args.dcgan_epochs), ("dcgan_filters", args.dcgan_filters),
        ("dcgan_d_filters", args.dcgan_d_filters)) if value is not None}
    sections = list(SECTIONS) if args.section == "all" else [args.section]
    mnist = args.mnist if args.mnist.exists() else None
    if mnist is None and args.mode in ("short", "default", "full") and args.section != "rbm":
        print(f"{args.mnist} not found: falling back to $SCRATCHNN_DATA, then digits",
              file=sys.stderr)
    start = time.perf_counter()
    run(sections, args.mode, args.seed, args.out, mnist, overrides)
    print(f"total: {time.perf_counter() - start:.1f} s; figures in {args.out}/")


if __name__ == "__main__":
    main()
