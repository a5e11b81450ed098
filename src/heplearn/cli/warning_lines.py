"""Warnings as the CLI shows them: heplearn's own as one line ``warning: <message>``.

Python's default shows ``file:line: Category: message`` and the source line, which
tells a user of the command nothing.  ``one_line_warnings`` replaces only how a
warning is *shown*, for the duration of one command: the warning filters (which
warnings are raised, ignored or shown once, e.g. pytest's ``filterwarnings =
error``) are left alone.  Other libraries' warnings, and every warning under
``--debug``, keep Python's format, which says where they come from.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

import heplearn

__all__ = ["is_heplearn_warning", "one_line_warnings"]

_PACKAGE = Path(heplearn.__file__).resolve().parent


def is_heplearn_warning(category: type[Warning], filename: str) -> bool:
    """Whether heplearn issued the warning: its own category, or a warning from its code."""
    if category.__module__.split(".")[0] == "heplearn":
        return True
    try:
        return Path(filename).resolve().is_relative_to(_PACKAGE)
    except (OSError, ValueError):
        return False


@contextmanager
def one_line_warnings(debug: bool = False) -> Iterator[None]:
    """Show heplearn's warnings as ``warning: <message>`` on stderr while the block runs."""
    previous = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if debug or not is_heplearn_warning(category, filename):
            previous(message, category, filename, lineno, file, line)
            return
        text = " ".join(str(message).split())  # one line, whatever the message holds
        stream = sys.stderr if file is None else file
        with suppress(OSError):  # stderr gone (a closed pipe): dropped, as Python's own does
            stream.write(f"warning: {text}\n")

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
