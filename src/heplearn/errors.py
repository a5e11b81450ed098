"""The exceptions users see.

Every user-facing error carries four parts so that the one-line message a
physicist reads in a batch log is actionable: *what* went wrong, *where*
(file, field, option), *why*, and *what to do*.  The CLI prints
``error: <what> in <where>: <why>; <fix>`` and exits with code 1.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "HeplearnError",
    "OutputExistsError",
    "SchemaError",
]


class HeplearnError(Exception):
    """Base class of every error caused by user input rather than by a bug."""

    def __init__(self, what: str, where: str, why: str, fix: str) -> None:
        self.what = what
        self.where = where
        self.why = why
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """The single line printed after ``error:``."""
        return f"{self.what} in {self.where}: {self.why}; {self.fix}"


class ConfigError(HeplearnError):
    """A configuration file or option is invalid (unknown key, wrong type, out of range)."""


class DataError(HeplearnError):
    """An input file cannot be read or holds values we refuse (corrupt, NaN/inf, wrong format)."""


class SchemaError(DataError):
    """A store does not match its schema (missing field, wrong shape/dtype, newer version)."""


class OutputExistsError(HeplearnError):
    """The output path exists and ``overwrite`` was not requested."""
