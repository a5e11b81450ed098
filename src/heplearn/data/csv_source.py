"""CSV files as a chunked column source (pandas, read ``step_rows`` at a time).

Numeric columns are kept; a column whose type changes between chunks in a
way that loses information (e.g. text appearing in a numeric column) is an
error naming the column.  Non-numeric columns are listed as unsupported.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from heplearn.data.schema import Column
from heplearn.data.sources import SourceColumn
from heplearn.errors import DataError

__all__ = ["CsvSource"]

_SNIFF_ROWS = 1000


class CsvSource:
    """A comma- (or tab-, for ``.tsv``) separated file with a header line."""

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        self._path = path
        self._sep = "\t" if path.suffix.lower() == ".tsv" else ","
        self.rows: int | None = None
        try:
            head = pd.read_csv(path, sep=self._sep, nrows=_SNIFF_ROWS)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise DataError(
                "cannot parse CSV",
                str(path),
                str(err).strip().splitlines()[-1],
                "check the delimiter and the header line",
            ) from err
        if head.columns.empty:
            raise DataError(
                "empty CSV", str(path), "no header line", "add a header with column names"
            )
        self._dtypes = {str(c): head[c].dtype for c in head.columns}
        self._numeric = {
            name: pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
            for name, dtype in self._dtypes.items()
        }

    def columns(self) -> list[SourceColumn]:
        return [
            SourceColumn(name, str(dtype), self._numeric[name])
            for name, dtype in self._dtypes.items()
        ]

    def native_fields(self) -> dict[str, str]:
        return {}

    def iter_chunks(self, names: Sequence[str], step_rows: int) -> Iterator[dict[str, Column]]:
        try:
            reader = pd.read_csv(
                self._path, sep=self._sep, usecols=list(names), chunksize=step_rows
            )
            start = 0
            for frame in reader:
                yield {name: self._column(frame, name, start) for name in names}
                start += len(frame)
        except (pd.errors.ParserError, ValueError) as err:
            raise DataError(
                "cannot parse CSV",
                self.location,
                str(err).strip().splitlines()[-1],
                "fix the malformed line",
            ) from err

    def _column(self, frame: pd.DataFrame, name: str, start: int) -> Column:
        values = frame[name].to_numpy()
        expected = np.dtype(str(self._dtypes[name]))
        if values.dtype == expected:
            return values
        if values.dtype.kind in "biuf" and expected.kind in "biuf":
            # A later chunk may be float where the first was int (e.g. an empty cell).
            if expected.kind in "iub" and values.dtype.kind == "f":
                bad = ~np.isfinite(values) | (values != np.round(values))
                if bad.any():
                    row = start + int(np.argmax(bad)) + 2  # +1 header, +1 one-based
                    raise DataError(
                        f"column '{name}'",
                        f"{self.location} line {row}",
                        f"value {values[bad][0]!r} in a column of integers",
                        "fill the cell or make the column float in the first rows",
                    )
            return values.astype(expected)
        row = start + 2
        raise DataError(
            f"column '{name}'",
            f"{self.location} near line {row}",
            f"non-numeric values in a column that starts as {expected}",
            "clean the column or drop it from the file",
        )
