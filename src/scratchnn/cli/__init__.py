"""The ``scratchnn`` command line. Nothing in the library imports this package.

    scratchnn train moons --layers 8,8 --epochs 200   # train, save model + plots, record the run
    scratchnn runs                                     # the recorded runs, as a table
    scratchnn runs show 1m8                            # one run in full (any unique id prefix)
    scratchnn predict scratchnn-runs/<id>/model.snn new.csv --output predictions.csv
    scratchnn export scratchnn-runs/<id>/model.snn model.onnx  # ONNX, with the scaler
    scratchnn reproduce all --quick                    # the tutorials' figures, and a report
    scratchnn demo                                     # tutorial 000's network on moons
    scratchnn train tinyshakespeare --task language-model   # a character-level LSTM
    scratchnn generate <run folder>/model.snn --prime "ROMEO:" --length 500

Bad input (an unknown name, a bad CSV cell, a file that is not a model, a locked run store, an
option out of range) ends the command with exit status 1 (2 for a usage error) and one line on
standard error, ``Error: ...``; :class:`MainGroup` does that for every command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click

import scratchnn
from scratchnn.cli._common import USER_ERRORS, describe_error, one_line
from scratchnn.cli.demo import demo
from scratchnn.cli.export import export
from scratchnn.cli.language_model import generate
from scratchnn.cli.predict import predict
from scratchnn.cli.reproduce import reproduce
from scratchnn.cli.runs import runs
from scratchnn.cli.sweep import sweep
from scratchnn.cli.train import train

INTERRUPTED_EXIT = 130
"""Exit status after Ctrl-C (128 + SIGINT), as shells report it."""


class MainGroup(click.Group):
    """A click group whose commands report user errors as one ``Error: ...`` line.

    ``ValueError``, ``OSError``, ``RunStoreError`` and ``TrainingError`` raised by a command
    become a :class:`click.ClickException` (exit status 1); click's usage errors (exit status 2)
    are printed on one line too, without the usage text. Ctrl-C prints ``Interrupted.`` and
    exits with status 130. Other exceptions are bugs and keep their traceback.
    """

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a user error becomes a one-line ClickException."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # `scratchnn runs | head`: click exits quietly
        except USER_ERRORS as exc:
            raise click.ClickException(describe_error(exc)) from exc

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Parse the command line and run it; in standalone mode, print errors and exit."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            status = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"Error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Interrupted.", err=True)
            sys.exit(INTERRUPTED_EXIT)
        sys.exit(status if isinstance(status, int) else 0)


@click.group(cls=MainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(scratchnn.__version__, prog_name="scratchnn")
def main() -> None:
    """scratchnn: neural networks written from scratch on NumPy."""


for _command in (train, runs, predict, export, reproduce, demo, generate):
    main.add_command(_command)
main.add_command(sweep)
