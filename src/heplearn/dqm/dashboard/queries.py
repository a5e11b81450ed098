"""The dashboard's reads of the history: one read-only SQLite connection per request.

The history is in WAL mode, so these reads never block ``dqm watch`` and never see half
a file: each request opens its own connection (``mode=ro``), reads in one implicit
transaction and closes it.  A lumisection's verdict is its latest one (the highest
verdict id), as in certification; verdicts without a run or lumisection are listed
apart ("unplaced").
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from heplearn.dqm.certify import apply_overrides, merge_ranges
from heplearn.dqm.history import OVERRIDE_KEYS

__all__ = [
    "FAULTS",
    "changes",
    "channel_rows",
    "classify",
    "good_by_run",
    "overrides",
    "reading",
    "run_detail",
    "runs_summary",
    "verdict_row",
]

#: Verdicts that are not faults: every other verdict (dead, hot, noisy, partial) is "flagged".
NOT_FAULTS = ("good", "unreadable", "no-statistics")
FAULTS = ("dead", "hot", "noisy", "partial")

_LATEST = (
    "SELECT MAX(id) FROM verdicts WHERE run IS NOT NULL AND lumisection IS NOT NULL"
    " GROUP BY run, lumisection"
)
_LATEST_OF_RUN = (
    "SELECT MAX(id) FROM verdicts WHERE run = ? AND lumisection IS NOT NULL GROUP BY lumisection"
)


def classify(verdict: str) -> str:
    """The runs table's column of a verdict: good, flagged, unreadable or no_statistics."""
    if verdict == "no-statistics":
        return "no_statistics"
    return verdict if verdict in NOT_FAULTS else "flagged"


@contextmanager
def reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the history for one request."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10.0, check_same_thread=False)) as db:
        yield db


def changes(db: sqlite3.Connection) -> dict[str, int]:
    """The last verdict and override ids: a page refreshes when either moves."""
    (verdict,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM verdicts").fetchone()
    (override,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM overrides").fetchone()
    return {"last_verdict": int(verdict), "last_override": int(override)}


def overrides(db: sqlite3.Connection, run: int | None = None) -> list[dict[str, Any]]:
    """The audit list in the order recorded (of one run with ``run``)."""
    query = f"SELECT {', '.join(OVERRIDE_KEYS)} FROM overrides"
    params: tuple[Any, ...] = ()
    if run is not None:
        query += " WHERE run = ?"
        params = (run,)
    rows = db.execute(query + " ORDER BY id", params)
    return [dict(zip(OVERRIDE_KEYS, row, strict=True)) for row in rows]


def good_by_run(db: sqlite3.Connection, run: int | None = None) -> dict[int, set[int]]:
    """Run → good lumisections after the overrides (the rule of ``dqm certify``)."""
    query = "SELECT run, lumisection, verdict FROM verdicts"
    query += " WHERE run IS NOT NULL AND lumisection IS NOT NULL"
    params: tuple[Any, ...] = ()
    if run is not None:
        query += " AND run = ?"
        params = (run,)
    rows = db.execute(query + " ORDER BY id", params)
    return apply_overrides(rows, overrides(db, run))


def runs_summary(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """One entry per run, highest run number first, with its lumisections counted by verdict."""
    runs: dict[int, dict[str, Any]] = {}

    def entry(run: int) -> dict[str, Any]:
        return runs.setdefault(
            run,
            {
                "run": run,
                "lumisections": 0,
                "good": 0,
                "flagged": 0,
                "unreadable": 0,
                "no_statistics": 0,
                "unplaced": 0,
                "certified_good": 0,
                "overrides": 0,
                "last_checked_at": None,
            },
        )

    rows = db.execute(
        "SELECT run, verdict, COUNT(*), MAX(checked_at) FROM verdicts"
        f" WHERE id IN ({_LATEST}) GROUP BY run, verdict"
    )
    for run, verdict, count, last in rows:
        item = entry(run)
        item[classify(verdict)] += count
        item["lumisections"] += count
        if item["last_checked_at"] is None or last > item["last_checked_at"]:
            item["last_checked_at"] = last
    for run, count in db.execute(
        "SELECT run, COUNT(*) FROM verdicts WHERE run IS NOT NULL AND lumisection IS NULL"
        " GROUP BY run"
    ):
        entry(run)["unplaced"] = count
    for run, count in db.execute("SELECT run, COUNT(*) FROM overrides GROUP BY run"):
        entry(run)["overrides"] = count
    for run, good in good_by_run(db).items():
        entry(run)["certified_good"] = len(good)
    return [runs[run] for run in sorted(runs, reverse=True)]


_DETAIL = (
    "SELECT v.id, v.lumisection, v.verdict, v.score, v.groups, json_array_length(v.flagged),"
    " v.map, f.path, v.checked_at, v.reason, v.model FROM verdicts v JOIN files f"
    " ON f.id = v.file_id"
)
_DETAIL_KEYS = (
    *("id", "lumisection", "verdict", "score", "groups", "flagged_count"),
    *("map", "file", "checked_at", "reason", "model"),
)


def _detail(row: tuple[Any, ...]) -> dict[str, Any]:
    item = dict(zip(_DETAIL_KEYS, row, strict=True))
    item["groups"] = json.loads(item["groups"])
    item["flagged_count"] = int(item["flagged_count"] or 0)
    return item


def run_detail(db: sqlite3.Connection, run: int) -> dict[str, Any] | None:
    """A run's lumisections (latest verdicts, by lumisection) and certification; None if unknown."""
    latest = [
        _detail(row)
        for row in db.execute(
            f"{_DETAIL} WHERE v.id IN ({_LATEST_OF_RUN}) ORDER BY v.lumisection", (run,)
        )
    ]
    unplaced = [
        _detail(row)
        for row in db.execute(
            f"{_DETAIL} WHERE v.run = ? AND v.lumisection IS NULL ORDER BY v.id", (run,)
        )
    ]
    audit = overrides(db, run)
    if not latest and not unplaced and not audit:
        return None
    checks = dict(
        db.execute(
            "SELECT lumisection, COUNT(*) FROM verdicts WHERE run = ? AND lumisection IS NOT NULL"
            " GROUP BY lumisection",
            (run,),
        ).fetchall()
    )
    good = good_by_run(db, run).get(run, set())
    decided: dict[int, dict[str, Any]] = {}
    for override in audit:  # in order: the latest decision on a lumisection wins
        for ls in range(override["first_ls"], override["last_ls"] + 1):
            decided[ls] = override
    counts = {"good": 0, "flagged": 0, "unreadable": 0, "no_statistics": 0}
    for item in latest:
        ls = item["lumisection"]
        counts[classify(item["verdict"])] += 1
        item["checks"] = int(checks.get(ls, 1))
        item["certified"] = "good" if ls in good else "bad"
        last = decided.get(ls)
        item["override"] = (
            None
            if last is None
            else {k: last[k] for k in ("id", "decision", "who", "at", "comment")}
        )
    return {
        "run": run,
        "counts": {"lumisections": len(latest), **counts, "unplaced": len(unplaced)},
        "lumisections": latest,
        "unplaced": unplaced,
        "certified_good": merge_ranges(good),
        "overrides": audit,
    }


_VERDICT = (
    "SELECT v.id, v.file_id, v.map, v.run, v.lumisection, v.verdict, v.score, v.groups,"
    " v.flagged, v.model, v.model_run, v.checked_at, v.reason, v.record,"
    " f.path, f.sha256, f.size, f.mtime_ns, f.status, f.maps FROM verdicts v JOIN files f"
    " ON f.id = v.file_id"
)
_VERDICT_KEYS = (
    *("id", "file_id", "map", "run", "lumisection", "verdict", "score", "groups"),
    *("flagged", "model", "model_run", "checked_at", "reason", "record"),
    *("file", "sha256", "size", "mtime_ns", "file_status", "file_maps"),
)


# A file's verdicts are written in one transaction, so their ids are consecutive and at
# most ``maps`` (readable maps; an unreadable file has one verdict) precede a verdict:
# its index in the file is counted over that primary-key range, never a table scan.
_INDEX = "SELECT COUNT(*) FROM verdicts WHERE id < ? AND id >= ? AND file_id = ?"


def verdict_row(db: sqlite3.Connection, verdict_id: int) -> dict[str, Any] | None:
    """One verdict with its file, its index in the file and its lumisection's newest verdict."""
    row = db.execute(f"{_VERDICT} WHERE v.id = ?", (verdict_id,)).fetchone()
    if row is None:
        return None
    item = dict(zip(_VERDICT_KEYS, row, strict=True))
    for key in ("groups", "flagged", "record"):
        item[key] = json.loads(item[key])
    first = verdict_id - max(int(item.pop("file_maps")), 1)
    (item["index"],) = db.execute(_INDEX, (verdict_id, first, item["file_id"])).fetchone()
    item["latest_id"] = verdict_id
    if item["run"] is not None and item["lumisection"] is not None:
        (item["latest_id"],) = db.execute(
            "SELECT MAX(id) FROM verdicts WHERE run = ? AND lumisection = ?",
            (item["run"], item["lumisection"]),
        ).fetchone()
    return item


def channel_rows(db: sqlite3.Connection, run: int, first: int, last: int) -> list[dict[str, Any]]:
    """Latest verdicts of ``run``'s lumisections first…last with file, stat and index in file."""
    rows = db.execute(
        "SELECT v.id, v.lumisection, v.verdict, v.map, v.flagged, v.model_run, v.file_id,"
        " f.path, f.sha256, f.size, f.mtime_ns, f.status,"
        " (SELECT COUNT(*) FROM verdicts w WHERE w.id < v.id AND w.id >= v.id - MAX(f.maps, 1)"
        " AND w.file_id = v.file_id)"
        " FROM verdicts v JOIN files f ON f.id = v.file_id"
        f" WHERE v.id IN ({_LATEST_OF_RUN}) AND v.lumisection BETWEEN ? AND ?"
        " ORDER BY v.lumisection",
        (run, first, last),
    )
    keys = (
        *("id", "lumisection", "verdict", "map", "flagged", "model_run", "file_id"),
        *("file", "sha256", "size", "mtime_ns", "file_status", "index"),
    )
    out = []
    for row in rows:
        item = dict(zip(keys, row, strict=True))
        item["flagged"] = json.loads(item["flagged"])
        out.append(item)
    return out
