"""Progress bars (rich) for loops longer than a few seconds, drawn on stderr."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(
    description: str, total: float | None, *, enabled: bool = True
) -> Iterator[Callable[[float], None]]:
    """Yield ``advance(n)``; draws a bar on stderr when ``enabled`` and stderr is a terminal.

    Batch logs and pipes get no bar: a redrawn line is noise in a log file.
    """
    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield lambda _n: None
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
