"""What one dashboard serves and how it is guarded: history, maps folder, token, read-only.

The dashboard binds 127.0.0.1 by default.  Binding any other address needs a token
(``--token`` or ``--token-file``): every request must then carry it, and certification
needs it even from this machine.  Without a token the dashboard only answers requests
addressed to a loopback name (Host 127.0.0.1, localhost or [::1]), so a web page
elsewhere cannot reach it through DNS rebinding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from heplearn.errors import ConfigError, DataError

__all__ = ["LOOPBACK", "MIN_TOKEN_LENGTH", "Settings", "check_bind", "read_token"]

#: Host names of this machine: binding them without a token is allowed.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: The shortest token accepted (a guessable one protects nothing).
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Settings:
    """One dashboard: the history it reads, where map files may be, and its guards."""

    history: Path
    maps: Path | None = None  # map files are read only under this folder when given
    token: str | None = None
    read_only: bool = False
    dataset: str | None = None  # the HDF5 dataset of the maps, as given to dqm watch
    loopback_only: bool = True  # answer only requests addressed to a loopback host name
    poll_seconds: float = 2.0  # how often pages look for new verdicts


def check_bind(host: str, token: str | None) -> None:
    """Refuse an address other than this machine's without a token (one clear error)."""
    if host.strip("[]").lower() in LOOPBACK or token:
        return
    raise ConfigError(
        f"--host {host}",
        "heplearn dqm serve",
        "binding an address other than 127.0.0.1/localhost exposes the dashboard to the network",
        "pass --token or --token-file (every request then needs it), or bind 127.0.0.1",
    )


def _check_token(token: str, where: str) -> str:
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() or not c.isprintable() for c in token):
        raise ConfigError(
            "token",
            where,
            f"a token needs at least {MIN_TOKEN_LENGTH} printable characters without spaces",
            "make one with: python -c 'import secrets; print(secrets.token_urlsafe())'",
        )
    return token


def read_token(token: str | None, token_file: Path | None) -> str | None:
    """The token from ``--token`` or the first line of ``--token-file`` (not both)."""
    if token is not None and token_file is not None:
        raise ConfigError(
            "--token and --token-file",
            "heplearn dqm serve",
            "both were given",
            "give one of them (--token-file keeps the token out of the process list)",
        )
    if token is not None:
        return _check_token(token, "--token")
    if token_file is None:
        return None
    if not token_file.is_file():
        why = "it is a folder" if token_file.exists() else "no such file"
        raise DataError("token file not found", str(token_file), why, "give a file with the token")
    lines = token_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return _check_token(lines[0].strip() if lines else "", str(token_file))
