"""The DQM history: every verdict ``heplearn dqm watch`` made, and the shifters' overrides.

One SQLite file (WAL mode, so a reader — ``dqm history``, ``dqm certify``, a
dashboard — never blocks the watcher) with four tables:

- ``heplearn_history`` (key, value): ``format`` = ``heplearn-dqm-history``,
  ``schema_version``, ``created_at``; a file without it is refused, never changed;
- ``files``: one row per map file checked (path, sha256, size, mtime_ns, status
  ``checked`` | ``unreadable``, reason, maps, checked_at), unique by (path, sha256);
- ``verdicts``: one row per map (file_id, map, run, lumisection, verdict, score,
  groups and flagged as JSON lists, model, model_run, checked_at, reason, and the
  whole ``dqm check`` record as JSON); an unreadable file gets one ``unreadable`` row;
- ``overrides``: a shifter's decision on a lumisection range (run, first_ls,
  last_ls, decision ``good`` | ``bad``, comment, who, at).

A file's row and its verdicts are written in one transaction: a watcher killed at
any point leaves the file either wholly recorded or not at all, so its restart
neither loses nor duplicates a verdict.  Times are UTC ISO 8601.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from heplearn.data.atomic import remove_stale_temporaries, temporary_path
from heplearn.errors import DataError

__all__ = [
    "FILE_KEYS",
    "FORMAT",
    "OVERRIDE_KEYS",
    "SCHEMA_VERSION",
    "VERDICT_KEYS",
    "FileEntry",
    "History",
    "MapEntry",
    "now",
    "open_history",
]

FORMAT = "heplearn-dqm-history"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE heplearn_history (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, status TEXT NOT NULL,
    reason TEXT, maps INTEGER NOT NULL, checked_at TEXT NOT NULL,
    UNIQUE (path, sha256)
);
CREATE INDEX files_stat ON files (path, size, mtime_ns);
CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL REFERENCES files (id),
    map TEXT NOT NULL, run INTEGER, lumisection INTEGER, verdict TEXT NOT NULL,
    score REAL, groups TEXT NOT NULL, flagged TEXT NOT NULL, model TEXT NOT NULL,
    model_run TEXT NOT NULL, checked_at TEXT NOT NULL, reason TEXT, record TEXT NOT NULL
);
CREATE INDEX verdicts_run_ls ON verdicts (run, lumisection);
CREATE TABLE overrides (
    id INTEGER PRIMARY KEY, run INTEGER NOT NULL, first_ls INTEGER NOT NULL,
    last_ls INTEGER NOT NULL, decision TEXT NOT NULL CHECK (decision IN ('good', 'bad')),
    comment TEXT NOT NULL, who TEXT NOT NULL, at TEXT NOT NULL
);
"""

#: What ``History.verdicts`` returns per row ("file" is the file's path).
VERDICT_KEYS = (
    *("id", "map", "run", "lumisection", "verdict", "score", "groups", "flagged"),
    *("model", "model_run", "checked_at", "reason", "file"),
)
FILE_KEYS = ("id", "path", "sha256", "size", "mtime_ns", "status", "reason", "maps", "checked_at")
OVERRIDE_KEYS = ("id", "run", "first_ls", "last_ls", "decision", "comment", "who", "at")
_VERDICT_COLUMNS = ", ".join([*(f"v.{k}" for k in VERDICT_KEYS[:-1]), "f.path"])


def now() -> str:
    """The current UTC time, ISO 8601 to the millisecond."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class FileEntry:
    """A map file as checked: where, its content hash and stat, and whether it was readable."""

    path: str
    sha256: str
    size: int
    mtime_ns: int
    status: str  # "checked" or "unreadable"
    reason: str | None = None


@dataclass
class MapEntry:
    """One map's verdict to record; ``lumisection`` None takes the run's next number."""

    map: str
    run: int | None
    lumisection: int | None
    verdict: str
    score: float | None
    model: str
    model_run: str
    groups: list[Any] = field(default_factory=list)
    flagged: list[Any] = field(default_factory=list)
    reason: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


def _not_history(path: Path, why: str) -> DataError:
    return DataError(
        "not a heplearn history",
        str(path),
        why,
        "give a history written by 'heplearn dqm watch', or a new file name",
    )


def _check_format(path: Path) -> None:
    """Refuse ``path`` unless it is a heplearn history this version can read (opened read-only)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as db:
            rows = dict(db.execute("SELECT key, value FROM heplearn_history").fetchall())
    except sqlite3.DatabaseError as err:
        if "not a database" in str(err):
            why = "it is not an SQLite file"
        elif "no such table" in str(err):
            why = "it is an SQLite file without a heplearn_history table"
        else:
            why = str(err)
        raise _not_history(path, why) from err
    if rows.get("format") != FORMAT:
        raise _not_history(path, f"its format is {rows.get('format')!r}, not {FORMAT!r}")
    version = int(rows.get("schema_version", "0") or 0)
    if version > SCHEMA_VERSION:
        raise DataError(
            "history of a newer heplearn",
            str(path),
            f"its schema_version is {version}; this heplearn reads up to {SCHEMA_VERSION}",
            "upgrade heplearn",
        )


def _create(path: Path) -> None:
    """Write an empty history under a temporary name and link it into place (never clobbers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)  # a creator killed before its link left one
    tmp = temporary_path(path)
    tmp.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(tmp)) as db:
            db.executescript(_SCHEMA)
            meta = [
                ("format", FORMAT),
                ("schema_version", str(SCHEMA_VERSION)),
                ("created_at", now()),
            ]
            db.executemany("INSERT INTO heplearn_history VALUES (?, ?)", meta)
            db.commit()
            db.execute("PRAGMA journal_mode=WAL")  # persistent: every later connection uses WAL
        with suppress(FileExistsError):  # another watcher created it meanwhile: use theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class History:
    """An open history; use :func:`open_history`."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        if writable:
            self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        else:
            uri = f"file:{quote(str(path.resolve()))}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys=ON")
        # In WAL mode NORMAL loses no commit when the process dies (only on power loss).
        self._db.execute("PRAGMA synchronous=NORMAL")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")  # the write lock up front: no upgrade deadlock
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ---- files ----

    def has_stat(self, path: str, size: int, mtime_ns: int) -> bool:
        """Whether a file at ``path`` with this size and mtime was recorded (no hashing needed)."""
        row = self._db.execute(
            "SELECT 1 FROM files WHERE path = ? AND size = ? AND mtime_ns = ?",
            (path, size, mtime_ns),
        ).fetchone()
        return row is not None

    def has_file(self, path: str, sha256: str) -> bool:
        """Whether this content at ``path`` was recorded."""
        row = self._db.execute(
            "SELECT 1 FROM files WHERE path = ? AND sha256 = ?", (path, sha256)
        ).fetchone()
        return row is not None

    def record_file(self, entry: FileEntry, maps: list[MapEntry]) -> bool:
        """Record a file and its verdicts in one transaction; False if it was already there.

        Maps with ``lumisection`` None (and a run) get the run's next number, in order.
        """
        checked_at = now()
        with self._transaction() as db:
            if db.execute(
                "SELECT 1 FROM files WHERE path = ? AND sha256 = ?", (entry.path, entry.sha256)
            ).fetchone():
                return False  # another watcher on the same history was faster
            cursor = db.execute(
                "INSERT INTO files (path, sha256, size, mtime_ns, status, reason, maps, checked_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.path,
                    entry.sha256,
                    entry.size,
                    entry.mtime_ns,
                    entry.status,
                    entry.reason,
                    sum(m.verdict != "unreadable" for m in maps),
                    checked_at,
                ),
            )
            file_id = cursor.lastrowid
            for item in maps:
                if (
                    item.lumisection is None
                    and item.run is not None
                    and item.verdict != "unreadable"
                ):
                    (last,) = db.execute(
                        "SELECT MAX(lumisection) FROM verdicts WHERE run = ?", (item.run,)
                    ).fetchone()
                    item.lumisection = int(last or 0) + 1
                _insert_verdict(db, file_id, item, checked_at)
        return True

    # ---- reading ----

    def verdicts(self, run: int | None = None) -> list[dict[str, Any]]:
        """Every verdict in the order recorded (of one run with ``run``)."""
        query = f"SELECT {_VERDICT_COLUMNS} FROM verdicts v JOIN files f ON f.id = v.file_id"
        params: tuple[Any, ...] = ()
        if run is not None:
            query += " WHERE v.run = ?"
            params = (run,)
        out = []
        for row in self._db.execute(query + " ORDER BY v.id", params):
            item = dict(zip(VERDICT_KEYS, row, strict=True))
            item["groups"] = json.loads(item["groups"])
            item["flagged"] = json.loads(item["flagged"])
            out.append(item)
        return out

    def files(self) -> list[dict[str, Any]]:
        """Every file recorded, in order."""
        rows = self._db.execute(f"SELECT {', '.join(FILE_KEYS)} FROM files ORDER BY id")
        return [dict(zip(FILE_KEYS, row, strict=True)) for row in rows]

    # ---- overrides ----

    def add_overrides(
        self, overrides: list[tuple[int, int, int, str]], comment: str, who: str
    ) -> str:
        """Record (run, first_ls, last_ls, decision) overrides in one transaction; their time."""
        at = now()
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO overrides (run, first_ls, last_ls, decision, comment, who, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(*item, comment, who, at) for item in overrides],
            )
        return at

    def overrides(self, run: int | None = None) -> list[dict[str, Any]]:
        """The audit list: every override in the order recorded (of one run with ``run``)."""
        query = f"SELECT {', '.join(OVERRIDE_KEYS)} FROM overrides"
        params: tuple[Any, ...] = ()
        if run is not None:
            query += " WHERE run = ?"
            params = (run,)
        rows = self._db.execute(query + " ORDER BY id", params)
        return [dict(zip(OVERRIDE_KEYS, row, strict=True)) for row in rows]


def _plain(value: Any) -> Any:
    """A numpy scalar or array in a check record as plain JSON (records may gain such fields)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _insert_verdict(db: sqlite3.Connection, file_id: int | None, item: MapEntry, at: str) -> None:
    db.execute(
        "INSERT INTO verdicts (file_id, map, run, lumisection, verdict, score, groups, flagged,"
        " model, model_run, checked_at, reason, record)"
        f" VALUES ({', '.join('?' * 13)})",
        (
            file_id,
            item.map,
            item.run,
            item.lumisection,
            item.verdict,
            item.score,
            json.dumps(item.groups, default=_plain),
            json.dumps(item.flagged, default=_plain),
            item.model,
            item.model_run,
            at,
            item.reason,
            json.dumps(item.record, default=_plain),
        ),
    )


def open_history(path: str | Path, *, create: bool = False, writable: bool = False) -> History:
    """Open the history at ``path``: created if missing and ``create``, refused if not a history."""
    path = Path(path)
    if not path.exists():
        if not create:
            raise DataError(
                "history not found",
                str(path),
                "no such file",
                "give the --history file written by 'heplearn dqm watch'",
            )
        _create(path)
    elif path.is_dir():
        raise _not_history(path, "it is a folder")
    _check_format(path)
    return History(path, writable=writable or create)
