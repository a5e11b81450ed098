"""Where an Optuna study (``search tune``, ``calib study``) lives: SQLite by default, shared
storages for workers.

- ``sqlite:///path/study.db`` (the default, ``OUT/study.db``): one machine; a killed study
  resumes from it;
- any other SQLAlchemy URL (``postgresql://user@host/db``, ``mysql://…``): a database server
  that workers on several machines share;
- ``journal:PATH``: Optuna's append-only journal file with file locks, for workers that share
  only a file system (no database server).

RDB storages keep a heartbeat: the trial of a worker that was killed is marked failed once
its heartbeat is older than :data:`GRACE_S`, so several workers never fail each other's
running trials.  SQLite must never lie on a network file system (NFS, Lustre, GPFS, CIFS …):
its locking fails there and concurrent writers corrupt it; :func:`network_filesystem` tells
when it does, so the command can say so.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna

from heplearn.errors import ConfigError

__all__ = [
    "GRACE_S",
    "HEARTBEAT_S",
    "IDENTITY_ATTR",
    "JOURNAL_PREFIX",
    "check_identity",
    "network_filesystem",
    "open_storage",
    "sqlite_path",
]

JOURNAL_PREFIX = "journal:"
#: File-system types (``/proc/mounts``) on which SQLite's locking is not to be trusted.
NETWORK_FILESYSTEMS = (
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "lustre",
    "gpfs",
    "beegfs",
    "ceph",
    "glusterfs",
    "fuse.sshfs",
    "fuse.glusterfs",
    "fuse.cephfs",
    "afs",
    "panfs",
    "9p",
)
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


def sqlite_path(url: str) -> Path | None:
    """The database file of an ``sqlite:///`` URL (None for other storages and :memory:)."""
    if not url.startswith("sqlite:///"):
        return None
    database = url.removeprefix("sqlite:///")
    return Path(database) if database and database != ":memory:" else None


def network_filesystem(path: Path, mounts: str = "/proc/mounts") -> str | None:
    """The type of the network file system ``path`` lies on (e.g. ``nfs4``), or None.

    Read from the longest mount point containing ``path`` in ``mounts``; None where the
    table cannot be read (not Linux) or the file system is local.
    """
    try:
        table = Path(mounts).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    target = Path(path).resolve()
    best, kind = -1, ""
    for line in table.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = Path(parts[1].replace("\\040", " "))
        if (target == point or point in target.parents) and len(str(point)) > best:
            best, kind = len(str(point)), parts[2]
    return kind if kind in NETWORK_FILESYSTEMS else None


#: The study attribute recording which problem a study optimises.
IDENTITY_ATTR = "heplearn_identity"


def check_identity(
    study: optuna.Study, identity: str, where: str, differs: str, fix: str, *, show: bool = False
) -> bool:
    """A new study records ``identity``; a resumed one must carry the same (True when new).

    ``differs`` names what a mismatch means ("base config, search space …"); ``show`` adds
    both identities to the message.
    """
    stored = study.user_attrs.get(IDENTITY_ATTR)
    if stored is None and not study.trials:
        study.set_user_attr(IDENTITY_ATTR, identity)
        return True
    if stored != identity:
        detail = f" (stored: {stored}; now: {identity})" if show else ""
        raise ConfigError(
            f"study '{study.study_name}'",
            where,
            f"it was started with another {differs}{detail}",
            fix,
        )
    return False
