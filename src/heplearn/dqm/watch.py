"""``heplearn dqm watch``: check each new map file in a folder and record its verdicts.

A file is taken when it is a ``.root``, ``.h5`` or ``.hdf5`` file, its name does not
start with ``.`` nor end with ``.tmp`` / ``.part`` (how copies in flight are named),
it is not empty, and its size and modification time did not change between two
polls one interval apart (so a file still being written is left for later).
Files are taken oldest first (by modification time, then name).

A file already in the history — same path and same content (SHA-256) — is skipped;
a file whose content changed is checked again.  A file that cannot be read, or that
the model refuses (another map shape), is recorded ``unreadable`` with the reason,
and watching goes on.  The verdicts are those of ``heplearn dqm check`` (the model
run is read again for each file, so a retrained run is picked up).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from heplearn.data.file_digest import file_sha256
from heplearn.data.root_header import check_root_complete
from heplearn.dqm.check import load_run_model, verdicts
from heplearn.dqm.history import FileEntry, History, MapEntry
from heplearn.dqm.lumisections import lumisection_from_name, run_from_name
from heplearn.dqm.sources import load_maps
from heplearn.errors import HeplearnError

__all__ = [
    "MAP_SUFFIXES",
    "MIN_INTERVAL",
    "UNREADABLE",
    "Outcome",
    "Watcher",
    "candidates",
    "model_name",
    "watch",
]

MAP_SUFFIXES = (".root", ".h5", ".hdf5")
#: The verdict of a file that could not be read or scored.
UNREADABLE = "unreadable"
_IN_FLIGHT = (".tmp", ".part")
#: The shortest pause between polls when watching on (``--once`` may use 0).
MIN_INTERVAL = 0.05

Stat = tuple[int, int]  # (size, mtime_ns)


def candidates(folder: Path) -> list[tuple[Path, Stat]]:
    """The map files of ``folder`` with their stat, oldest first."""
    found = []
    for entry in os.scandir(folder):
        name = entry.name
        if name.startswith(".") or name.endswith(_IN_FLIGHT):
            continue
        if not name.lower().endswith(MAP_SUFFIXES):
            continue
        try:
            if not entry.is_file():
                continue
            stat = entry.stat()
        except FileNotFoundError:
            continue  # removed while listing
        found.append((Path(entry.path), (stat.st_size, stat.st_mtime_ns)))
    return sorted(found, key=lambda item: (item[1][1], item[0].name))


def model_name(run: Path) -> str:
    """The name of the model in the ``dqm train`` run folder ``run`` (refused if it is none)."""
    return load_run_model(run).name


class _NoRunNumberError(Exception):
    """A file whose run cannot be named: the user's setup to fix, not the file's fault."""


@dataclass
class Outcome:
    """What happened to one file: its entry and the verdicts recorded (empty if skipped)."""

    path: Path
    recorded: bool
    maps: list[MapEntry]
    reason: str | None = None


class Watcher:
    """Polls ``folder`` and records the verdicts of ``model_run`` into ``history``."""

    def __init__(
        self,
        folder: Path,
        model_run: Path,
        history: History,
        *,
        cms_run: int | None = None,
        dataset: str | None = None,
        log: Callable[[str], None] = print,
    ) -> None:
        self.folder = folder.resolve()  # absolute paths in the history
        self.model_run = model_run.resolve()
        self.model = model_name(model_run)
        self.history = history
        self.cms_run = cms_run
        self.dataset = dataset
        self.log = log
        self.maps_recorded = 0
        self.files_recorded = 0
        self._last: dict[Path, Stat] = {}  # each file's stat at the previous poll
        self._done: set[tuple[Path, Stat]] = set()  # recorded or skipped: not looked at again

    def poll(self) -> list[Outcome]:
        """One look at the folder: check every file that settled since the last poll."""
        outcomes = []
        listed = candidates(self.folder)
        for path, stat in listed:
            if (path, stat) in self._done:
                continue
            settled = self._last.get(path) == stat and stat[0] > 0
            self._last[path] = stat
            if settled:
                outcome = self._take(path, stat)
                if outcome is not None:
                    outcomes.append(outcome)
        present = {path for path, _ in listed}
        self._last = {p: s for p, s in self._last.items() if p in present}
        return outcomes

    def _new_content(self, path: Path, stat: Stat) -> str | None:
        """The file's SHA-256 if this content at this path is not in the history yet."""
        if self.history.has_stat(str(path), *stat):
            self._done.add((path, stat))
            return None
        try:
            sha = file_sha256(path)
        except FileNotFoundError:
            return None  # gone before it was read
        if self.history.has_file(str(path), sha):
            self._done.add((path, stat))
            return None
        return sha

    def _take(self, path: Path, stat: Stat) -> Outcome | None:
        sha = self._new_content(path, stat)
        if sha is None:
            return None
        try:
            maps, status, reason = self._check(path, stat[0])
        except _NoRunNumberError as err:
            # Not recorded: once the user passes --cms-run or renames it, it is checked.
            self._done.add((path, stat))
            self.log(f"skipped {path.name}: {err}")
            return Outcome(path, False, [], str(err))
        try:
            after = path.stat()
        except FileNotFoundError:
            return None
        if (after.st_size, after.st_mtime_ns) != stat:
            self._last.pop(path, None)  # changed while read: wait until it settles again
            return None
        entry = FileEntry(str(path), sha, stat[0], stat[1], status, reason)
        recorded = self.history.record_file(entry, maps)
        self._done.add((path, stat))
        if recorded:
            self.files_recorded += 1
            self.maps_recorded += sum(m.verdict != UNREADABLE for m in maps)
            self._log(path, maps)
        return Outcome(path, recorded, maps, reason)

    def _check(self, path: Path, size: int) -> tuple[list[MapEntry], str, str | None]:
        """The verdicts of the file's maps, or one ``unreadable`` entry with the reason."""
        run = self.cms_run if self.cms_run is not None else run_from_name(path.name)
        try:
            if path.suffix.lower() == ".root":
                check_root_complete(path, size)  # the size it settled at, as hashed
            maps = load_maps(path, self.dataset)
        # A damaged file can make the readers raise anything: record it, keep watching.
        except Exception as err:
            reason = (
                err.message if isinstance(err, HeplearnError) else f"{type(err).__name__}: {err}"
            )
            return [self._unreadable(path, run, reason)], UNREADABLE, reason
        try:
            records = verdicts(self.model_run, maps)
        except HeplearnError as err:  # e.g. a map shape the model was not trained on
            if not (self.model_run / "model").is_dir():
                raise  # the run itself is gone: stop rather than mark every file unreadable
            return [self._unreadable(path, run, err.message)], UNREADABLE, err.message
        first_ls = lumisection_from_name(path.stem)
        entries = []
        for index, record in enumerate(records):
            name = str(record.get("map", index))
            map_run = run if run is not None else run_from_name(name)
            if map_run is None:
                raise _NoRunNumberError(
                    "no run number in the file or map name; name files run<N>_… or pass --cms-run"
                )
            ls = lumisection_from_name(name)
            if ls is None and first_ls is not None:
                ls = first_ls + index
            entries.append(self._entry(name, map_run, ls, record))
        return entries, "checked", None

    def _entry(self, name: str, run: int, ls: int | None, record: dict[str, Any]) -> MapEntry:
        score = record.get("score")
        return MapEntry(
            map=name,
            run=run,
            lumisection=ls,
            verdict=str(record.get("verdict")),
            score=None if score is None else float(score),
            model=self.model,
            model_run=str(self.model_run),
            groups=list(record.get("groups") or []),
            flagged=list(record.get("flagged") or []),
            reason=record.get("reason"),
            record=record,
        )

    def _unreadable(self, path: Path, run: int | None, reason: str) -> MapEntry:
        return MapEntry(
            map=path.name,
            run=run,
            lumisection=lumisection_from_name(path.stem),
            verdict=UNREADABLE,
            score=None,
            model=self.model,
            model_run=str(self.model_run),
            reason=reason,
        )

    def _log(self, path: Path, maps: list[MapEntry]) -> None:
        for item in maps:
            where = f"run {item.run if item.run is not None else '?'}"
            where += f" ls {item.lumisection if item.lumisection is not None else '?'}"
            if item.verdict == UNREADABLE:
                self.log(f"{where} {path.name}: unreadable ({item.reason})")
                continue
            flagged = f", {len(item.flagged)} flagged" if item.flagged else ""
            groups = f" in {', '.join(map(str, item.groups))}" if item.groups else ""
            score = f"{item.score:.3g}" if item.score is not None else "–"
            self.log(
                f"{where} {path.name}:{item.map}: {item.verdict} (score {score}{flagged}{groups})"
            )


def watch(
    watcher: Watcher,
    *,
    interval: float,
    once: bool,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll every ``interval`` s until interrupted; ``once``: two polls one interval apart."""
    if once:
        watcher.poll()
        sleep(interval)
        watcher.poll()
        return
    while True:
        watcher.poll()
        sleep(max(interval, MIN_INTERVAL))  # never a busy loop over the folder
