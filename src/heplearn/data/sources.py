"""Foreign input files (ROOT, CSV, plain HDF5) seen as chunked column sources.

``open_source`` recognises the format by its signature (ROOT, HDF5) or by
extension (CSV) and returns a :class:`Source` that lists its columns and
yields them in chunks of rows, so files larger than memory can be imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from heplearn.data.reader import HDF5_SIGNATURE
from heplearn.data.schema import Column
from heplearn.errors import DataError

__all__ = [
    "CSV_SUFFIXES",
    "ROOT_SIGNATURE",
    "Source",
    "SourceColumn",
    "detect_format",
    "open_source",
]

ROOT_SIGNATURE = b"root"
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")


@dataclass(frozen=True)
class SourceColumn:
    """A column of a foreign file: its name there and a readable type."""

    name: str
    type: str
    supported: bool = True


class Source(Protocol):
    """What the importer needs of an input file."""

    location: str
    rows: int | None

    def columns(self) -> list[SourceColumn]: ...

    def iter_chunks(self, names: Sequence[str], step_rows: int) -> Iterator[dict[str, Column]]: ...

    def native_fields(self) -> dict[str, str]: ...


def detect_format(path: Path) -> str:
    """``'root'``, ``'hdf5'`` or ``'csv'``; DataError for anything else."""
    if not path.exists():
        raise DataError("input not found", str(path), "no such file", "check the path")
    if path.is_dir():
        raise DataError(
            "input is a folder",
            str(path),
            "import reads one ROOT, HDF5 or CSV file",
            "give a file path",
        )
    with path.open("rb") as raw:
        head = raw.read(4096)
    if head.startswith(ROOT_SIGNATURE):
        return "root"
    if head.startswith(HDF5_SIGNATURE):
        return "hdf5"
    if path.suffix.lower() in CSV_SUFFIXES:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            # The 4 KiB cut may split a multi-byte character; only the tail may fail.
            if b"\x00" in head:
                raise DataError(
                    "not a text file",
                    str(path),
                    "a CSV file holds text but this one has binary bytes",
                    "check that the file is CSV",
                ) from None
        return "csv"
    raise DataError(
        "unrecognised file format",
        str(path),
        "it is not a ROOT file, an HDF5 file, or a CSV file (.csv/.tsv/.txt)",
        "convert it to one of these formats",
    )


def open_source(path: str | Path, tree: str | None = None) -> Source:
    """Open a ROOT (``tree`` selects the TTree), HDF5 or CSV file as a column source."""
    path = Path(path)
    kind = detect_format(path)
    if kind == "root":
        from heplearn.data.root_source import RootSource

        return RootSource(path, tree)
    if tree is not None:
        raise DataError(
            "option --tree",
            str(path),
            f"the file is {kind.upper()}, which has no trees",
            "drop --tree",
        )
    if kind == "hdf5":
        from heplearn.data.hdf5_source import Hdf5Source

        return Hdf5Source(path)
    from heplearn.data.csv_source import CsvSource

    return CsvSource(path)
