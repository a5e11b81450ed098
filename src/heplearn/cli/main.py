"""The ``heplearn`` command: global options, sub-command groups, and error handling.

User errors (:class:`~heplearn.errors.HeplearnError`, unreadable paths) print
one line ``error: <what> in <where>: <why>; <what to do>`` and exit 1; bad
usage exits 2; ``--debug`` shows the traceback.  heplearn's warnings print as one
line ``warning: <message>`` (``--debug``: Python's format, with file and line).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

import typer

from heplearn import __version__
from heplearn.cli import calib as calib_commands
from heplearn.cli import data as data_commands
from heplearn.cli import dqm as dqm_commands
from heplearn.cli import generate as generate_commands
from heplearn.cli import search as search_commands
from heplearn.cli.demo import demo
from heplearn.cli.info import info
from heplearn.cli.state import STATE
from heplearn.cli.warning_lines import one_line_warnings
from heplearn.errors import HeplearnError

__all__ = ["app", "main"]

app = typer.Typer(
    name="heplearn",
    help="Machine learning on collider-detector data: calib, dqm and search workflows.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(calib_commands.app, name="calib")
app.add_typer(data_commands.app, name="data")
app.add_typer(dqm_commands.app, name="dqm")
app.add_typer(generate_commands.app, name="generate")
app.add_typer(search_commands.app, name="search")
app.command(name="info")(info)
app.command(name="demo")(demo)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"heplearn {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """heplearn: generate, store, train, evaluate and report, for calib, dqm and search."""
    STATE.debug = debug


def _fail(message: str) -> int:
    if STATE.debug:
        traceback.print_exc()
    typer.echo(f"error: {message}", err=True)
    return 1


def _click_kind(err: Exception) -> str | None:
    """Which click control-flow exception ``err`` is (typer may vendor click, so match by name)."""
    names = {cls.__name__ for cls in type(err).__mro__}
    for kind in ("UsageError", "Exit", "Abort"):
        if kind in names:
            return kind
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    STATE.debug = "--debug" in args
    try:
        with one_line_warnings(debug=STATE.debug):
            result = app(args=args, prog_name="heplearn", standalone_mode=False)
    except HeplearnError as err:
        return _fail(err.message)
    except OSError as err:
        where = err.filename or "the file system"
        return _fail(
            f"cannot access a path in {where}: {err.strerror or err}; check it and its permissions"
        )
    except KeyboardInterrupt:
        typer.echo("error: interrupted; rerun the same command to resume", err=True)
        return 130
    except Exception as err:
        kind = _click_kind(err)
        if kind == "UsageError":
            err.show()  # type: ignore[attr-defined]
            return 2
        if kind == "Exit":
            return int(err.exit_code)  # type: ignore[attr-defined]
        if kind == "Abort":
            typer.echo("error: aborted", err=True)
            return 1
        # A bug: still one line unless --debug.
        return _fail(
            f"unexpected {type(err).__name__} in heplearn {__version__}: {err}; "
            "rerun with --debug and report the traceback"
        )
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
