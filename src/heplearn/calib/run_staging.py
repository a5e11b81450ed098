"""Where ``calib train`` writes: a run appears under ``--out`` only when it is complete.

A run is trained in the hidden sibling ``.NAME.partial`` and renamed to ``NAME``
at the end, so a crash or a kill never leaves a half-trained run under the
final name and ``--overwrite`` keeps the old run until the new one is done.
The partial folder has a stable name, so ``--resume`` after a kill continues it
(a new run over it needs ``--overwrite``); ``--resume`` of a finished run (more
epochs) works on a copy of it.  ``run_lock`` keeps a second run into the same
``--out`` from sharing the partial folder: it fails at once, naming the first.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from heplearn.calib.run_folder import RunFolder
from heplearn.data.atomic import (
    check_output,
    remove_path,
    remove_stale_temporaries,
    replace_path,
    temporary_path,
)
from heplearn.data.output_lock import output_lock
from heplearn.errors import OutputExistsError

__all__ = ["partial_run", "publish_run", "resume_source", "run_lock", "start_run"]


def partial_run(final: Path) -> Path:
    """The hidden folder a run to ``final`` is trained in."""
    return final.parent / f".{final.name}.partial"


@contextmanager
def run_lock(final: Path) -> Iterator[None]:
    """Hold the lock on ``final`` for a whole run (checks, training, rename); the main
    process only, since under torchrun the other ranks write into the main one's folder."""
    if not _is_main_process():
        yield
        return
    with output_lock(final, "calib train"):
        yield


def resume_source(final: Path) -> RunFolder:
    """The run ``--resume`` continues: a killed run's partial folder, else the finished run."""
    partial = RunFolder(partial_run(final))
    return partial if partial.config.is_file() else RunFolder(final)


def start_run(final: Path, *, resume: bool, overwrite: bool) -> RunFolder:
    """The partial folder to train in; check ``resume_source(final)`` before for a resume."""
    final = Path(final)
    partial = partial_run(final)
    if not _is_main_process():
        # Under torchrun the main process prepares the folder; the others only write into it.
        partial.mkdir(parents=True, exist_ok=True)
        return RunFolder(partial)
    remove_stale_temporaries(final)
    if resume:
        if not RunFolder(partial).config.is_file():
            # A finished run trained further: on a copy, so it stays whole until the end.
            tmp = temporary_path(partial)
            remove_path(tmp)
            shutil.copytree(final, tmp, symlinks=True)
            replace_path(tmp, partial)
        return RunFolder(partial)
    check_output(final, overwrite)
    if RunFolder(partial).config.is_file() and not overwrite:
        raise OutputExistsError(
            "unfinished run",
            str(final),
            f"a killed or failed run left {partial.name} beside it",
            "pass --resume to continue it, or --overwrite to start afresh",
        )
    remove_path(partial)
    partial.mkdir(parents=True)
    return RunFolder(partial)


def publish_run(work: RunFolder, final: Path) -> None:
    """Rename the complete run to ``final`` (replacing an older run only now)."""
    if _is_main_process():  # under torchrun, the main process alone owns the folder
        replace_path(work.path, Path(final))


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0
