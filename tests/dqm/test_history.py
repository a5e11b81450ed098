"""The SQLite history: its format check, one transaction per file, lumisection numbering."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from heplearn.dqm import history as history_module
from heplearn.dqm.history import FileEntry, MapEntry, open_history
from heplearn.errors import DataError


def _entry(name: str, sha: str = "0" * 64) -> FileEntry:
    return FileEntry(f"/maps/{name}", sha, 100, 1, "checked")


def _map(name: str, run: int | None = 7, ls: int | None = None, verdict: str = "good") -> MapEntry:
    return MapEntry(name, run, ls, verdict, 0.5, "qtest", "/runs/q", flagged=[[1, 2]])


def test_a_new_history_is_marked_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "h.sqlite"
    with open_history(path, create=True) as history:
        assert history.verdicts() == [] and history.overrides() == []
    with closing(sqlite3.connect(path)) as db:
        meta = dict(db.execute("SELECT key, value FROM heplearn_history").fetchall())
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert meta["format"] == "heplearn-dqm-history" and meta["schema_version"] == "1"
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith("h.")) == []


def _other_sqlite(path: Path) -> Path:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE things (x)")
        db.commit()
    return path


def _newer(path: Path) -> Path:
    open_history(path, create=True).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE heplearn_history SET value = '99' WHERE key = 'schema_version'")
        db.commit()
    return path


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (_other_sqlite, "without a heplearn_history table"),
        (lambda p: p.write_bytes(b"not a database at all, just bytes" * 40), "not an SQLite file"),
        (lambda p: p.write_bytes(b""), "without a heplearn_history table"),
        (_newer, "schema_version is 99"),
    ],
    ids=["other-sqlite", "garbage", "empty", "newer"],
)
def test_a_file_that_is_not_a_history_is_refused_untouched(
    tmp_path: Path, make: Any, fragment: str
) -> None:
    path = tmp_path / "h.sqlite"
    make(path)
    before = path.read_bytes()
    for kwargs in ({}, {"create": True}, {"writable": True}):
        with pytest.raises(DataError) as raised:
            open_history(path, **kwargs)
        assert str(path) in raised.value.message and fragment in raised.value.message
    assert path.read_bytes() == before


def test_a_missing_history_is_created_only_when_asked(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="history not found"):
        open_history(tmp_path / "none.sqlite")
    assert list(tmp_path.iterdir()) == []


def test_a_file_and_its_verdicts_are_one_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "h.sqlite"
    original = history_module._insert_verdict
    calls = [0]

    def fail_on_second(*args: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("injected")
        original(*args)

    monkeypatch.setattr(history_module, "_insert_verdict", fail_on_second)
    with open_history(path, create=True) as history:
        with pytest.raises(RuntimeError, match="injected"):
            history.record_file(_entry("a.h5"), [_map("0"), _map("1")])
        assert history.files() == [] and history.verdicts() == []  # rolled back as a whole
        monkeypatch.undo()
        assert history.record_file(_entry("a.h5"), [_map("0"), _map("1")])
        assert not history.record_file(_entry("a.h5"), [_map("0")])  # the same content: kept once
        assert history.has_file("/maps/a.h5", "0" * 64)
        assert history.has_stat("/maps/a.h5", 100, 1) and not history.has_stat("/maps/a.h5", 100, 2)
        assert [v["map"] for v in history.verdicts()] == ["0", "1"]


def test_records_with_numpy_values_are_stored_as_plain_json(tmp_path: Path) -> None:
    import numpy as np

    item = _map("0")
    item.groups = [np.str_("TT 1,2")]
    item.record = {"calibration": {"realised": np.float32(0.02), "scores": np.ones(2)}}
    with open_history(tmp_path / "h.sqlite", create=True) as history:
        history.record_file(_entry("a.h5"), [item])
        assert history.verdicts()[0]["groups"] == ["TT 1,2"]
    with closing(sqlite3.connect(tmp_path / "h.sqlite")) as db:
        (record,) = db.execute("SELECT record FROM verdicts").fetchone()
    assert '"scores": [1.0, 1.0]' in record


def test_lumisections_without_a_number_continue_the_run(tmp_path: Path) -> None:
    with open_history(tmp_path / "h.sqlite", create=True) as history:
        history.record_file(_entry("a.h5", "a" * 64), [_map("x", ls=10), _map("y")])
        history.record_file(_entry("b.h5", "b" * 64), [_map("z"), _map("w", run=8)])
        history.record_file(_entry("c.h5", "c" * 64), [_map("c.h5", run=7, verdict="unreadable")])
        rows = history.verdicts()
        assert [(v["run"], v["lumisection"]) for v in rows] == [
            (7, 10),
            (7, 11),
            (7, 12),
            (8, 1),
            (7, None),  # an unreadable file takes no number
        ]
        assert rows[0]["flagged"] == [[1, 2]] and rows[0]["file"] == "/maps/a.h5"
        assert [v["map"] for v in history.verdicts(8)] == ["w"]
