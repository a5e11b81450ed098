"""Where a ``search tune`` study lives: an SQLite file by default, shared storages for workers.

- ``sqlite:///path/study.db`` (the default, ``OUT/study.db``): one machine; a killed study
  resumes from it;
- any other SQLAlchemy URL (``postgresql://user@host/db``, ``mysql://…``): a database server
  that workers on several machines share;
- ``journal:PATH``: Optuna's append-only journal file with file locks, for workers that share
  only a file system (no database server).

RDB storages keep a heartbeat: the trial of a worker that was killed is marked failed once
its heartbeat is older than :data:`GRACE_S`, so several workers never fail each other's
running trials.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna

from heplearn.errors import ConfigError

__all__ = ["GRACE_S", "HEARTBEAT_S", "JOURNAL_PREFIX", "open_storage"]

JOURNAL_PREFIX = "journal:"
#: Seconds between a running trial's heartbeats, and after which a silent trial is failed.
HEARTBEAT_S = 30
GRACE_S = 120


def _bad(url: str, why: str) -> ConfigError:
    return ConfigError(
        "Optuna storage",
        repr(url),
        why,
        "give 'sqlite:///path/study.db', a database URL, or 'journal:path/study.log'",
    )


def _parent(path: str, url: str) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _bad(url, f"its folder cannot be created ({err})") from err


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """The Optuna storage for ``url`` (see the module doc), or a ConfigError naming it."""
    if url.startswith(JOURNAL_PREFIX):
        from optuna.storages.journal import JournalFileBackend

        path = url.removeprefix(JOURNAL_PREFIX)
        if not path:
            raise _bad(url, "it names no file")
        _parent(path, url)
        return optuna.storages.JournalStorage(JournalFileBackend(path))
    if "://" not in url:
        raise _bad(url, "it is neither a database URL nor journal:PATH")
    if url.startswith("sqlite:///"):
        database = url.removeprefix("sqlite:///")
        if database and database != ":memory:":
            _parent(database, url)
    try:
        with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
            )
    except Exception as err:
        # SQLAlchemy's errors and a missing database driver are the URL's fault; others are bugs.
        if isinstance(err, ImportError | ValueError) or type(err).__module__.startswith(
            "sqlalchemy"
        ):
            raise _bad(url, f"Optuna cannot open it ({str(err).splitlines()[0]})") from err
        raise
