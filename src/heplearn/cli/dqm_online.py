"""``heplearn dqm watch | history | certify``: online checking into a history, and certification.

Option names follow ``dqm check``: ``--run`` is the trained model's run folder; the
CMS run number is ``--cms-run`` (in ``watch`` it sets the run of every file, in
``history`` it selects one run).
"""

from __future__ import annotations

import getpass
import json
import signal
import threading
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from heplearn.errors import ConfigError, DataError

__all__ = ["certify_command", "history_command", "watch_command"]


def _echo(line: str) -> None:
    typer.echo(line)  # one line per map, flushed: a log someone tails


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # systemd/cron stop the watcher like Ctrl-C: the same clean exit


def watch_command(
    folder: Path = typer.Argument(..., help="Folder where new map files (ROOT TH2, HDF5) appear."),
    run: Path = typer.Option(..., "--run", "-r", help="Run folder of 'heplearn dqm train'."),
    history: Path = typer.Option(
        Path("history.sqlite"), "--history", help="SQLite history to record into (created)."
    ),
    cms_run: int | None = typer.Option(
        None, "--cms-run", min=1, help="CMS run number of every file (default: from the names)."
    ),
    dataset: str | None = typer.Option(None, "--dataset", help="HDF5 dataset of the maps."),
    interval: float = typer.Option(
        5.0,
        "--interval",
        min=0.0,
        help="Seconds between polls; a file is taken once it is unchanged over one interval.",
    ),
    once: bool = typer.Option(
        False, "--once", help="Check what is there (two polls one interval apart), then exit."
    ),
) -> None:
    """Check each new map file in FOLDER as it appears; record every verdict in the history.

    Files still being written (dotfiles, *.tmp, *.part, or a size or time that changed
    since the last poll) and files already in the history (same path and content) are
    skipped; an unreadable file is recorded as 'unreadable' and watching goes on.
    Ctrl-C stops it (exit 0).

    Examples:

      heplearn dqm watch incoming/ --run run-qtest --history history.sqlite

      heplearn dqm watch incoming/ --run run-qtest --cms-run 355100 --once   (cron)
    """
    from heplearn.dqm.history import open_history
    from heplearn.dqm.watch import Watcher, model_name, watch

    if not folder.is_dir():
        why = "it is a file" if folder.exists() else "no such folder"
        raise DataError("watch folder not found", str(folder), why, "give an existing folder")
    model_name(run)  # a wrong run is refused before the history is created
    with open_history(history, create=True) as opened:
        watcher = Watcher(folder, run, opened, cms_run=cms_run, dataset=dataset, log=_echo)
        _echo(f"watching {folder} with {watcher.model} ({run}) into {history}")
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm) if main_thread else None
        try:
            watch(watcher, interval=interval, once=once)
        except KeyboardInterrupt:
            _echo("stopped")
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)
        _echo(
            f"{watcher.files_recorded} files, {watcher.maps_recorded} maps recorded into {history}"
        )


def history_command(
    history: Path = typer.Option(..., "--history", help="History written by 'dqm watch'."),
    cms_run: int | None = typer.Option(None, "--cms-run", help="Only this CMS run."),
    overrides: bool = typer.Option(
        False, "--overrides", help="The audit list of certification overrides instead."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON list."),
) -> None:
    """The verdicts recorded (or, with --overrides, the shifters' overrides), oldest first.

    Examples:

      heplearn dqm history --history history.sqlite --cms-run 355100 --json

      heplearn dqm history --history history.sqlite --overrides
    """
    from heplearn.dqm.history import open_history

    with open_history(history) as opened:
        rows = opened.overrides(cms_run) if overrides else opened.verdicts(cms_run)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    columns: tuple[str, ...]
    if overrides:
        columns = ("run", "first_ls", "last_ls", "decision", "who", "at", "comment")
        cells = [[_short(str(row[c])) for c in columns] for row in rows]
    else:
        columns = ("run", "ls", "map", "verdict", "score", "flagged", "groups", "reason")
        cells = [
            [
                str(row["run"]),
                str(row["lumisection"]),
                row["map"],
                row["verdict"],
                "–" if row["score"] is None else f"{row['score']:.3g}",
                str(len(row["flagged"])),
                ", ".join(map(str, row["groups"])),
                _short(row["reason"] or ""),
            ]
            for row in rows
        ]
    table = Table(title=f"{history}: {len(rows)} {'overrides' if overrides else 'verdicts'}")
    for column in columns:
        # Names, reasons and comments give way on a narrow terminal; --json has them whole.
        core = column in _CORE
        table.add_column(column, no_wrap=core, max_width=None if core else 40)
    for row_cells in cells:
        table.add_row(*(escape(c) for c in row_cells))
    Console().print(table)


#: Columns never wrapped on a narrow terminal: the verdict, its run and lumisection.
_CORE = {"run", "ls", "verdict", "score", "flagged", "first_ls", "last_ls", "decision"}


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "local"


def certify_command(
    history: Path = typer.Option(..., "--history", help="History written by 'dqm watch'."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Good-lumisection JSON to write."),
    override: list[str] = typer.Option(
        [], "--override", help="RUN:LS=good|bad or RUN:FIRST-LAST=good|bad (repeatable)."
    ),
    comment: str | None = typer.Option(None, "--comment", help="Why (required with --override)."),
    who: str | None = typer.Option(None, "--who", help="Shifter's name (default: login name)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Record shifters' overrides, and/or write the CMS good-lumisection JSON.

    A lumisection is good when its latest verdict is 'good'; overrides apply on top,
    the latest decision winning. The JSON maps each run (a string key) to its good
    lumisections merged into inclusive ranges, as CMS golden JSON files do.

    Examples:

      heplearn dqm certify --history history.sqlite --override 355100:42-44=bad
      --comment "HV trip in HB+" --who alice

      heplearn dqm certify --history history.sqlite --out golden.json
    """
    from heplearn.data.atomic import check_output, write_text_atomically
    from heplearn.dqm.certify import golden_json, good_lumisections, parse_override
    from heplearn.dqm.history import open_history

    parsed = [parse_override(text) for text in override]
    if not parsed and out is None:
        raise ConfigError(
            "nothing to do",
            "heplearn dqm certify",
            "neither --out nor --override was given",
            "pass --out golden.json, or --override RUN:LS=good|bad with --comment",
        )
    if parsed and not (comment or "").strip():
        raise ConfigError(
            "override without a comment",
            "heplearn dqm certify",
            "every override is audited with the reason for it",
            'add --comment "why"',
        )
    if out is not None and out.exists() and not overwrite:
        check_output(out, overwrite)  # refuse before anything is recorded
    with open_history(history, writable=bool(parsed)) as opened:
        if parsed:
            name = (who or "").strip() or _login()
            at = opened.add_overrides([p.as_row() for p in parsed], (comment or "").strip(), name)
            for item in parsed:
                span = f"{item.first_ls}-{item.last_ls}" if item.last_ls > item.first_ls else ""
                _echo(
                    f"override {item.run}:{span or item.first_ls}={item.decision} by {name} at {at}"
                )
        if out is None:
            return
        good = good_lumisections(opened)
    write_text_atomically(out, golden_json(good), overwrite=overwrite)
    total = sum(len(lumis) for lumis in good.values())
    _echo(f"{total} good lumisections in {len(good)} runs → {out}")
